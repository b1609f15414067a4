"""The bundled LLM recipes validate, say what is missing before any I/O, and carry GPU settings to the engine."""

from __future__ import annotations

import pytest

from corpusforge.builder.recipe import load_recipe
from corpusforge.errors import ConfigError
from tests.llm.conftest import REPO

STAGE1 = REPO / "recipes" / "stage1_llm.yaml"
STAGE2 = REPO / "recipes" / "examples" / "stage2_llm_qa.yaml"


def steps_of(recipe, source):
    return {s.type: s for s in recipe.sources[source].steps}


def test_recipes_need_a_model_and_say_how_to_give_it(monkeypatch):
    monkeypatch.chdir(REPO)
    for path in (STAGE1, STAGE2):
        with pytest.raises(ConfigError) as error:
            load_recipe(path)
        assert error.value.problems == [p for p in error.value.problems if p.startswith("llm.model.name: not set")]
        assert "--set llm.model.name=" in str(error.value)


def test_stage1_llm_recipe_resolves_and_gpu_settings_reach_the_engine(monkeypatch):
    from corpusforge.builder.runner import describe_plan
    from corpusforge.llm.backends.vllm import VLLMBackend
    from corpusforge.pipeline.steps.llm.base import vllm_defaults

    monkeypatch.chdir(REPO)
    recipe = load_recipe(STAGE1, ["llm.model.name=/models/m", "llm.model.backend.tensor_parallel_size=4",
                                  "llm.model.backend.gpu_memory_utilization=0.85"])  # fmt: skip
    settings = steps_of(recipe, "kg")["kg.rewrite"].resolved(recipe.llm)
    kwargs = VLLMBackend(vllm_defaults(settings.model.backend), settings.model.name, True).engine_kwargs()
    assert kwargs["tensor_parallel_size"] == 4 and kwargs["gpu_memory_utilization"] == 0.85
    assert kwargs["structured_outputs_config"]["disable_any_whitespace"] is True
    assert "kg.rewrite" in describe_plan(recipe)
    # the same recipe pointed at a server: only the backend section changes
    served = load_recipe(STAGE1, ["llm.model.name=served", "llm.model.backend.type=openai",
                                  "llm.model.backend.base_url=http://gpu:8000/v1"])  # fmt: skip
    assert served.llm.model.backend.base_url == "http://gpu:8000/v1"


def test_step_settings_override_the_recipe_defaults_and_misplaced_steps_are_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    recipe = load_recipe(STAGE2, ["llm.model.name=/models/m", "sources.pubmed_qa.steps.1.sampling.temperature=0",
                                  "sources.pubmed_qa.steps.1.model.name=/models/other"])  # fmt: skip
    books = steps_of(recipe, "books_qa")["llm.qa_from_text"].resolved(recipe.llm)
    pubmed = steps_of(recipe, "pubmed_qa")["llm.qa_from_text"].resolved(recipe.llm)
    assert (books.model.name, books.sampling.temperature, books.sampling.top_p) == ("/models/m", 0.7, 0.9)
    assert (pubmed.model.name, pubmed.sampling.temperature, pubmed.sampling.top_p) == ("/models/other", 0.0, 0.9)
    # kg.rewrite without kg.subgraphs before it, and a bad parser, fail with their YAML paths
    import yaml

    data = yaml.safe_load(STAGE1.read_text())
    data["sources"]["kg"]["steps"] = [{"type": "kg.rewrite"}]
    alone = tmp_path / "alone.yaml"
    alone.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as error:
        load_recipe(alone, ["llm.model.name=/m"])
    assert error.value.problems == [
        "sources.kg.steps.0: kg.rewrite rewrites the subgraphs of a kg.subgraphs step: put it after one"
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(STAGE1.read_text().replace(
        "{type: filter.gopher_repetition}\n\n  # Triples",
        "{type: llm.generate, template: 'x {{ text', parser: {type: regex, pattern: '(('}}\n\n  # Triples",
    ))  # fmt: skip
    with pytest.raises(ConfigError) as error:
        load_recipe(bad, ["llm.model.name=/m"])
    text = str(error.value)
    assert "sources.books.steps.2.parser.regex.pattern" in text and "not a valid regular expression" in text


def test_engines_are_shared_by_steps_kept_warm_between_tasks_and_make_way_for_other_settings(tmp_path):
    import sqlite3

    from corpusforge.llm.config import OpenAIBackendSpec
    from corpusforge.llm.engine import release, shared_engine

    spec, other = OpenAIBackendSpec(), OpenAIBackendSpec(concurrency=2)
    cache = tmp_path / "cache.sqlite"
    first = shared_engine(spec, "m", True, cache)
    assert shared_engine(spec, "m", True, cache) is first  # two steps of one task: one engine
    release(first), release(first)
    assert shared_engine(spec, "m", True, cache) is first  # the next task of this process: still warm
    release(first)
    replacement = shared_engine(other, "m", True, cache)  # other settings: the idle engine is closed first
    assert replacement is not first
    with pytest.raises(sqlite3.ProgrammingError):
        first.cache.db.execute("SELECT 1")
    release(replacement)
