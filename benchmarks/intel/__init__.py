"""Helpers for benchmarks/bench_intel_export.py."""
