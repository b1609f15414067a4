"""Which input records a label job labels: the selected items in input order (limit, run shard, a caller's filter);
every quarantined input record goes to the output and the summary on the way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem, Quarantined, iter_input
from corpusforge.label.label_record import arrow_schema
from corpusforge.label.output import LabelOutput
from corpusforge.label.runner import select_items
from corpusforge.label.summary import SummaryBuilder


def select_job_items(
    job: LabelJob,
    output: LabelOutput,
    summary: SummaryBuilder,
    keep: Callable[[LabelItem], bool] | None = None,
    positions: list[int] | None = None,
) -> list[LabelItem]:
    """The items the job labels, in input order; quarantined input records go to the output and the summary.

    `positions`, when given, receives each selected item's position in the input (for splitting into tasks).
    """

    def quarantine(entry: Quarantined) -> None:
        output.quarantine(entry)
        summary.quarantine(entry.reason)

    run = job.run
    at = [-1]

    def records():
        for at[0], record in enumerate(iter_input(job.input)):  # noqa: B007 - the position is read below
            yield record

    items = []
    for item in select_items(records(), run.limit, run.num_shards, run.shard_index, quarantine, keep):
        items.append(item)
        if positions is not None:
            positions.append(at[0])
    return items


def start_output(
    job: LabelJob, output_dir: Path, keep: Callable[[LabelItem], bool] | None = None
) -> tuple[LabelOutput, SummaryBuilder, list[LabelItem], list[int]]:
    """A new label output holding the input's quarantined records, the summary that counted them, and the selected
    items with their input positions (for work split over tasks or shards, which write the records later)."""
    output = LabelOutput(output_dir, job.task.name, arrow_schema(job))
    output.start()
    summary = SummaryBuilder([o.text for o in job.task.options], job.strategies)
    positions: list[int] = []
    items = select_job_items(job, output, summary, keep, positions)
    output.close()
    return output, summary, items, positions
