"""Which report a path asks for, and writing it (plus, for datasets, the card's plot images)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from corpusforge.errors import InputError
from corpusforge.output.dataset_dir import CARD, MANIFEST, write_text_atomic

REPORT_NAME = "report.html"
PLOTS_HEADING = "Plots"


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
    from corpusforge.report.qa_stats import is_pubmedqa_file

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

    if kind == "build":
        from corpusforge.report.build import collect
        from corpusforge.report.build_page import build_page, card_images, card_section

        data = collect(paths[0], seed=seed)
        page = build_page(data)
        if card and data.manifest.get("status") == "ok":
            set_card_section(paths[0] / CARD, PLOTS_HEADING, card_section(card_images(data)))
    elif kind == "label":
        from corpusforge.report.label_page import card_images, collect_label, label_page

        data = collect_label(paths[0], seed=seed)
        page = label_page(data)
        if card and data.manifest.get("status") == "ok":
            from corpusforge.report.build_page import card_section

            set_card_section(paths[0] / CARD, PLOTS_HEADING, card_section(card_images(data)))
    elif kind == "train":
        from corpusforge.report.train_page import train_page

        page = train_page(paths)
    else:
        from corpusforge.report.qa_page import qa_page

        page = qa_page(paths, tokenizer)
    output.parent.mkdir(parents=True, exist_ok=True)
    return page.write(output)


def set_card_section(card: Path, heading: str, body: str, after: str = "Summary") -> None:
    """Put `## heading` + body into the card after the section `after` (replacing an earlier one of that name)."""
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    block = f"## {heading}\n\n{body.strip()}\n\n"
    existing = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if existing.search(text):
        text = existing.sub(lambda _: block, text, count=1)
    else:
        anchor = re.compile(rf"^## {re.escape(after)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
        match = anchor.search(text)
        if match:
            text = text[: match.end()] + block + text[match.end() :]
        else:
            text = text.rstrip() + "\n\n" + block
    write_text_atomic(card, text.rstrip() + "\n")
