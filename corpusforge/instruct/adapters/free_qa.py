"""Free-form medical QA and dialogues: Wuma-QA-like files, Huatuo-26M, CMtMedQA-style and chat-format dialogues.

- `instruct.free_qa`: JSON lines / JSON array / CSV / parquet rows with a question and an answer (Wuma QA,
  Huatuo-26M-Lite, cMedQA...). Field names default to `question` / `answer`; dotted paths reach nested fields.
  Alpaca-style rows are read too: an `input` next to the instruction is appended to it, and a `history` of earlier
  [question, answer] turns (CMtMedQA, Zhongjing) makes a multi-turn record that keeps every turn.
- `instruct.mapped_qa`: the same with the field names required in the recipe, for a new source of this shape.
- `instruct.huatuo26m`: the Huatuo-26M layouts: `{"questions": [...] or [[...]], "answers": [...]}` (also used by
  huatuo_encyclopedia_qa, the "Huatuo Wiki" of the paper, and huatuo_knowledge_graph_qa), where several
  paraphrases of a question share one answer (the first question is used, the others are kept in
  `meta.question_variants`), and the test-set layout `{"id": "", "instruction": [q], "input": "", "output": [a]}`.
- `instruct.dialogue`: multi-turn conversations as a messages array (`[{"role", "content"}]`, the OpenAI layout),
  sharegpt `conversations` (`[{"from": "human"|"gpt", "value"}]`), plain utterances (HuatuoGPT's
  `{"data": ["问：...", "答：..."]}`), or `history` + last turn; one chat record per conversation, every turn kept.

Fields may be one-element lists (`"instruction": ["..."]`, as Huatuo-26M's test set writes them); a list of several
texts is joined with newlines. Ids: the row's own id when it has a non-empty one, else a stable hash of the
content (`h<16 hex>`), so records never share an id because their source left it empty; a repeated id is counted
(`duplicate_ids`) and made unique (see InstructReader.unique_id).
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

import xxhash

from corpusforge.formats.multiple_choice.fields import field_value
from corpusforge.instruct.adapters.base import InstructParams, InstructReader
from corpusforge.io.input_records import MalformedRecord, ParsedRecord, RawRecord
from corpusforge.pipeline.registry import register


def location_id(record: RawRecord) -> str:
    """An id from where the record was found (file name + line, row or key), for sources without ids."""
    loc = record.location
    where = loc.get("line", loc.get("row", loc.get("key", loc.get("element", loc.get("pmid")))))
    return f"{PurePath(str(loc.get('file', ''))).name}#{where}"


def content_id(*parts: str) -> str:
    """A stable id from a record's content (`h` + 16 hex digits): equal only for equal content."""
    return "h" + xxhash.xxh64_hexdigest("\x1f".join(parts))


def as_text(value: Any, path: str, required: bool = True) -> str | None:
    """A text field: a string, a number, or a list of strings (one-element lists are common; several are joined
    with newlines). Missing or empty: MalformedRecord `missing_field` when required, else None."""
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise MalformedRecord("bad_field", f"field {path!r} must be text or a list of texts")
        value = "\n".join(v.strip() for v in value if v.strip())
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedRecord("missing_field", f"missing or empty field {path!r}")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedRecord("bad_field", f"field {path!r} must be a string, got {type(value).__name__}")
    return value


def text_field(row: dict[str, Any], path: str, required: bool = True) -> str | None:
    return as_text(field_value(row, path), path, required)


def row_id(row: dict[str, Any], id_field: str | None) -> str | None:
    """The row's own id, or None when it has none (absent, null or empty)."""
    if not id_field:
        return None
    value = field_value(row, id_field)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None or isinstance(value, (dict, list)) or not str(value).strip():
        return None
    return str(value).strip()


def history_turns(value: Any, path: str) -> list[tuple[str, str]]:
    """Earlier turns of an alpaca-style dialogue: [[question, answer], ...] (null or [] when there are none)."""
    if value is None or value == []:
        return []
    if not isinstance(value, list):
        raise MalformedRecord("bad_field", f"field {path!r} must be a list of [question, answer] turns")
    turns = []
    for i, turn in enumerate(value):
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2):
            raise MalformedRecord("bad_field", f"{path}[{i}] must be a [question, answer] pair, got {turn!r:.80}")
        turns.append((as_text(turn[0], f"{path}[{i}][0]"), as_text(turn[1], f"{path}[{i}][1]")))
    return turns


ROLE_NAMES = {
    "user": "user", "human": "user", "patient": "user", "question": "user", "患者": "user", "病人": "user",
    "用户": "user", "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant",
    "doctor": "assistant", "answer": "assistant", "医生": "assistant", "system": "system",
}  # fmt: skip
ROLE_KEYS = ("role", "from", "speaker")
CONTENT_KEYS = ("content", "value", "text")


_SPEAKER_RE = re.compile(
    r"^\s*(问|答|患者|病人|医生|用户|助手|patient|doctor|user|assistant|human|gpt|q|a)\s*[:：]\s*", re.IGNORECASE
)
SPEAKERS = {"问": "user", "患者": "user", "病人": "user", "用户": "user", "patient": "user", "user": "user",
            "human": "user", "q": "user", "答": "assistant", "医生": "assistant", "助手": "assistant",
            "doctor": "assistant", "assistant": "assistant", "gpt": "assistant", "a": "assistant"}  # fmt: skip


def _utterances(value: list[str], path: str) -> list[dict[str, str]]:
    """Plain utterances (HuatuoGPT's ["问：...", "答：..."], MedDialog's ["patient: ...", "doctor: ..."]) as
    messages: the speaker from a prefix when there is one, else turns alternate starting with the user."""
    messages = []
    for i, text in enumerate(value):
        match = _SPEAKER_RE.match(text)
        role = SPEAKERS[match.group(1).lower()] if match else ("user" if i % 2 == 0 else "assistant")
        messages.append({"role": role, "content": text[match.end() :] if match else text})
    return messages


def chat_turns(value: Any, path: str) -> tuple[str | None, list[tuple[str, str]]]:
    """A messages array ([{"role", "content"}] or sharegpt [{"from", "value"}]) -> (system prompt, turns).

    Turns must alternate user / assistant after an optional system message; consecutive messages of one role are
    joined (some exports split a long answer); a conversation that ends on a user message has nothing to learn for
    its last turn and is an error, as is an unknown role.
    """
    if not isinstance(value, list) or not value:
        raise MalformedRecord("missing_field", f"field {path!r} must be a non-empty list of messages")
    if all(isinstance(v, str) for v in value):
        value = _utterances(value, path)
    system = None
    merged: list[list[str]] = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise MalformedRecord("bad_field", f"{path}[{i}] must be an object with a role and a content")
        role_key = next((k for k in ROLE_KEYS if k in message), None)
        content_key = next((k for k in CONTENT_KEYS if k in message), None)
        if role_key is None or content_key is None:
            raise MalformedRecord("bad_field", f"{path}[{i}] has no role/from or content/value: {list(message)}")
        role = ROLE_NAMES.get(str(message[role_key]).strip().lower())
        if role is None:
            known = sorted(ROLE_NAMES)
            raise MalformedRecord("bad_field", f"{path}[{i}]: unknown role {message[role_key]!r} (known: {known})")
        content = as_text(message[content_key], f"{path}[{i}].{content_key}")
        if role == "system":
            if merged:
                raise MalformedRecord("bad_field", f"{path}[{i}]: a system message after the conversation began")
            system = content if system is None else f"{system}\n{content}"
        elif merged and merged[-1][0] == role:
            merged[-1][1] = f"{merged[-1][1]}\n{content}"
        else:
            merged.append([role, content])
    if not merged or merged[0][0] != "user":
        raise MalformedRecord("bad_field", f"field {path!r}: the conversation must start with a user message")
    if merged[-1][0] != "assistant":
        raise MalformedRecord("bad_field", f"field {path!r}: the conversation ends with a user message, unanswered")
    return system, [(merged[i][1], merged[i + 1][1]) for i in range(0, len(merged), 2)]


QUESTION_NAMES = ("question", "instruction", "query", "questions", "prompt")
ANSWER_NAMES = ("answer", "output", "response", "answers", "target")


def _spelled(row: dict[str, Any], name: str, names: tuple[str, ...]) -> str:
    """`name`, or when the row lacks it and it is one of the usual spellings `names`, the one the row has
    (question / instruction / query, answer / output / response): common QA layouts need no field mapping."""
    if name in names and field_value(row, name) is None:
        return next((n for n in names if n in row), name)
    return name


class QAFields:
    """How a question/answer row is read: field names for the question, its extra input, answer, history, id."""

    def __init__(
        self,
        question_field: str,
        answer_field: str,
        id_field: str | None,
        input_field: str | None,
        history_field: str | None,
    ):
        self.question_field = question_field
        self.answer_field = answer_field
        self.id_field = id_field
        self.input_field = input_field
        self.history_field = history_field

    def turns(self, row: dict[str, Any]) -> list[tuple[str, str]]:
        """Every turn of the row, earliest first: the history (if any), then the row's question and answer."""
        question = text_field(row, _spelled(row, self.question_field, QUESTION_NAMES))
        extra = text_field(row, self.input_field, required=False) if self.input_field else None
        if extra and extra.strip() != question.strip():
            question = f"{question}\n{extra}"
        answer = text_field(row, _spelled(row, self.answer_field, ANSWER_NAMES))
        history = (
            history_turns(field_value(row, self.history_field), self.history_field) if self.history_field else []
        )
        return [*history, (question, answer)]


def turns_id(turns: list[tuple[str, str]]) -> str:
    return content_id(*(part for turn in turns for part in turn))


class FreeQAParams(InstructParams):
    question_field: str = "question"
    answer_field: str = "answer"
    id_field: str | None = "id"
    input_field: str | None = "input"
    history_field: str | None = "history"
    csv_header: bool = True


@register("instruct.free_qa", kind="reader")
class FreeQAReader(InstructReader):
    """Question/answer rows (Wuma-QA-like JSON/JSONL/CSV/parquet, alpaca-style with history) -> chat records."""

    default_task = "free_qa"
    default_language = "zh"
    Params = FreeQAParams

    def __init__(
        self,
        *args,
        question_field: str = "question",
        answer_field: str = "answer",
        id_field: str | None = "id",
        input_field: str | None = "input",
        history_field: str | None = "history",
        csv_header: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields = QAFields(question_field, answer_field, id_field, input_field, history_field)
        self.csv_header = csv_header

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        turns = self.fields.turns(row)
        local_id = row_id(row, self.fields.id_field) or turns_id(turns)
        if len(turns) == 1:
            return self.build_qa(record, local_id, *turns[0])
        return self.build_dialogue(record, local_id, turns, meta={"turns": len(turns)})


class MappedQAParams(FreeQAParams):
    question_field: str
    answer_field: str


@register("instruct.mapped_qa", kind="reader")
class MappedQAReader(FreeQAReader):
    """Question/answer rows of any shape, with the field names given in the recipe."""

    default_task = ""
    Params = MappedQAParams


def _flatten(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _flatten(v)]
    return []


HUATUO_QUESTION_FIELDS = ("questions", "question", "instruction")
HUATUO_ANSWER_FIELDS = ("answers", "answer", "output")


@register("instruct.huatuo26m", kind="reader")
class Huatuo26MReader(InstructReader):
    """Huatuo-26M rows (`questions`/`answers` lists, or the test set's one-element `instruction`/`output` lists)
    -> one record per row (first question)."""

    default_task = "huatuo"
    default_language = "zh"

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        q_field = next((f for f in HUATUO_QUESTION_FIELDS if f in row), HUATUO_QUESTION_FIELDS[0])
        a_field = next((f for f in HUATUO_ANSWER_FIELDS if f in row), HUATUO_ANSWER_FIELDS[0])
        questions = [q.strip() for q in _flatten(row.get(q_field)) if q.strip()]
        answers = [a.strip() for a in _flatten(row.get(a_field)) if a.strip()]
        if not questions:
            raise MalformedRecord("missing_field", f"no non-empty question in {q_field!r}")
        if not answers:
            raise MalformedRecord("missing_field", f"no non-empty answer in {a_field!r}")
        extra = as_text(row.get("input"), "input", required=False)
        question = f"{questions[0]}\n{extra}" if extra and extra.strip() != questions[0] else questions[0]
        meta = {}
        if len(questions) > 1:
            meta["question_variants"] = questions[1:]
        if len(answers) > 1:
            meta["other_answers"] = answers[1:]
        local_id = row_id(row, "id") or content_id(question, answers[0])
        return self.build_qa(record, local_id, question, answers[0], meta=meta or None)


MESSAGES_FIELDS = ("messages", "conversations", "conversation", "dialogue", "utterances", "data")


@register("instruct.dialogue", kind="reader")
class DialogueReader(InstructReader):
    """Multi-turn conversations -> one chat record per conversation, every turn kept.

    A row is either a messages array (`messages_field`, by default the first of messages / conversations /
    conversation / dialogue / utterances / data present: OpenAI role/content, sharegpt from/value, or plain
    utterances with or without speaker prefixes, "问：" / "答：", "patient:" / "doctor:") or alpaca-style turns
    (`history` + `instruction`/`input`/`output`, as CMtMedQA). `meta.turns` records the number of turns.
    """

    default_task = "dialogue"
    default_language = "zh"

    def __init__(
        self,
        *args,
        messages_field: str | None = None,  # default: the first of messages / conversations / conversation / ...
        question_field: str = "instruction",
        answer_field: str = "output",
        id_field: str | None = "id",
        input_field: str | None = "input",
        history_field: str | None = "history",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.messages_field = messages_field
        self.fields = QAFields(question_field, answer_field, id_field, input_field, history_field)

    def parse(self, record: RawRecord) -> ParsedRecord:
        row = self.load_row(record)
        field = self.messages_field or next((f for f in MESSAGES_FIELDS if f in row), None)
        system = None
        if field is not None:
            system, turns = chat_turns(field_value(row, field), field)
        else:
            turns = self.fields.turns(row)
        local_id = row_id(row, self.fields.id_field) or turns_id(turns)
        return self.build_dialogue(record, local_id, turns, system=system, meta={"turns": len(turns)})
