"""Exports of built instruction datasets for other trainers: LLaMA-Factory and axolotl.

Both read a corpusforge output directory (data/<split>/*.parquet of instruction records) split by split, stream
the records, and write the trainer's own files plus the configuration that names them, so a user of those
trainers can train on corpusforge's output without writing any glue.
"""

from corpusforge.export.axolotl import export_axolotl
from corpusforge.export.llamafactory import export_llamafactory

__all__ = ["export_axolotl", "export_llamafactory"]
