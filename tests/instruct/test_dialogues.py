"""Free QA and dialogues as published: one-element-list fields, empty ids, history turns, messages arrays.

Every turn of a dialogue is kept in the chat record, in both exports and in the trained tokens; ids are the
source's own when it has them, else a content hash, and a repeated id is counted and made unique.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusforge.export import export_axolotl, export_llamafactory
from tests.instruct.helpers import read, write_dataset_dir

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "instruct"

CMTMEDQA_ROW = {  # CMtMedQA / Zhongjing layout: the last turn in instruction/output, earlier ones in history
    "id": "j1", "cate1": "内科", "instruction": "好的，谢谢医生的建议！", "input": "", "output": "不客气，祝您早日康复。",
    "history": [["医生，我最近总是头晕，血压150/95。", "您好，建议先复测血压并记录。"],
                ["需要吃药吗？", "如果多次测量都偏高，需要在医生指导下服用降压药。"]],
}  # fmt: skip
MESSAGES_ROW = {"messages": [
    {"role": "system", "content": "You are a careful physician."},
    {"role": "user", "content": "I have a fever of 38.5 C."}, {"role": "assistant", "content": "Since when?"},
    {"role": "user", "content": "Two days."}, {"role": "assistant", "content": "Drink fluids; see a doctor if"},
    {"role": "assistant", "content": "it lasts beyond three days."},
]}  # fmt: skip
SHAREGPT_ROW = {"id": "s1", "conversations": [
    {"from": "human", "value": "What is HbA1c?"}, {"from": "gpt", "value": "Average glucose over 3 months."},
    {"from": "human", "value": "Target?"}, {"from": "gpt", "value": "Usually below 7%."},
]}  # fmt: skip


def write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def roles(record: dict) -> list[str]:
    return [m["role"] for m in record["messages"]]


def test_history_dialogue_keeps_every_turn_in_free_qa_and_dialogue_adapters(tmp_path):
    path = write(tmp_path / "cmtmedqa.jsonl", [CMTMEDQA_ROW])
    for adapter, extra in (("instruct.dialogue", {}), ("instruct.free_qa", {"question_field": "instruction",
                                                                            "answer_field": "output"})):  # fmt: skip
        (record,) = read(adapter, tmp_path / adapter, path=str(path), **extra).records
        assert roles(record) == ["user", "assistant"] * 3
        contents = [m["content"] for m in record["messages"]]
        assert contents[0] == "医生，我最近总是头晕，血压150/95。" and contents[-1] == "不客气，祝您早日康复。"
        assert record["id"] == "src:j1" and json.loads(record["meta"])["turns"] == 3


def test_messages_arrays_openai_and_sharegpt(tmp_path):
    huatuogpt = {"data": ["问：头痛怎么办？", "答：注意休息。", "问：还要吃药吗？", "答：必要时服用布洛芬。"]}
    meddialog = {"utterances": ["patient: I have a cough.", "doctor: Since when?"]}
    path = write(tmp_path / "chat.jsonl", [MESSAGES_ROW, SHAREGPT_ROW, huatuogpt, meddialog])
    r = read("instruct.dialogue", tmp_path / "r", path=str(path), language="en")
    first, second, third, fourth = r.records
    assert [m["content"] for m in third["messages"]] == [
        "头痛怎么办？",
        "注意休息。",
        "还要吃药吗？",
        "必要时服用布洛芬。",
    ]
    assert roles(fourth) == ["user", "assistant"] and fourth["messages"][1]["content"] == "Since when?"
    assert roles(first) == ["system", "user", "assistant", "user", "assistant"]
    assert first["messages"][0]["content"] == "You are a careful physician."
    assert first["messages"][-1]["content"] == "Drink fluids; see a doctor if\nit lasts beyond three days."
    assert first["id"].startswith("src:h")  # no id in the row: a content hash
    assert roles(second) == ["user", "assistant", "user", "assistant"] and second["id"] == "src:s1"


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"messages": [{"role": "user", "content": "Hi"}]}, "ends with a user message"),
        ({"messages": [{"role": "nurse", "content": "Hi"}]}, "unknown role 'nurse'"),
        ({"messages": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "?"}]}, "start with"),
        ({"instruction": "q", "output": "a", "history": [["only a question"]]}, "history[0]"),
        ({"instruction": "q", "output": "", "history": []}, "'output'"),
    ],
)
def test_broken_dialogues_are_quarantined_with_the_reason(tmp_path, row, error):
    r = read("instruct.dialogue", tmp_path, path=str(write(tmp_path / "bad.jsonl", [row])))
    assert r.balanced() and not r.docs and error in r.quarantine[0]["error"]


def test_one_element_lists_empty_ids_and_repeated_ids(tmp_path):
    rows = [  # the Huatuo-26M test layout
        {"id": "", "instruction": ["头痛怎么办？"], "input": "", "output": ["注意休息。"]},
        {"id": "", "instruction": ["发烧怎么办？"], "input": "", "output": ["多喝水。"]},
        {"id": "", "instruction": ["发烧怎么办？"], "input": "", "output": ["多喝水。"]},  # the same content again
    ]
    path = write(tmp_path / "huatuo.jsonl", rows)
    for adapter, extra in (("instruct.huatuo26m", {}), ("instruct.free_qa", {"question_field": "instruction",
                                                                            "answer_field": "output"})):  # fmt: skip
        r = read(adapter, tmp_path / adapter, path=str(path), **extra)
        ids = [rec["id"] for rec in r.records]
        assert len(r.docs) == 3 and len(set(ids)) == 3, ids  # never one id for several records
        assert ids[2] == ids[1] + "~2" and r.stats["duplicate_ids"] == 1
        assert r.records[0]["messages"][0]["content"] == "头痛怎么办？"
    again = read("instruct.huatuo26m", tmp_path / "again", path=str(path))
    assert [d.id for d in again.docs] == [d.id for d in r.docs]  # stable across runs
    explicit = write(tmp_path / "dup.jsonl", [{"id": 7, "question": "a", "answer": "b"},
                                              {"id": 7, "question": "c", "answer": "d"}])  # fmt: skip
    r = read("instruct.free_qa", tmp_path / "dup", path=str(explicit))
    assert [rec["id"] for rec in r.records] == ["src:7", "src:7~2"] and r.stats["duplicate_ids"] == 1


def test_exports_keep_every_turn(tmp_path):
    path = write(tmp_path / "chat.jsonl", [CMTMEDQA_ROW, MESSAGES_ROW])
    records = read("instruct.dialogue", tmp_path / "r", path=str(path)).records
    built = write_dataset_dir(tmp_path / "built", {"train": records})
    export_llamafactory(built, tmp_path / "lf")
    sharegpt = [json.loads(x) for x in (tmp_path / "lf/corpusforge_train.sharegpt.jsonl").read_text().splitlines()]
    alpaca = [json.loads(x) for x in (tmp_path / "lf/corpusforge_train.alpaca.jsonl").read_text().splitlines()]
    assert [len(r["conversations"]) for r in sharegpt] == [6, 4]
    assert sharegpt[0]["conversations"][0]["value"] == CMTMEDQA_ROW["history"][0][0]
    assert [len(r["history"]) for r in alpaca] == [2, 1] and alpaca[0]["history"][1] == CMTMEDQA_ROW["history"][1]
    assert alpaca[0]["instruction"] == CMTMEDQA_ROW["instruction"] and alpaca[1]["system"].startswith("You are")
    export_axolotl(built, tmp_path / "ax")
    axolotl = [json.loads(x) for x in (tmp_path / "ax/corpusforge_train.jsonl").read_text().splitlines()]
    assert [r["messages"] for r in axolotl] == [r["messages"] for r in records]


def test_real_huatuo_test_set_and_cmtmedqa(tmp_path):
    if not (REAL / "CMtMedQA_test_first100.json").is_file():
        pytest.skip(f"real instruction files not found at {REAL}")
    huatuo = read("instruct.huatuo26m", tmp_path / "h", path=str(REAL / "huatuo26M_test_first300.json"))
    assert huatuo.balanced() and len(huatuo.docs) == 300 and not huatuo.quarantine
    assert len({d.id for d in huatuo.docs}) == 300
    plain = read("instruct.free_qa", tmp_path / "f", path=str(REAL / "huatuo26M_test_first300.json"))
    assert [r["messages"] for r in plain.records] == [r["messages"] for r in huatuo.records]  # no field mapping
    source = json.loads((REAL / "CMtMedQA_test_first100.json").read_text(encoding="utf-8"))
    dialogues = read("instruct.dialogue", tmp_path / "d", path=str(REAL / "CMtMedQA_test_first100.json"))
    assert dialogues.balanced() and len(dialogues.docs) == 100
    for row, record in zip(source, dialogues.records, strict=True):
        turns = [*row["history"], [row["instruction"], row["output"]]]
        assert [m["content"] for m in record["messages"]] == [text for turn in turns for text in turn]


def test_training_learns_every_assistant_turn_of_a_dialogue(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from train.data.chat import IGNORE_INDEX, assistant_spans, encode_chat

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    (record,) = read("instruct.dialogue", tmp_path, path=str(write(tmp_path / "c.jsonl", [CMTMEDQA_ROW]))).records
    text, spans = assistant_spans(tokenizer, record["messages"])
    assert [text[s:e].split("<|end|>")[0] for s, e in spans] == [a for _, a in CMTMEDQA_ROW["history"]] + [
        CMTMEDQA_ROW["output"]
    ]
    enc = encode_chat(tokenizer, record["messages"], max_length=4096)
    trained = tokenizer.decode(
        [t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE_INDEX]
    )
    assert all(answer in trained for _, answer in CMTMEDQA_ROW["history"]) and CMTMEDQA_ROW["output"] in trained
    assert CMTMEDQA_ROW["history"][0][0] not in trained  # user turns are context, not targets


@pytest.mark.slow
def test_repeated_ids_are_reported_in_manifest_and_card(tmp_path, repo_root):
    from tests.builder.test_instruct_recipes import cli

    rows = [{"id": "x", "question": f"问题{i}", "answer": "回答"} for i in range(3)]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "name: ids\nkind: instruct\ntasks: {free_qa: 6}\n"
        f"output: {{path: {tmp_path / 'out'}}}\nexecutor: {{type: local, tasks: 1, workers: 1}}\n"
        f"sources:\n  qa:\n    reader: {{type: instruct.free_qa, path: {write(tmp_path / 'qa.jsonl', rows)}}}\n"
    )
    cli(repo_root, "build", str(recipe))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert (
        manifest["sources"]["qa"]["kept"] == 3
        and manifest["sources"]["qa"]["details"]["instruct.free_qa"]["duplicate_ids"] == 2
    )
    assert "| qa | 2 |" in (tmp_path / "out" / "README.md").read_text()
