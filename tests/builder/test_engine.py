"""A build on a messy source: every record ends kept, dropped with a reason, or quarantined, and it adds up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from corpusforge.builder.recipe import load_recipe
from corpusforge.builder.runner import build, describe_plan
from corpusforge.errors import BuildError
from corpusforge.output.schemas import validation_errors
from tests.builder.conftest import messy_recipe, write_recipe


def run(recipe_path: Path, **kwargs):
    return build(load_recipe(recipe_path), console=Console(quiet=True), **kwargs)


@pytest.fixture(scope="module")
def built(tmp_path_factory, messy_source):
    folder, expected = messy_source
    work = tmp_path_factory.mktemp("engine")
    recipe_path = write_recipe(work / "recipe.yaml", messy_recipe(folder, work / "out"))
    result = run(recipe_path)
    return result, expected, recipe_path


def test_counts_add_up_per_reason(built):
    result, expected, _ = built
    source = result.manifest["sources"]["web"]
    assert result.manifest["status"] == "ok"
    assert source["input"] == expected["input"]
    assert source["kept"] == expected["kept"]
    assert source["quarantined"] == expected["quarantined"]
    assert source["dropped"] == expected["dropped"]
    assert source["quarantined_by_reason"] == expected["quarantined_by_reason"]
    assert source["files_quarantined_by_reason"] == expected["files_quarantined_by_reason"]
    assert result.manifest["totals"]["files_quarantined"] == 1
    assert source["balanced"]
    assert source["input"] == source["kept"] + sum(source["dropped"].values()) + source["quarantined"]
    assert result.manifest["rows_written"] == expected["kept"]
    assert validation_errors("manifest", result.manifest) == []


def test_quarantine_keeps_raw_input_and_location(built):
    result, _, _ = built
    out = result.plan.output_dir
    records = [json.loads(line) for p in sorted((out / "quarantine" / "web").glob("*.jsonl")) for line in p.open()]
    (empty,) = [r for r in records if r["scope"] == "file"]
    assert empty["reason"] == "empty_file" and empty["location"]["size"] == 0
    assert empty["location"]["file"].endswith("part-c.jsonl") and validation_errors("quarantine", empty) == []
    records = [r for r in records if r["scope"] == "record"]
    assert sorted(r["reason"] for r in records) == ["bad_encoding", "bad_json", "missing_field", "too_large"]
    for record in records:
        assert validation_errors("quarantine", record) == []
        assert record["location"]["file"].endswith(".jsonl") and record["location"]["line"] >= 1
    gbk = next(r for r in records if r["reason"] == "bad_encoding")
    assert gbk["raw_encoding"] == "base64"  # not UTF-8: kept byte for byte
    import base64

    assert base64.b64decode(gbk["raw"]).decode("gbk") == '{"id": "gbk", "text": "糖尿病的治疗"}'
    missing = next(r for r in records if r["reason"] == "missing_field")
    assert "'text'" in missing["error"] and missing["raw"] == '{"id": "no-text-field", "body": "x"}'


def test_records_match_schema_and_load_with_datasets(built):
    from datasets import load_dataset

    result, expected, _ = built
    ds = load_dataset(str(result.plan.output_dir), split="train")
    assert len(ds) == expected["kept"]
    ids = set(ds["id"])
    assert "web:a0" in ids and "web:exact-dup" not in ids and "web:near-dup" not in ids
    assert len(ids) == len(ds)
    for row in ds.select(range(5)):
        assert validation_errors("document", row) == []
        assert row["provenance"]["file"].endswith("part-a.jsonl") or row["provenance"]["file"].endswith(
            "part-b.jsonl"
        )
        assert row["transforms"] == ["read.jsonl", "clean.characters"]


def test_card_reports_counts_and_recipe(built):
    from corpusforge.output.card import read_card_metadata

    result, expected, _ = built
    card = result.plan.output_dir / "README.md"
    meta = read_card_metadata(card)
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "data/train/*.parquet"}]
    text = card.read_text()
    assert f"**{expected['kept']:,}** rows written" in text
    dropped = sum(expected["dropped"].values())
    # the totals line adds up, in the unit it names
    line = f"records: {expected['input']:,} in = {expected['kept']:,} kept + {dropped:,} dropped"
    assert line + f" + {expected['quarantined']:,} quarantined" in text
    assert "Not configured: no `decontam.*` step" in text
    assert "| exact_duplicate | 1 |" in text and "type: read.jsonl" in text


def test_rerun_resumes_without_redoing_tasks(built):
    result, expected, recipe_path = built
    logs = result.plan.logs_dir
    marker = logs / "source__web" / "stats" / "00000.json"
    before = marker.stat().st_mtime_ns
    again = run(recipe_path)
    assert marker.stat().st_mtime_ns == before  # the finished task was skipped, not rerun
    assert again.manifest["totals"] == result.manifest["totals"]


def test_other_recipe_into_same_output_is_refused(built, tmp_path):
    result, _, recipe_path = built
    changed = load_recipe(recipe_path, overrides=["filters.1.min_chars=10"])
    with pytest.raises(BuildError, match="different recipe"):
        build(changed, console=Console(quiet=True))


def test_refuses_to_write_into_a_foreign_folder(tmp_path, messy_source):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("user data")
    path = write_recipe(tmp_path / "r.yaml", messy_recipe(messy_source[0], tmp_path / "out"))
    with pytest.raises(BuildError, match="not a corpusforge output"):
        run(path)
    assert (tmp_path / "out" / "precious.txt").read_text() == "user data"


def test_dry_run_describes_and_touches_nothing(tmp_path, messy_source):
    path = write_recipe(tmp_path / "r.yaml", messy_recipe(messy_source[0], tmp_path / "out"))
    text = describe_plan(load_recipe(path))
    assert "source/web" in text and "dedup/minhash-buckets  (tasks: 14)" in text and "write" in text
    assert not (tmp_path / "out").exists()


def test_strict_fails_on_quarantine_but_keeps_the_report(built, tmp_path):
    from typer.testing import CliRunner

    from corpusforge.cli import app

    result, _, recipe_path = built
    out = tmp_path / "strict-out"
    shutil.copytree(result.plan.output_dir, out)  # resume from the finished build: only finalize runs
    res = CliRunner().invoke(app, ["build", str(recipe_path), "--output", str(out), "--strict", "--overwrite"])
    assert res.exit_code != 0
    assert isinstance(res.exception, BuildError) and "--strict: 4 input records were quarantined" in str(
        res.exception
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed_strict"
    assert not (out / "README.md").exists()


def test_without_cross_source_steps_sources_write_the_dataset_directly(tmp_path, messy_source):
    from datasets import load_dataset

    folder, expected = messy_source
    data = {
        **messy_recipe(folder, tmp_path / "out"),
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    result = run(write_recipe(tmp_path / "r.yaml", data))
    assert [s.name for s in result.plan.stages] == ["source/web"]  # no intermediate files, no merge stage
    source = result.manifest["sources"]["web"]
    assert source["balanced"] and source["quarantined"] == expected["quarantined"]
    assert source["kept"] == expected["kept"] + 2  # the exact and the near duplicate stay
    assert source["input"] == source["kept"] + sum(source["dropped"].values()) + source["quarantined"]
    assert len(load_dataset(str(result.plan.output_dir), split="train")) == source["kept"]
    assert not (result.plan.work_dir / "sources").exists()


def test_a_build_that_keeps_nothing_says_so_in_its_card(tmp_path, messy_source):
    folder, expected = messy_source
    data = messy_recipe(folder, tmp_path / "out")
    data["filters"][1]["min_chars"] = 100_000  # every document is too short
    result = run(write_recipe(tmp_path / "r.yaml", data))
    source = result.manifest["sources"]["web"]
    assert source["kept"] == 0 and source["balanced"] and source["dropped"]["too_short"] == expected["kept"] + 3
    card = (result.plan.output_dir / "README.md").read_text()
    assert "This build kept no records" in card and "load_dataset(" not in card
