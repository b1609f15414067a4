"""read.qa, read.exam, read.promptcblue and exam.knowledge_points on real layouts and on bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.errors import ConfigError
from corpusforge.pipeline.readers.structured import ExamReader, PromptCBLUEReader, QAReader
from corpusforge.pipeline.registry import BuildContext, registered
from corpusforge.pipeline.steps.exam import ExamKnowledgePoints, detect_language, split_stem

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def run(reader) -> tuple[list, dict]:
    docs = list(reader.run())
    stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in reader.stats.to_dict()["stats"].items()}
    return docs, stats


def quarantine(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.read_text().splitlines()]


def balanced(docs: list, stats: dict) -> bool:
    return stats.get("records", 0) == len(docs) + stats.get("dropped", 0) + stats.get("quarantined", 0)


def make(cls, path: Path, tmp_path: Path, **kwargs):
    return cls(path=str(path), source="src", quarantine_dir=tmp_path / "q", **kwargs)


# ---- read.qa ------------------------------------------------------------------------------------------------------
def test_qa_sample_joins_question_and_answer(tmp_path):
    docs, stats = run(make(QAReader, SAMPLES / "qa" / "qa_sample.jsonl", tmp_path, id_field="id"))
    assert len(docs) == 6 and balanced(docs, stats)
    zh = next(d for d in docs if d.id == "src:qa-zh-1")
    assert zh.text.startswith("糖尿病患者可以吃水果吗？\n血糖控制平稳时")


def test_qa_template_field_mapping_and_question_lists(tmp_path):
    path = tmp_path / "huatuo.jsonl"
    rows = [{"questions": ["头痛怎么办？", "经常头痛如何缓解？"], "answers": ["注意休息。"]}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    reader = make(
        QAReader,
        path,
        tmp_path,
        question_field="questions",
        answer_field="answers",
        template="问：{question}\n答：{answer}",
    )
    docs, _ = run(reader)
    assert docs[0].text == "问：头痛怎么办？\n经常头痛如何缓解？\n答：注意休息。"
    assert docs[0].id == "src:huatuo.jsonl:1"


def test_qa_json_array_is_streamed_and_a_broken_tail_is_quarantined(tmp_path):
    path = tmp_path / "wuma.json"
    items = [{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(3)]
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1)[:-2] + ', {"question": "Q3?", "answ')
    docs, stats = run(make(QAReader, path, tmp_path))
    assert [d.text for d in docs] == ["Q0?\nA0.", "Q1?\nA1.", "Q2?\nA2."]
    assert [d.metadata["provenance"]["element"] for d in docs] == [0, 1, 2]
    assert stats["files_quarantined_bad_json"] == 1 and balanced(docs, stats)  # how many records it held: unknown
    (record,) = quarantine(tmp_path / "q")
    assert record["scope"] == "file" and record["location"]["records_before"] == 3
    text = path.read_text()
    assert record["location"]["line"] == text.count("\n", 0, text.rindex('"answ')) + 1  # where the parser stopped
    assert "element 3: Unterminated string" in record["error"]
    assert record["raw"].startswith('{"question": "Q3?"')


def test_qa_json_array_elements_spanning_read_chunks(tmp_path, monkeypatch):
    import corpusforge.io.json_layouts as json_layouts

    monkeypatch.setattr(json_layouts, "JSON_CHUNK", 7)  # every element crosses several chunk boundaries
    path = tmp_path / "qa.json"
    items = [{"question": "问题一？", "answer": "答案一。", "n": 12345}, {"question": "Q2", "answer": "A2", "n": 6}]
    path.write_text(json.dumps(items, ensure_ascii=False))
    docs, stats = run(make(QAReader, path, tmp_path))
    assert [d.text for d in docs] == ["问题一？\n答案一。", "Q2\nA2"] and balanced(docs, stats)


@pytest.mark.parametrize("chunk", [7, 1 << 20])  # 7: the big element crosses many read chunks, escapes included
def test_an_oversized_json_array_element_is_quarantined_alone_and_reading_goes_on(tmp_path, monkeypatch, chunk):
    import corpusforge.io.json_layouts as json_layouts

    monkeypatch.setattr(json_layouts, "JSON_CHUNK", chunk)
    path = tmp_path / "qa.json"
    tricky = 'quotes \\" and brackets ]} [{ inside a string, a backslash \\\\ and 问题 ' * 20
    items = [
        {"question": "Q0?", "answer": "A0."},
        {"question": "huge", "answer": tricky, "nested": [{"a": [1, 2, {"b": "]"}]}] * 10},
        {"question": "Q2?", "answer": "A2."},
        "a very long string element " * 40,
        {"question": "Q4?", "answer": "A4."},
    ]
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1))
    docs, stats = run(make(QAReader, path, tmp_path, max_record_bytes=400))
    assert [d.text for d in docs] == ["Q0?\nA0.", "Q2?\nA2.", "Q4?\nA4."]
    assert [d.metadata["provenance"]["element"] for d in docs] == [0, 2, 4]
    assert stats["quarantined_too_large"] == 2 and "files_quarantined_bad_json" not in stats and balanced(docs, stats)
    big, long_string = quarantine(tmp_path / "q")
    assert big["location"]["element"] == 1 and "max_record_bytes=400" in big["error"]
    assert big["raw"].startswith('{\n  "question": "huge"')
    if chunk == 7:  # past the scanner's window: skipped undecoded, its head kept
        assert "element 1 has" in big["error"] and len(big["raw"]) <= 400
    assert long_string["location"]["element"] == 3


def test_an_oversized_element_cut_off_by_the_end_of_the_file_quarantines_the_rest(tmp_path, monkeypatch):
    import corpusforge.io.json_layouts as json_layouts

    monkeypatch.setattr(json_layouts, "JSON_CHUNK", 7)
    path = tmp_path / "qa.json"
    path.write_text('[{"question": "Q0?", "answer": "A0."},\n {"question": "cut", "answer": "' + "x" * 900)
    docs, stats = run(make(QAReader, path, tmp_path, max_record_bytes=300))
    assert [d.text for d in docs] == ["Q0?\nA0."] and stats["files_quarantined_bad_json"] == 1
    (record,) = quarantine(tmp_path / "q")
    assert record["location"]["line"] == 2 and record["location"]["column"] == 2  # where the element starts
    assert "not closed before the end of the file" in record["error"]
    assert record["raw"].startswith('{"question": "cut"')


def test_a_malformed_element_within_the_size_limit_still_ends_the_file(tmp_path):
    path = tmp_path / "qa.json"
    path.write_text('[{"question": "Q0?", "answer": "A0."}, {"question": "Q1?" "answer": "A1."}, {"question": "x"}]')
    docs, stats = run(make(QAReader, path, tmp_path, max_record_bytes=10_000))
    assert [d.text for d in docs] == ["Q0?\nA0."] and stats["files_quarantined_bad_json"] == 1
    (record,) = quarantine(tmp_path / "q")
    assert "element 1: Expecting ',' delimiter" in record["error"]


def test_qa_bad_records_are_quarantined_with_raw_kept(tmp_path):
    path = tmp_path / "bad.jsonl"
    gbk = json.dumps({"question": "感冒", "answer": "多喝水"}, ensure_ascii=False).encode("gbk")
    lines = [
        json.dumps({"question": "ok?", "answer": "yes"}).encode(),
        b'{"question": "truncated',
        gbk,
        json.dumps({"question": "no answer"}).encode(),
        json.dumps({"question": "empty", "answer": "  "}).encode(),
        json.dumps({"question": "huge", "answer": "x" * 500}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    docs, stats = run(make(QAReader, path, tmp_path, max_record_bytes=300))
    assert [d.text for d in docs] == ["ok?\nyes"]
    assert stats["quarantined_bad_json"] == 1 and stats["quarantined_bad_encoding"] == 1
    assert stats["quarantined_missing_field"] == 2 and stats["quarantined_too_large"] == 1
    assert balanced(docs, stats)
    by_line = {r["location"]["line"]: r for r in quarantine(tmp_path / "q")}
    assert base64.b64decode(by_line[3]["raw"]) == gbk and "encoding" in by_line[3]["error"]
    assert "'answer'" in by_line[4]["error"]


def test_qa_gbk_file_reads_with_its_encoding(tmp_path):
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(json.dumps({"question": "感冒", "answer": "多喝水"}, ensure_ascii=False).encode("gbk") + b"\n")
    docs, _ = run(make(QAReader, path, tmp_path, encoding="gb18030"))
    assert docs[0].text == "感冒\n多喝水"


def test_empty_files_give_no_records(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"")
    (folder / "b.json").write_bytes(b"[]")
    (folder / "c.csv").write_bytes(b"")
    docs, stats = run(make(QAReader, folder, tmp_path))
    assert docs == [] and stats.get("records", 0) == 0


def test_unknown_encoding_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="encoding"):
        make(QAReader, tmp_path, tmp_path, encoding="no-such-codec")


# ---- read.exam ----------------------------------------------------------------------------------------------------
def test_medqa_sample_keeps_parsed_fields_for_the_next_step(tmp_path):
    docs, stats = run(make(ExamReader, SAMPLES / "exam" / "medqa_sample.jsonl", tmp_path, format="medqa"))
    assert len(docs) == 5 and balanced(docs, stats)
    mc = docs[1].metadata["mc"]
    assert mc["answer"] == "B" and mc["options"][1] == {"key": "B", "text": "Metformin"}
    assert docs[1].text.splitlines()[-5:] == [
        "A. Insulin glargine",
        "B. Metformin",
        "C. Glipizide",
        "D. Pioglitazone",
        "E. Acarbose",
    ]
    assert docs[1].metadata["mc_meta"] == {"meta_info": "step1"}


def test_cmexam_csv_multiline_options_and_multi_answer_drop(tmp_path):
    docs, stats = run(make(ExamReader, SAMPLES / "exam" / "cmexam_sample.csv", tmp_path, format="cmexam"))
    assert len(docs) == 5 and stats["dropped_multi_answer"] == 1 and balanced(docs, stats)
    assert docs[0].metadata["provenance"]["line"] == 2 and docs[1].metadata["provenance"]["line"] == 7
    assert docs[0].metadata["mc_meta"]["Clinical Department"] == "内科"


def test_cmexam_in_gb18030_and_misdeclared_encoding(tmp_path):
    utf8 = (SAMPLES / "exam" / "cmexam_sample.csv").read_text(encoding="utf-8")
    path = tmp_path / "gbk.csv"
    path.write_bytes(("\ufeff" + utf8).encode("gb18030"))
    docs, _ = run(make(ExamReader, path, tmp_path, format="cmexam", encoding="gb18030"))
    assert len(docs) == 5 and docs[0].metadata["mc"]["options"][1]["text"] == "二甲双胍"
    # the same bytes read as UTF-8: each row is quarantined with its original bytes, the header row aside
    docs, stats = run(make(ExamReader, path, tmp_path / "utf8", format="cmexam"))
    assert docs == [] and stats["records"] == 6 and stats["quarantined"] == 6
    raw = quarantine(tmp_path / "utf8" / "q")[0]
    assert raw["reason"] in {"bad_encoding", "missing_field"} and raw["raw_encoding"] == "base64"


def test_cmexam_bad_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "Question,Options,Answer,Explanation\n"
        '好题,"A 一\nB 二",A,\n'
        '缺答案,"A 一\nB 二",,\n'
        '坏选项,"一\nB 二",A,\n'
        "少列,A 一\n"
    )
    docs, stats = run(make(ExamReader, path, tmp_path, format="cmexam"))
    assert len(docs) == 1 and stats["quarantined"] == 3 and balanced(docs, stats)
    errors = " ".join(r["error"] for r in quarantine(tmp_path / "q"))
    assert "'Answer'" in errors and "'Options'" in errors and "header" in errors


def medmcqa_rows(cops: list[int]) -> str:
    row = {"question": "Q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "exp": "", "subject_name": "Anatomy"}
    return "".join(json.dumps(row | {"id": f"id{i}", "cop": c}) + "\n" for i, c in enumerate(cops))


@pytest.mark.parametrize(("cops", "cop_base", "expected"), [
    ([1, 4, 2], "auto", ["A", "D", "B"]),   # GitHub release (4 seen)
    ([0, 3, 2], "auto", ["A", "D", "C"]),   # Hub release (0 seen)
    ([1, 2, 3], "auto", ["A", "B", "C"]),   # undecidable: the GitHub release is the documented default
    ([1, 2, 3], 0, ["B", "C", "D"]),
])  # fmt: skip
def test_medmcqa_answer_base(tmp_path, cops, cop_base, expected):
    path = tmp_path / "train.json"
    path.write_text(medmcqa_rows(cops))
    docs, _ = run(make(ExamReader, path, tmp_path, format="medmcqa", cop_base=cop_base))
    assert [d.metadata["mc"]["answer"] for d in docs] == expected
    assert docs[0].id == "src:id0"


def test_medmcqa_unlabelled_rows_are_quarantined(tmp_path):
    path = tmp_path / "test.json"
    path.write_text(medmcqa_rows([-1, 2]))
    docs, stats = run(make(ExamReader, path, tmp_path, format="medmcqa"))
    assert len(docs) == 1 and stats["quarantined_missing_field"] == 1 and balanced(docs, stats)


def test_mmlu_csv_without_header_takes_subject_from_file_name(tmp_path):
    path = tmp_path / "clinical_knowledge_test.csv"
    path.write_text(
        '"Which vitamin deficiency causes scurvy?",Vitamin A,Vitamin B12,Vitamin C,Vitamin D,C\nbad,row\n'
    )
    docs, stats = run(make(ExamReader, path, tmp_path, format="mmlu"))
    assert docs[0].metadata["mc_meta"] == {"subject": "clinical_knowledge"}
    assert stats["quarantined_bad_field"] == 1 and balanced(docs, stats)


def test_mmlu_hub_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"question": "Q?", "subject": "anatomy", "choices": ["w", "x", "y", "z"], "answer": 3}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test-00000-of-00001.parquet")
    docs, _ = run(make(ExamReader, tmp_path, tmp_path, format="mmlu_hub"))
    assert docs[0].metadata["mc"]["answer"] == "D" and docs[0].metadata["provenance"]["row"] == 0


def test_mapped_exam_format_through_the_registry(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text(json.dumps({"stem": "Q?", "choices": ["x", "y"], "key": 1, "why": "because"}) + "\n")
    entry = registered("reader")["read.exam"]
    params = entry.params.model_validate(
        {
            "type": "read.exam",
            "path": str(path),
            "format": "mapped",
            "fields": {"question": "stem", "options": "choices", "answer": "key", "answer_format": "index0",
                       "explanation": "why"},
        }
    )  # fmt: skip
    ctx = BuildContext(source="custom", output_dir=tmp_path / "out", work_dir=tmp_path / "work")
    docs, _ = run(entry.build(params, ctx))
    assert docs[0].id == "custom:custom.jsonl:1" and docs[0].metadata["mc"]["answer"] == "B"
    with pytest.raises(ConfigError, match="fields"):
        make(ExamReader, path, tmp_path, format="mapped")


# ---- read.promptcblue ---------------------------------------------------------------------------------------------
def test_promptcblue_sample_and_bad_rows(tmp_path):
    docs, stats = run(make(PromptCBLUEReader, SAMPLES / "promptcblue" / "promptcblue_sample.jsonl", tmp_path))
    assert len(docs) == 5 and balanced(docs, stats)
    assert docs[1].id == "src:CHIP-STS:train-2207" and docs[1].text.endswith("答：\n相同")
    assert docs[1].metadata["task_dataset"] == "CHIP-STS" and docs[1].metadata["answer_choices"] == ["相同", "不同"]
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"input": "x", "target": "", "task_dataset": "T", "sample_id": "test-1"}) + "\n")
    docs, stats = run(make(PromptCBLUEReader, path, tmp_path / "b"))
    assert docs == [] and stats["quarantined_missing_field"] == 1


# ---- exam.knowledge_points ----------------------------------------------------------------------------------------
def knowledge_points(tmp_path, sample: str, fmt: str, **params) -> tuple[list, dict]:
    docs, _ = run(make(ExamReader, SAMPLES / "exam" / sample, tmp_path, format=fmt))
    step = ExamKnowledgePoints(**params)
    out = list(step.run(iter(docs)))
    stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in step.stats.to_dict()["stats"].items()}
    return out, stats


def test_knowledge_points_from_medqa(tmp_path):
    docs, stats = knowledge_points(tmp_path, "medqa_sample.jsonl", "medqa")
    texts = [d.text for d in docs]
    assert texts[1].endswith("The first-line drug for type 2 diabetes mellitus is Metformin.")
    assert texts[2].endswith("The most likely diagnosis is Inferior myocardial infarction.")
    assert texts[3] == (
        "The following are features of hypothyroidism: Weight gain, Cold intolerance and Constipation. "
        "The exception is Heat intolerance."
    )
    assert texts[4].endswith("Before surgery, Phenoxybenzamine should be started first.")
    assert all("which of the following" not in t.lower() for t in texts)
    assert docs[1].metadata["knowledge_point_rule"] == "which_is_the"
    assert docs[1].metadata["transforms"] == ["read.exam", "exam.knowledge_points"]
    assert sum(v for k, v in stats.items() if k.startswith("rule_")) == 5


def test_knowledge_points_from_cmexam_with_explanations(tmp_path):
    docs, stats = knowledge_points(tmp_path, "cmexam_sample.csv", "cmexam")
    texts = [d.text for d in docs]
    assert texts[0] == "2型糖尿病患者的一线治疗药物是二甲双胍。\n" + docs[0].metadata["mc"]["explanation"]
    assert texts[1].startswith("患者，男，58岁") and "最可能的诊断是急性下壁心肌梗死。" in texts[1]
    assert texts[2].startswith("低血糖不是糖皮质激素的不良反应。")
    assert texts[3].startswith("小细胞低色素性贫血、血清铁蛋白降低、反甲均是缺铁性贫血的表现，总铁结合力降低除外。")
    assert texts[4] == "治疗流行性脑脊髓膜炎首选的药物是青霉素。"
    assert stats["rule_zh_is"] == 2 and stats["rule_zh_except"] == 1


def test_knowledge_points_fallback_explanation_switch_and_passthrough(tmp_path):
    mc = {
        "question": "How does radiation affect cancer cells?",
        "context": None,
        "options": [{"key": "A", "text": "DNA virus"}, {"key": "B", "text": "RNA virus"}],
        "answer": "A",
        "explanation": "It is a hepadnavirus.",
    }
    step = ExamKnowledgePoints(include_explanation=False)
    plain = Document(text="not an exam", id="x:1", metadata={"transforms": ["read.qa"]})
    out = list(step.run(iter([Document(text="q", id="x:2", metadata={"mc": mc, "transforms": []}), plain])))
    assert out[0].text == 'Regarding "How does radiation affect cancer cells": the correct answer is DNA virus.'
    assert out[1].text == "not an exam" and out[1].metadata["transforms"] == ["read.qa"]
    assert step.stats.to_dict()["stats"]["unchanged_no_mc"] == 1


def knowledge_point(question: str, options: list[str], answer: int = 0, explanation: str | None = None) -> str:
    mc = {"question": question, "context": None, "explanation": explanation, "answer": "ABCDE"[answer],
          "options": [{"key": "ABCDE"[i], "text": t} for i, t in enumerate(options)]}  # fmt: skip
    (doc,) = ExamKnowledgePoints(include_explanation=False).run(
        iter([Document(text="q", id="x:1", metadata={"mc": mc})])
    )
    return doc.text


@pytest.mark.parametrize(
    ("question", "options", "expected"),
    [  # the stem shapes of real MedQA / MedMCQA / MMLU items, each with a grammatical sentence
        ("Which of the following experiments best tests the hypothesis?", ["Remove ants and measure leaf damage", "x"],
         "Remove ants and measure leaf damage best tests the hypothesis."),
        ("Which of the following bone defects offers the best chance for bone fill?", ["3 Walled defect", "x"],
         "3 Walled defect offers the best chance for bone fill."),
        ("A boy has a rash. Further evaluation is most likely to show which of the following findings?",
         ["A drop in blood pressure on inspiration", "x"],
         "A boy has a rash. Further evaluation is most likely to show a drop in blood pressure on inspiration."),
        ("The mass is most likely derived from which of the following types of cells?", ["Lactotrophs", "x"],
         "The mass is most likely derived from Lactotrophs."),
        ("Treatment with which of the following drugs should be avoided in this patient?", ["Bupropion", "x"],
         "Treatment with Bupropion should be avoided in this patient."),
        ("Which nerve is most likely involved in this patient's symptoms?", ["Ulnar nerve", "x"],
         "Ulnar nerve is most likely involved in this patient's symptoms."),
        ("What should be the next step in management of this patient?", ["CT scan", "x"],
         "The next step in management of this patient should be CT scan."),
        ("Gingival hyperplasia is caused by:", ["Phenytoin", "x"], "Gingival hyperplasia is caused by Phenytoin."),
        ("Which of the following drugs does not cause hypokalemia?", ["Amiloride", "x"],
         "Amiloride does not cause hypokalemia."),
        ("Which of the following is least likely to cause a pleural effusion?", ["Asbestosis", "x"],
         "Asbestosis is least likely to cause a pleural effusion."),
        ("What is the most likely cause of this patient's symptoms?", ["Hypothyroidism", "x"],
         "The most likely cause of this patient's symptoms is Hypothyroidism."),
        ("Which of the following is the mechanism of action of the drug?", ["Inhibition of DNA gyrase", "x"],
         "The mechanism of action of the drug is Inhibition of DNA gyrase."),
        ("Tay-Sachs disease is caused by deficiency of _________________?", ["Hexosaminidase A", "x"],
         "Tay-Sachs disease is caused by deficiency of Hexosaminidase A."),
        ("A homeotic mutation is one which", ["substitutes one body part for another", "x"],
         "A homeotic mutation is one which substitutes one body part for another."),
        ("Pseudocholinesterase deficiency is associated with increased sensitivity to what?", ["Succinylcholine", "x"],
         "Pseudocholinesterase deficiency is associated with increased sensitivity to Succinylcholine."),
        ("In what situation are closed pouches applied?", ["After a colostomy", "x"],
         'Regarding "In what situation are closed pouches applied": the correct answer is After a colostomy.'),
        ("Which of the following releases most energy when completely oxidised?", ["One gram of fat", "x"],
         "One gram of fat releases most energy when completely oxidised."),
        ("Medial squint is caused by paralysis of", ["Abducens nerve", "x"],
         "Medial squint is caused by paralysis of Abducens nerve."),
        ("Waldeyer's lymphatic chain is formed by all except", ["Submandibular nodes", "Tonsils", "Adenoids"],
         "Waldeyer's lymphatic chain is formed by Tonsils and Adenoids, but not Submandibular nodes."),
        ("For propofol all are true except", ["Causes vomiting", "Rapid recovery", "Causes sedation"],
         "About propofol, these are true: Rapid recovery; Causes sedation. This is not: Causes vomiting."),
        ("True about occulomotor nerve", ["Supplies the levator", "x"], "About occulomotor nerve: Supplies the levator."),
        ("Drug causing toxic optic neuropathy is:March 2009", ["Ethambutol", "x"],
         "Drug causing toxic optic neuropathy is Ethambutol."),
        ("Which of the following is the arterial pH in this patient?", ["pH 7.36", "x"], "The arterial pH in this patient is pH 7.36."),
        ("Which of the following is targeted by the drug?", ["gp120", "x"], "gp120 is targeted by the drug."),
        ("Which of the following is amplified in this tumour?", ["c-erbB1", "x"], "c-erbB1 is amplified in this tumour."),
        ("Which of the following is the mechanism of action?", ["relaxes the muscles.", "x"],
         "The mechanism of action is relaxes the muscles."),
        ("What would the blood smear be expected to show?", ["Target cells", "x"],
         'Regarding "What would the blood smear be expected to show": the correct answer is Target cells.'),
        # Chinese stems
        ("夜间阵发性呼吸困难，可见于", ["左心功能不全", "癔病"], "夜间阵发性呼吸困难，可见于左心功能不全。"),
        ("下列哪种病变引起的胸痛常沿一侧肋间神经分布", ["带状疱疹", "肺癌"], "带状疱疹病变引起的胸痛常沿一侧肋间神经分布。"),
        ("体质的可变性与什么相关", ["后天因素", "先天因素"], "体质的可变性与后天因素相关。"),
        ("山楂的功效", ["散瘀", "补气"], "山楂的功效是散瘀。"),
        ("下列常出现血沉明显增快的情况，应除外", ["心绞痛", "结核病", "心肌梗死"], "常出现血沉明显增快的情况：结核病、心肌梗死；心绞痛除外。"),
        ("下列脊椎病变，除哪项外，脊椎叩痛常为阳性", ["骨质增生", "脊椎结核", "骨折"], "脊椎结核、骨折：脊椎叩痛常为阳性；骨质增生除外。"),
        ("治疗应选取何经穴为主", ["阳明经", "太阳经"], "关于“治疗应选取何经穴为主”，正确答案是阳明经。"),
    ],
)  # fmt: skip
def test_knowledge_point_stem_shapes(question, options, expected):
    assert knowledge_point(question, options) == expected


def test_knowledge_points_never_say_the_stems_last_word_twice():
    assert knowledge_point("Pterion is", ["Is a point where four bones meet", "x"]) == (
        "Pterion is a point where four bones meet."
    )
    assert knowledge_point("Epidural venous plexus is located in", ["In vertebral canal", "x"]) == (
        "Epidural venous plexus is located in vertebral canal."
    )


def test_knowledge_points_never_double_punctuation():
    assert knowledge_point("Prucalopride is a ?", ["5HT4 agonist.", "x"]) == "Prucalopride is a 5HT4 agonist."
    assert knowledge_point("Golgi tendon organs used to detect ?", ["Tension.", "x"]) == (
        "Golgi tendon organs used to detect Tension."
    )
    assert knowledge_point("作用是", ["松弛肌肉。", "x"]) == "作用是松弛肌肉。"


def test_custom_rules_file_with_own_template(tmp_path):
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - {name: true_about, language: en, pattern: '^true about (?P<topic>.+)$', template: true_about.jinja}\n"
        "  - {name: fallback, language: en, template: fallback.en.jinja}\n"
        "  - {name: zh_fallback, language: zh, template: fallback.zh.jinja}\n"
    )
    (tmp_path / "true_about.jinja").write_text("{{ topic }}: {{ answer }}.")
    mc = {"question": "True about hepatitis B", "context": None, "answer": "A", "explanation": None,
          "options": [{"key": "A", "text": "DNA virus"}, {"key": "B", "text": "RNA virus"}]}  # fmt: skip
    step = ExamKnowledgePoints(rules=str(tmp_path / "rules.yaml"))
    (doc,) = step.run(iter([Document(text="q", id="x:1", metadata={"mc": mc})]))
    assert doc.text == "Hepatitis B: DNA virus." and doc.metadata["knowledge_point_rule"] == "true_about"
    (tmp_path / "bad.yaml").write_text("rules:\n  - {name: x, language: en, pattern: '(', template: t.jinja}\n")
    with pytest.raises(ConfigError, match="pattern"):
        ExamKnowledgePoints(rules=str(tmp_path / "bad.yaml"))


def test_language_detection_and_stem_split():
    assert detect_language("2型糖尿病的一线治疗药物是") == "zh"
    assert detect_language("Which of the following is a beta-lactam?") == "en"
    assert split_stem("A 5-year-old boy has a rash. It spreads fast. What is the diagnosis?", "en") == (
        "A 5-year-old boy has a rash. It spreads fast.",
        "What is the diagnosis?",
    )
    assert split_stem("患者，女，30岁。最可能的诊断是。", "zh") == ("患者，女，30岁。", "最可能的诊断是")


def test_registered_names_and_params():
    readers, steps = registered("reader"), registered("step")
    for name in ("read.qa", "read.exam", "read.promptcblue", "read.pubmed_xml", "read.pubmed_jsonl"):
        assert name in readers
    assert "exam.knowledge_points" in steps and "decontam.pubmedqa" in steps
    with pytest.raises(ValueError):
        readers["read.exam"].params.model_validate({"type": "read.exam", "path": "x", "format": "nope"})


def test_qa_dialogue_history_one_element_lists_and_repeated_ids(tmp_path):
    path = tmp_path / "dialogues.json"
    rows = [
        {"id": "d1", "instruction": "谢谢医生", "output": "不客气", "history": [["我头晕", "量血压了吗？"], ["150/95", "需要复诊"]]},
        {"id": "d1", "instruction": ["头痛怎么办"], "output": ["注意休息"], "history": []},
    ]  # fmt: skip
    path.write_text(json.dumps(rows, ensure_ascii=False))
    reader = make(QAReader, path, tmp_path, question_field="instruction", answer_field="output", id_field="id")
    docs, stats = run(reader)
    assert (
        docs[0].text == "我头晕\n量血压了吗？\n150/95\n需要复诊\n谢谢医生\n不客气" and docs[0].metadata["turns"] == 3
    )
    assert docs[1].text == "头痛怎么办\n注意休息"
    assert [d.id for d in docs] == ["src:d1", "src:d1~2"] and stats["duplicate_ids"] == 1 and balanced(docs, stats)
