"""Stage-2/3 instruction adapters (being written)."""
