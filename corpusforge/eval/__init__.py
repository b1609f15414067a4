"""Scoring predictions the way the official benchmarks do."""
