"""GridOS: SCADA telemetry monitoring for electrical grids."""

__version__ = "0.1.0"
