"""PromptCBLUE (Zhu et al., 2023): CBLUE's Chinese medical NLP tasks already turned into prompts.

Real layout: JSON lines (files named train.json / dev.json / test.json) with
    {"input": prompt, "target": answer, "answer_choices": [...] | null, "task_type": "ner",
     "task_dataset": "CMeEE-V2", "sample_id": "train-134372"}
The prompt is used as is (template `qa`); the task is `promptcblue/<task_dataset>`, so the task table can give
the whole family one id (`promptcblue`) or each sub-task its own. Rows without a target (the blind test file) are
dropped as `no_target`.
"""

from __future__ import annotations

from corpusforge.instruct.adapters.base import InstructReader
from corpusforge.io.input_records import DropRecord, MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.registry import register


@register("instruct.promptcblue", kind="reader")
class PromptCBLUEReader(InstructReader):
    """PromptCBLUE JSON lines -> one instruction record per prompt (task promptcblue/<task_dataset>)."""

    default_task = "promptcblue"
    default_language = "zh"

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        prompt = self.require(row, "input", str, allow_empty=False)
        sample_id = self.require(row, "sample_id", str, allow_empty=False)
        dataset = self.require(row, "task_dataset", str, allow_empty=False)
        target = row.get("target")
        if target is not None and not isinstance(target, str):
            raise MalformedRecord("bad_field", f"field 'target' must be str, got {type(target).__name__}")
        if not target or not target.strip():
            raise DropRecord("no_target")
        choices = row.get("answer_choices")
        if choices is not None and not isinstance(choices, list):
            raise MalformedRecord("bad_field", "field 'answer_choices' must be a list or null")
        meta = {"task_type": row.get("task_type"), "task_dataset": dataset}
        if choices:
            meta["answer_choices"] = choices
        return self.build_qa(
            record,
            sample_id,
            prompt,
            target,
            task=f"{self.task}/{dataset}",
            meta=meta,
        )
