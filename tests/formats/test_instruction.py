"""The instruction record schema catches what it should (it is the writer's last check)."""

from __future__ import annotations

import copy

from corpusforge.formats.instruction import flat_text, make_record, messages_from, question_text, record_errors
from corpusforge.formats.multiple_choice.question import MCQuestion


def good() -> dict:
    mc = MCQuestion("Q?", [("A", "yes"), ("B", "no")], "B", context="ctx", explanation=None)
    return make_record(id="s:1", source="s", task="pubmedqa", task_id=0, language="en",
                       messages=messages_from("u", "a", "sys"), provenance={"file": "f", "line": 3, "key": "k"},
                       mc=mc, meta={"x": 1})  # fmt: skip


def test_good_record_and_its_texts():
    record = good()
    assert record_errors(record) == []
    assert record["provenance"] == {"file": "f", "line": 3, "row": None, "pmid": None, "record_id": None}
    assert '"location": {"key": "k"}' in record["meta"]  # non-schema location details move into meta
    assert flat_text(record) == "ctx\nQ?\nA) yes\nB) no\nAnswer: B"
    assert question_text(record) == "Q?\nctx"
    assert record_errors({**record, "mc": None}) == []


def test_schema_violations_are_reported_with_their_path():
    cases = {
        "mc.answer": lambda r: r["mc"].update(answer="C"),
        "mc.options": lambda r: r["mc"]["options"].append({"key": "A", "text": "dup"}),
        "mc": lambda r: r["mc"].pop("question"),
        "task_id": lambda r: r.update(task_id=-1),
        "language": lambda r: r.update(language="fr"),
        "messages": lambda r: r.update(messages=[{"role": "user", "content": "only one"}]),
        "messages.0.role": lambda r: r["messages"][0].update(role="robot"),
        "provenance": lambda r: r["provenance"].pop("file"),
        "(record)": lambda r: r.update(extra=1),
    }
    for path, break_it in cases.items():
        record = copy.deepcopy(good())
        break_it(record)
        errors = record_errors(record)
        assert errors and errors[0].startswith(path + ":"), (path, errors)
