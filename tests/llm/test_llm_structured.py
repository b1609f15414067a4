"""Structured output on the transformers backend needs xgrammar: without it a recipe is refused before any I/O."""

from __future__ import annotations

import pytest

from corpusforge.errors import ConfigError
from corpusforge.llm.backends import structured
from corpusforge.pipeline.steps.llm.config import LLMDefaults
from corpusforge.pipeline.steps.llm.rewrite import KGRewrite
from tests.llm.conftest import run_build


def test_a_json_step_on_transformers_without_xgrammar_is_refused_before_io(monkeypatch, tmp_path):
    monkeypatch.setattr(structured, "available", lambda: False)
    out = tmp_path / "out"
    recipe = {
        "name": "no-xgrammar",
        "kind": "instruct",
        "llm": {"model": {"name": str(tmp_path / "no-model-needed"), "backend": {"type": "transformers"}}},
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "books": {
                "reader": {"type": "read.books", "path": "data/samples/books/endocrinology"},
                "steps": [{"type": "llm.qa_from_text"}],
            },
        },
        "mix": {"splits": {}},
        "dedup": {"exact": {"enabled": False}},
    }
    with pytest.raises(ConfigError, match=r"llm.qa_from_text: model.backend.type=transformers: .* xgrammar"):
        run_build(recipe, tmp_path)
    assert not (out / "data").exists() and not (out / "manifest.json").exists()


def test_text_steps_on_transformers_need_no_xgrammar(monkeypatch, tmp_path):
    monkeypatch.setattr(structured, "available", lambda: False)
    settings = LLMDefaults.model_validate({"model": {"name": "m", "backend": {"type": "transformers"}}})
    step = KGRewrite(KGRewrite.Params(type="kg.rewrite"), settings, cache_path=str(tmp_path / "cache.sqlite"))
    assert not step.uses_structure()
