"""Each kind of bad answer a real small model wrote, returned on purpose by a scripted server: caught, counted by
reason, retried, then accepted or fallen back; nothing that fails a check reaches the dataset."""

from __future__ import annotations

import json
import re
import threading

import pytest
from rich.console import Console

from corpusforge.cli.build import print_report, strict_failure
from tests.llm.conftest import ANSWER, ENTITIES, assert_balanced, kg_exam_recipe, read_rows, run_build, server_llm

pytestmark = pytest.mark.slow  # an HTTP server (in this process) answers the steps

KG_BAD = {
    "prompt_echo": lambda e, p: p.splitlines()[0] + "\n" + good_kg(e),
    "commentary": lambda e, p: "I made the following changes:\n- Added an apostrophe.\n" + good_kg(e),
    "too_long": lambda e, p: " ".join([good_kg(e)] * 15),
    "unsupported_number": lambda e, p: "According to a 2012 report, " + good_kg(e),
    "unsupported_entity": lambda e, p: good_kg(e) + " Rosuvastatin was studied alongside them.",
    "lost_entity": lambda e, p: good_kg(e).replace(e[-1], "another condition"),
}
EXAM_BAD = {
    "bare_answer": lambda a, q: a,
    "question_left": lambda a, q: f"Question: {q}\n{a}",
    "copied_vignette": lambda a, q: re.sub(r"(Which|What) [^.]*\?$", "", q).strip() + f" {a} is the answer.",
    "unsupported_number": lambda a, q: f"{a} is chosen in 97% of such patients in clinical practice.",
    "commentary": lambda a, q: f"Here is the rewritten question as knowledge points: {a} is the right choice here.",
}


def good_kg(entities: list[str]) -> str:
    return "In medicine, " + ", and ".join(entities) + " are related as the facts say."


class Kinds:
    """Which bad kind each item gets: items are numbered in the order they are first seen (by their prompt)."""

    def __init__(self, kinds: dict):
        self.kinds = list(kinds.items())
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def pick(self, key: str, retry: bool):
        """(reason, writer) of the bad answer, or None for a good one: every even item is fixed on its retry."""
        with self.lock:
            i = self.seen.setdefault(key, len(self.seen))
        if retry and i % 2 == 0:
            return None
        return self.kinds[i % len(self.kinds)]


def test_each_bad_rewrite_kind_is_caught_counted_retried_and_falls_back(scripted_server, tmp_path):
    base_url, script = scripted_server
    kg_kinds, exam_kinds = Kinds(KG_BAD), Kinds(EXAM_BAD)

    def answer(prompt: str, retry: bool, body: dict) -> str:
        if found := ENTITIES.search(prompt):
            entities = [e.strip() for e in re.split(r"[;；]", found.group(1)) if e.strip()]
            picked = kg_kinds.pick(found.group(1), retry)
            return good_kg(entities) if picked is None else picked[1](entities, prompt)
        answer_text = ANSWER.search(prompt).group(1).strip()
        question = re.search(r"^Question: (.+)$", prompt, re.MULTILINE).group(1)
        picked = exam_kinds.pick(question, retry)
        if picked is None:
            return f"{answer_text} is the treatment of choice in this situation."
        return picked[1](answer_text, question)

    script.answer = answer
    out = tmp_path / "out"
    recipe = kg_exam_recipe(out, server_llm(base_url))
    # one request at a time: items are numbered in arrival order, which concurrent requests would shuffle, and
    # a bad kind written from another question can be caught under another name (copied_vignette as question_left)
    recipe["llm"]["model"]["backend"]["concurrency"] = 1
    del recipe["sources"]["exam_cmexam"]
    manifest = run_build(recipe, tmp_path)
    assert_balanced(manifest)
    steps = {(e["source"], e["step"]): e["outcomes"] for e in manifest["llm_steps"]}

    for (source, step), kinds in ((("kg", "kg.rewrite"), kg_kinds), (("exam_medqa", "exam.rewrite"), exam_kinds)):
        outcomes = steps[(source, step)]
        n = len(kinds.seen)
        used = {kinds.kinds[i % len(kinds.kinds)][0] for i in range(n)}
        # every kind sent was caught under its own name, on the first try and again on an odd item's retry
        assert {k.removeprefix("failed_") for k in outcomes if k.startswith("failed_")} == used, outcomes
        expected_fallbacks = {}
        for i in range(1, n, 2):
            reason = kinds.kinds[i % len(kinds.kinds)][0]
            expected_fallbacks[f"fallback_{reason}"] = expected_fallbacks.get(f"fallback_{reason}", 0) + 1
        assert {k: v for k, v in outcomes.items() if k.startswith("fallback_")} == expected_fallbacks
        assert outcomes["rewritten"] == (n + 1) // 2 == outcomes["answered_on_try_2"]

    rows = read_rows(out)
    assert len(rows) == manifest["totals"]["kept"]
    for row in rows:
        if "kg.rewrite" in row["transforms"]:
            assert row["text"].startswith("In medicine, ") and "Rosuvastatin" not in row["text"]
        elif "exam.rewrite" in row["transforms"]:
            assert row["text"].endswith("is the treatment of choice in this situation.")
        else:  # fallbacks keep their own text, never the bad answer, and say why
            meta = json.loads(row["meta"])
            assert set(meta["llm_fallback"].values()) <= set(KG_BAD) | set(EXAM_BAD)
            assert "Added an apostrophe" not in row["text"] and not row["text"].startswith("Question:")


def test_qa_pairs_that_repeat_the_question_or_bring_new_facts_are_left_out(scripted_server, tmp_path):
    base_url, script = scripted_server
    good = {"question": "How should the dose of this drug be chosen for an adult?",
            "answer": "The dose is chosen from the patient's kidney function and adjusted with monitoring."}  # fmt: skip
    same = {"question": "Insulin lowers blood glucose.", "answer": "Insulin lowers blood glucose."}
    inside = {"question": "What does insulin do", "answer": "What does insulin do? It lowers blood glucose levels."}
    number = {"question": "How many adults take it?", "answer": "About 4,217 adults take it every single day."}
    name = {"question": "Who makes it?", "answer": "It is made by Zyphorma Laboratories in large amounts."}

    def answer(prompt: str, retry: bool, body: dict) -> str:
        if retry:
            return json.dumps({"pairs": [good, same, inside, number, name]})
        return json.dumps({"pairs": [same, inside]})  # every pair fails: the whole answer is retried

    script.answer = answer
    out = tmp_path / "out"
    recipe = {
        "name": "qa-bad",
        "kind": "instruct",
        "llm": server_llm(base_url),
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "books": {
                "reader": {"type": "read.books", "path": "data/samples/books/endocrinology"},
                "steps": [
                    {"type": "books.chunk", "target_chars": 1200, "max_chars": 2400, "min_chars": 100},
                    {"type": "llm.qa_from_text", "max_pairs": 5},
                ],
            },
        },
        "mix": {"splits": {}},
        "dedup": {"exact": {"enabled": False}},
    }
    manifest = run_build(recipe, tmp_path)
    assert_balanced(manifest)
    qa = manifest["sources"]["books"]["details"]["llm.qa_from_text"]
    outcomes = next(e["outcomes"] for e in manifest["llm_steps"])
    answered = outcomes["answered_on_try_2"]
    assert answered > 0 and "answered_on_try_1" not in outcomes
    assert outcomes["failed_question_in_answer"] == answered  # the first try of every passage
    assert qa["pairs_left_out_question_in_answer"] == 2 * answered
    assert qa["pairs_left_out_unsupported_number"] == answered
    assert qa["pairs_left_out_unsupported_entity"] == answered
    rows = read_rows(out)
    assert len(rows) == qa["pairs"] == answered
    assert all(r["messages"][0]["content"] == good["question"] for r in rows)


def test_a_degenerate_build_is_loud_and_fails_under_strict(scripted_server, tmp_path):
    """Every kg rewrite falls back, most exam answers are cut at max_tokens: warnings in the manifest, card and
    printed summary; --strict fails the build on them."""
    base_url, script = scripted_server

    def answer(prompt: str, retry: bool, body: dict):
        if ENTITIES.search(prompt):
            return "I made the following changes: none."
        return ("The answer runs on and on and", "length")

    script.answer = answer
    recipe = kg_exam_recipe(tmp_path / "out", server_llm(base_url))
    del recipe["sources"]["exam_cmexam"]
    manifest = run_build(recipe, tmp_path)
    warnings = manifest["warnings"]
    assert manifest["status"] == "ok"  # not strict: written, with warnings
    assert any("kg.rewrite of source 'kg'" in w and "fell back" in w and "commentary" in w for w in warnings)
    assert any("exam.rewrite" in w and "cut at max_tokens (384)" in w for w in warnings)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "**Warnings:**" in card and "fell back" in card
    printed = Console(record=True, width=300)
    print_report(printed, manifest, tmp_path / "out")
    assert "warning: LLM step kg.rewrite" in printed.export_text()

    strict = run_build(recipe, tmp_path, strict=True, overwrite=True)
    assert strict["status"] == "failed_strict" and strict["warnings"] == warnings
    assert strict_failure(strict, tmp_path / "out").startswith(f"--strict: {len(warnings)} warning(s): ")


def test_a_build_that_wrote_nothing_warns(scripted_server, tmp_path):
    base_url, script = scripted_server
    script.answer = lambda prompt, retry, body: "no json"
    recipe = {
        "name": "qa-none",
        "kind": "instruct",
        "llm": server_llm(base_url),
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "books": {
                "reader": {"type": "read.books", "path": "data/samples/books/endocrinology"},
                "steps": [
                    {"type": "books.chunk", "target_chars": 1200, "max_chars": 2400, "min_chars": 100},
                    {"type": "llm.qa_from_text"},
                ],
            },
        },
        "mix": {"splits": {}},
        "dedup": {"exact": {"enabled": False}},
    }
    manifest = run_build(recipe, tmp_path)
    assert manifest["rows_written"] == 0
    assert any(
        w.startswith("the build wrote no records (most dropped: qa_invalid_json") for w in manifest["warnings"]
    )
    assert any("llm.qa_from_text" in w and "fell back" in w for w in manifest["warnings"])
