"""LLM steps against an OpenAI-compatible server with scripted answers: accepted, retried, fallen back, counted."""

from __future__ import annotations

import json

import pytest

from tests.llm.conftest import (
    assert_balanced,
    kg_exam_recipe,
    read_rows,
    run_build,
    server_llm,
    step_details,
)

pytestmark = pytest.mark.slow  # an HTTP server (in this process) answers the steps


def test_rewrites_are_checked_retried_and_fall_back_with_counted_reasons(scripted_server, tmp_path):
    base_url, script = scripted_server
    out = tmp_path / "out"
    manifest = run_build(kg_exam_recipe(out, server_llm(base_url)), tmp_path)
    assert_balanced(manifest)
    rows = read_rows(out)
    by_source = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)

    # kg: every subgraph is either rewritten (the retry kept every entity) or keeps its template text
    kg = step_details(manifest, "kg", "kg.rewrite")
    fallbacks = {k.removeprefix("fallback_"): n for k, n in kg.items() if k.startswith("fallback_")}
    assert manifest["sources"]["kg"]["kept"] == len(by_source["kg"]) == kg["rewritten"] + sum(fallbacks.values())
    assert kg["rewritten"] > 0 and fallbacks.get("lost_entity", 0) > 0
    for row in by_source["kg"]:
        meta = json.loads(row["meta"])
        entities = {x for h, _, t in meta["triples"] for x in (h, t)}
        if "kg.rewrite" in row["transforms"]:
            assert row["text"].startswith("In medicine, ")
            assert all(e in row["text"] for e in entities)
        else:  # the fallback: the template paragraph kg.subgraphs wrote, and why
            assert meta["llm_fallback"]["kg.rewrite"] in fallbacks  # lost_entity, or too_short for the Chinese
            assert not row["text"].startswith(("In short", "This paragraph"))
    # first try of every subgraph lost an entity: one retry each (max_retries 1) -> 2 requests per subgraph
    assert kg["llm_requests"] == kg["llm_requests_sent"] == 2 * len(by_source["kg"])

    # exam (English): the first try leaves an option letter, the retry is a clean knowledge point
    medqa = step_details(manifest, "exam_medqa", "exam.rewrite")
    assert medqa["rewritten"] == len(by_source["exam_medqa"]) == manifest["sources"]["exam_medqa"]["input"]
    assert all(
        r["text"].startswith("The key fact: ") and "exam.rewrite" in r["transforms"] for r in by_source["exam_medqa"]
    )
    # exam (Chinese): a question mark every time -> the rule-based knowledge point, counted by reason
    cmexam = step_details(manifest, "exam_cmexam", "exam.rewrite")
    assert cmexam["fallback_question_mark"] == len(by_source["exam_cmexam"])
    assert all("？" not in r["text"] and "exam.knowledge_points" in r["transforms"] for r in by_source["exam_cmexam"])

    # the card and manifest say which model answered, with which settings, and what it cost
    steps = {(e["source"], e["step"]): e for e in manifest["llm_steps"]}
    entry = steps[("kg", "kg.rewrite")]
    assert entry["model"] == "scripted" and entry["backend"] == "openai"
    assert entry["sent"] == kg["llm_requests_sent"] and entry["cache_hits"] == 0
    assert entry["prompt_tokens"] > 0 and entry["completion_tokens"] > 0
    assert set(entry["templates"]) == {"kg_rewrite.en.jinja", "kg_rewrite.zh.jinja"}
    assert entry["outcomes"]["fallback_lost_entity"] == kg["fallback_lost_entity"]
    card = (out / "README.md").read_text()
    assert "## LLM steps" in card and "fallback_lost_entity" in card

    # the same recipe into a new output, sharing the cache: every answer comes from it, nothing is sent
    calls = script.calls
    shared = str(out / ".corpusforge" / "llm_cache.sqlite")
    again = run_build(kg_exam_recipe(tmp_path / "again", server_llm(base_url, cache=shared)), tmp_path)
    assert script.calls == calls
    assert sum(e["sent"] for e in again["llm_steps"]) == 0
    assert sum(e["cache_hits"] for e in again["llm_steps"]) == sum(e["requests"] for e in manifest["llm_steps"])
    assert read_rows(tmp_path / "again") == rows


def test_qa_from_text_score_and_generate_from_a_server(scripted_server, tmp_path):
    base_url, _ = scripted_server
    out = tmp_path / "out"
    recipe = {
        "name": "qa-synth",
        "kind": "instruct",
        "llm": server_llm(base_url),
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "books": {
                "reader": {"type": "read.books", "path": "data/samples/books/endocrinology"},
                "steps": [
                    {"type": "books.chunk", "target_chars": 1200, "max_chars": 2400, "min_chars": 100},
                    {"type": "llm.score", "key": "edu", "threshold": 1},
                    {"type": "llm.generate", "template": "Title for: {{ text[:200] }}", "target": "metadata.title",
                     "parser": {"type": "regex", "pattern": "^(\\w+)", "group": 1}},
                    {"type": "llm.qa_from_text", "max_pairs": 2},
                ],
            },
        },
        "mix": {"splits": {}},
        "dedup": {"exact": {"enabled": False}},
    }  # fmt: skip
    manifest = run_build(recipe, tmp_path)
    assert_balanced(manifest)
    details = manifest["sources"]["books"]["details"]
    score, qa = details["llm.score"], details["llm.qa_from_text"]
    dropped = manifest["sources"]["books"]["dropped"]
    # scores 0 are dropped under threshold 1, counted like any filter
    assert dropped.get("edu_below_threshold", 0) == score.get("score_0", 0)
    assert details["llm.generate"]["generated"] == sum(
        v for k, v in score.items() if k.startswith("score_")
    ) - dropped.get("edu_below_threshold", 0)
    # the first try is not JSON, the retry has one good pair and one that cites "the passage" (left out)
    assert qa["pairs"] == qa["pairs_left_out_mentions_passage"] > 0
    rows = read_rows(out)
    assert len(rows) == qa["pairs"] == manifest["totals"]["kept"]
    for row in rows:
        assert row["task"] == "free_qa/from_text" and row["task_id"] == 6
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["provenance"]["file"] and row["provenance"]["record_id"]
        assert "passage" not in row["messages"][1]["content"]


def test_a_recipe_folder_replaces_a_builtin_prompt_and_its_hash_keys_new_answers(scripted_server, tmp_path):
    base_url, script = scripted_server
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "exam_rewrite.en.jinja").write_text(
        "CUSTOM PROMPT. State the fact.\nQuestion: {{ question }}\nCorrect answer: {{ answer }}\n"
    )
    seen = []
    original = script.answer
    script.answer = lambda prompt, retry, body: seen.append(prompt) or original(prompt, retry, body)
    recipe = kg_exam_recipe(tmp_path / "out", server_llm(base_url), kg=False)
    recipe["sources"]["exam_medqa"]["steps"][0]["templates"] = str(prompts)
    del recipe["sources"]["exam_cmexam"]
    manifest = run_build(recipe, tmp_path)
    assert_balanced(manifest)
    assert seen and all(p.startswith("CUSTOM PROMPT.") for p in seen)
    entry = manifest["llm_steps"][0]
    builtin = run_build(kg_exam_recipe(tmp_path / "builtin", server_llm(base_url), kg=False), tmp_path)
    builtin_hashes = next(e for e in builtin["llm_steps"] if e["source"] == "exam_medqa")["templates"]
    assert entry["templates"]["exam_rewrite.en.jinja"] != builtin_hashes["exam_rewrite.en.jinja"]
    assert entry["templates"]["exam_rewrite.zh.jinja"] == builtin_hashes["exam_rewrite.zh.jinja"]
