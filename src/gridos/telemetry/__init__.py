"""Time series: ingest, storage, queries."""
