"""Memory bench (issue 25): peak RSS of `corpusforge build` over memory bombs, against the documented bound.

Generates, into a scratch folder, three inputs that each passed 6 GB of RSS before readers read in bounded pieces:

    line    a .jsonl file that is one line with no newline (default 2 GB on disk)
    gzip    a .jsonl.gz gzip bomb: a few MB on disk that inflate to one newline-free line (default 3 GB)
    epub    an EPUB of ~1.5 MB whose one chapter inflates to 1.5 GB (a zip bomb)

and builds each through `corpusforge build` (read.jsonl / read.books, default `max_record_bytes` 64 MiB), under an
address-space limit (`prlimit --as`) so a regression fails the run rather than the machine. Prints per input:
its size on disk and inflated, wall time, the peak RSS of the build's process tree (sampled every 50 ms), the
bound, and what the manifest says became of it. The bound (docs/building.md, "Memory"):

    peak RSS <= the build's own baseline (interpreter, datatrove, pyarrow) + 6 x max_record_bytes

    python bench/bench_memory.py                         # 2 GB line, 3 GB gzip bomb, 1.5 GB EPUB chapter
    python bench/bench_memory.py --line-mb 200 --gzip-mb 600 --epub-mb 300 --inputs line gzip
"""

from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_options, new_parser, scratch, write_json  # noqa: E402
from bench_build import mb, run_measured  # noqa: E402

MiB = 2**20
RECORD_LIMIT = 64 * MiB  # corpusforge's default max_record_bytes
BOUND_FACTOR = 6
INPUTS = ["line", "gzip", "epub"]


def write_line(folder: Path, size_mb: int) -> tuple[Path, int]:
    path = folder / "one_line.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"id": "x", "text": "')
        for _ in range(size_mb):
            f.write(b"a" * MiB)
    return path, path.stat().st_size


def write_gzip_bomb(folder: Path, size_mb: int) -> tuple[Path, int]:
    """Concatenated gzip members (one valid gzip stream to every reader) of 64 MiB of one letter each."""
    member = gzip.compress(b"a" * (64 * MiB), compresslevel=9)
    path = folder / "bomb.jsonl.gz"
    with open(path, "wb") as f:
        f.write(gzip.compress(b'{"id": "x", "text": "'))
        for _ in range(max(1, size_mb // 64)):
            f.write(member)
    return path, max(1, size_mb // 64) * 64 * MiB


def write_epub_bomb(folder: Path, size_mb: int) -> tuple[Path, int]:
    path = folder / "bomb.epub"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml", '<container><rootfiles><rootfile full-path="c.opf"/></rootfiles></container>'
        )
        z.writestr(
            "c.opf",
            '<package><manifest><item id="c1" href="c1.xhtml"/></manifest><spine><itemref idref="c1"/></spine>'
            "</package>",
        )
        with z.open("c1.xhtml", "w", force_zip64=True) as chapter:
            chapter.write(b"<html><body><p>")
            block = b"a" * MiB
            for _ in range(size_mb):
                chapter.write(block)
    return path, size_mb * MiB


def build(folder: Path, out: Path, reader: str, as_limit: int) -> tuple[float, int, dict]:
    recipe = {
        "name": f"memory-{out.name}",
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
        "sources": {"bomb": {"reader": {"type": reader, "path": str(folder)}}},
    }
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    cli = "from corpusforge.cli import main; main()"
    cmd = ["prlimit", f"--as={as_limit}", sys.executable, "-c", cli, "build", str(path)]
    wall, peak, _ = run_measured(cmd)
    return wall, peak, json.loads((out / "manifest.json").read_text())


def outcome(manifest: dict) -> str:
    source = manifest["sources"]["bomb"]
    reasons = {**source.get("quarantined_by_reason", {}), **source.get("files_quarantined_by_reason", {})}
    return (
        f"input {source['input']}, kept {source['kept']}, quarantined {source['quarantined']}, "
        f"files quarantined {source.get('files_quarantined', 0)} ({', '.join(f'{k} {v}' for k, v in reasons.items())})"
    )


def main() -> None:
    parser = new_parser(__doc__)
    add_options(
        parser,
        {
            "--line-mb": (2048, "size of the newline-free .jsonl line"),
            "--gzip-mb": (3072, "what the gzip bomb inflates to"),
            "--epub-mb": (1536, "what the EPUB's chapter inflates to"),
            "--as-limit-gb": (4, "address-space limit of the build (prlimit --as)"),
        },
    )
    parser.add_argument("--inputs", nargs="+", choices=INPUTS, default=INPUTS)
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()
    makers = {
        "line": (write_line, args.line_mb, "read.jsonl"),
        "gzip": (write_gzip_bomb, args.gzip_mb, "read.jsonl"),
        "epub": (write_epub_bomb, args.epub_mb, "read.books"),
    }
    results = {}
    with scratch("cf-bench-memory-") as tmp:
        baseline_in = tmp / "baseline"
        baseline_in.mkdir()
        (baseline_in / "one.jsonl").write_text(json.dumps({"id": "a", "text": "A small record."}) + "\n")
        _, baseline, _ = build(baseline_in, tmp / "out-baseline", "read.jsonl", args.as_limit_gb * 2**30)
        bound = baseline + BOUND_FACTOR * RECORD_LIMIT
        print(f"baseline build (one small record): peak RSS {mb(baseline)}; bound = baseline + "
              f"{BOUND_FACTOR} x max_record_bytes ({mb(RECORD_LIMIT)}) = {mb(bound)}")  # fmt: skip
        print(f"{'input':6} {'on disk':>10} {'inflated':>10} {'wall':>7} {'peak RSS':>10} {'bound':>10}  outcome")
        for name in args.inputs:
            make, size_mb, reader = makers[name]
            folder = tmp / name
            folder.mkdir()
            path, inflated = make(folder, size_mb)
            wall, peak, manifest = build(folder, tmp / f"out-{name}", reader, args.as_limit_gb * 2**30)
            ok = "ok" if peak <= bound else "OVER"
            print(f"{name:6} {mb(path.stat().st_size):>10} {mb(inflated):>10} {wall:6.1f}s {mb(peak):>10} "
                  f"{mb(bound):>10}  [{ok}] {outcome(manifest)}")  # fmt: skip
            results[name] = {"on_disk": path.stat().st_size, "inflated": inflated, "wall_s": wall,
                             "peak_rss": peak, "bound": bound, "within_bound": peak <= bound,
                             "outcome": outcome(manifest)}  # fmt: skip
            path.unlink()
    write_json(args.json, {"baseline_rss": baseline, "inputs": results})
    if not all(r["within_bound"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
