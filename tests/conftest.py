"""Session-wide fixtures: everything expensive is made once per test session and shared."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# a fresh `datasets` cache per session: results never come from an earlier session's cache
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="cf-test-hf-datasets-"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_PUBMEDQA = REPO_ROOT.parent / "shared" / "data" / "pubmedqa"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tokenizer + random-weight Llama (hidden 64, 2 layers, head_dim 32) saved with save_pretrained."""
    from tests.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_tokenizer_file(tiny_model_dir) -> Path:
    """The `tokenizer.json` FILE of the tiny model (datatrove's DocumentTokenizer needs a file path)."""
    return tiny_model_dir / "tokenizer.json"


@pytest.fixture(scope="session")
def real_pubmedqa() -> Path:
    """../shared/data/pubmedqa when present (real PQA-L + official test split), else skip."""
    if not (SHARED_PUBMEDQA / "ori_pqal.json").is_file():
        pytest.skip(f"real PubMedQA data not found at {SHARED_PUBMEDQA}")
    return SHARED_PUBMEDQA
