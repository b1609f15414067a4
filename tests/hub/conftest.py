"""Fixtures for push tests: a fake Hub on 127.0.0.1 and a small built instruction dataset directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hub.fake_hub import FakeHub
from tests.instruct.helpers import records_from_samples, write_dataset_dir  # noqa: F401

TOKEN = "hf_corpusforgeSecretTestToken7Qx2Z"  # distinctive, so a leak is found by a plain substring search


@pytest.fixture
def fake_hub():
    with FakeHub(TOKEN) as hub:
        yield hub


@pytest.fixture
def hub_env(fake_hub, tmp_path) -> dict[str, str]:
    """The environment of a subprocess that talks to the fake Hub (clean imports: huggingface_hub reads its
    endpoint when imported)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_ENDPOINT=fake_hub.url,
        HF_TOKEN=TOKEN,
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_VERBOSITY="debug",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    return env


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory) -> list[dict]:
    return records_from_samples(tmp_path_factory.mktemp("records"))
