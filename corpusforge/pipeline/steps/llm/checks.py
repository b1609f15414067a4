"""Checks and parsers for what an LLM step's model wrote: each returns the usable value or the reason it is not.

A reason is a short snake_case name (`lost_entity`, `option_letter`, `invalid_json`...): a failed check is retried,
and after the last retry the step falls back or drops, counting the reason. Checks are plain functions of the
answer text so they can be tested without a model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from corpusforge.pipeline.steps.llm.faithfulness import (
    Given,
    commentary,
    form_problem,
    length_off,
    normalize,
    unsupported,
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?|\n?```\s*$")
# "A." / "C)" opening a line, "(B)", "option D", "answer is E", "选项A", "A项", "答案是B" (not "vitamin A.")
_OPTION_LETTER = re.compile(
    r"(?:^\s*\(?[A-J][.)）:：]\s)|(?:\([A-J]\))|(?:\b(?:options?|choices?)\s+[A-J]\b)|(?:\banswer\s+(?:is\s+)?[A-J]\b)"
    r"|(?:选项\s*[A-J])|(?:(?<![A-Za-z])[A-J]\s*项)|(?:答案(?:是|为)\s*[A-J](?![A-Za-z]))",
    re.IGNORECASE | re.MULTILINE,
)
_QUESTION_LABEL = re.compile(r"^\s*(?:question|问题|题目)\s*[:：]", re.IGNORECASE | re.MULTILINE)
_WHICH = re.compile(r"which\s+of\s+the\s+following|下列|以下哪|哪一项|哪项|哪个选项", re.IGNORECASE)
_MENTIONS_PASSAGE = re.compile(
    r"\b(?:the|this|above|given)\s+(?:reference\s+)?(?:passage|text|article|excerpt|abstract)\b|according to the (?:study|passage)"
    r"|(?:参考)?资料中|原文|本文|上文",
    re.IGNORECASE,
)


@dataclass
class Checked:
    """A check's verdict: `value` when usable, else the `reason` it is not."""

    value: Any = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def fail(reason: str) -> Checked:
    return Checked(reason=reason)


def contains(haystack: str, needle: str) -> bool:
    """`needle` in `haystack`, ignoring case, width and whitespace (Chinese text: also without any spaces)."""
    h, n = normalize(haystack), normalize(needle)
    if not n:
        return True
    if n in h:
        return True
    return bool(_CJK.search(n)) and n.replace(" ", "") in h.replace(" ", "")


def clean_text(text: str) -> str:
    """The answer without code fences, surrounding quotes or a leading 'Paragraph:' label."""
    text = _FENCE.sub("", text.strip()).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return re.sub(r"^(?:paragraph|knowledge points?|answer|段落|知识点)\s*[:：]\s*", "", text, flags=re.I).strip()


def common_failures(text: str, finish_reason: str | None, error: str | None) -> str | None:
    """Reasons any generated text is unusable: the request failed, nothing was written, or it was cut off."""
    if error:
        return error
    if not text.strip():
        return "empty_output"
    if finish_reason == "length":
        return "truncated"
    return None


def check_kg_rewrite(text: str, entities: list[str], given: Given | None = None) -> Checked:
    """A paragraph that names every entity of the subgraph (as written, ignoring case and spacing) and, with
    `given` (the prompt, the facts, the draft's size), neither echoes nor comments nor brings facts of its own."""
    text = clean_text(text)
    if not text:
        return fail("empty_output")
    if given is not None and (reason := form_problem(text, given)):
        return fail(reason)
    if any(not contains(text, e) for e in entities):
        return fail("lost_entity")
    if given is not None and (reason := unsupported(text, given.facts)):
        return fail(reason)
    return Checked(text)


def answer_core(answer: str) -> str:
    """The answer as a model would write it: without surrounding quotes, whitespace and final punctuation.

    Real files carry such residue (MedQA test items whose option text ends in a newline and a quote).
    """
    return re.sub(r"^[\s\"'“”‘’]+|[\s\"'“”‘’.,;:。，；：]+$", "", answer)


def check_exam_rewrite(text: str, answer: str, given: Given | None = None, question: str = "") -> Checked:
    """Knowledge points that state the answer and read as statements, not as the question; with `given`, also
    not the prompt echoed, not talk about the rewrite, not the bare answer or the copied vignette, and nothing
    (numbers, names) that the question, options and explanation do not contain."""
    text = clean_text(text)
    if not text:
        return fail("empty_output")
    if _QUESTION_LABEL.search(text):
        return fail("question_left")
    if given is not None and (reason := form_problem(text, given, check_length=False)):
        return fail(reason)
    answer = answer_core(answer) or answer
    if not contains(text, answer):
        return fail("missing_answer")
    # the answer's own "(D)" or "?" (Rh(D) positive) is not a leftover of the question
    rest = re.sub(re.escape(answer), " ", text, flags=re.IGNORECASE)
    if _WHICH.search(rest):
        return fail("which_of_the_following")
    if _OPTION_LETTER.search(rest):
        return fail("option_letter")
    if "?" in rest or "？" in rest:
        return fail("question_mark")
    if bare_answer(rest):
        return fail("bare_answer")
    if question and copied(question, text):
        return fail("copied_vignette")
    if given is not None:  # knowledge points may be much shorter than the vignette, never much longer
        if length_off(text, given.reference_chars) == "too_long":
            return fail("too_long")
        if reason := unsupported(text, given.facts):
            return fail(reason)
    return Checked(text)


def bare_answer(rest: str) -> bool:
    """Too little besides the answer to be a knowledge point: under 3 words (under 6 Chinese characters)."""
    return len(re.findall(r"[A-Za-z0-9]+", rest)) < 3 and len(_CJK.findall(rest)) < 6


def shingles(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", normalize(text))
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def copied(question: str, text: str, n: int = 6, share: float = 0.5) -> bool:
    """The answer repeats most of a long question (half of its word 6-grams): the vignette, not a fact.

    Chinese questions (no spaces between words) are compared on character 6-grams."""
    if _CJK.search(question):
        q, t = normalize(question).replace(" ", ""), normalize(text).replace(" ", "")
        grams = {q[i : i + n] for i in range(len(q) - n + 1)}
        return len(q) >= 30 and sum(g in t for g in grams) >= share * len(grams)
    grams = shingles(question, n)
    return len(grams) >= 10 and len(grams & shingles(text, n)) >= share * len(grams)


def parse_json(text: str) -> Checked:
    """The first JSON value in `text` (a bare value or one inside a code fence or after a preamble)."""
    text = _FENCE.sub("", text.strip()).strip()
    try:
        return Checked(json.loads(text))
    except json.JSONDecodeError:
        pass
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return fail("invalid_json")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return fail("invalid_json")
    return Checked(value)


def schema_validator(schema: dict[str, Any]):
    """A function value -> list of schema errors (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return lambda value: [e.message for e in validator.iter_errors(value)]


def parse_json_with_schema(text: str, validate) -> Checked:
    parsed = parse_json(text)
    if not parsed.ok:
        return parsed
    if validate(parsed.value):
        return fail("schema_mismatch")
    return parsed


def parse_regex(text: str, pattern: re.Pattern, group: int | str = 0) -> Checked:
    found = pattern.search(text)
    if not found:
        return fail("no_match")
    return Checked(found.group(group))


def qa_schema(
    max_pairs: int | None = None, max_question_chars: int | None = None, max_answer_chars: int | None = None
) -> dict[str, Any]:
    """The pairs a model may write. Decoding gets the bounds, so that a constrained answer ends well before the
    token limit; answers are validated without them (a server may ignore the schema) and cut or left out pair
    by pair instead (over_max_pairs, too_long)."""

    def text(bound: int | None) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, **({"maxLength": bound} if bound else {})}

    pairs: dict[str, Any] = {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {"question": text(max_question_chars), "answer": text(max_answer_chars)},
            "required": ["question", "answer"],
        },
    }
    if max_pairs:
        pairs["maxItems"] = max_pairs
    return {"type": "object", "properties": {"pairs": pairs}, "required": ["pairs"]}


def score_schema(scale_max: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": 0, "maximum": scale_max}},
        "required": ["score"],
    }


def check_qa_pairs(
    text: str,
    validate,
    max_pairs: int,
    min_answer_chars: int,
    passage: str | None = None,
    max_chars: tuple[int, int] | None = None,
) -> tuple[Checked, dict[str, int]]:
    """(usable pairs, or the reason there are none; {reason: pairs left out} for pairs that fail on their own).

    With `passage`, a pair must also bring no number or name the passage lacks. When every pair fails, the
    reason is the one most pairs failed for."""
    parsed = parse_json_with_schema(text, validate)
    if not parsed.ok:
        return parsed, {}
    pairs, left_out = [], {}
    for pair in parsed.value["pairs"]:
        question, answer = pair["question"].strip(), pair["answer"].strip()
        reason = pair_problem(question, answer, min_answer_chars, passage, max_chars)
        if reason is None and any(normalize(question) == normalize(q) for q, _ in pairs):
            reason = "repeated_question"
        if reason:
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        pairs.append((question, answer))
    if len(pairs) > max_pairs:
        left_out["over_max_pairs"] = len(pairs) - max_pairs
        pairs = pairs[:max_pairs]
    if not pairs:
        return fail(max(left_out, key=left_out.get) if left_out else "no_valid_pairs"), left_out
    return Checked(pairs), left_out


_ASKS = re.compile(
    r"^\W*(?:what|which|how|why|when|where|who|whom|whose|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"may|might|has|have|had|describe|explain|list|name|define|summari[sz]e|compare|give|state|identify|outline)\b"
    r"|什么|哪[些个种里类]|如何|怎么|怎样|为什么|为何|是否|多少|几[种个项类次]|[吗呢]\W*$|^\W*请",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """Ends in a question mark, or asks (an interrogative or an imperative like "Explain", in English or Chinese).

    SmolLM2 "asked" a sentence copied from the abstract ("In unanesthetized, spontaneously hypertensive rats the
    decrease in blood pressure ... produced by intravenous clonidine, 5 to 20 micrograms/kg.")."""
    stripped = text.strip()
    return stripped.endswith(("?", "？")) or bool(_ASKS.search(stripped))


def pair_problem(
    question: str, answer: str, min_answer_chars: int, passage: str | None, max_chars: tuple[int, int] | None = None
) -> str | None:
    """Why one question-answer pair is unusable, or None."""
    if max_chars and (len(question) > max_chars[0] or len(answer) > max_chars[1]):
        return "too_long"
    if _MENTIONS_PASSAGE.search(question) or _MENTIONS_PASSAGE.search(answer):
        return "mentions_passage"
    if len(answer) < min_answer_chars:
        return "answer_too_short"
    if normalize(question.rstrip("?？ ")) in normalize(answer):
        return "question_in_answer"
    if not is_question(question):
        return "not_a_question"
    if commentary(answer):
        return "commentary"
    if passage is not None:
        return unsupported(f"{question}\n{answer}", passage)
    return None
