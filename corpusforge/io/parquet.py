"""Cutting parquet files (the Hugging Face Hub layouts) into raw records, one per row."""

from __future__ import annotations

import json
from collections.abc import Iterator

from corpusforge.io.decoding import Opener
from corpusforge.io.input_records import RawRecord, RowRecord


def iter_parquet(opener: Opener, file: str, first_row: int = 0) -> Iterator[RawRecord]:
    """Rows of a parquet file (the Hub layouts); the raw record is the row as JSON."""
    import pyarrow.parquet as pq

    with opener() as f:
        row_no = first_row
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                raw = json.dumps(row, ensure_ascii=False, default=str)
                yield RowRecord(raw.encode("utf-8", "surrogatepass"), {"file": file, "row": row_no}, data=row)
                row_no += 1
