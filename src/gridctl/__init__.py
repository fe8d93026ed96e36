"""gridctl: the GridOS delivery toolkit. Talks to GridOS over HTTP only; never imports it."""

__version__ = "0.1.0"
