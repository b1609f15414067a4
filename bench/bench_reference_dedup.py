"""Deduplication against a reference corpus (`dedup.reference`): recall on planted copies, false drops on fresh
documents, whether each drop names the right reference document, and a cold build against a cached rerun.

1. The reference: `recipes/examples/real_stage1.yaml` built by `corpusforge build` (a Project Gutenberg book in
   chunks, PharmacotherapyDB subgraphs, BC5CDR abstracts, PMC articles from ../shared/data/real).
2. A new source (JSON lines): copies of `--planted` reference documents, a third each verbatim, with 3 words
   replaced ("light edit") and with 10% of their words replaced (a heavier edit, reported on its own), among
   fresh documents the reference does not hold (PQA-L contexts and MedQA test questions).
3. `corpusforge build` of the new source with `dedup.reference` on the reference output, twice, into two outputs
   sharing the index cache: the first computes the reference's signatures, the second must reuse them.

`--scale N` also indexes a synthetic reference of N documents of 150 words in a child process and reports its
build rate, peak memory, size on disk, and the lookup rate and peak memory of a process querying it.
Usage:
    python bench/bench_reference_dedup.py [--planted 300] [--scale 100000] [--keep]
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import add_options, new_parser, scratch  # noqa: E402

REAL = REPO.parent / "shared/data/real"
PUBMEDQA = REPO.parent / "shared/data/pubmedqa"
CLI = [sys.executable, "-c", "from corpusforge.cli import main; main()"]


def corpusforge(*args: str) -> float:
    """Run the CLI; its wall time in seconds (a failure stops the bench with the CLI's output)."""
    started = time.perf_counter()
    proc = subprocess.run([*CLI, *args], cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"corpusforge {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - started


def reference_rows(output: Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for path in sorted((output / "data").rglob("*.parquet")):
        rows += pq.read_table(path, columns=["id", "source", "text"]).to_pylist()
    return rows


def replace_words(text: str, rng: random.Random, count: int) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), min(count, len(words))):
        words[i] = f"w{rng.randrange(10**6)}"
    return " ".join(words)


def fresh_documents() -> list[str]:
    from corpusforge.formats import pubmedqa as pqa

    pqal = [item.context for _, item, _ in pqa.iter_items(PUBMEDQA / "ori_pqal.json")]
    medqa = [
        json.loads(line)["question"]
        for line in (REAL / "exams/medqa_us_4opt_test.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return pqal + medqa


def plant(rows: list[dict], planted: int, path: Path, seed: int = 7) -> dict[str, dict]:
    """The new source's records; returns {new id: {"group", "ref"}} (ref: the copied reference id, or None)."""
    rng = random.Random(seed)
    long_enough = [r for r in rows if len(r["text"].split()) >= 40]  # a 10% edit of a 10-word text is no copy
    chosen = rng.sample(long_enough, min(planted, len(long_enough)))
    truth, records = {}, []
    for i, row in enumerate(chosen):
        group = ("verbatim", "3 words replaced", "10% of words replaced")[i % 3]
        text = row["text"]
        if group == "3 words replaced":
            text = replace_words(text, rng, 3)
        elif group == "10% of words replaced":
            text = replace_words(text, rng, len(text.split()) // 10)
        records.append({"id": f"planted{i}", "text": text})
        truth[f"new:planted{i}"] = {"group": group, "ref": row["id"]}
    for i, text in enumerate(fresh_documents()):
        records.append({"id": f"fresh{i}", "text": text})
        truth[f"new:fresh{i}"] = {"group": "fresh", "ref": None}
    rng.shuffle(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return truth


def new_source_recipe(path: Path, source: Path, reference: Path, output: Path, cache: Path, lsh: dict) -> Path:
    import yaml

    recipe = {
        "name": "new-source-vs-reference",
        "output": {"path": str(output)},
        "executor": {"type": "local", "tasks": 2, "workers": 2},
        "sources": {
            "new": {
                "reader": {"type": "read.jsonl", "path": str(source)},
                "steps": [{"type": "dedup.reference", "path": str(reference), "cache_dir": str(cache), **lsh}],
            }
        },
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def read_matches(output: Path) -> dict[str, dict]:
    files = sorted((output / ".corpusforge/reference_dedup").rglob("*.matches.jsonl"))
    return {m["id"]: m for f in files for m in map(json.loads, f.read_text().splitlines())}


def score(truth: dict[str, dict], found: dict[str, dict]) -> None:
    groups: dict[str, list[str]] = {}
    for doc_id, t in truth.items():
        groups.setdefault(t["group"], []).append(doc_id)
    print(f"{'group':<24}{'documents':>10}{'dropped':>9}{'recall':>9}{'right ref id':>14}  by reason")
    for group, ids in groups.items():
        dropped = [i for i in ids if i in found]
        right = sum(found[i]["ref"] == truth[i]["ref"] for i in dropped)
        reasons: dict[str, int] = {}
        for i in dropped:
            reasons[found[i]["reason"]] = reasons.get(found[i]["reason"], 0) + 1
        share = len(dropped) / len(ids)
        label = "false drops" if group == "fresh" else "recall"
        print(
            f"{group:<24}{len(ids):>10}{len(dropped):>9}{share:>9.1%}"
            f"{(str(right) + '/' + str(len(dropped))) if group != 'fresh' else '-':>14}  "
            + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
            + ("" if group != "fresh" else f"  ({label})")
        )
    planted = [i for i, t in truth.items() if t["ref"]]
    caught = [i for i in planted if i in found]
    right = sum(found[i]["ref"] == truth[i]["ref"] for i in caught)
    fresh = groups.get("fresh", [])
    false = [i for i in fresh if i in found]
    print(
        f"planted: {len(caught)}/{len(planted)} caught ({len(caught) / len(planted):.1%}); matched id right: "
        f"{right}/{len(caught)}; fresh documents dropped: {len(false)}/{len(fresh)} ({len(false) / len(fresh):.2%})"
    )
    for i in caught:
        if found[i]["ref"] != truth[i]["ref"]:
            print(f"  {i} ({truth[i]['group']}): matched {found[i]['ref']} (similarity {found[i]['similarity']}), "
                  f"planted from {truth[i]['ref']}")  # fmt: skip
    for i in false:
        print(f"  false drop {i}: matched {found[i]['ref']} (similarity {found[i]['similarity']})")


SCALE_CHILD = r"""
import json, random, resource, sys, time
from pathlib import Path
from corpusforge.pipeline.reference.cache import obtain_index
from corpusforge.pipeline.reference.index import IndexParams
from corpusforge.pipeline.reference.sources import ReferenceSpec, open_reference
mode, path, cache, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # after the imports
started = time.perf_counter()
obtained = obtain_index(open_reference(ReferenceSpec(path=path)), IndexParams(), 0.5, cache)
out = {"seconds": time.perf_counter() - started, "built": obtained.built, "meta": obtained.index.meta}
out["cpu_seconds"] = obtained.index.meta["build_cpu_seconds"]
if mode == "query":
    rng = random.Random(3)
    total = obtained.index.meta["documents"]
    wanted = set(rng.sample(range(total), n))
    texts = []
    with open(path) as f:  # streamed: the bench holds only the n texts it looks up
        for line_no, line in enumerate(f):
            if line_no in wanted:  # a reference text with 3 words replaced: a near lookup, not an exact one
                words = json.loads(line)["text"].split()
                for i in rng.sample(range(len(words)), 3):
                    words[i] = "edited"
                texts.append(" ".join(words))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.process_time()
    hits = sum(obtained.index.match(t) is not None for t in texts)
    out.update(query_cpu_s=time.process_time() - started, hits=hits, rss_before_lookups_mb=before)
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
for key in ("RssAnon", "RssFile"):  # now: the process's own memory, and the index pages it maps
    out[key] = int(status.get(key, "0 kB").split()[0]) / 1024
out["baseline_rss_mb"] = baseline
print(json.dumps(out))
"""


def scale(n: int, work: Path) -> None:
    rng = random.Random(11)
    vocabulary = [f"{a}{b}" for a in "bcdfghklmnprstvz" for b in ("ab", "en", "ix", "ol", "um", "ar", "et", "io")]
    path = work / "synthetic.jsonl"
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"s{i}", "text": " ".join(rng.choices(vocabulary, k=150))}) + "\n")
    env_cmd = [sys.executable, "-c", SCALE_CHILD]

    def child(mode: str, queries: int = 0) -> dict:
        proc = subprocess.run([*env_cmd, mode, str(path), str(work / "scale-cache"), str(queries)], cwd=REPO,
                              capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""})  # fmt: skip
        if proc.returncode:
            sys.exit(proc.stderr)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    built = child("build")
    query = child("query", 2000)
    meta = built["meta"]
    print(f"\nsynthetic reference of {n:,} documents x 150 words ({path.stat().st_size / 2**20:.0f} MiB of JSONL):")
    print(
        f"  index built in {built['seconds']:.1f}s wall, {built['cpu_seconds']:.1f} CPU-s "
        f"({n / built['cpu_seconds']:,.0f} documents per CPU-s), peak RSS "
        f"{built['max_rss_mb']:.0f} MiB ({built['baseline_rss_mb']:.0f} MiB after the imports; at the end "
        f"{built['RssAnon']:.0f} MiB anonymous + {built['RssFile']:.0f} MiB file-backed); "
        f"{meta['bytes_on_disk'] / 2**20:.1f} MiB on disk "
        f"({meta['bytes_on_disk'] / n:.0f} bytes per document)"
    )
    print(
        f"  a process reusing it: opened in {query['seconds']:.2f}s (built: {query['built']}); 2,000 lookups of "
        f"reference texts with 3 words replaced in {query['query_cpu_s']:.2f} CPU-s "
        f"({query['query_cpu_s'] / 2:.2f} CPU-s per 1,000), {query['hits']}/2000 found; peak RSS "
        f"{query['max_rss_mb']:.0f} MiB ({query['baseline_rss_mb']:.0f} MiB after the imports, "
        f"{query['rss_before_lookups_mb']:.0f} MiB once the index was open); after the lookups "
        f"{query['RssAnon']:.0f} MiB anonymous + {query['RssFile']:.0f} MiB file-backed (memory-mapped index pages "
        "and libraries, reclaimable)"
    )


def main() -> None:
    parser = new_parser(__doc__)
    add_options(parser, {"--planted": (300, "reference documents copied into the new source"),
                         "--scale": (0, "also index a synthetic reference of this many documents"),
                         "--n-grams": (0, "the step's n_grams (0: its default)"),
                         "--buckets": (0, "the step's num_buckets (0: its default)"),
                         "--hashes": (0, "the step's hashes_per_bucket (0: its default)")})  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    if not (REAL / "pubmed/bc5cdr_train.jsonl").is_file() or not (PUBMEDQA / "ori_pqal.json").is_file():
        sys.exit(f"the real data is not there ({REAL}, {PUBMEDQA})")
    with scratch("bench-reference-", keep=args.keep) as work:
        reference = work / "real_stage1"
        seconds = corpusforge("build", "recipes/examples/real_stage1.yaml", "-o", str(reference), "--no-report")
        rows = reference_rows(reference)
        print(f"reference: recipes/examples/real_stage1.yaml built in {seconds:.1f}s, {len(rows):,} documents")
        truth = plant(rows, args.planted, work / "new.jsonl")
        print(f"new source: {len(truth):,} documents, {sum(1 for t in truth.values() if t['ref'])} planted copies")

        cache = work / "cache"
        lsh = {k: v for k, v in (("n_grams", args.n_grams), ("num_buckets", args.buckets),
                                 ("hashes_per_bucket", args.hashes)) if v}  # fmt: skip
        times, manifests = [], []
        for run in ("first", "second"):
            out = work / f"new-{run}"
            recipe = new_source_recipe(work / f"{run}.yaml", work / "new.jsonl", reference, out, cache, lsh)
            times.append(corpusforge("build", str(recipe), "--no-report"))
            manifests.append(json.loads((out / "manifest.json").read_text()))
        first, second = (m["reference_dedup"][0] for m in manifests)
        params = first["params"]
        print(
            f"dedup.reference with {params['n_grams']}-grams, {params['num_buckets']} x {params['hashes_per_bucket']} "
            f"LSH, min_similarity {params['min_similarity']}"
        )
        print(
            f"  first build {times[0]:.1f}s wall: index of {first['index']['documents']:,} documents built by "
            f"{first['tasks_that_built_the_index']} task, obtained in {first['seconds_to_obtain_the_index']:.2f}s "
            f"(building it: {first['index']['build_seconds']:.2f}s wall, {first['index']['build_cpu_seconds']:.2f} "
            "CPU-s)"
        )
        print(
            f"  second build {times[1]:.1f}s wall: tasks that rebuilt the index: "
            f"{second['tasks_that_built_the_index']}, obtained in {second['seconds_to_obtain_the_index']:.2f}s; "
            f"same index: {first['index_key'] == second['index_key']}"
        )
        print(f"manifest: checked {first['checked']:,}, removed {first['removed']:,} {first['by_reason']}\n")
        found = read_matches(work / "new-first")
        assert found == read_matches(work / "new-second"), "the cached index gave other matches"
        score(truth, found)
        if args.scale:
            scale(args.scale, work)


if __name__ == "__main__":
    main()
