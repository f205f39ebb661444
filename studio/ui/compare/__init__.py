"""Comparing runs: charts with a line per run and the difference table."""
