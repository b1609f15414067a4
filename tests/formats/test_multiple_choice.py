"""Parsers of the real multiple-choice layouts (MedQA, MedMCQA, CMExam, MMLU, mapped) into MCQuestion."""

from __future__ import annotations

import csv
import io
import json

import pytest

from corpusforge.formats.multiple_choice import (
    FieldMap,
    MalformedQuestion,
    MCQuestion,
    MultiAnswerQuestion,
    detect_cop_base,
    parse_cmexam,
    parse_mapped,
    parse_medmcqa,
    parse_medqa,
    parse_mmlu_csv,
    parse_mmlu_hub,
)
from corpusforge.formats.multiple_choice.options import parse_options_text
from corpusforge.formats.multiple_choice.question import render_options

# one line of MedQA's US/4_options/phrases_no_exclude_train.jsonl layout (content invented)
MEDQA_LINE = json.dumps(
    {
        "question": "A 23-year-old pregnant woman at 22 weeks presents with burning upon urination. "
        "Which of the following is the best treatment for this patient?",
        "answer": "Nitrofurantoin",
        "options": {"A": "Ampicillin", "B": "Ceftriaxone", "C": "Doxycycline", "D": "Nitrofurantoin"},
        "meta_info": "step2&3",
        "answer_idx": "D",
        "metamap_phrases": ["23 year old pregnant woman", "burning"],
    }
)

# MedMCQA train.json (GitHub release) line: cop is 1-based
MEDMCQA_LINE = json.dumps(
    {
        "question": "Chronic urethral obstruction due to benign prostatic hyperplasia can lead to the following "
        "change in kidney parenchyma",
        "exp": "Chronic urethral obstruction leads to hydronephrosis and atrophy.",
        "cop": 3,
        "opa": "Hyperplasia",
        "opb": "Hypertrophy",
        "opc": "Atrophy",
        "opd": "Dysplasia",
        "subject_name": "Anatomy",
        "topic_name": "Urinary tract",
        "id": "e9ad821a-c438-4965-9f77-760819dfa155",
        "choice_type": "single",
    }
)

CMEXAM_CSV = (
    "Question,Options,Answer,Explanation,Disease Group,Clinical Department,Medical Discipline,Competency,"
    "Difficulty level\n"
    '2型糖尿病的一线治疗药物是,"A 胰岛素\nB 二甲双胍\nC 格列本脲\nD 阿卡波糖\nE 吡格列酮",B,'
    "二甲双胍是2型糖尿病的首选药物。,内分泌、营养或代谢疾病,内科,临床医学,疾病治疗,2\n"
    '下列属于糖皮质激素不良反应的有,"A.骨质疏松\nB.低血糖\nC.向心性肥胖\nD.高钾血症",AC,,不符合,内科,临床医学,'
    "医学基础知识,3\n"
)


def test_medqa_row_parses_options_answer_and_meta():
    mc = parse_medqa(json.loads(MEDQA_LINE), id="line-1")
    assert mc.options[3] == ("D", "Nitrofurantoin")
    assert mc.answer == "D" and mc.answer_text == "Nitrofurantoin"
    assert mc.meta["meta_info"] == "step2&3" and mc.meta["metamap_phrases"][0].startswith("23")
    assert mc.id == "line-1" and mc.explanation is None


def test_medqa_answer_text_must_match_answer_idx():
    row = json.loads(MEDQA_LINE)
    row["answer"] = "Ampicillin"
    with pytest.raises(MalformedQuestion, match="'answer'"):
        parse_medqa(row)


def test_medqa_without_answer_idx_is_keyed_by_answer_text_and_without_both_is_malformed():
    row = json.loads(MEDQA_LINE)
    del row["answer_idx"]
    assert parse_medqa(row).answer == "D"
    del row["answer"]
    with pytest.raises(MalformedQuestion) as e:
        parse_medqa(row)
    assert e.value.field == "answer_idx"


@pytest.mark.parametrize("field", ["question", "options"])
def test_medqa_missing_field_is_named(field):
    row = json.loads(MEDQA_LINE)
    del row[field]
    with pytest.raises(MalformedQuestion) as e:
        parse_medqa(row)
    assert e.value.field == field and repr(field) in str(e.value)


def test_medmcqa_original_release_is_one_based():
    mc = parse_medmcqa(json.loads(MEDMCQA_LINE))
    assert mc.answer == "C" and mc.answer_text == "Atrophy"
    assert mc.id == "e9ad821a-c438-4965-9f77-760819dfa155"
    assert mc.explanation.startswith("Chronic") and mc.meta == {
        "subject_name": "Anatomy",
        "topic_name": "Urinary tract",
        "choice_type": "single",
    }


def test_medmcqa_hub_release_is_zero_based():
    row = json.loads(MEDMCQA_LINE) | {"cop": 2}
    assert parse_medmcqa(row, cop_base=0).answer == "C"
    with pytest.raises(MalformedQuestion, match="out of range"):
        parse_medmcqa(row | {"cop": 4}, cop_base=0)


def test_medmcqa_unlabelled_test_row_is_malformed():
    row = json.loads(MEDMCQA_LINE)
    for cop in (None, -1):
        with pytest.raises(MalformedQuestion) as e:
            parse_medmcqa(row | {"cop": cop})
        assert e.value.field == "cop"


def test_detect_cop_base():
    assert detect_cop_base([1, 0, 3, 2]) == 0
    assert detect_cop_base([1, 4, "3"]) == 1
    assert detect_cop_base([1, 2, 3]) is None
    assert detect_cop_base([0, 4]) is None


def test_cmexam_rows_with_annotations_and_multi_answer_policy():
    rows = list(csv.DictReader(io.StringIO(CMEXAM_CSV)))
    mc = parse_cmexam(rows[0], id="row-1")
    assert [k for k, _ in mc.options] == list("ABCDE")
    assert mc.answer == "B" and mc.answer_text == "二甲双胍"
    assert mc.explanation.startswith("二甲双胍")
    assert mc.meta["Clinical Department"] == "内科" and mc.meta["Difficulty level"] == "2"
    with pytest.raises(MultiAnswerQuestion) as e:
        parse_cmexam(rows[1])
    assert e.value.answers == ["A", "C"] and e.value.field == "Answer"


@pytest.mark.parametrize(
    "text",
    [
        "A 胰岛素\nB 二甲双胍",
        "A.胰岛素\nB.二甲双胍",
        "A、胰岛素\nB、二甲双胍",
        "(A) 胰岛素\r\n(B) 二甲双胍",
        "A：胰岛素\nB：二甲双胍",
    ],
)
def test_packed_options_tolerate_separators(text):
    assert parse_options_text(text) == [("A", "胰岛素"), ("B", "二甲双胍")]


def test_packed_options_continuation_and_errors():
    assert parse_options_text("A Aspirin taken\ndaily\nB Beta blocker") == [
        ("A", "Aspirin taken daily"),
        ("B", "Beta blocker"),
    ]
    with pytest.raises(MalformedQuestion, match="Options"):
        parse_options_text("胰岛素\nB 二甲双胍")


def test_cmexam_answer_not_an_option_or_missing():
    row = next(csv.DictReader(io.StringIO(CMEXAM_CSV)))
    with pytest.raises(MalformedQuestion, match="not one of the option keys"):
        parse_cmexam(row | {"Answer": "F"})
    with pytest.raises(MalformedQuestion) as e:
        parse_cmexam(row | {"Answer": ""})
    assert e.value.field == "Answer"


def test_mmlu_csv_and_hub_layouts():
    row = next(
        csv.reader(
            io.StringIO('"Which vitamin deficiency causes scurvy?",Vitamin A,Vitamin B12,Vitamin C,Vitamin D,C\n')
        )
    )
    mc = parse_mmlu_csv(row, subject="clinical_knowledge")
    assert mc.answer_text == "Vitamin C" and mc.meta == {"subject": "clinical_knowledge"}
    hub = {"question": row[0], "subject": "clinical_knowledge", "choices": row[1:5], "answer": 2}
    assert parse_mmlu_hub(hub).answer == "C"
    with pytest.raises(MalformedQuestion, match="6 columns"):
        parse_mmlu_csv(row[:5])
    with pytest.raises(MalformedQuestion, match="out of range"):
        parse_mmlu_hub(hub | {"answer": 4})


def test_mapped_source_with_option_columns_and_one_based_index():
    fields = FieldMap(
        question="stem",
        options=["o1", "o2", "o3"],
        answer="correct",
        answer_format="index1",
        explanation="why",
        id="qid",
        meta=["topic"],
    )
    row = {"stem": "Q?", "o1": "x", "o2": "y", "o3": "z", "correct": "2", "why": "because", "qid": 7, "topic": "t"}
    mc = parse_mapped(row, fields)
    assert (mc.answer, mc.explanation, mc.id, mc.meta) == ("B", "because", "7", {"topic": "t"})


def test_mapped_source_with_nested_context_and_text_answer():
    fields = FieldMap(question="q", options="choices", answer="label", answer_format="text", context="ctx.contexts")
    row = {"q": "Does X help?", "choices": ["yes", "no", "maybe"], "label": "no", "ctx": {"contexts": ["P1", "P2"]}}
    mc = parse_mapped(row, fields)
    assert mc.answer == "B" and mc.context == "P1\n\nP2"
    with pytest.raises(MalformedQuestion, match="matches no option"):
        parse_mapped(row | {"label": "perhaps"}, fields)


def test_mapped_letter_answer_with_several_letters_is_multi_answer():
    fields = FieldMap(options="opts")
    row = {"question": "Q", "opts": {"A": "x", "B": "y"}, "answer": "AB"}
    with pytest.raises(MultiAnswerQuestion):
        parse_mapped(row, fields)


def test_fieldmap_rejects_unknown_keys_and_short_option_lists():
    with pytest.raises(ValueError):
        FieldMap(questoin="q")
    with pytest.raises(ValueError):
        FieldMap(options=["only_one"])


def test_mcquestion_validates_and_round_trips_the_schema_record():
    mc = parse_medqa(json.loads(MEDQA_LINE))
    record = mc.to_record()
    assert record["options"][0] == {"key": "A", "text": "Ampicillin"} and record["answer"] == "D"
    assert MCQuestion.from_record(record).to_record() == record
    with pytest.raises(MalformedQuestion, match="'answer'"):
        MCQuestion("Q", [("A", "x"), ("B", "y")], "C")
    with pytest.raises(MalformedQuestion, match="'options'"):
        MCQuestion("Q", [("A", "x")], "A")


def test_render_options_and_flat_text():
    options = [("A", "yes"), ("B", "no"), ("C", "maybe")]
    assert render_options(options) == "A) yes B) no C) maybe"
    mc = MCQuestion("Q?", options, "A", context="ctx")
    assert mc.flat_text(include_answer=True) == "ctx\nQ?\nA. yes\nB. no\nC. maybe\nAnswer: A. yes"
