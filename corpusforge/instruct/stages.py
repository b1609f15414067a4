"""The stage-2/3 pieces a build plan puts after its per-source stages and deduplication.

    source/<name>    reader (instruct.*) -> source steps (decontam.eval_sets, filter.label_quality...) -> JSONL
    (dedup)          the engine's exact / MinHash stages, unchanged
    mix/scan         intermediate reader [-> dedup filters] -> `mix_scan_steps()`   (only when a source has a cap)
    write            intermediate reader [-> dedup filters] -> `mix_write_steps()`: MixApply -> ParquetWriter

The write stage routes every record to `data/<split>/<rank>.parquet` by `metadata["split"]`, with the fixed
instruction schema; `MixtureReport.from_stats` (mix.apply's stats) and `ContaminationReport.from_folder`
(`<work_dir>/contamination`) give the card its mixture and decontamination tables.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from corpusforge.instruct.mixing import MixSpec
from corpusforge.instruct.output import arrow_schema, instruction_row, unchecked_instruction_row
from corpusforge.instruct.steps import MixApply, MixScan
from corpusforge.output.dataset_dir import DATA_DIR

SCAN_DIR = "mix_scan"


def needs_scan(spec: MixSpec) -> bool:
    """A cap needs the first pass; weights and splits alone do not."""
    return any(mix.cap is not None for mix in spec.sources.values())


def mix_scan_steps(spec: MixSpec, work_dir: str | Path) -> list[PipelineStep]:
    return [MixScan(spec, Path(work_dir) / SCAN_DIR)]


def mix_write_steps(
    spec: MixSpec,
    work_dir: str | Path,
    output_dir: str | Path,
    validate: bool = True,
    compression: str | None = "zstd",
    max_file_size: int = 512 * 2**20,
) -> list[PipelineStep]:
    from datatrove.pipeline.writers import ParquetWriter

    return [
        MixApply(spec, Path(work_dir) / SCAN_DIR if needs_scan(spec) else None),
        ParquetWriter(
            str(Path(output_dir) / DATA_DIR),
            output_filename="${split}/${rank}.parquet",
            adapter=instruction_row if validate else unchecked_instruction_row,
            schema=arrow_schema(),
            compression=compression,
            max_file_size=max_file_size,
        ),
    ]
