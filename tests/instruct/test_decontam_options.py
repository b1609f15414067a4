"""Question-and-options evidence (corpusforge/decontam_mc.py), generic spans, Chinese eval sets in their published
layouts (CMExam, CMB, MedQA-MCMLE), and the per-language check of mixed data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.decontam_mc import MCIndex
from corpusforge.instruct.eval_sets import EvalSetFilter, EvalSetSpec, load_eval_set

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
WRAP = "You are a medical expert. Answer the question and give the letter only.\nQuestion: {q}\n{o}\nAnswer:"


def lettered(options: list[str], style: str = "{k}. {t}") -> str:
    return "\n".join(style.format(k="ABCDE"[i], t=t) for i, t in enumerate(options))


def test_a_short_question_wrapped_with_its_options_in_any_order_is_found():
    index = MCIndex("en")
    index.add(
        "Which part of the brachial plexus does not give branches?", ["Root", "Division", "Cord", "Trunk"], "q1"
    )
    index.add(
        "Drug of choice for absence seizures", ["Ethosuximide", "Phenytoin", "Carbamazepine", "Gabapentin"], "q2"
    )
    copy = WRAP.format(q="Which part of the brachial plexus does not give branches?", o=lettered(["Cord", "Trunk", "Root", "Division"], "({k}) {t}"))  # fmt: skip
    found = index.match(copy)
    assert found is not None and found.ref_id == "q1" and found.options_found == 4
    assert "brachial plexus" in found.span
    # the question alone, in a text about something else, is not a copy; nor are the options without the question
    assert index.match("In this lecture: which part of the brachial plexus does not give branches? Later.") is None
    assert index.match("Antiepileptics: phenytoin, carbamazepine, gabapentin and ethosuximide are compared.") is None


def test_generic_stems_are_never_evidence_on_their_own():
    index = MCIndex("en")
    generic = "Which of the following is true?"
    drugs = ["amiodarone", "lithium", "isoniazid", "clozapine", "digoxin"]
    for i, drug in enumerate(drugs):  # a stem several items share is generic
        index.add(generic, [f"{drug} causes {w} toxicity" for w in ("renal", "hepatic", "ocular", "marrow")], f"g{i}")
    index.add("Urine sodium is 44 mEq/L. Which of the following is the most likely diagnosis?",
              ["SIADH", "Cerebral salt wasting", "Diabetes insipidus", "Psychogenic polydipsia"], "u1")  # fmt: skip
    clean = f"{generic}\nA. Aspirin is an antiplatelet\nB. Heparin is oral\nC. Warfarin is safe\nD. None"
    assert index.match(clean) is None  # the same stem, other options: not item g*
    copy = f"{generic}\n" + lettered(
        [f"clozapine causes {w} toxicity" for w in ("marrow", "ocular", "renal", "hepatic")]
    )
    found = index.match(copy)
    assert found is not None and found.ref_id == "g3" and found.question_coverage is None  # stem generic: options
    boiler = "Urine sodium is 12 mEq/L. Which of the following is the most likely cause? A. Vomiting B. Diarrhea"
    assert index.match(boiler) is None


def test_training_side_frequency_makes_common_spans_generic():
    index = MCIndex("en", max_ref_df=3)
    index.add("Serum potassium is low in which of the following conditions", ["Hyperaldosteronism", "Addison disease", "Renal failure", "Rhabdomyolysis"], "k1")  # fmt: skip
    near_copy = "Serum potassium is low in which of the following conditions?\nA. Hyperaldosteronism\nB. Addison disease\nC. Vomiting\nD. Rhabdomyolysis"  # fmt: skip
    assert index.match(near_copy) is not None
    for i in range(300):  # the stem is everywhere on the training side
        index.count_training(f"Case {i}: serum potassium is low in which of the following conditions? Think.")
    index.set_training_df(index.train, max_share=0.01, min_df=20)
    assert index.match(near_copy) is None  # 3 of 4 options and a stem common in training: not enough evidence


def write(path: Path, rows: list[dict], as_array: bool = False) -> Path:
    text = json.dumps(rows, ensure_ascii=False) if as_array else "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)  # fmt: skip
    path.write_text(text, encoding="utf-8")
    return path


CMB_ROWS = [  # CMB-Exam's published test layout (FreedomIntelligence/CMB): the answer is withheld
    {"exam_type": "医师考试", "exam_class": "执业医师", "exam_subject": "临床执业医师", "question": "下列哪项疾病属于遗传性心肌病",
     "answer": "", "question_type": "单项选择题", "option": {"A": "扩张型心肌病", "B": "肥厚型心肌病", "C": "限制型心肌病", "D": "甲亢性心肌病", "E": "病毒性心肌病"}, "id": 0},
    {"exam_type": "医师考试", "exam_class": "执业医师", "exam_subject": "临床执业医师", "question": "夜间阵发性呼吸困难，最常见于",
     "answer": "", "question_type": "单项选择题", "option": {"A": "急性脑血管疾病", "B": "癔病", "C": "慢性阻塞性肺气肿", "D": "左心功能不全", "E": "支气管哮喘"}, "id": 1},
]  # fmt: skip
MCMLE_ROWS = [  # MedQA's questions/Mainland/test.jsonl layout
    {"question": "女，34岁。右尺骨骨折2小时，予手法复位，管型石膏固定5小时后，患者感觉右手指麻木、肿胀、活动不灵。目前最恰当的处理方法是",
     "options": {"A": "脱水", "B": "立即手术", "C": "止痛", "D": "立即松解外固定", "E": "扩血管药物治疗"}, "answer": "立即松解外固定",
     "meta_info": "卫生部", "answer_idx": "D"},
]  # fmt: skip


def test_chinese_eval_sets_in_cmb_and_mcmle_layouts(tmp_path):
    cmb = write(tmp_path / "cmb_test.json", CMB_ROWS, as_array=True)
    mcmle = write(tmp_path / "mcmle_test.jsonl", MCMLE_ROWS)
    items = load_eval_set(EvalSetSpec(name="cmb", kind="cmb", path=str(cmb)))
    assert [i.language for i in items] == ["zh", "zh"] and items[0].options[1] == "肥厚型心肌病"
    assert "id:cmb-0" in items[0].keys
    sets = [{"name": "cmb_test", "kind": "cmb", "path": str(cmb)}, {"name": "mcmle_test", "kind": "mcmle", "path": str(mcmle)}]  # fmt: skip
    step = EvalSetFilter(sets=sets, report_dir=tmp_path / "hits")
    wrapped = "你是一名医学专家。请回答下面的单项选择题。\n题目：下列哪项疾病属于遗传性心肌病？\n选项：\nA．病毒性心肌病\nB．扩张型心肌病\nC．肥厚型心肌病\nD．限制型心肌病\nE．甲亢性心肌病\n答案："
    numbers = MCMLE_ROWS[0]["question"].replace("34", "41").replace("5小时", "3小时") + "\nA 止痛\nB 脱水\nC 立即松解外固定\nD 立即手术\nE 扩血管药物治疗"  # fmt: skip
    clean = "女，56岁。反复上腹痛3年，加重1周。胃镜示胃角溃疡。首选的治疗是\nA 手术\nB 质子泵抑制剂\nC 抗酸药\nD 胃黏膜保护剂\nE 观察"  # fmt: skip
    english = "Which of the following is an inherited cardiomyopathy?\nA. Dilated\nB. Hypertrophic"
    docs = [Document(text=t, id=k, metadata={"source": "zh_qa"}) for k, t in
            (("wrapped", wrapped), ("numbers", numbers), ("clean", clean), ("english", english))]  # fmt: skip
    kept = {d.id for d in step.run(iter(docs))}
    assert kept == {"clean", "english"}
    assert step.checked["zh_qa"] == {"cmb_test": 3, "mcmle_test": 3}  # the English record is checked against none
    assert step.not_checked["zh_qa"] == {"language_en": 1}


def test_real_cmexam_rows_are_found_wrapped_and_the_rest_kept(tmp_path):
    path = REAL / "exams" / "cmexam_val_first500.jsonl"
    if not path.is_file():
        pytest.skip(f"real CMExam rows not found at {path}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    declared = write(tmp_path / "cmexam_test.jsonl", rows[:200])
    step = EvalSetFilter(sets=[{"name": "cmexam_test", "kind": "cmexam", "path": str(declared)}], report_dir=tmp_path / "h")  # fmt: skip
    planted = []
    for i, row in enumerate(rows[:200]):
        options = row["Options"].split("\\n")[::-1]  # reordered, relettered
        text = (
            "请回答：\n" + row["Question"] + "\n" + "\n".join(f"{'ABCDE'[j]}．{o[2:]}" for j, o in enumerate(options))
        )
        planted.append(Document(text=text, id=f"p{i}", metadata={"source": "planted"}))
    clean = [Document(text=r["Question"] + "\n" + r["Options"].replace("\\n", "\n"), id=f"c{i}", metadata={"source": "clean"})
             for i, r in enumerate(rows[200:])]  # fmt: skip
    kept = {d.id for d in step.run(iter(planted + clean))}
    missed = [d.id for d in planted if d.id in kept]
    false = [d.id for d in clean if d.id not in kept]
    assert len(missed) <= 2, missed  # >= 99% of wrapped, reordered copies
    assert len(false) <= 1, false  # CMExam rows outside the declared split
