"""The LLM steps on a real instruct model (SmolLM2-135M-Instruct, transformers on CPU) and real documents.

What a real model writes is what the checks are for: every rewrite the build accepted must pass its step's checks
when they are run again on the written text, and JSON requests on the transformers backend come back as JSON that
validates against the (bounded) schema, because xgrammar constrains the decoding. The same on vLLM, with 20
documents per step, is in test_smollm2_vllm.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusforge.llm.backends.transformers import TransformersBackend
from corpusforge.llm.config import TransformersBackendSpec
from tests.llm.conftest import assert_balanced, run_build
from tests.llm.smollm2_helpers import (
    REAL,
    assert_accepted_rewrites_pass_their_checks,
    assert_every_document_answered,
    assert_json_answers_validate,
    steps_recipe,
)

DOCS = 3  # per step: small, transformers generates slowly on CI's 2 cores

pytestmark = [pytest.mark.realmodel, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_data():
    if not (REAL / "exams" / "medqa_us_4opt_test.jsonl").is_file():
        pytest.skip(f"real data not found at {REAL}")
    return REAL


def test_json_answers_validate_on_transformers(smollm2_dir):
    backend = TransformersBackend(TransformersBackendSpec(), str(smollm2_dir), chat=True)
    backend.load()
    try:
        assert_json_answers_validate(backend)
    finally:
        backend.close()


def test_each_llm_step_on_real_documents_accepts_only_checked_answers(smollm2_dir, real_data, tmp_path):
    out = tmp_path / "out"
    llm = {
        "model": {"name": str(smollm2_dir), "backend": {"type": "transformers", "batch_size": 8}},
        "sampling": {"temperature": 0.0, "top_p": 1.0, "seed": 0},
        "max_retries": 1,
    }
    manifest = run_build(steps_recipe(out, llm, DOCS), tmp_path)
    assert_balanced(manifest)
    assert_every_document_answered(manifest, DOCS)
    assert_accepted_rewrites_pass_their_checks(out, tmp_path / "c")
    assert Path(out / "README.md").is_file()
