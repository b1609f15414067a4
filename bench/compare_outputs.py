"""Compare two built datasets: are they the same dataset, manifest and card?

A restructuring must not change what a build writes. This compares two output folders of `corpusforge build` (or
two parents holding several of them, matched by name):

- every parquet file under data/: byte-identical, else the rows are compared and the first difference printed;
- manifest.json: equal after dropping what differs between any two runs (built_at, absolute paths);
- the card README.md: equal text after masking timestamps and absolute paths;
- quarantine/ files: the same names and bytes.

    python bench/compare_outputs.py /tmp/before/stage1 out/stage1
    python bench/compare_outputs.py /tmp/before out      # every folder of /tmp/before that has a manifest.json

Exit 0 when everything is the same, 1 with a line per difference otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

_VOLATILE_KEYS = {"built_at", "finished_at", "started_at", "elapsed_s", "seconds", "duration_s", "wall_s"}
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mask(text: str, roots: tuple[Path, ...]) -> str:
    for root in roots:
        text = text.replace(str(root.resolve()), "<OUT>").replace(str(root), "<OUT>")
    return _TIMESTAMP.sub("<TIME>", text)


def _stable(value, roots: tuple[Path, ...]):
    """The manifest without its run-specific values."""
    if isinstance(value, dict):
        return {k: _stable(v, roots) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(v, roots) for v in value]
    if isinstance(value, str):
        return _mask(value, roots)
    return value


def _first_row_difference(a: Path, b: Path) -> str:
    import pyarrow.parquet as pq

    ta, tb = pq.read_table(a), pq.read_table(b)
    if ta.schema != tb.schema:
        return f"schemas differ: {ta.schema} vs {tb.schema}"
    if ta.num_rows != tb.num_rows:
        return f"{ta.num_rows} vs {tb.num_rows} rows"
    for i, (ra, rb) in enumerate(zip(ta.to_pylist(), tb.to_pylist())):
        if ra != rb:
            keys = [k for k in ra if ra.get(k) != rb.get(k)]
            return f"row {i} differs in {keys}"
    return "same rows, different bytes (parquet metadata)"


def compare(a: Path, b: Path) -> list[str]:
    """The differences between two output folders, one line each."""
    problems: list[str] = []
    for sub in ("data", "quarantine"):
        files_a = {p.relative_to(a) for p in (a / sub).rglob("*") if p.is_file()} if (a / sub).exists() else set()
        files_b = {p.relative_to(b) for p in (b / sub).rglob("*") if p.is_file()} if (b / sub).exists() else set()
        for missing in sorted(files_a ^ files_b):
            problems.append(f"{missing}: only in {a if missing in files_a else b}")
        for rel in sorted(files_a & files_b):
            if _digest(a / rel) == _digest(b / rel):
                continue
            if rel.suffix == ".parquet":
                problems.append(f"{rel}: {_first_row_difference(a / rel, b / rel)}")
            elif _mask((a / rel).read_text("utf-8", "replace"), (a,)) != _mask(
                (b / rel).read_text("utf-8", "replace"), (b,)
            ):
                problems.append(f"{rel}: contents differ")
    roots = (a, b)
    manifest_a = _stable(json.loads((a / "manifest.json").read_text()), roots)
    manifest_b = _stable(json.loads((b / "manifest.json").read_text()), roots)
    if manifest_a != manifest_b:
        keys = sorted(k for k in set(manifest_a) | set(manifest_b) if manifest_a.get(k) != manifest_b.get(k))
        problems.append(f"manifest.json differs in {keys}")
    card_a = _mask((a / "README.md").read_text(), roots).splitlines()
    card_b = _mask((b / "README.md").read_text(), roots).splitlines()
    if card_a != card_b:
        import difflib

        diff = list(
            difflib.unified_diff(card_a, card_b, str(a / "README.md"), str(b / "README.md"), lineterm="", n=0)
        )
        problems.append("README.md (card) differs:\n  " + "\n  ".join(diff[:20]))
    return problems


def _pairs(a: Path, b: Path) -> list[tuple[Path, Path]]:
    if (a / "manifest.json").exists():
        return [(a, b)]
    return [(d, b / d.name) for d in sorted(a.iterdir()) if (d / "manifest.json").exists()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    pairs = _pairs(args.before, args.after)
    if not pairs:
        print(f"no built dataset (manifest.json) under {args.before}", file=sys.stderr)
        return 2
    failed = 0
    for a, b in pairs:
        if not (b / "manifest.json").exists():
            print(f"{b.name}: DIFFERENT\n  no manifest.json in {b}")
            failed += 1
            continue
        problems = compare(a, b)
        files = sum(1 for _ in (a / "data").rglob("*.parquet"))
        print(f"{a.name}: {'same' if not problems else 'DIFFERENT'} ({files} parquet files, manifest, card)")
        for p in problems:
            print(f"  {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
