"""What every instruction adapter shares: file layouts, task ids, templates, and turning a record into a Document.

An adapter is a SourceReader (see corpusforge/pipeline/readers/base.py): it cuts files into raw records and parses
each into one complete instruction record (schemas/instruction.schema.json), carried as
`Document(text=flat_text(record), metadata={"record": record, ...})`. The record's `meta` carries its licence (the
source's `license:` in the recipe, else `unknown`), as a document's does. Malformed rows raise MalformedRecord and are
quarantined and counted by the base class; rows that are well-formed but unusable for training are dropped with a
counted reason (the base reader's `DropRecord(reason)`: counted as `dropped_<reason>`, like a filter's drop).

File layouts (JSON lines, JSON, CSV, parquet) are read by corpusforge/instruct/layouts.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import xxhash

from corpusforge.errors import ConfigError
from corpusforge.formats.instruction import Language, flat_text, make_record
from corpusforge.formats.multiple_choice.question import MCQuestion
from corpusforge.formats.task_ids import UnknownTask, resolve_task_id
from corpusforge.instruct.layouts import iter_records
from corpusforge.instruct.render import Target, UnknownTemplate, load_template, render_mc, render_qa
from corpusforge.io.input_records import MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.licenses import UNKNOWN
from corpusforge.pipeline.readers.base import ReaderParams, SourceReader
from corpusforge.pipeline.registry import BuildContext


class InstructParams(ReaderParams):
    """Options every instruction adapter accepts (on top of path/glob/encoding/limit)."""

    task: str | None = None
    task_id: int | None = None
    language: Language | None = None
    system_prompt: str | None = None


class MCParams(InstructParams):
    """Options of multiple-choice adapters: which template renders them and what the target looks like."""

    template: str | None = None
    target: Target = "sentence"
    with_explanation: bool = False


class InstructReader(SourceReader):
    """Base of the instruction adapters. Subclasses set the defaults below and implement `parse`."""

    eval_id_keys = True  # its documents carry ids decontam.eval_sets compares (PMID, source id, question)

    Params: ClassVar[type[InstructParams]] = InstructParams
    default_task: ClassVar[str] = ""
    default_language: ClassVar[Language] = "en"
    default_template: ClassVar[str] = "qa"
    csv_header: ClassVar[bool] = True

    def __init__(
        self,
        path: str,
        source: str,
        quarantine_dir=None,
        task: str | None = None,
        task_id: int | None = None,
        task_table: dict[str, int] | None = None,
        language: Language | None = None,
        system_prompt: str | None = None,
        template: str | None = None,
        target: Target = "sentence",
        with_explanation: bool = False,
        **reader_kwargs,
    ):
        super().__init__(path, source, quarantine_dir=quarantine_dir, **reader_kwargs)
        self.task = task or self.default_task or source
        self.task_id = task_id
        self.task_table = task_table
        self.language: Language = language or self.default_language
        self.system_prompt = system_prompt
        self.template = template or self.default_template
        self.target: Target = target
        self.with_explanation = with_explanation
        self._seen_ids: set[int] = set()
        try:
            load_template(self.template)
            if task_id is None and "/" not in self.task:
                resolve_task_id(self.task, task_table)
        except (UnknownTemplate, UnknownTask) as e:
            raise ConfigError(f"sources.{source}.reader: {e.args[0]}") from None

    @classmethod
    def from_params(cls, params: InstructParams, ctx: BuildContext) -> InstructReader:
        kwargs = params.model_dump(exclude={"type"})
        return cls(
            source=ctx.source,
            quarantine_dir=ctx.quarantine_dir,
            task_table=ctx.extra.get("task_ids"),
            license=ctx.license,
            **kwargs,
        )

    # ---- layouts (see corpusforge/instruct/layouts.py) -------------------------------------------------------
    def iter_raw(self, filepath: str) -> Iterator[RawRecord]:
        yield from iter_records(
            self.opener(filepath), self.display_path(filepath), self.encoding, self.csv_header, self.max_record_bytes
        )

    # ---- helpers for parse() ---------------------------------------------------------------------------------
    def load_row(self, record: RawRecord) -> dict[str, Any]:
        """The raw record as a dict (decoding and JSON errors become MalformedRecord)."""
        data = self.row_data(record)
        if not isinstance(data, dict):
            raise MalformedRecord("bad_record", f"expected a JSON object, got {type(data).__name__}")
        return data

    def resolve_task(self, task: str) -> int:
        try:
            return resolve_task_id(task, self.task_table, self.task_id)
        except UnknownTask as e:
            raise MalformedRecord("unknown_task", e.args[0]) from None

    def build(
        self,
        record: RawRecord,
        local_id: str,
        messages: list[dict[str, str]],
        *,
        task: str | None = None,
        mc: MCQuestion | None = None,
        provenance: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        language: Language | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ParsedRecord:
        """A ParsedRecord carrying a complete, schema-checked instruction record."""
        local_id = self.unique_id(local_id)
        task = task or self.task
        location = {**record.location, **(provenance or {})}
        location.setdefault("record_id", local_id)
        rec = make_record(
            id=f"{self.source}:{local_id}",
            source=self.source,
            task=task,
            task_id=self.resolve_task(task),
            language=language or self.language,
            messages=messages,
            provenance=location,
            mc=mc,
            meta={**(meta or {}), "license": (metadata or {}).get("license") or self.license or UNKNOWN},
        )
        empty = [m["role"] for m in rec["messages"] if m["role"] != "system" and not m["content"].strip()]
        if empty:  # the record is schema-valid by construction (checked in tests and by the writer); not this
            raise MalformedRecord("empty_turn", f"the rendered {'/'.join(empty)} turn is empty")
        return ParsedRecord(
            text=flat_text(rec),
            id=local_id,
            provenance=provenance or {},
            metadata={"record": rec, **(metadata or {})},
        )

    def unique_id(self, local_id: str) -> str:
        """`local_id`, or `<id>~<n>` when this task already gave it to another record: a source whose ids repeat
        keeps every record under an id of its own, and the repeats are counted (`duplicate_ids`) for the manifest.
        """
        n = 1
        candidate = local_id
        while (key := xxhash.xxh64_intdigest(candidate)) in self._seen_ids:
            n += 1
            candidate = f"{local_id}~{n}"
        if n > 1:
            self.stat_update("duplicate_ids")
        self._seen_ids.add(key)
        return candidate

    def build_mc(self, record: RawRecord, local_id: str, mc: MCQuestion, **kwargs) -> ParsedRecord:
        """`build` for a multiple-choice question, rendered with this source's template and target."""
        messages = render_mc(mc, self.template, self.target, self.with_explanation, self.system_prompt)
        meta = {**mc.meta, "template": self.template, "target": self.target, **(kwargs.pop("meta", None) or {})}
        return self.build(record, local_id, messages, mc=mc, meta=meta, **kwargs)

    def build_qa(self, record: RawRecord, local_id: str, question: str, answer: str, **kwargs) -> ParsedRecord:
        """`build` for a free-form question and answer."""
        messages = render_qa(question, answer, self.template, self.system_prompt)
        return self.build(record, local_id, messages, **kwargs)

    def build_dialogue(
        self, record: RawRecord, local_id: str, turns: list[tuple[str, str]], system: str | None = None, **kwargs
    ) -> ParsedRecord:
        """`build` for a multi-turn conversation: every (user, assistant) turn rendered and kept, in order."""
        system_prompt = self.system_prompt or system
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        for question, answer in turns:
            messages += render_qa(question, answer, self.template)
        return self.build(record, local_id, messages, **kwargs)


def duplicate_ids(manifest: dict[str, Any]) -> dict[str, int]:
    """Per source, how many records came with an id the source had already used (from the readers' stats in the
    manifest); each was kept under `<id>~<n>` (see InstructReader.unique_id)."""
    out = {}
    for name, source in manifest.get("sources", {}).items():
        n = sum(int(step.get("duplicate_ids", 0)) for step in (source.get("details") or {}).values())
        if n:
            out[name] = n
    return out
