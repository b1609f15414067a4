"""kg.rewrite and exam.rewrite: steps whose checked answer replaces the document's text."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from datatrove.data import Document

from corpusforge.formats.multiple_choice.question import MalformedQuestion, MCQuestion
from corpusforge.pipeline.registry import StepParams, register
from corpusforge.pipeline.steps.exam import KnowledgePointWriter
from corpusforge.pipeline.steps.llm.base import LLMStep, Task, add_transform, note_outcome
from corpusforge.pipeline.steps.llm.checks import answer_core, check_exam_rewrite, check_kg_rewrite
from corpusforge.pipeline.steps.llm.config import LLMStepParams
from corpusforge.pipeline.steps.llm.faithfulness import Given


class RewriteStep(LLMStep):
    """A step whose accepted answer replaces the document's text; on fallback the document keeps a text of its
    own (`fallback_text`), and either way the document says which it got."""

    def accept(self, task: Task) -> list[Document]:
        task.doc.text = task.value
        note_outcome(task.doc, self.name, None)
        self.count("rewritten")
        return [task.doc]

    def fallback(self, task: Task) -> list[Document]:
        self.fallback_text(task)
        note_outcome(task.doc, self.name, task.reasons[-1])
        self.count(f"fallback_{task.reasons[-1]}")
        return [task.doc]

    def fallback_text(self, task: Task) -> None:
        """Set the text a failed rewrite leaves; by default the document's own text stays."""


# ---------------------------------------------------------------------------------------------------------------
# kg.rewrite
# ---------------------------------------------------------------------------------------------------------------
@register("kg.rewrite")
class KGRewrite(RewriteStep):
    """Rewrite kg.subgraphs paragraphs from their triples with an LLM; a rewrite must keep every entity."""

    default_max_tokens = 384
    template_names = ("kg_rewrite",)

    class Params(StepParams, LLMStepParams):
        def check_in_recipe(self, recipe: Any, steps: list[Any], index: int, where: str) -> list[str]:
            """kg.rewrite needs the subgraphs (triples in their metadata) of a kg.subgraphs step before it."""
            problems = super().check_in_recipe(recipe, steps, index, where)
            before = [s for s in steps[:index] if s.type == "kg.subgraphs"]
            if not before:
                return [
                    *problems,
                    f"{where}: kg.rewrite rewrites the subgraphs of a kg.subgraphs step: put it after one",
                ]
            return problems

    def prepare(self, doc: Document) -> Task | str:
        triples = doc.metadata.get("triples")
        if not triples:
            return "no_triples"
        entities = list(dict.fromkeys(x for t in triples for x in (t[0], t[2])))
        language = self.language_of(doc.text)
        facts = [{"head": h, "relation": r, "tail": t} for h, r, t in triples]
        file, prompt = self.render("kg_rewrite", language, triples=facts, entities=entities, draft=doc.text)
        relations = [r for _, r, _ in triples]
        given = Given.from_prompt(
            prompt,
            facts="\n".join([doc.text, *(" ".join(t) for t in triples)]),
            data=[*entities, *relations, *doc.text.splitlines()],
            reference_chars=len(doc.text),
            draft=doc.text,
        )
        return Task(doc, file, prompt, lambda text: check_kg_rewrite(text, entities, given), language)

    # a failed rewrite keeps the template paragraph kg.subgraphs wrote (RewriteStep.fallback_text)


# ---------------------------------------------------------------------------------------------------------------
# exam.rewrite
# ---------------------------------------------------------------------------------------------------------------
@register("exam.rewrite")
class ExamRewrite(RewriteStep):
    """Rewrite exam questions into knowledge points with an LLM; falls back to the rule-based knowledge point."""

    default_max_tokens = 384
    template_names = ("exam_rewrite",)

    class Params(StepParams, LLMStepParams):
        include_explanation: bool = True
        """the explanation, when the source has one, is shown to the model and kept in the fallback"""
        rules: str | None = None
        """the fallback's rules YAML (as for exam.knowledge_points)"""

    @cached_property
    def writer(self):
        return KnowledgePointWriter(Path(self.params.rules) if self.params.rules else None,
                                    self.params.include_explanation)  # fmt: skip

    def prepare(self, doc: Document) -> Task | str:
        record = doc.metadata.get("mc")
        if not isinstance(record, dict):
            return "no_mc"
        try:
            mc = MCQuestion.from_record(record)
        except MalformedQuestion:
            return "bad_mc"
        language = self.language_of(mc.question)
        explanation = mc.explanation if self.params.include_explanation else None
        file, prompt = self.render(
            "exam_rewrite",
            language,
            question=mc.question,
            options=[(k, answer_core(t) or t) for k, t in mc.options],
            answer=answer_core(mc.answer_text) or mc.answer_text,
            answer_key=mc.answer,
            explanation=explanation,
            context=mc.context,
        )
        shown = [mc.question, *(t for _, t in mc.options), mc.answer_text, explanation or "", mc.context or ""]
        given = Given.from_prompt(
            prompt,
            facts="\n".join(shown),
            data=[line for part in shown for line in part.splitlines()],
            reference_chars=len(mc.question) + len(explanation or ""),
        )
        task = Task(doc, file, prompt, lambda text: check_exam_rewrite(text, mc.answer_text, given, mc.question),
                    language)  # fmt: skip
        task.extra["mc"] = mc
        return task

    def fallback_text(self, task: Task) -> None:
        """The rule-based knowledge point (exam.knowledge_points), as a recipe without LLM steps writes it."""
        text, rule = self.writer.rewrite(task.extra["mc"], task.language)
        task.doc.text = text
        task.doc.metadata["knowledge_point_rule"] = rule
        add_transform(task.doc, "exam.knowledge_points")
