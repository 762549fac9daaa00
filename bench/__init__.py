"""Benchmarks: `make bench` runs every `bench/b_*.py` module and prints one table + JSON."""
