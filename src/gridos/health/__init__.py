"""Liveness, readiness and database health."""
