"""Build benchmark: corpusforge's stage-1 pipeline against a bare datatrove pipeline, side by side in one run.

Both read the same generated JSONL documents, run the same datatrove filters and write parquet; corpusforge adds
what it is for (quarantine-aware reader, per-source accounting, an intermediate hand-off to the write stage, schema
validation of every record, manifest and card). Printed: docs/s of each and their ratio, peak RSS of the whole
process tree, and (with --scaling) the same at two sizes and with 1 vs 2 workers.

    python bench/bench_build.py                       # 2000 docs, quality filters, tasks=2 workers=2
    python bench/bench_build.py --scaling             # + RSS at 20k vs 200k docs (light filters) and 1 vs 2 workers

Targets (issue 2): ratio >= 0.9; 2 workers >= 1.7x 1 worker; peak RSS at 200k <= 1.2x that at 20k.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from statistics import median

import psutil

WORDS = (
    "the patient was treated with insulin and metformin for type two diabetes while blood pressure and heart rate "
    "were monitored in the clinic each week during the randomized trial of chronic kidney disease outcomes among "
    "adults with hypertension who received statins aspirin or placebo and the results showed a significant decrease "
    "in mortality"
).split()

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


def run_measured(cmd: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of the process tree of `cmd`, sampled every 50 ms."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{cmd} failed with exit code {proc.returncode}")
    return wall, peak


def run_bare(src: Path, out: Path, tasks: int, workers: int, filters: list[str]) -> tuple[float, int]:
    script = out.parent / f"{out.name}_bare.py"
    script.write_text(BARE)
    return run_measured(
        [sys.executable, str(script), str(src), str(out), str(tasks), str(workers), ",".join(filters)]
    )


def run_corpusforge(src, out, tasks, workers, filters, dedup=False) -> tuple[float, int]:
    import yaml

    recipe = out.parent / f"{out.name}.yaml"
    recipe.write_text(yaml.safe_dump(corpusforge_recipe(src, out, tasks, workers, filters, dedup)))
    return run_measured([sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(recipe)])


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scaling", action="store_true", help="also RSS at 20k vs 200k docs and 1 vs 2 workers")
    parser.add_argument("--scaling-docs", type=int, nargs=2, default=(20_000, 200_000))
    parser.add_argument("--rounds", type=int, default=3, help="alternate the compared runs this many times")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    try:
        src = tmp / "src"
        generate(src, args.docs, files=max(args.tasks, 4))
        print(f"# {args.docs} docs (~1.4 KB), tasks={args.tasks} workers={args.workers}, filters: {QUALITY_FILTERS}")
        print(f"# {args.rounds} rounds, runs alternated; medians (this machine is shared and noisy)")
        n = args.docs
        runs: dict[str, list[tuple[float, int]]] = {"bare": [], "cf": []}
        for r in range(args.rounds):
            runs["bare"].append(run_bare(src, tmp / f"bare{r}", args.tasks, args.workers, QUALITY_FILTERS))
            runs["cf"].append(run_corpusforge(src, tmp / f"cf{r}", args.tasks, args.workers, QUALITY_FILTERS))
        bare_t, cf_t = median(t for t, _ in runs["bare"]), median(t for t, _ in runs["cf"])
        bare_rss, cf_rss = max(m for _, m in runs["bare"]), max(m for _, m in runs["cf"])
        print(f"bare datatrove      : {n / bare_t:8.1f} docs/s  ({bare_t:6.1f} s)  peak RSS {mb(bare_rss)}")
        print(f"corpusforge         : {n / cf_t:8.1f} docs/s  ({cf_t:6.1f} s)  peak RSS {mb(cf_rss)}")
        ratios = [b / c for (b, _), (c, _) in zip(runs["bare"], runs["cf"])]
        print(
            f"ratio corpusforge/bare: {bare_t / cf_t:.2f}x (per round: {', '.join(f'{x:.2f}' for x in ratios)}; target >= 0.9)"
        )
        cfd_t, cfd_rss = run_corpusforge(src, tmp / "cf_dedup", args.tasks, args.workers, QUALITY_FILTERS, dedup=True)
        print(f"corpusforge + exact & MinHash dedup: {n / cfd_t:8.1f} docs/s ({cfd_t:6.1f} s) peak RSS {mb(cfd_rss)}")

        if args.scaling:
            times: dict[int, list[float]] = {1: [], 2: []}
            for r in range(args.rounds):
                for w in (1, 2):
                    times[w].append(run_corpusforge(src, tmp / f"w{w}_{r}", args.tasks, w, QUALITY_FILTERS)[0])
            one_t, two_t = median(times[1]), median(times[2])
            print(
                f"workers: 1 -> {n / one_t:.1f} docs/s, 2 -> {n / two_t:.1f} docs/s: {one_t / two_t:.2f}x (target >= 1.7)"
            )
            small, large = args.scaling_docs
            results = {}
            for size in (small, large):
                folder = tmp / f"src{size}"
                generate(folder, size, files=8)
                t, rss = run_corpusforge(folder, tmp / f"s{size}", 2, 2, [], dedup=True)
                results[size] = (t, rss)
                print(f"{size:>8} docs (light filters + dedup): {size / t:8.1f} docs/s  peak RSS {mb(rss)}")
                shutil.rmtree(folder)
            ratio = results[large][1] / results[small][1]
            print(f"peak RSS {large} / {small} docs: {ratio:.2f}x (target <= 1.2)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
