"""llm.qa_from_text: instruction pairs written from a passage used as hidden reference (HuatuoGPT-II)."""

from __future__ import annotations

import json
from functools import cached_property

from datatrove.data import Document
from pydantic import Field

from corpusforge.errors import ConfigError
from corpusforge.formats.instruction import flat_text, make_record, messages_from
from corpusforge.formats.task_ids import UnknownTask, resolve_task_id
from corpusforge.pipeline.licenses import UNKNOWN
from corpusforge.pipeline.registry import StepParams, register
from corpusforge.pipeline.steps.llm.base import LLMStep, Task
from corpusforge.pipeline.steps.llm.checks import Checked, check_qa_pairs, qa_schema, schema_validator
from corpusforge.pipeline.steps.llm.config import LLMStepParams


@register("llm.qa_from_text")
class QAFromText(LLMStep):
    """Instruction pairs written from a passage used as hidden reference (HuatuoGPT-II); emits chat records."""

    default_max_tokens = 768
    template_names = ("qa_from_text",)
    changes_cardinality = True

    class Params(StepParams, LLMStepParams):
        max_pairs: int = Field(3, ge=1, le=20)
        min_passage_chars: int = Field(200, ge=1, description="shorter passages are dropped (passage_too_short)")
        max_passage_chars: int = Field(6000, ge=100, description="longer passages are cut here for the prompt")
        min_answer_chars: int = Field(20, ge=1)
        max_question_chars: int = Field(200, ge=20, description="the schema's bound on a question (maxLength)")
        max_answer_chars: int = Field(600, ge=20, description="the schema's bound on an answer (maxLength)")
        task: str = "free_qa/from_text"
        task_id: int | None = None
        system_prompt: str | None = Field(None, description="system turn of the records written (not of the request)")

    def uses_structure(self) -> bool:
        return True

    def prepare(self, doc: Document) -> Task | str:
        passage = doc.text.strip()
        language = self.language_of(passage)
        cut = passage[: self.params.max_passage_chars]
        file, prompt = self.render("qa_from_text", language, passage=cut, max_pairs=self.params.max_pairs)
        validate = self._validate
        p = self.params
        # not sort_keys: the schema's key order (question, then answer) is the order the model must write them
        return Task(doc, file, prompt, lambda text: self._check(text, validate, p, cut), language,
                    json_schema=json.dumps(self.schema))  # fmt: skip

    @cached_property
    def schema(self) -> dict:
        p = self.params
        return qa_schema(p.max_pairs, p.max_question_chars, p.max_answer_chars)

    @cached_property
    def _validate(self):
        return schema_validator(qa_schema())  # bounds are checked pair by pair

    def _check(self, text: str, validate, p, passage: str) -> Checked:
        checked, left_out = check_qa_pairs(
            text, validate, p.max_pairs, p.min_answer_chars, passage, (p.max_question_chars, p.max_answer_chars)
        )
        if checked.ok:
            checked.value = (checked.value, left_out)
        return checked

    def process(self, batch: list[Document], engine) -> list[Document]:
        self.stat_update("documents_in", value=len(batch))
        short = [d for d in batch if len(d.text.strip()) < self.params.min_passage_chars]
        for _ in short:
            self.drop("passage_too_short")
        return super().process([d for d in batch if len(d.text.strip()) >= self.params.min_passage_chars], engine)

    def accept(self, task: Task) -> list[Document]:
        pairs, left_out = task.value
        for reason, n in left_out.items():
            self.count(f"pairs_left_out_{reason}", n)
        doc, p = task.doc, self.params
        try:
            task_id = resolve_task_id(p.task, self.task_ids, p.task_id)
        except UnknownTask as e:
            raise ConfigError(f"llm.qa_from_text.task: {e.args[0]}") from None
        source = doc.metadata.get("source") or self.source
        provenance = {**(doc.metadata.get("provenance") or {}), "record_id": doc.id}
        out = []
        for k, (question, answer) in enumerate(pairs):
            record = make_record(
                id=f"{doc.id}/qa{k}",
                source=source,
                task=p.task,
                task_id=task_id,
                language=task.language,
                messages=messages_from(question, answer, p.system_prompt),
                provenance=provenance,
                meta={
                    "passage_id": doc.id,
                    "generated_by": self.settings.model.name,
                    "template": self.template_hash(task),
                },  # fmt: skip
            )
            out.append(
                Document(
                    text=flat_text(record),
                    id=record["id"],
                    metadata={
                        "record": record,
                        "source": source,
                        "license": doc.metadata.get("license") or UNKNOWN,  # the passage's licence
                        "provenance": provenance,
                        "transforms": list(doc.metadata.get("transforms") or []) + [self.name],
                    },  # fmt: skip
                )
            )
        self.stat_update("expanded")
        self.stat_update("documents_out", value=len(out))
        self.count("pairs", len(out))
        return out

    def fallback(self, task: Task) -> list[Document]:
        return self.drop(f"qa_{task.reasons[-1]}")
