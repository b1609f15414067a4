"""Stage-2 build throughput (records/s) and peak RSS on generated multiple-choice data, against a baseline.

Side by side in one run, each pipeline in its own process (so its peak RSS is its own), on the same generated
MedQA-layout JSONL file (default 100k records), datatrove LocalPipelineExecutor, tasks=1:

  baseline      JsonlReader -> JsonlWriter                      (datatrove's own read/write floor)
  source        instruct.medqa (parse, render, schema check) -> decontam.eval_sets (ids + 13-gram index of a
                generated 2k-question eval set) -> JsonlWriter  (the per-source stage of a stage-2 build)
  mix+write     JsonlReader -> MixApply (cap, weight, split) -> ParquetWriter per split (the write stage),
                every record checked against schemas/instruction.schema.json; and the same without that check

and prints records/s, the ratio to the baseline, and peak RSS. Usage:
    python bench/bench_stage2.py [--records 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS = [
    "patient",
    "presents",
    "with",
    "fever",
    "cough",
    "dyspnea",
    "chest",
    "pain",
    "abdominal",
    "tenderness",
    "hypertension",
    "diabetes",
    "renal",
    "hepatic",
    "cardiac",
    "murmur",
    "rash",
    "lesion",
    "biopsy",
    "shows",
    "granuloma",
    "infiltrate",
    "fibrosis",
    "necrosis",
    "therapy",
    "treatment",
    "antibiotic",
    "steroid",
    "insulin",
    "metformin",
    "warfarin",
    "heparin",
    "aspirin",
    "dose",
    "mg",
    "daily",
    "acute",
    "chronic",
    "syndrome",
    "deficiency",
    "which",
    "following",
    "most",
    "likely",
    "diagnosis",
    "next",
    "step",
    "management",
    "mechanism",
    "action",
    "adverse",
    "effect",
    "laboratory",
    "serum",
    "elevated",
    "decreased",
    "normal",
    "level",
    "examination",
    "reveals",
    "history",
    "year",
    "old",
    "man",
    "woman",
    "child",
    "infant",
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()


def generate(path: Path, eval_path: Path, n: int, seed: int = 0) -> None:
    """n MedQA-layout rows (a vignette of ~60 words, 4-5 options) and a 2k-question eval set that shares 1%."""
    rng = random.Random(seed)
    eval_questions = [sentence(rng, 40) + "?" for _ in range(2000)]
    with open(path, "w") as f, open(eval_path, "w") as e:
        for q in eval_questions:
            e.write(json.dumps({"question": q, "options": {"A": "a", "B": "b"}, "answer_idx": "A"}) + "\n")
        for i in range(n):
            question = eval_questions[i % 2000] if i % 100 == 0 else sentence(rng, 60) + "?"
            keys = "ABCDE"[: rng.choice((4, 5))]
            options = {k: sentence(rng, 3) for k in keys}
            answer = rng.choice(keys)
            row = {"question": question, "answer": options[answer], "options": options,
                   "meta_info": "step1", "answer_idx": answer}  # fmt: skip
            f.write(json.dumps(row) + "\n")


def run_pipeline(name: str, data: Path, work: Path) -> dict:
    """One measured pipeline, in this process (called in a child)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from corpusforge.instruct.mixing import MixSpec
    from corpusforge.instruct.stages import mix_write_steps
    from corpusforge.pipeline.registry import BuildContext, registered

    logs = work / "logs" / name
    if name == "baseline":
        steps = [
            JsonlReader(str(data.parent), glob_pattern=data.name, text_key="question"),
            JsonlWriter(str(work / name), compression=None),
        ]
    elif name == "source":
        ctx = BuildContext(source="medqa", output_dir=work / "out", work_dir=work)
        reader = {"type": "instruct.medqa", "path": str(data)}
        decontam = {"type": "decontam.eval_sets",
                    "sets": [{"name": "medqa_test", "kind": "medqa", "path": str(data.parent / "eval.jsonl")}]}  # fmt: skip
        steps = [registered()[p["type"]].build(registered()[p["type"]].params.model_validate(p), ctx)
                 for p in (reader, decontam)]  # fmt: skip
        steps.append(JsonlWriter(str(work / "sources" / "medqa"), output_filename="${rank}.jsonl", compression=None))
    else:
        spec = MixSpec.model_validate({"splits": {"validation": 0.02}, "sources": {"medqa": {"weight": 1.5}}})
        steps = [JsonlReader(str(work / "sources"), glob_pattern="*/*.jsonl", recursive=True)]
        steps += mix_write_steps(spec, work, work / "out" / name, validate=name == "mix+write")
    start = time.perf_counter()
    LocalPipelineExecutor(steps, tasks=1, workers=1, logging_dir=str(logs), skip_completed=False).run()
    seconds = time.perf_counter() - start
    stats = json.loads(next((logs / "stats").glob("*.json")).read_text())
    first = stats[0]["stats"]
    records = first.get("records", first.get("documents", {}))
    records = records["total"] if isinstance(records, dict) else records
    return {"seconds": seconds, "records": records,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_stage2_"))
    data = work / "data" / "medqa.jsonl"
    if args.child:
        print("RESULT=" + json.dumps(run_pipeline(args.child, data, work)))
        return
    data.parent.mkdir(parents=True, exist_ok=True)
    generate(data, data.parent / "eval.jsonl", args.records)
    results = {}
    for name in ("baseline", "source", "mix+write", "mix+write (no schema check)"):
        proc = subprocess.run([sys.executable, __file__, "--workdir", str(work), "--child", name],
                              capture_output=True, text=True, cwd=REPO)  # fmt: skip
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT=")), None)
        if proc.returncode or line is None:
            sys.exit(f"{name} failed:\n{proc.stderr[-3000:]}")
        results[name] = json.loads(line[len("RESULT=") :])
    base = results["baseline"]["records"] / results["baseline"]["seconds"]
    print(f"stage-2 bench: {args.records:,} generated MedQA-layout records, tasks=1, workdir {work}")
    print(f"{'pipeline':<28} {'records':>9} {'seconds':>8} {'records/s':>10} {'vs baseline':>12} {'peak RSS':>10}")
    for name, r in results.items():
        rate = r["records"] / r["seconds"]
        print(f"{name:<28} {r['records']:>9,} {r['seconds']:>8.1f} {rate:>10,.0f} {rate / base:>11.2f}x "
              f"{r['peak_rss_mb']:>7.0f} MB")  # fmt: skip
    total = results["source"]["seconds"] + results["mix+write"]["seconds"]
    print(f"stage-2 (source + mix/write) end to end: {args.records / total:,.0f} records/s")


if __name__ == "__main__":
    main()
