"""Benchmarks: commands that print numbers (tests check correctness, not speed)."""
