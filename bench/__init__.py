"""Benchmarks: scripts that print figures side by side with their targets (run them as files)."""
