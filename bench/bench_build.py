"""Build benchmark: corpusforge's stage-1 pipeline against a bare datatrove pipeline, side by side in one run.

Both read the same generated JSONL documents, run the same datatrove filters and write parquet; corpusforge adds
what it is for (quarantine-aware reader, character cleaning, per-source accounting, schema validation of every
record, manifest and card). Printed: docs/s of each and their ratio, peak RSS of the whole
process tree and CPU seconds, and (with --scaling) 1 vs 2 workers and peak RSS at two sizes.

    python bench/bench_build.py                       # 2000 docs, quality filters, tasks=2 workers=2
    python bench/bench_build.py --scaling             # + 1 vs 2 workers (5000 docs) and RSS at 20k vs 200k docs
    python bench/bench_build.py --parts workers memory   # only those parts

Targets (issue 2): ratio >= 0.9; 2 workers >= 1.7x 1 worker; peak RSS at 200k <= 1.2x that at 20k.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

import psutil
from _common import new_parser, scratch

WORDS = (
    "the patient was treated with insulin and metformin for type two diabetes while blood pressure and heart rate "
    "were monitored in the clinic each week during the randomized trial of chronic kidney disease outcomes among "
    "adults with hypertension who received statins aspirin or placebo and the results showed a significant decrease "
    "in mortality"
).split()

PARTS = ["compare", "workers", "memory"]
QUALITY_FILTERS = ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"]


def generate(folder: Path, n_docs: int, files: int, seed: int = 0) -> None:
    """~1.4 KB English-like documents with sentences and paragraphs, spread over `files` JSONL files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(folder / f"part-{i:03d}.jsonl", "w")) for i in range(files)]
        for i in range(n_docs):
            paragraphs = []
            for _ in range(3):
                sentences = [sentence(rng) for _ in range(5)]
                paragraphs.append(" ".join(sentences))
            handles[i % files].write(json.dumps({"id": f"d{i}", "text": "\n".join(paragraphs)}) + "\n")


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."


BARE = textwrap.dedent(
    """
    import sys
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.pipeline.filters import (GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter,
        FineWebQualityFilter, LambdaFilter)
    src, out, tasks, workers, filters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    chosen = {"gopher_repetition": GopherRepetitionFilter, "gopher_quality": GopherQualityFilter,
              "c4_quality": C4QualityFilter, "fineweb_quality": FineWebQualityFilter}
    steps = [JsonlReader(src, glob_pattern="**/*.jsonl")]
    steps += [chosen[f]() for f in filters.split(",") if f in chosen]
    steps += [LambdaFilter(lambda d: len(d.text) >= 50)]
    steps += [ParquetWriter(out + "/data", compression="zstd")]
    if __name__ == "__main__":
        LocalPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=out + "/logs").run()
    """
)


def corpusforge_recipe(src: Path, out: Path, tasks: int, workers: int, filters: list[str], dedup: bool) -> dict:
    shared = [{"type": "clean.characters"}, {"type": "filter.length", "min_chars": 50}]
    shared[1:1] = [{"type": f"filter.{f}"} for f in filters]
    return {
        "name": "bench",
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": tasks, "workers": workers},
        "sources": {"docs": {"reader": {"type": "read.jsonl", "path": str(src)}}},
        "filters": shared,
        "dedup": {"exact": {"enabled": dedup}, "minhash": {"enabled": dedup}},
    }


def run_measured(cmd: list[str]) -> tuple[float, int, float]:
    """Wall time, peak RSS (bytes) and CPU seconds (user + sys) of the process tree of `cmd`, sampled every 50 ms.

    CPU seconds are summed over every process seen in the tree (pool workers are children of a forkserver, so
    the kernel's RUSAGE_CHILDREN misses them); they move less than wall time when other tenants load the machine.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    peak = 0
    cpu: dict[int, float] = {}
    procs: list[psutil.Process] = [parent]
    try:
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                procs = [parent, *parent.children(recursive=True)]
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
                    times = p.cpu_times()
                    cpu[p.pid] = times.user + times.system
            peak = max(peak, rss)
            time.sleep(0.05)
    finally:  # interrupted: take the pool workers down too (they outlive a killed parent)
        for p in reversed(procs):
            with contextlib.suppress(psutil.Error):
                p.kill()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{cmd} failed with exit code {proc.returncode}")
    return wall, peak, sum(cpu.values())


def run_bare(src: Path, out: Path, tasks: int, workers: int, filters: list[str]) -> tuple[float, int, float]:
    script = out.parent / f"{out.name}_bare.py"
    script.write_text(BARE)
    return run_measured(
        [sys.executable, str(script), str(src), str(out), str(tasks), str(workers), ",".join(filters)]
    )


def run_corpusforge(src, out, tasks, workers, filters, dedup=False) -> tuple[float, int, float]:
    import yaml

    recipe = out.parent / f"{out.name}.yaml"
    recipe.write_text(yaml.safe_dump(corpusforge_recipe(src, out, tasks, workers, filters, dedup)))
    return run_measured([sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(recipe)])


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def alternated(
    rounds: int, runs: dict[str, Callable[[int], tuple[float, int, float]]]
) -> dict[str, list[tuple[float, int, float]]]:
    """Run each named measurement once per round, reversing the order every other round (A B, B A, ...)."""
    results: dict[str, list] = {name: [] for name in runs}
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for name in order:
            results[name].append(runs[name](r))
    return results


def summarize(results: list[tuple[float, int, float]]) -> tuple[float, float, int]:
    """Median wall seconds, median CPU seconds, and the largest peak RSS over rounds."""
    return median(t for t, _, _ in results), median(c for _, _, c in results), max(m for _, m, _ in results)


def compare_with_bare(src: Path, tmp: Path, n: int, args) -> None:
    results = alternated(
        args.rounds,
        {
            "bare": lambda r: run_bare(src, tmp / f"bare{r}", args.tasks, args.workers, QUALITY_FILTERS),
            "cf": lambda r: run_corpusforge(src, tmp / f"cf{r}", args.tasks, args.workers, QUALITY_FILTERS),
        },
    )
    (bare_t, bare_cpu, bare_rss), (cf_t, cf_cpu, cf_rss) = summarize(results["bare"]), summarize(results["cf"])
    print(
        f"bare datatrove      : {n / bare_t:8.1f} docs/s  ({bare_t:6.1f} s, {bare_cpu:6.1f} CPU s)  peak RSS {mb(bare_rss)}"
    )
    print(
        f"corpusforge         : {n / cf_t:8.1f} docs/s  ({cf_t:6.1f} s, {cf_cpu:6.1f} CPU s)  peak RSS {mb(cf_rss)}"
    )
    per_round = ", ".join(f"{b[0] / c[0]:.2f}" for b, c in zip(results["bare"], results["cf"]))
    print(f"ratio corpusforge/bare, wall: {bare_t / cf_t:.2f}x (per round: {per_round}; target >= 0.9)")
    print(f"ratio corpusforge/bare, docs per CPU second: {bare_cpu / cf_cpu:.2f}x (less sensitive to other tenants)")
    t, rss, cpu = run_corpusforge(src, tmp / "cf_dedup", args.tasks, args.workers, QUALITY_FILTERS, dedup=True)
    print(
        f"corpusforge + exact & MinHash dedup: {n / t:8.1f} docs/s ({t:6.1f} s, {cpu:6.1f} CPU s) peak RSS {mb(rss)}"
    )


def worker_scaling(tmp: Path, args) -> None:
    """1 vs 2 workers on the same 2 tasks, corpusforge and bare datatrove side by side (the bare figure is the
    ceiling this pipeline reaches on this machine). Enough documents that start-up does not dominate."""
    n = args.workers_docs
    src = tmp / "src_workers"
    generate(src, n, files=4)
    runs = {}
    for w in (1, 2):
        runs[f"cf{w}"] = lambda r, w=w: run_corpusforge(src, tmp / f"cfw{w}_{r}", 2, w, QUALITY_FILTERS)
        runs[f"bare{w}"] = lambda r, w=w: run_bare(src, tmp / f"barew{w}_{r}", 2, w, QUALITY_FILTERS)
    results = alternated(args.rounds, runs)
    print(f"# worker scaling: {n} docs, tasks=2, quality filters")
    for name in ("cf", "bare"):
        one, two = summarize(results[f"{name}1"])[0], summarize(results[f"{name}2"])[0]
        label = "corpusforge" if name == "cf" else "bare datatrove"
        print(
            f"{label:<15}: 1 worker {n / one:6.1f} docs/s, 2 workers {n / two:6.1f} docs/s: {one / two:.2f}x"
            + (" (target >= 1.7)" if name == "cf" else " (same pipeline without corpusforge)")
        )
    shutil.rmtree(src)


def memory_scaling(tmp: Path, args) -> None:
    small, large = args.scaling_docs
    results = {}
    for size in (small, large):
        folder = tmp / f"src{size}"
        generate(folder, size, files=8)
        t, rss, _ = run_corpusforge(folder, tmp / f"s{size}", 2, 2, [], dedup=True)
        results[size] = rss
        print(f"{size:>8} docs (light filters + dedup): {size / t:8.1f} docs/s  peak RSS {mb(rss)}")
        shutil.rmtree(folder)
    print(f"peak RSS {large} / {small} docs: {results[large] / results[small]:.2f}x (target <= 1.2)")


def main() -> None:
    parser = new_parser(__doc__)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scaling", action="store_true", help="also 1 vs 2 workers and RSS at 20k vs 200k docs")
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, help="run only these parts (default: compare; with --scaling: all)"
    )
    parser.add_argument("--workers-docs", type=int, default=5000, help="documents for the 1 vs 2 workers runs")
    parser.add_argument("--scaling-docs", type=int, nargs=2, default=(20_000, 200_000))
    parser.add_argument("--rounds", type=int, default=3, help="alternate the compared runs this many times")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    with scratch("cf-bench-", args.keep) as tmp:
        parts = args.parts or (PARTS if args.scaling else ["compare"])
        print(f"# {args.rounds} rounds, order alternated; medians (this machine is shared and noisy)")
        if "compare" in parts:
            src = tmp / "src"
            generate(src, args.docs, files=max(args.tasks, 4))
            print(
                f"# {args.docs} docs (~1.4 KB), tasks={args.tasks} workers={args.workers}, filters: {QUALITY_FILTERS}"
            )
            compare_with_bare(src, tmp, args.docs, args)
        if "workers" in parts:
            worker_scaling(tmp, args)
        if "memory" in parts:
            memory_scaling(tmp, args)


if __name__ == "__main__":
    main()
