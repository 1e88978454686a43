"""Benchmark scripts, one per target of the README's Performance section; run them with `make bench`."""
