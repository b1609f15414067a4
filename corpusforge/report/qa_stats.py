"""Statistics of question-answering data the way AntGLM-Med's Table 5 gives them for PubMedQA.

Number of QA pairs, the share of each answer, and the average question, context and long-answer lengths, with the
tokenizer that measured them named next to the numbers (lengths mean nothing without it). Reproducible from the raw
PubMedQA files (`corpusforge report ori_pqal.json [--tokenizer tokenizer.json]`); the build report computes the
same table for the multiple-choice records of a stage-2/3 dataset.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError
from corpusforge.formats.pubmedqa import MalformedItem, iter_items
from corpusforge.output.card import markdown_table

# the regex split of words and punctuation (like NLTK's wordpunct): "HbA1c, adequate?" -> HbA1c , adequate ?
WORD_PUNCT = re.compile(r"\w+|[^\w\s]")
WORD_PUNCT_NAME = r"regex words and punctuation (\w+|[^\w\s])"

# AntGLM-Med Table 5 (from the PubMedQA paper), for comparison next to the measured numbers
PAPER_TABLE5 = {
    "PQA-L": {
        "pairs": 1000,
        "yes": 55.2,
        "no": 33.8,
        "maybe": 11.0,
        "question": 14.4,
        "context": 238.9,
        "answer": 43.2,
    },
    "PQA-U": {
        "pairs": 61200,
        "yes": None,
        "no": None,
        "maybe": None,
        "question": 15.0,
        "context": 237.3,
        "answer": 45.9,
    },
    "PQA-A": {
        "pairs": 211300,
        "yes": 92.8,
        "no": 7.2,
        "maybe": 0.0,
        "question": 16.3,
        "context": 238.0,
        "answer": 41.0,
    },
}
ANSWERS = ("yes", "no", "maybe")


@dataclass
class QAItem:
    question: str
    context: str
    answer: str  # the long answer (PubMedQA) or the explanation / answer text (multiple choice)
    label: str | None = None


@dataclass
class Tokenizer:
    name: str
    count: Callable[[str], int]


def make_tokenizer(spec: str | None) -> Tokenizer:
    """None: the regex word/punctuation split; a tokenizer.json file or a model directory: its tokens."""
    if not spec:
        return Tokenizer(WORD_PUNCT_NAME, lambda text: len(WORD_PUNCT.findall(text)))
    path = Path(spec)
    if path.is_file():
        from tokenizers import Tokenizer as HFTokenizer

        tok = HFTokenizer.from_file(str(path))
        return Tokenizer(f"tokens of {path}", lambda text: len(tok.encode(text, add_special_tokens=False).ids))
    if path.is_dir() or re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        from transformers import AutoTokenizer

        try:
            auto = AutoTokenizer.from_pretrained(spec)
        except OSError as e:
            raise InputError(f"--tokenizer {spec}: cannot load a tokenizer ({e})") from None
        return Tokenizer(f"tokens of {spec}", lambda text: len(auto(text, add_special_tokens=False)["input_ids"]))
    raise InputError(f"--tokenizer {spec}: no such file or folder (give a tokenizer.json or a model folder)")


@dataclass
class QAStats:
    name: str
    pairs: int
    answers: dict[str, float] | None  # share (%) of each answer, None when unlabelled
    question: float
    context: float
    answer: float


def qa_stats(name: str, items: Iterable[QAItem], tokenizer: Tokenizer) -> QAStats:
    n, q, c, a = 0, 0, 0, 0
    labels: Counter = Counter()
    for item in items:
        n += 1
        q += tokenizer.count(item.question)
        c += tokenizer.count(item.context)
        a += tokenizer.count(item.answer)
        if item.label:
            labels[item.label] += 1
    shares = None
    if labels:
        total = sum(labels.values())
        keys = [k for k in ANSWERS if k in labels] + sorted(k for k in labels if k not in ANSWERS)
        shares = {k: 100 * labels[k] / total for k in keys}
    return QAStats(name, n, shares, q / max(n, 1), c / max(n, 1), a / max(n, 1))


def table_rows(stats: list[QAStats], with_paper: bool = False) -> tuple[list[str], list[list[Any]]]:
    """Table 5's layout: one column per dataset (and the paper's value of the same name, when asked)."""
    columns: list[tuple[str, QAStats | dict | None]] = []
    for s in stats:
        columns.append((s.name, s))
        if with_paper and s.name in PAPER_TABLE5:
            columns.append((f"{s.name} (paper)", PAPER_TABLE5[s.name]))
    answers = list(dict.fromkeys(k for s in stats for k in (s.answers or {})))

    def value(col, key):
        if isinstance(col, dict):
            return col.get(key)
        if key in ("pairs", "question", "context", "answer"):
            return round(getattr(col, key), 1) if key != "pairs" else col.pairs
        return round(col.answers[key], 1) if col.answers and key in col.answers else None

    rows = [["Number of QA pairs", *[value(c, "pairs") for _, c in columns]]]
    rows += [[f"Prop. of {k} (%)", *[value(c, k) for _, c in columns]] for k in answers]
    rows += [
        ["Avg. question length", *[value(c, "question") for _, c in columns]],
        ["Avg. context length", *[value(c, "context") for _, c in columns]],
        ["Avg. long answer length", *[value(c, "answer") for _, c in columns]],
    ]
    return ["Statistic", *[name for name, _ in columns]], rows


def markdown(stats: list[QAStats], tokenizer: Tokenizer, with_paper: bool = True) -> str:
    header, rows = table_rows(stats, with_paper)
    shown = [[r[0], *["-" if v is None else v for v in r[1:]]] for r in rows]
    return markdown_table(header, shown) + f"\n\nLengths in {tokenizer.name}."


# ---- raw PubMedQA ---------------------------------------------------------------------------------------------------
def pubmedqa_name(path: Path) -> str:
    """PQA-L / PQA-U / PQA-A from the official file names (ori_pqal.json, ori_pqau.json, ori_pqaa.json)."""
    stem = path.name.lower()
    for marker, name in (
        ("pqal", "PQA-L"),
        ("pqau", "PQA-U"),
        ("pqaa", "PQA-A"),
        ("labeled", "PQA-L"),
        ("unlabeled", "PQA-U"),
        ("artificial", "PQA-A"),
    ):
        if marker in stem:
            return name
    return path.name


def pubmedqa_items(path: Path) -> tuple[list[QAItem], int]:
    """(the items of a raw PubMedQA file: original JSON, JSONL or the Hub's parquet; how many were malformed)."""
    out, malformed = [], 0
    for _, item, _ in iter_items(path):
        if isinstance(item, MalformedItem):
            malformed += 1
            continue
        out.append(QAItem(item.question, item.context, item.long_answer or "", item.final_decision))
    return out, malformed


def is_pubmedqa_file(path: Path) -> bool:
    if not path.is_file() or path.suffix not in (".json", ".jsonl", ".parquet"):
        return False
    if path.suffix == ".json":
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
        return '"QUESTION"' in head and '"CONTEXTS"' in head
    return "pqa" in path.name.lower() or "pubmedqa" in path.name.lower()
