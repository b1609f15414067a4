"""Parsers of real source formats used outside the datatrove readers (labeler, evaluation, stage 3)."""
