"""Every instruction adapter on fixtures in its source's real layout, malformed rows included.

Each run checks that the counts add up (records = kept + dropped + quarantined), that every kept record is
schema-valid with `id == Document.id`, and that quarantined rows keep their raw input and a reason.
"""

from __future__ import annotations

import json

import pytest

from corpusforge.errors import ConfigError
from corpusforge.formats.task_ids import DEFAULT_TASK_IDS, resolve_task_id
from corpusforge.instruct.adapters.free_qa import content_id
from tests.instruct.helpers import REPO, SAMPLES, read


def first_turn(record: dict) -> tuple[str, str]:
    return record["messages"][0]["content"], record["messages"][1]["content"]


def reasons(result) -> list[str]:
    return sorted(q["reason"] for q in result.quarantine)


def test_promptcblue(tmp_path):
    r = read("instruct.promptcblue", tmp_path, path=str(SAMPLES / "promptcblue/train.json"), source="promptcblue")
    assert r.balanced() and len(r.docs) == 4
    assert r.stats["dropped_no_target"] == 1  # the blind test row has no target
    assert reasons(r) == ["bad_json", "missing_field"]
    assert r.quarantine[0]["raw"].startswith('{"input": "截断的记录"')  # raw kept as found
    first = r.records[0]
    assert first["task"] == "promptcblue/CMeEE-V2" and first["task_id"] == DEFAULT_TASK_IDS["promptcblue"]
    assert first["language"] == "zh" and first["mc"] is None
    assert (
        first["messages"][0]["content"].startswith("找出句子中的疾病实体")
        and first["messages"][1]["role"] == "assistant"
    )
    assert first["id"] == "promptcblue:train-0" and first["provenance"]["line"] == 1
    assert json.loads(r.records[1]["meta"])["answer_choices"] == ["相同", "不同"]


def test_promptcblue_subtasks_get_their_own_ids_from_the_task_table(tmp_path):
    table = {"promptcblue/CHIP-STS": 10, "promptcblue": 11}
    r = read("instruct.promptcblue", tmp_path, table, path=str(SAMPLES / "promptcblue/train.json"))
    assert {rec["task"]: rec["task_id"] for rec in r.records} == {
        "promptcblue/CMeEE-V2": 11,
        "promptcblue/CHIP-STS": 10,
        "promptcblue/KUAKE-QIC": 11,
        "promptcblue/CHIP-CDN": 11,
    }


def test_free_qa_json_array_and_mapped_fields(tmp_path):
    r = read("instruct.free_qa", tmp_path, path=str(SAMPLES / "wuma_qa/wuma_qa.json"))
    assert r.balanced() and len(r.docs) == 3 and reasons(r) == ["missing_field"]
    # no ids in the file: a stable content hash, the same whatever the row's position
    assert r.records[0]["id"] == "src:" + content_id(*first_turn(r.records[0]))
    assert r.records[0]["provenance"]["row"] == 0
    assert r.records[0]["messages"][0]["content"] == "高血压患者平时饮食需要注意什么？"

    lite = tmp_path / "huatuo_lite.jsonl"  # Huatuo-26M-Lite columns, mapped in the recipe
    lite.write_text(
        json.dumps({"id": 7, "question": "头痛怎么办", "answer": "注意休息，必要时就医。", "score": 5}) + "\n"
    )
    with pytest.raises(ConfigError, match="task"):
        read("instruct.mapped_qa", tmp_path, path=str(lite), question_field="question", answer_field="answer")
    r = read("instruct.mapped_qa", tmp_path, path=str(lite), question_field="question", answer_field="answer",
             id_field="id", task="free_qa")  # fmt: skip
    assert r.records[0]["id"] == "src:7" and r.records[0]["messages"][1]["content"] == "注意休息，必要时就医。"


def test_huatuo26m_keeps_question_variants(tmp_path):
    r = read("instruct.huatuo26m", tmp_path, path=str(SAMPLES / "huatuo"))
    assert r.balanced() and len(r.docs) == 3 and reasons(r) == ["missing_field"]
    first = r.records[0]
    assert first["messages"][0]["content"] == "曲匹地尔片的用法用量"
    assert json.loads(first["meta"])["question_variants"] == ["曲匹地尔片怎么吃"]
    assert r.records[2]["messages"][0]["content"] == "小儿手足口病的传播途径有哪些？"  # flat list layout too


def test_medqa(tmp_path):
    r = read("instruct.medqa", tmp_path, path=str(SAMPLES / "medqa/train.jsonl"))
    assert r.balanced() and len(r.docs) == 2
    errors = {q["location"]["line"]: (q["reason"], q["error"]) for q in r.quarantine}
    assert errors[3][0] == "bad_field" and "answer_idx" in errors[3][1]  # answer E with options A-D
    assert errors[4] == ("missing_field", "field 'options': missing")
    mc = r.records[0]["mc"]
    assert mc["answer"] == "C" and [o["key"] for o in mc["options"]] == list("ABCD")
    assert r.records[0]["messages"][1]["content"] == "The answer is C) Metformin."
    assert json.loads(r.records[0]["meta"])["meta_info"] == "step2&3"


def test_medmcqa_both_releases_give_the_same_answers(tmp_path):
    github = read("instruct.medmcqa", tmp_path / "gh", path=str(SAMPLES / "medmcqa/train.json"))
    hub = read("instruct.medmcqa", tmp_path / "hub", path=str(SAMPLES / "medmcqa/train-00000-of-00001.parquet"))
    assert github.balanced() and hub.balanced() and reasons(github) == ["missing_field"]  # the empty option opb
    answers = {r["provenance"]["record_id"]: r["mc"]["answer"] for r in github.records}
    assert answers == {r["provenance"]["record_id"]: r["mc"]["answer"] for r in hub.records}
    assert answers["7a1c9f0e-0002-4a7e-9d61-1d2f5b8c0002"] == "D"  # cop 4 (GitHub) and 3 (Hub) are both D
    explained = read("instruct.medmcqa", tmp_path / "x", path=str(SAMPLES / "medmcqa/train.json"),
                     with_explanation=True, target="option")  # fmt: skip
    assert explained.records[0]["messages"][1]["content"] == (
        "Ethosuximide is the drug of choice for typical absence seizures when no other seizure type is present.\n"
        "B) Ethosuximide"
    )


def test_cmexam_encodings_multi_answer_and_bad_options(tmp_path):
    r = read("instruct.cmexam", tmp_path / "a", path=str(SAMPLES / "cmexam/train.csv"))
    assert r.balanced() and len(r.docs) == 2
    assert r.stats["dropped_multi_answer"] == 1 and reasons(r) == ["bad_field"]
    assert "Options" in r.quarantine[0]["error"]
    first = r.records[0]
    assert first["language"] == "zh" and first["mc"]["answer"] == "B" and len(first["mc"]["options"]) == 5
    assert first["messages"][0]["content"].startswith("问题：治疗2型糖尿病的一线药物是\nA) 格列本脲\nB) 二甲双胍")
    assert json.loads(first["meta"])["Clinical Department"] == "内分泌科"

    gb = read("instruct.cmexam", tmp_path / "b", path=str(SAMPLES / "cmexam/train_gb18030.csv"), encoding="gb18030")
    assert [x["mc"] for x in gb.records] == [x["mc"] for x in r.records]
    wrong = read("instruct.cmexam", tmp_path / "c", path=str(SAMPLES / "cmexam/train_gb18030.csv"))
    assert wrong.balanced() and not wrong.docs and reasons(wrong) == ["bad_encoding", "bad_encoding"]
    assert wrong.quarantine[0]["raw_encoding"] == "base64"  # undecodable bytes kept losslessly


def test_mmlu_csv_and_hub_layouts_keep_clinical_subjects(tmp_path):
    csv_result = read("instruct.mmlu", tmp_path / "csv", path=str(SAMPLES / "mmlu/test"))
    assert csv_result.balanced() and csv_result.stats["dropped_other_subject"] == 1
    assert reasons(csv_result) == ["bad_field"]  # the row with 3 columns
    assert {json.loads(r["meta"])["subject"] for r in csv_result.records} == {"anatomy"}
    hub = read("instruct.mmlu", tmp_path / "hub", path=str(SAMPLES / "mmlu/hub"))
    assert hub.balanced() and hub.stats["dropped_other_subject"] == 1
    assert [r["mc"]["answer"] for r in hub.records] == ["B", "B"]
    everything = read("instruct.mmlu", tmp_path / "all", path=str(SAMPLES / "mmlu/hub"), subjects=["astronomy"])
    assert [json.loads(r["meta"])["subject"] for r in everything.records] == ["astronomy"]


def test_mmlu_in_the_medqa_style_layout(tmp_path):
    """The widely shared copies: options {A..D}, answer_idx (a letter) and answer (its text), subject or not."""
    rows = [
        {"question": "Which bone?", "options": {"A": "Femur", "B": "Ulna", "C": "Tibia", "D": "Rib"},
         "answer": "Ulna", "answer_idx": "B", "subject": "Anatomy"},
        {"question": "Which star?", "options": {"A": "Sun", "B": "Moon", "C": "Mars", "D": "Venus"},
         "answer": "Sun", "answer_idx": "A", "subject": "astronomy"},
        {"question": "Which gene?", "options": {"A": "BRCA1", "B": "TP53", "C": "KRAS", "D": "MYC"},
         "answer": "TP53", "answer_idx": "B"},
        {"question": "Broken", "options": {"A": "x", "B": "y"}, "answer": "y", "answer_idx": "C"},
    ]  # fmt: skip
    folder = tmp_path / "mmlu"
    folder.mkdir()
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = read("instruct.mmlu", tmp_path / "out", path=str(folder))
    assert r.balanced() and len(r.docs) == 2
    assert [x["mc"]["answer"] for x in r.records] == ["B", "B"]
    assert [json.loads(x["meta"])["subject"] for x in r.records] == ["anatomy", None]
    assert r.stats["dropped_other_subject"] == 1 and r.stats["subject_unknown"] == 1
    assert reasons(r) == ["bad_field"]  # answer_idx C is not an option


def test_records_carry_the_sources_licence(tmp_path):
    path = str(SAMPLES / "medmcqa" / "train.json")
    stated = read("instruct.medmcqa", tmp_path / "a", path=path, source="medmcqa", license="MIT License")
    assert {json.loads(r["meta"])["license"] for r in stated.records} == {"mit"}
    assert {d.metadata["license"] for d in stated.docs} == {"mit"}
    unstated = read("instruct.medmcqa", tmp_path / "b", path=path, source="medmcqa")
    assert {json.loads(r["meta"])["license"] for r in unstated.records} == {"unknown"}


def test_pubmedqa_original_and_hub_layouts(tmp_path):
    original = read(
        "instruct.pubmedqa", tmp_path / "o", path=str(REPO / "data/samples/pubmedqa/ori_pqal_sample.json")
    )
    assert original.balanced() and len(original.docs) == 20
    rec = original.records[0]
    assert rec["provenance"]["pmid"] == rec["provenance"]["record_id"] == rec["id"].split(":")[1]
    assert [o["text"] for o in rec["mc"]["options"]] == ["yes", "no", "maybe"]
    user = rec["messages"][0]["content"]
    assert user.startswith("Context: ") and "\nQUESTION: " in user and user.endswith("\nA) yes B) no C) maybe")

    hub = read("instruct.pubmedqa", tmp_path / "h", path=str(SAMPLES / "pubmedqa/pqa_labeled_sample.parquet"))
    assert hub.balanced() and len(hub.docs) == 3 and reasons(hub) == ["bad_item"]
    assert [r["mc"]["answer"] for r in hub.records] == ["A", "B", "C"]

    unlabeled = read(
        "instruct.pubmedqa", tmp_path / "u", path=str(REPO / "data/samples/pubmedqa/ori_pqau_sample.json")
    )
    assert unlabeled.balanced() and not unlabeled.docs and unlabeled.stats["dropped_unlabeled"] > 0


def test_unknown_template_or_task_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown template 'nope'.*mc_table9_en"):
        read("instruct.medqa", tmp_path, path=str(SAMPLES / "medqa/train.jsonl"), template="nope")
    with pytest.raises(ConfigError, match="not in the recipe's task table"):
        read("instruct.medqa", tmp_path, {"pubmedqa": 0}, path=str(SAMPLES / "medqa/train.jsonl"))
    assert resolve_task_id("medqa", {"medqa": 9}) == 9 and resolve_task_id("medqa", None, pinned=4) == 4
