"""Benchmark of the knowledge-graph stage: read.kg_triples -> kg.subgraphs -> JsonlWriter on synthetic triples.

Generates a synthetic OMAHA-like triples TSV (diseases, drugs, symptoms, tests, departments; English and Chinese
relations; skewed popularity, so there are hubs), then runs the stage through datatrove's LocalPipelineExecutor in
a child process per size, side by side: a small run (default 100k triples) and the target run (default 1M). For
each it prints triples/s, subgraphs per strategy, coverage and the child's peak RSS, then the RSS ratio.
Target (issue 2): peak RSS under 2 GB at 1M triples.

    python bench/bench_kg.py                       # 100k and 1M
    python bench/bench_kg.py --sizes 20000 200000  # other sizes
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

RELATIONS = [  # (relation, head kind, tail kind)
    ("has_symptom", "disease", "symptom"),
    ("treated_by", "disease", "drug"),
    ("diagnostic_test", "disease", "test"),
    ("belongs_to_department", "disease", "department"),
    ("complication", "disease", "disease"),
    ("risk_factor", "disease", "factor"),
    ("adverse_effect", "drug", "symptom"),
    ("interacts_with", "drug", "drug"),
    ("contraindicated_with", "drug", "disease"),
    ("half_life", "drug", "value"),
    ("症状", "疾病", "症状"),
    ("药物治疗", "疾病", "药物"),
    ("所属科室", "疾病", "科室"),
]
KIND_SHARE = {"disease": 0.25, "drug": 0.2, "symptom": 0.2, "test": 0.05, "department": 0.0005, "factor": 0.02,
              "value": 0.01, "疾病": 0.15, "症状": 0.1, "药物": 0.1, "科室": 0.0005}  # fmt: skip


def generate(path: Path, n: int, seed: int = 0) -> None:
    """n distinct-ish triples; tails drawn with a skew (x**2), so popular entities become hubs."""
    rng = random.Random(seed)
    entities = max(n // 3, 100)
    pool = {kind: max(3, int(entities * share)) for kind, share in KIND_SHARE.items()}
    with path.open("w", encoding="utf-8") as f:
        f.write("head\thead_type\trelation\ttail\ttail_type\n")
        for _ in range(n):
            relation, hk, tk = RELATIONS[rng.randrange(len(RELATIONS))]
            head = f"{hk} {rng.randrange(pool[hk])}"
            tail = f"{tk} {int(pool[tk] * rng.random() ** 2)}"
            f.write(f"{head}\t{hk}\t{relation}\t{tail}\t{tk}\n")


def child(triples: str, out: str) -> None:
    """Run the stage once (in this process) and print one JSON line of measurements."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    from corpusforge.pipeline.readers.kg import KGTriplesReader
    from corpusforge.pipeline.registry import BuildContext
    from corpusforge.pipeline.steps.kg.subgraphs import KGSubgraphs

    ctx = BuildContext(source="kg", output_dir=Path(out), work_dir=Path(out), seed=0)
    pipeline = [
        KGTriplesReader.from_params(KGTriplesReader.Params(path=triples), ctx),
        KGSubgraphs.from_params(KGSubgraphs.Params(), ctx),  # the default strategies (ego, khop, random walk)
        JsonlWriter(f"{out}/docs", output_filename="${rank}.jsonl", compression=None),
    ]
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=f"{out}/logs").run()
    seconds = time.perf_counter() - start
    stats = {s["name"].split(": ", 1)[1]: s["stats"] for s in json.loads(Path(f"{out}/logs/stats.json").read_text())}

    def total(key: str) -> int:
        value = stats["kg.subgraphs"].get(key, 0)
        return int(value["total"] if isinstance(value, dict) else value)

    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    keys = [k for k in stats["kg.subgraphs"] if k.startswith("subgraphs_")]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "documents_in": total("documents_in"),
                "triples_in": total("triples_in"),
                "triples_covered": total("triples_covered"),
                "subgraphs": {k.removeprefix("subgraphs_"): total(k) for k in keys},
                "documents_out": total("documents_out"),
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def run_size(n: int, workdir: Path) -> dict:
    triples = workdir / f"triples_{n}.tsv"
    t = time.perf_counter()
    generate(triples, n)
    print(f"generated {n:,} triples in {time.perf_counter() - t:.1f}s", flush=True)
    out = workdir / f"out_{n}"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(triples), str(out)], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr[-5000:])
        raise SystemExit(f"child run for {n} triples failed ({proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    triples.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder (removed)")
    parser.add_argument("--child", nargs=2, metavar=("TRIPLES", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = {n: run_size(n, Path(tmp)) for n in args.sizes}
    header = f"{'triples':>10} {'seconds':>8} {'triples/s':>10} {'subgraphs':>10} {'coverage':>9} {'peak RSS':>10}"
    print(header)
    for n, r in results.items():
        coverage = r["triples_covered"] / max(r["triples_in"], 1)
        print(
            f"{n:>10,} {r['seconds']:>8.1f} {n / r['seconds']:>10,.0f} {r['documents_out']:>10,} {coverage:>9.1%} "
            f"{r['peak_rss_mb']:>8.0f}MB   per strategy: {r['subgraphs']}"
        )
    small, large = min(results), max(results)
    if small != large:
        ratio = results[large]["peak_rss_mb"] / results[small]["peak_rss_mb"]
        print(f"peak RSS {large:,} / {small:,} triples: {ratio:.2f}x for {large / small:.0f}x the triples")
    peak = results[large]["peak_rss_mb"]
    print(f"target: peak RSS < 2048 MB at {large:,} triples -> {'OK' if peak < 2048 else 'MISSED'} ({peak:.0f} MB)")


if __name__ == "__main__":
    main()
