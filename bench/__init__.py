"""Benchmarks: scripts that print figures (run them as files, e.g. python bench/ingest.py)."""
