"""Checks and parsers for what an LLM step's model wrote: each returns the usable value or the reason it is not.

A reason is a short snake_case name (`lost_entity`, `option_letter`, `invalid_json`...): a failed check is retried,
and after the last retry the step falls back or drops, counting the reason. Checks are plain functions of the
answer text so they can be tested without a model.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?|\n?```\s*$")
# "A." / "C)" opening a line, "(B)", "option D", "answer is E", "选项A", "A项", "答案是B" (not "vitamin A.")
_OPTION_LETTER = re.compile(
    r"(?:^\s*\(?[A-J][.)）:：]\s)|(?:\([A-J]\))|(?:\b(?:options?|choices?)\s+[A-J]\b)|(?:\banswer\s+(?:is\s+)?[A-J]\b)"
    r"|(?:选项\s*[A-J])|(?:(?<![A-Za-z])[A-J]\s*项)|(?:答案(?:是|为)\s*[A-J](?![A-Za-z]))",
    re.IGNORECASE | re.MULTILINE,
)
_WHICH = re.compile(r"which\s+of\s+the\s+following|下列|以下哪|哪一项|哪项|哪个选项", re.IGNORECASE)
_MENTIONS_PASSAGE = re.compile(
    r"\b(?:the|this|above|given)\s+(?:passage|text|article|excerpt|abstract)\b|according to the (?:study|passage)"
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


def normalize(text: str) -> str:
    """Case-folded NFKC text with whitespace runs collapsed (entity and answer matching)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


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


def check_kg_rewrite(text: str, entities: list[str]) -> Checked:
    """A paragraph that names every entity of the subgraph (as written, ignoring case and spacing)."""
    text = clean_text(text)
    if not text:
        return fail("empty_output")
    if any(not contains(text, e) for e in entities):
        return fail("lost_entity")
    return Checked(text)


def answer_core(answer: str) -> str:
    """The answer as a model would write it: without surrounding quotes, whitespace and final punctuation.

    Real files carry such residue (MedQA test items whose option text ends in a newline and a quote).
    """
    return re.sub(r"^[\s\"'“”‘’]+|[\s\"'“”‘’.,;:。，；：]+$", "", answer)


def check_exam_rewrite(text: str, answer: str) -> Checked:
    """Knowledge points that state the answer and read as statements, not as the question."""
    text = clean_text(text)
    if not text:
        return fail("empty_output")
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
    return Checked(text)


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


QA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pairs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "string", "minLength": 1},
                    "answer": {"type": "string", "minLength": 1},
                },
                "required": ["question", "answer"],
            },
        }
    },
    "required": ["pairs"],
}


def score_schema(scale_max: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": 0, "maximum": scale_max}},
        "required": ["score"],
    }


def check_qa_pairs(text: str, validate, max_pairs: int, min_answer_chars: int) -> tuple[Checked, dict[str, int]]:
    """(usable pairs, or the reason there are none; {reason: pairs left out} for pairs that fail on their own)."""
    parsed = parse_json_with_schema(text, validate)
    if not parsed.ok:
        return parsed, {}
    pairs, left_out = [], {}
    for pair in parsed.value["pairs"]:
        question, answer = pair["question"].strip(), pair["answer"].strip()
        reason = None
        if _MENTIONS_PASSAGE.search(question) or _MENTIONS_PASSAGE.search(answer):
            reason = "mentions_passage"
        elif len(answer) < min_answer_chars:
            reason = "answer_too_short"
        elif any(normalize(question) == normalize(q) for q, _ in pairs):
            reason = "repeated_question"
        if reason:
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        pairs.append((question, answer))
    if len(pairs) > max_pairs:
        left_out["over_max_pairs"] = len(pairs) - max_pairs
        pairs = pairs[:max_pairs]
    if not pairs:
        return fail("no_valid_pairs"), left_out
    return Checked(pairs), left_out
