"""The end of a label run, however it ran (one process, the merge of its tasks, `label merge`): what it returns,
the check of its records, and its manifest and card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from corpusforge import __version__
from corpusforge.errors import BuildError
from corpusforge.label.config import LabelJob
from corpusforge.label.output import LabelOutput, card_sections
from corpusforge.label.summary import summary_lines
from corpusforge.llm.backends.base import Backend
from corpusforge.output.schemas import validation_errors


@dataclass
class LabelRun:
    output_dir: Path
    summary: dict[str, Any] | None  # None when the tasks were only submitted (Slurm)
    manifest: dict[str, Any] | None
    run_id: str
    submitted: bool = False


class RecordObserver(Protocol):
    """Sees every record as it is written; adds its findings to the manifest and card (e.g. the evaluation)."""

    def add(self, record: dict[str, Any]) -> None: ...

    def finish(self) -> tuple[dict[str, Any], list[tuple[str, str]]]: ...


def finish_output(
    job: LabelJob,
    output: LabelOutput,
    result: dict[str, Any],
    backend: Backend,
    hashes: dict[str, str],
    observers: list[RecordObserver],
    cache: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the manifest and the card of a finished run (one process, or the merge of its tasks)."""
    lines = summary_lines(result)
    settings = {
        "model": job.model.name,
        "backend": backend.name,
        "strategy": job.strategy,
        "strategies": ", ".join(job.strategies),
        "template hashes": ", ".join(f"{s} {h}" for s, h in hashes.items()),
        "answer": f"constrained={job.answer.constrained}, max_retries={job.answer.max_retries}",
        "long answer shown": job.task.use_long_answer,
        "chat template": job.task.chat,
    }
    if job.multi_task:
        settings["executor"] = f"{job.executor.type}, {job.executor.tasks} tasks"
    manifest = {
        "corpusforge_version": __version__,
        "kind": "label",
        "task": job.task.name,
        "status": "ok",
        "input": job.input.model_dump(mode="json", exclude_none=True),
        "model": job.model.name,
        "backend": backend.describe(),
        "strategy": job.strategy,
        "strategies": job.strategies,
        "template_hashes": hashes,
        "summary": result,
        "warnings": list(result.get("warnings", [])),  # degenerate-run findings (label/degenerate.py)
        "cache": cache,
        "job": job.model_dump(mode="json"),
        **(extra or {}),
    }
    sections = card_sections(result, settings, lines)
    for observer in observers:
        observer_manifest, observer_sections = observer.finish()
        manifest.update(observer_manifest)
        sections += observer_sections
    if result["input_records"] != result["labeled"] + result["unlabeled"] + result["quarantined"]:
        raise BuildError("label counts do not add up (a bug)")
    output.finish(
        manifest,
        sections,
        title=f"{job.task.name} labelled by {Path(job.model.name).name} ({job.strategy})",
        intro=(
            f"Pseudo-labels for {job.task.name} written by `corpusforge label` with the `{job.strategy}` strategy "
            "(AntGLM-Med section 3.4.3: LLM-annotated PQA-U, Verification-of-Choice, PPL ranking)."
        ),
    )
    return manifest


def check_first(records: list[dict]) -> None:
    """Validate one record per chunk against the schema: cheap, and a broken writer fails on its first chunk."""
    if records:
        problems = validation_errors("label", records[0])
        if problems:
            raise BuildError("label record breaks schemas/label.schema.json (a bug):\n" + "\n".join(problems))
