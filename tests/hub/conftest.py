"""Fixtures for push tests: a fake Hub on 127.0.0.1 and a small built instruction dataset directory."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.hub.fake_hub import FakeHub

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


def write_dataset_dir(out: Path, splits: dict[str, list[dict]], title: str = "test dataset") -> Path:
    """A built dataset dir like a stage-2 build writes: data/<split>/*.parquet, manifest.json, README.md card."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusforge.instruct.output import arrow_schema
    from corpusforge.output.card import card_metadata, markdown_table, render_card

    for split, records in splits.items():
        (out / "data" / split).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(records, schema=arrow_schema()), out / "data" / split / "00000.parquet")
    manifest = {"recipe": "test", "totals": {split: len(r) for split, r in splits.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    meta = card_metadata({"default": {s: f"data/{s}/*.parquet" for s in splits}}, license="apache-2.0")
    rows = [[s, len(r)] for s, r in splits.items()]
    card = render_card(meta, title, [("Splits", markdown_table(["split", "records"], rows))])
    (out / "README.md").write_text(card, encoding="utf-8")
    (out / "quarantine" / "src").mkdir(parents=True)
    (out / "quarantine" / "src" / "00000.jsonl").write_text('{"raw": "x"}\n')
    (out / ".corpusforge").mkdir()
    (out / ".corpusforge" / "state.json").write_text("{}")
    return out


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory) -> list[dict]:
    """Instruction records from two adapters on the bundled samples (multiple choice and free-form)."""
    from tests.instruct.helpers import SAMPLES, read

    tmp = tmp_path_factory.mktemp("records")
    mc = read("instruct.medmcqa", tmp, path=str(SAMPLES / "medmcqa" / "train.json"), source="medmcqa").records
    qa = read("instruct.promptcblue", tmp, path=str(SAMPLES / "promptcblue" / "train.json"), source="pcb").records
    return mc + qa


PYTHON = sys.executable
