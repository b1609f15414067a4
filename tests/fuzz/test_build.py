"""Bad input through `corpusforge build`: what the writers would refuse never reaches them, and a source that keeps
nothing still ends with a manifest and a card that say so (and fails under --strict)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpusforge.cli import app
from tests.builder.conftest import make_text, write_recipe

TEXT = "Patient {i} with type 2 diabetes was treated with metformin and followed for {i} weeks without events."


def _build(recipe: dict, tmp_path: Path, *args: str):
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    result = CliRunner().invoke(app, ["build", str(path), *args])
    out = Path(recipe["output"]["path"])
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else None
    return result, manifest, out


def _quarantine(out: Path, source: str) -> list[dict]:
    return [json.loads(line) for f in sorted((out / "quarantine" / source).glob("*.jsonl")) for line in f.open()]


@pytest.mark.parametrize("dedup", [True, False], ids=["exact-dedup-via-jsonl", "direct-to-parquet"])
def test_one_lone_surrogate_in_1000_records_leaves_999_written_and_1_quarantined(tmp_path, dedup):
    """orjson (datatrove's JsonlWriter) and pyarrow both refuse a lone surrogate; before, one such record in a
    1,000-record file failed the whole build on every rerun."""
    folder = tmp_path / "in"
    folder.mkdir()
    rng = random.Random(0)
    lines = [json.dumps({"id": f"d{i}", "text": make_text(rng, 30)}) for i in range(1000)]
    lines[517] = json.dumps({"id": "d517", "text": "Half an emoji: \ud83d here. " + TEXT.format(i=517)})
    lines[3] = json.dumps(
        {"id": "d3", "text": "NUL \x00, U+FFFF \uffff and \U0001f600 are valid. " + TEXT.format(i=3)}
    )
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n")
    recipe = {
        "name": "surrogate",
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {"web": {"reader": {"type": "read.jsonl", "path": str(folder)}}},
    }
    recipe["dedup"] = {"exact": {"enabled": dedup}, "minhash": {"enabled": False}}
    result, manifest, out = _build(recipe, tmp_path)
    assert result.exit_code == 0, result.output
    web = manifest["sources"]["web"]
    assert (web["input"], web["kept"], web["quarantined"]) == (1000, 999, 1) and web["balanced"]
    assert web["quarantined_by_reason"] == {"unencodable_text": 1}
    assert manifest["rows_written"] == 999
    (entry,) = _quarantine(out, "web")
    assert entry["location"]["line"] == 518 and "U+D83D" in entry["error"] and "\\ud83d" in entry["raw"]

    import pyarrow.parquet as pq

    texts = [t for f in sorted((out / "data").rglob("*.parquet")) for t in pq.read_table(f)["text"].to_pylist()]
    assert len(texts) == 999 and any("\uffff" in t and "\x00" in t for t in texts)


def test_a_source_whose_every_record_is_quarantined_finishes_with_manifest_and_card(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jsonl").write_text("".join(json.dumps({"id": f"g{i}", "text": TEXT.format(i=i)}) + "\n"
                                               for i in range(5)))  # fmt: skip
    (folder / "bad.jsonl").write_text('{"id": "x"}\n{"id": "y", "text": "\\udc00"}\nnot json\n')
    recipe = {
        "name": "all-quarantined",
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 2, "workers": 1},
        "sources": {
            "good": {"reader": {"type": "read.jsonl", "path": str(folder / "good.jsonl")}},
            "bad": {"reader": {"type": "read.jsonl", "path": str(folder / "bad.jsonl")}},
        },
    }
    # with one good source the intermediate folder exists; the bad one alone is the case that crashed
    recipe["sources"].pop("good")
    result, manifest, out = _build(recipe, tmp_path)
    assert result.exit_code == 0, result.output
    assert manifest["status"] == "ok" and manifest["sources"]["bad"]["quarantined"] == 3
    assert manifest["totals"]["kept"] == 0 and manifest["rows_written"] == 0
    assert any("all 3 input records were quarantined" in w for w in manifest["warnings"])
    assert "all 3 input records were quarantined" in (out / "README.md").read_text()
    assert "all 3 input records were quarantined" in " ".join(result.output.split())

    strict, manifest, _ = _build(recipe, tmp_path, "--strict", "--overwrite")
    assert strict.exit_code != 0 and manifest["status"] == "failed_strict"
    assert "3 input records were quarantined" in str(strict.exception)


def test_an_instruct_source_that_is_no_json_layout_is_a_file_quarantine_and_the_build_finishes(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "train.json").write_text("question,answer\nnot,json\n")  # a CSV saved as .json
    (folder / "empty.json").write_bytes(b"")
    recipe = {
        "name": "broken-instruct",
        "kind": "instruct",
        "tasks": {"free_qa": 6},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {"qa": {"reader": {"type": "instruct.free_qa", "path": str(folder), "glob": "*.json"}}},
    }
    result, manifest, out = _build(recipe, tmp_path)
    assert result.exit_code == 0, result.output
    qa = manifest["sources"]["qa"]
    assert qa["input"] == 0 and qa["files_quarantined_by_reason"] == {"bad_json": 1, "empty_file": 1}
    assert manifest["totals"]["files_quarantined"] == 2 and manifest["warnings"]
    entries = {Path(e["location"]["file"]).name: e for e in _quarantine(out, "qa")}
    assert entries["train.json"]["scope"] == "file" and entries["train.json"]["location"]["line"] == 1
    assert "line 1 column 1" in entries["train.json"]["error"] and entries["train.json"]["raw"].startswith("question")
    assert entries["empty.json"]["location"]["size"] == 0

    strict, manifest, _ = _build(recipe, tmp_path, "--strict", "--overwrite")
    assert strict.exit_code != 0 and "2 input file(s) could not be read" in str(strict.exception)


def test_real_pqal_compact_and_pretty_give_every_item(tmp_path, real_pubmedqa):
    """`json.dump` writes ori_pqal.json on one line by default; it must not become one record."""
    from corpusforge.label.config import InputSpec
    from corpusforge.label.items import LabelItem, iter_input
    from tests.fuzz.specs import registered_reader

    data = json.loads((real_pubmedqa / "ori_pqal.json").read_text())
    for name, text in (("compact", json.dumps(data)), ("pretty", json.dumps(data, indent=4))):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "ori_pqal.json").write_text(text)
        out = registered_reader("instruct.pubmedqa", max_record_bytes=2**20)(folder, tmp_path / f"run-{name}")
        assert (out.records, out.kept, out.quarantined) == (len(data), len(data), 0)
        items = list(iter_input(InputSpec(path=str(folder / "ori_pqal.json"))))
        assert len(items) == len(data) and all(isinstance(i, LabelItem) for i in items)
