"""Multiple-choice questions in the layouts their sources publish, parsed into one `MCQuestion`.

Every source spells the same thing differently: MedQA keeps options in a dict and the answer as a letter and a
text, MedMCQA has four option columns and a 1-based (GitHub release) or 0-based (Hub release) answer index,
CMExam packs the options into one "A xxx\\nB xxx" string, MMLU ships header-less CSV rows and a Hub layout with an
answer index. The parsers here turn each into the same dataclass, so the stage-1 exam reader, the stage-2/3
instruction adapters and the knowledge-point rewriter only ever see one shape.

A row that cannot be used raises `MalformedQuestion` (a ValueError) whose `field` is the offending field of the
source layout, so callers can quarantine it with a message naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import field_validator

from corpusforge.config import StrictModel

KEYS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class MalformedQuestion(ValueError):
    """A multiple-choice row that cannot be used; `field` names the field of the source layout at fault."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"field {field_name!r}: {message}")
        self.field = field_name


class MissingField(MalformedQuestion):
    """A required field is absent or empty (readers count it as `missing_field`, not as a bad value)."""


class MultiAnswerQuestion(MalformedQuestion):
    """The answer names several options (CMExam has ~3% of these, e.g. "ABD").

    Policy: `MCQuestion` holds one answer key, so these are not parsed. They are well-formed source data, not
    garbage, so readers count them as dropped (`multi_answer`) rather than quarantining them; `answers` keeps the keys.
    """

    def __init__(self, field_name: str, answers: list[str]):
        super().__init__(field_name, f"several answers {''.join(answers)!r}; one answer key is supported")
        self.answers = answers


@dataclass
class MCQuestion:
    """One multiple-choice question: options are (key, text) pairs with keys "A", "B", ...; `answer` is a key."""

    question: str
    options: list[tuple[str, str]]
    answer: str
    explanation: str | None = None
    context: str | None = None
    id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise MalformedQuestion("question", "empty question")
        if len(self.options) < 2:
            raise MalformedQuestion("options", f"need at least 2 options, got {len(self.options)}")
        keys = [k for k, _ in self.options]
        if len(set(keys)) != len(keys) or not all(len(k) == 1 and k in KEYS for k in keys):
            raise MalformedQuestion("options", f"option keys must be distinct letters A-Z, got {keys}")
        if self.answer not in keys:
            raise MalformedQuestion("answer", f"answer {self.answer!r} is not one of the option keys {keys}")

    @property
    def answer_text(self) -> str:
        return self.option_text(self.answer)

    def option_text(self, key: str) -> str:
        return dict(self.options)[key]

    def to_record(self) -> dict[str, Any]:
        """The `mc` object of the instruction record schema (schemas/instruction.schema.json)."""
        return {
            "question": self.question,
            "context": self.context,
            "options": [{"key": k, "text": t} for k, t in self.options],
            "answer": self.answer,
            "explanation": self.explanation,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], id: str | None = None, meta: dict | None = None) -> MCQuestion:
        """Inverse of `to_record` (for steps that receive the parsed fields in document metadata)."""
        options = [(o["key"], o["text"]) for o in record.get("options") or []]
        return cls(
            question=record.get("question") or "",
            options=options,
            answer=record.get("answer") or "",
            explanation=record.get("explanation"),
            context=record.get("context"),
            id=id,
            meta=dict(meta or {}),
        )

    def flat_text(self, include_answer: bool = False) -> str:
        """Context, question and one option per line (and the answer): the text used for dedup and overlap checks."""
        parts = [self.context] if self.context else []
        parts.append(self.question)
        parts.extend(f"{k}. {t}" for k, t in self.options)
        if include_answer:
            parts.append(f"Answer: {self.answer}. {self.answer_text}")
        return "\n".join(parts)


def render_options(options: Sequence[tuple[str, str]], style: str = "{key}) {text}", sep: str = " ") -> str:
    """`[("A", "yes"), ("B", "no")]` -> "A) yes B) no" (the paper's Table 9 layout by default)."""
    return sep.join(style.format(key=k, text=t) for k, t in options)


# ---- small field helpers ----------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _get(row: Mapping[str, Any], key: str) -> Any:
    """`row[key]`, where a dotted key ("context.contexts") walks into nested mappings; None when absent."""
    if key in row:
        return row[key]
    node: Any = row
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _text(row: Mapping[str, Any], key: str) -> str:
    """A required, non-empty text field (numbers are accepted as text)."""
    value = _get(row, key)
    if _is_missing(value):
        raise MissingField(key, "missing")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedQuestion(key, f"must be text, got {type(value).__name__}")
    if not value.strip():
        raise MissingField(key, "empty")
    return value.strip()


def _optional_text(row: Mapping[str, Any], key: str | None) -> str | None:
    if key is None:
        return None
    value = _get(row, key)
    if _is_missing(value):
        return None
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise MalformedQuestion(key, f"must be text, got {type(value).__name__}")
    return value.strip() or None


def _int(value: Any, key: str) -> int:
    if _is_missing(value):
        raise MissingField(key, "missing")
    if isinstance(value, bool):
        raise MalformedQuestion(key, f"must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise MalformedQuestion(key, f"must be an integer, got {value!r}")


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a meta value (numpy arrays from parquet become lists, NaN becomes None)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if _is_missing(value):
        return None
    return value


_KEY_RE = re.compile(r"^\s*[\(（]?\s*([A-Za-z])\s*[\)）]?\s*[\.．、:：]?\s*$")


def letter_key(value: Any, key: str, valid: Sequence[str]) -> str:
    """An answer letter as sources write it ("B", "b", " B. ", "(B)") -> "B"; must be one of `valid`."""
    if _is_missing(value) or not isinstance(value, str):
        raise MalformedQuestion(key, f"expected an option letter, got {value!r}")
    match = _KEY_RE.match(value)
    if not match:
        raise MalformedQuestion(key, f"expected an option letter, got {value!r}")
    letter = match.group(1).upper()
    if letter not in valid:
        raise MalformedQuestion(key, f"answer {letter!r} is not one of the option keys {list(valid)}")
    return letter


def index_key(value: Any, key: str, n_options: int, base: int) -> str:
    """An answer index counted from `base` (0 or 1) -> its letter."""
    index = _int(value, key) - base
    if not 0 <= index < n_options:
        raise MalformedQuestion(
            key, f"answer index {index + base} is out of range for {n_options} options (base {base})"
        )
    return KEYS[index]


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def text_key(answer: str, options: Sequence[tuple[str, str]], key: str) -> str:
    """The key of the option whose text is `answer` (compared without case and surrounding space)."""
    for k, t in options:
        if _same_text(t, answer):
            return k
    raise MalformedQuestion(key, f"answer text {answer!r} matches no option")


def keyed_options(texts: Iterable[Any], key: str) -> list[tuple[str, str]]:
    """Option texts in order -> [("A", text), ("B", text), ...]; blank options are an error."""
    options = []
    for i, text in enumerate(texts):
        if _is_missing(text) or not str(text).strip():
            raise MalformedQuestion(key, f"option {KEYS[i]} is empty")
        options.append((KEYS[i], str(text).strip()))
    return options


def options_from_mapping(value: Any, key: str) -> list[tuple[str, str]]:
    """{"A": text, "B": text} (any letter case) -> sorted (key, text) pairs."""
    if not isinstance(value, Mapping):
        raise MalformedQuestion(key, f"expected an object of letter -> text, got {type(value).__name__}")
    options = []
    for k, text in value.items():
        letter = str(k).strip().upper()
        if len(letter) != 1 or letter not in KEYS:
            raise MalformedQuestion(key, f"option key {k!r} is not a letter")
        if _is_missing(text) or not str(text).strip():
            raise MalformedQuestion(key, f"option {letter} is empty")
        options.append((letter, str(text).strip()))
    options.sort()
    return options


# "A xxx", "A.xxx", "A. xxx", "A、xxx", "A：xxx", "(A) xxx", "A)xxx"
_OPTION_LINE_RE = re.compile(r"^\s*[\(（]?([A-Z])(?:[\)）][\s\.．、:：]*|[\.．、:：]\s*|\s+)(.*)$")


def parse_options_text(text: str, key: str = "Options") -> list[tuple[str, str]]:
    """CMExam's packed options ("A 高血压\\nB 糖尿病\\n...", also "A.xxx" / "A、xxx") -> (key, text) pairs.

    A line that does not start with the next letter continues the previous option. Letters must run A, B, C...
    """
    options: list[list[str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            continue
        match = _OPTION_LINE_RE.match(line)
        expected = KEYS[len(options)] if len(options) < len(KEYS) else None
        if match and match.group(1) == expected:
            options.append([match.group(1), match.group(2).strip()])
        elif options:
            options[-1][1] = f"{options[-1][1]} {line.strip()}".strip()
        else:
            raise MalformedQuestion(key, f"first line {line.strip()[:40]!r} does not start with option letter A")
    for letter, option in options:
        if not option:
            raise MalformedQuestion(key, f"option {letter} is empty")
    return [(k, t) for k, t in options]


def split_answer_letters(value: Any, key: str) -> list[str]:
    """ "B" -> ["B"]; "ABD", "A,B,D", "A、B" -> ["A", "B", "D"]."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise MissingField(key, "missing")
    if not isinstance(value, str):
        raise MalformedQuestion(key, f"expected option letter(s), got {value!r}")
    letters = [c for c in value.upper() if c in KEYS]
    rest = re.sub(r"[A-Z\s,，、;；/\.]", "", value.upper())
    if not letters or rest:
        raise MalformedQuestion(key, f"expected option letter(s), got {value!r}")
    return list(dict.fromkeys(letters))


# ---- MedQA ------------------------------------------------------------------------------------------------------
MEDQA_FIELDS = ("question", "options", "answer", "answer_idx")


def parse_medqa(row: Mapping[str, Any], id: str | None = None) -> MCQuestion:
    """A MedQA JSONL row (US/MCMLE/TWMLE): question, options {"A": .., "E": ..}, answer (text), answer_idx, meta_info.

    `answer_idx` wins; `answer` must then match that option's text. Rows with only `answer` are keyed by text.
    """
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    question = _text(row, "question")
    if _is_missing(_get(row, "options")):
        raise MissingField("options", "missing")
    options = options_from_mapping(_get(row, "options"), "options")
    answer_text = _optional_text(row, "answer")
    if not _is_missing(_get(row, "answer_idx")):
        answer = letter_key(_get(row, "answer_idx"), "answer_idx", [k for k, _ in options])
        if answer_text is not None and not _same_text(answer_text, dict(options)[answer]):
            raise MalformedQuestion("answer", f"answer text {answer_text!r} is not the text of option {answer}")
    elif answer_text is not None:
        answer = text_key(answer_text, options, "answer")
    else:
        raise MissingField("answer_idx", "missing (and no 'answer' text either)")
    meta = {k: _plain(v) for k, v in row.items() if k not in MEDQA_FIELDS and k != "id"}
    row_id = _optional_text(row, "id") if "id" in row else None
    return MCQuestion(question, options, answer, id=row_id or id, meta=meta)


# ---- MedMCQA ----------------------------------------------------------------------------------------------------
MEDMCQA_OPTION_FIELDS = ("opa", "opb", "opc", "opd")
MEDMCQA_META_FIELDS = ("subject_name", "topic_name", "choice_type")


def detect_cop_base(cops: Iterable[Any]) -> int | None:
    """Tell MedMCQA releases apart from their answer column: 0 is only in the Hub release (0-3), 4 only in the
    original GitHub release (1-4). Returns None when the values seen cannot tell (a few rows with cop 1-3);
    over a few hundred rows both releases show their tell-tale value with near certainty."""
    seen = set()
    for cop in cops:
        try:
            seen.add(_int(cop, "cop"))
        except MalformedQuestion:
            continue
    if 0 in seen and 4 not in seen:
        return 0
    if 4 in seen and 0 not in seen:
        return 1
    return None


def parse_medmcqa(row: Mapping[str, Any], cop_base: int = 1, id: str | None = None) -> MCQuestion:
    """A MedMCQA row: id, question, opa..opd, cop, exp, subject_name, topic_name, choice_type.

    `cop_base` is 1 for the original release (train.json/dev.json on GitHub, cop 1-4) and 0 for the Hub release
    (`openlifescienceai/medmcqa`, cop 0-3); readers that are not told use `detect_cop_base` on the file. A missing
    or negative `cop` (the unlabelled test split) is malformed for training purposes.
    """
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    if cop_base not in (0, 1):
        raise ValueError(f"cop_base must be 0 or 1, got {cop_base!r}")
    question = _text(row, "question")
    options = []
    for i, name in enumerate(MEDMCQA_OPTION_FIELDS):
        options.append((KEYS[i], _text(row, name)))
    cop = _get(row, "cop")
    if _is_missing(cop) or (isinstance(cop, (int, float)) and cop < 0):
        raise MissingField("cop", "no answer (the unlabelled test split has none)")
    answer = index_key(cop, "cop", len(options), cop_base)
    meta = {k: _plain(row[k]) for k in MEDMCQA_META_FIELDS if k in row}
    return MCQuestion(
        question,
        options,
        answer,
        explanation=_optional_text(row, "exp"),
        id=_optional_text(row, "id") or id,
        meta=meta,
    )


# ---- CMExam -----------------------------------------------------------------------------------------------------
CMEXAM_FIELDS = ("Question", "Options", "Answer", "Explanation")


def parse_cmexam(row: Mapping[str, Any], id: str | None = None) -> MCQuestion:
    """A CMExam CSV row (Question, Options "A xxx\\nB xxx...", Answer, Explanation + annotation columns -> meta).

    Multi-answer rows ("ABD") raise MultiAnswerQuestion (see its policy).
    """
    question = _text(row, "Question")
    options = parse_options_text(_text(row, "Options"), "Options")
    letters = split_answer_letters(_get(row, "Answer"), "Answer")
    valid = [k for k, _ in options]
    for letter in letters:
        if letter not in valid:
            raise MalformedQuestion("Answer", f"answer {letter!r} is not one of the option keys {valid}")
    if len(letters) > 1:
        raise MultiAnswerQuestion("Answer", letters)
    meta = {k: _plain(v) for k, v in row.items() if k not in CMEXAM_FIELDS and k is not None}
    return MCQuestion(question, options, letters[0], explanation=_optional_text(row, "Explanation"), id=id, meta=meta)


# ---- MMLU -------------------------------------------------------------------------------------------------------
def parse_mmlu_csv(row: Sequence[str], subject: str | None = None, id: str | None = None) -> MCQuestion:
    """A row of MMLU's per-subject CSV files (no header): question, A, B, C, D, answer letter."""
    if isinstance(row, (str, bytes)) or len(row) != 6:
        n = len(row) if not isinstance(row, (str, bytes)) else 1
        raise MalformedQuestion("(row)", f"expected 6 columns (question, A, B, C, D, answer), got {n}")
    named = dict(zip(("question", "A", "B", "C", "D", "answer"), row, strict=True))
    question = _text(named, "question")
    options = [(k, _text(named, k)) for k in "ABCD"]
    answer = letter_key(named["answer"], "answer", "ABCD")
    return MCQuestion(question, options, answer, id=id, meta={"subject": subject} if subject else {})


def parse_mmlu_hub(row: Mapping[str, Any], id: str | None = None) -> MCQuestion:
    """A row of the Hub layout (`cais/mmlu`): question, subject, choices [4 texts], answer (int 0-3)."""
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    question = _text(row, "question")
    choices = _plain(_get(row, "choices"))
    if not isinstance(choices, list):
        raise MalformedQuestion("choices", f"expected a list of option texts, got {type(choices).__name__}")
    options = keyed_options(choices, "choices")
    answer = index_key(_get(row, "answer"), "answer", len(options), 0)
    meta = {"subject": _plain(row["subject"])} if "subject" in row else {}
    return MCQuestion(question, options, answer, id=id, meta=meta)


# ---- a source of known shape, described by its field names --------------------------------------------------------
AnswerFormat = Literal["letter", "index0", "index1", "text"]


class FieldMap(StrictModel):
    """Where a new multiple-choice source keeps each field, so a recipe can read it without code.

    - `options`: one field holding {"A": text, ...}, a list of texts, or "A xxx\\nB xxx" text; or a list of fields,
      one option each (["opa", "opb", "opc", "opd"]).
    - `answer_format`: letter ("B"), index0 (1 means B), index1 (2 means B) or text (the option's text).
    - dotted names reach into nested objects ("context.contexts"). `meta`: fields copied to meta (default: none).
    """

    question: str = "question"
    options: str | list[str] = "options"
    answer: str = "answer"
    answer_format: AnswerFormat = "letter"
    explanation: str | None = None
    context: str | None = None
    id: str | None = None
    meta: list[str] = []

    @field_validator("options")
    @classmethod
    def _options_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) < 2:
            raise ValueError("a list of option fields needs at least 2 names")
        return value


def _mapped_options(row: Mapping[str, Any], spec: str | list[str]) -> list[tuple[str, str]]:
    if isinstance(spec, list):
        return [(KEYS[i], _text(row, name)) for i, name in enumerate(spec)]
    value = _plain(_get(row, spec))
    if _is_missing(value):
        raise MissingField(spec, "missing")
    if isinstance(value, Mapping):
        return options_from_mapping(value, spec)
    if isinstance(value, list):
        return keyed_options(value, spec)
    if isinstance(value, str):
        return parse_options_text(value, spec)
    raise MalformedQuestion(spec, f"expected an object, a list or text, got {type(value).__name__}")


def _mapped_answer(value: Any, options: list[tuple[str, str]], fmt: AnswerFormat, key: str) -> str:
    if fmt == "letter":
        letters = split_answer_letters(value, key) if isinstance(value, str) else None
        if letters and len(letters) > 1:
            raise MultiAnswerQuestion(key, letters)
        return letter_key(value, key, [k for k, _ in options])
    if fmt == "text":
        if _is_missing(value) or not isinstance(value, str):
            raise MalformedQuestion(key, f"expected the answer's text, got {value!r}")
        return text_key(value, options, key)
    return index_key(value, key, len(options), 0 if fmt == "index0" else 1)


def parse_mapped(row: Mapping[str, Any], fields: FieldMap, id: str | None = None) -> MCQuestion:
    """A row of any source whose fields `fields` names."""
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    question = _text(row, fields.question)
    options = _mapped_options(row, fields.options)
    answer = _mapped_answer(_get(row, fields.answer), options, fields.answer_format, fields.answer)
    context_value = _plain(_get(row, fields.context)) if fields.context else None
    if isinstance(context_value, list):  # e.g. PubMedQA's list of abstract sections
        context = "\n\n".join(str(c) for c in context_value if c) or None
    else:
        context = _optional_text(row, fields.context)
    row_id = _optional_text(row, fields.id) if fields.id else None
    meta = {name: _plain(_get(row, name)) for name in fields.meta}
    return MCQuestion(
        question,
        options,
        answer,
        explanation=_optional_text(row, fields.explanation),
        context=context,
        id=row_id or id,
        meta=meta,
    )
