"""Synthetic substations for demos, tests and benchmarks."""
