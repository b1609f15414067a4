"""Which report a path asks for, and writing it (plus, for datasets, the card's plot images: card_parts.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from corpusforge.errors import InputError
from corpusforge.output.dataset_dir import MANIFEST
from corpusforge.report.build import collect
from corpusforge.report.build_page import build_page
from corpusforge.report.build_page import card_figures as build_card_figures
from corpusforge.report.card_parts import write_card_plots
from corpusforge.report.label_page import card_figures as label_card_figures
from corpusforge.report.label_page import collect_label, label_page
from corpusforge.report.qa_page import qa_page
from corpusforge.report.qa_stats import is_pubmedqa_file
from corpusforge.report.train_page import train_page

REPORT_NAME = "report.html"


def detect_kind(path: Path) -> str:
    """build | label | train | pubmedqa, from what the path holds; InputError naming what was expected."""
    path = Path(path)
    if path.is_dir() and (path / MANIFEST).is_file():
        try:
            kind = json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("kind")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path / MANIFEST}: not valid JSON ({e})") from None
        if kind in ("pretrain", "instruct"):
            return "build"
        if kind == "label":
            return "label"
    if path.is_dir() and ((path / "metrics.jsonl").is_file() or (path / "train_config.yaml").is_file()):
        return "train"
    if is_pubmedqa_file(path):
        return "pubmedqa"
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    raise InputError(
        f"{path}: not something corpusforge wrote (no manifest.json of a build or label run, no metrics.jsonl of a "
        "training run) nor a PubMedQA file (ori_pqal.json, ori_pqau.json, the Hub's parquet)"
    )


def default_output(paths: Sequence[Path], kind: str) -> Path:
    if kind == "pubmedqa":
        return Path.cwd() / f"{paths[0].stem}_report.html"
    if len(paths) == 1:
        return paths[0] / REPORT_NAME
    parents = {p.resolve().parent for p in paths}
    return (parents.pop() if len(parents) == 1 else Path.cwd()) / "training_report.html"


def write_report(
    paths: Path | Sequence[Path],
    output: Path | None = None,
    *,
    card: bool = False,
    tokenizer: str | None = None,
    seed: int = 0,
) -> Path:
    """Write the report of `paths` (one output directory, several training runs, or PubMedQA files).

    `card`: also write the main plots as images into a dataset directory and show them in its card.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise InputError("give at least one path")
    kinds = {p: detect_kind(p) for p in paths}
    distinct = set(kinds.values())
    if len(distinct) > 1:
        raise InputError("one kind of output per report: " + ", ".join(f"{p} is {k}" for p, k in kinds.items()))
    kind = distinct.pop()
    if len(paths) > 1 and kind not in ("train", "pubmedqa"):
        raise InputError(f"several paths make one report only for training runs or PubMedQA files, not {kind}")
    output = Path(output) if output else default_output(paths, kind)

    figures = None  # the plots a dataset's card shows
    if kind == "build":
        data = collect(paths[0], seed=seed)
        page = build_page(data)
        if card and data.manifest.get("status") == "ok":
            figures = build_card_figures(data)
    elif kind == "label":
        data = collect_label(paths[0], seed=seed)
        page = label_page(data)
        if card and data.manifest.get("status") == "ok":
            figures = label_card_figures(data)
    elif kind == "train":
        page = train_page(paths)
    else:
        page = qa_page(paths, tokenizer)
    if figures is not None:
        write_card_plots(paths[0], figures)
    output.parent.mkdir(parents=True, exist_ok=True)
    return page.write(output)
