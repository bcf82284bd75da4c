"""Benchmarks: `python -m bench --help`. Every figure is printed as one JSON line
with the ceiling it is compared against, measured in the same run."""
