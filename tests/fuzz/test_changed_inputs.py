"""Inputs that change between a build and its rerun: never the old dataset back.

Each case builds, changes the input files one way (modified in place, replaced with the same size and mtime,
added, removed, a step's own file changed), reruns the same command and expects a one-line refusal that names the
file and says `--overwrite` rebuilds; `--overwrite` then rebuilds with the new counts. A file only touched (same
bytes) resumes. The manifest lists every file with its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpusforge.builder.inputs import inspect_file, path_fields
from corpusforge.cli import app, exit_code
from corpusforge.errors import BuildError
from corpusforge.instruct.eval_sets import EvalSetParams
from corpusforge.label.coordinator import prepare_tasks
from corpusforge.label.selection import start_output
from corpusforge.label.shards import task_dir
from tests.builder.conftest import write_recipe
from tests.label.conftest import PQAU_SAMPLE, make_job

TEXT = "Patient {i} with type 2 diabetes was treated with metformin and followed for {i} weeks without events."


def _lines(n: int, prefix: str = "d") -> str:
    return "".join(json.dumps({"id": f"{prefix}{i}", "text": TEXT.format(i=i)}) + "\n" for i in range(n))


def _pqal(context: str) -> str:
    """A one-item PQA-L file (ori_pqal.json's layout, from the bundled sample) whose context is `context`."""
    sample = json.loads(Path("data/samples/pubmedqa/ori_pqal_sample.json").read_text())
    pmid, item = next(iter(sample.items()))
    return json.dumps({pmid: {**item, "CONTEXTS": [context], "LONG_ANSWER": ""}})


def _build(recipe_path: Path, *args: str):
    result = CliRunner().invoke(app, ["build", str(recipe_path), "--no-report", *args])
    out = recipe_path.parent / "out"
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else None
    return result, manifest


def _message(result) -> str:
    return " ".join(str(result.exception).split()) if result.exception else ""


@pytest.fixture
def built(tmp_path):
    """A finished build of two JSONL files (10 + 5 records) and a decontamination set; returns (recipe, folder)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_lines(10, "a"))
    (folder / "b.jsonl").write_text(_lines(5, "b"))
    (tmp_path / "pqal.json").write_text(_pqal("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"))
    recipe = {
        "name": "changing",
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
        "sources": {
            "web": {
                "reader": {"type": "read.jsonl", "path": str(folder)},
                "steps": [{"type": "decontam.pubmedqa", "pqal_path": str(tmp_path / "pqal.json"), "ngram": 8}],
            }
        },
    }
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    result, manifest = _build(path)
    assert result.exit_code == 0, result.output
    assert manifest["totals"]["kept"] == 15
    return path, folder


class TestChangedInputs:
    def _refused_then_rebuilt(self, recipe: Path, changed: str, kept: int | None) -> dict:
        before = (recipe.parent / "out" / "manifest.json").read_text()
        result, manifest = _build(recipe)
        assert isinstance(result.exception, BuildError) and exit_code(result.exception) == 4, result.output
        message = _message(result)
        assert message.startswith("the input files changed since"), message
        assert changed in message and "rerun with --overwrite to rebuild it" in message, message
        assert (recipe.parent / "out" / "manifest.json").read_text() == before  # nothing was touched
        result, manifest = _build(recipe, "--overwrite")
        assert result.exit_code == 0, result.output
        assert kept is None or manifest["totals"]["kept"] == kept
        assert manifest["sources"]["web"]["balanced"]
        again, _ = _build(recipe)  # the rebuilt output resumes: its inventory is the new one
        assert again.exit_code == 0, again.output
        return manifest

    def test_a_file_modified_in_place_is_refused_and_overwrite_rebuilds(self, built):
        recipe, folder = built
        with open(folder / "a.jsonl", "a") as f:
            f.write(_lines(3, "extra"))
        self._refused_then_rebuilt(recipe, f"{folder / 'a.jsonl'} modified", kept=18)

    def test_a_file_replaced_with_the_same_size_and_mtime_is_still_seen(self, built):
        recipe, folder = built
        path = folder / "b.jsonl"
        st = path.stat()
        fixed = path.read_text().replace('"b3"', '"c3"')
        assert len(fixed) == st.st_size
        replacement = folder / ".b.tmp"
        replacement.write_text(fixed)
        os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(replacement, path)
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        self._refused_then_rebuilt(recipe, f"{path} modified", kept=15)

    def test_a_file_rewritten_in_place_with_its_old_mtime_set_back_is_still_seen(self, built):
        recipe, folder = built
        path = folder / "b.jsonl"
        st = path.stat()
        path.write_text(path.read_text().replace('"b3"', '"c3"'))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        self._refused_then_rebuilt(recipe, f"{path} modified", kept=15)

    def test_an_added_file_is_refused(self, built):
        recipe, folder = built
        (folder / "c.jsonl").write_text(_lines(4, "c"))
        self._refused_then_rebuilt(recipe, f"{folder / 'c.jsonl'} added", kept=19)

    def test_a_removed_file_is_refused(self, built):
        recipe, folder = built
        (folder / "a.jsonl").unlink()
        self._refused_then_rebuilt(recipe, f"{folder / 'a.jsonl'} removed", kept=5)

    def test_a_changed_step_file_is_refused(self, built):
        """Not only readers read files: a decontamination set that changes changes what is kept."""
        recipe, _ = built
        pqal = recipe.parent / "pqal.json"
        pqal.write_text(_pqal(TEXT.format(i=1)))  # the records' text now: decontamination drops them
        manifest = self._refused_then_rebuilt(recipe, f"{pqal} modified", kept=None)
        removed = manifest["decontamination"]["pqal_ngram"]
        assert removed > 0 and manifest["totals"]["kept"] == 15 - removed

    def test_a_touched_file_with_the_same_bytes_resumes(self, built):
        recipe, folder = built
        os.utime(folder / "a.jsonl", ns=(1, 10**18))
        result, manifest = _build(recipe)
        assert result.exit_code == 0, result.output
        assert manifest["totals"]["kept"] == 15

    def test_overwrite_always_rebuilds(self, built):
        """With nothing changed, --overwrite still builds from scratch (before, it did nothing for the same recipe)."""
        recipe, _ = built
        out = recipe.parent / "out"
        stamp = out / "data" / "stale-marker.parquet"
        stamp.write_bytes(b"not a parquet file")
        result, manifest = _build(recipe, "--overwrite")
        assert result.exit_code == 0, result.output
        assert not stamp.exists() and manifest["totals"]["kept"] == 15

    def test_an_output_of_a_corpusforge_that_recorded_no_inputs_is_refused(self, built):
        recipe, _ = built
        (recipe.parent / "out" / ".corpusforge" / "inputs.json").unlink()
        result, _ = _build(recipe)
        assert isinstance(result.exception, BuildError) and "did not record its input files" in _message(result)
        assert "--overwrite" in _message(result)


def test_the_refusal_is_one_line_with_exit_code_4_from_the_command(built):
    recipe, folder = built
    (folder / "b.jsonl").write_text(_lines(6, "b"))
    done = subprocess.run(
        [sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(recipe), "--no-report"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stderr
    error = " ".join(done.stderr.split())
    assert error == (
        f"error: the input files changed since {recipe.parent / 'out'} was built ({folder / 'b.jsonl'} modified); "
        "rerun with --overwrite to rebuild it, or choose another --output"
    ), error


def test_the_manifest_lists_every_file_read_with_size_and_sha256(built):
    recipe, folder = built
    manifest = json.loads((recipe.parent / "out" / "manifest.json").read_text())
    read = manifest["inputs"]["sources.web.reader.path"]
    assert [Path(f["path"]).name for f in read] == ["a.jsonl", "b.jsonl"]
    for entry in read:
        data = Path(entry["path"]).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    (pqal,) = manifest["inputs"]["sources.web.steps.0.pqal_path"]
    assert pqal["sha256"] == hashlib.sha256((recipe.parent / "pqal.json").read_bytes()).hexdigest()


def test_a_fifo_among_the_inputs_is_recorded_by_kind_and_never_opened(tmp_path):
    """Hashing must not block on a FIFO (opening one waits for a writer)."""
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    entry = inspect_file(str(fifo))
    assert (entry.kind, entry.sha256) == ("fifo", None)


class TestChangedLabelInput:
    """`corpusforge label` split into tasks keeps finished tasks on a rerun: only while the items are the same.

    (A one-task run and a finished multi-task run label every item again from the cache, so they always see the
    current input; the hole was a killed multi-task run whose input was fixed before the rerun.)"""

    def _plan(self, tmp_path: Path, input_path: Path) -> dict:
        job = make_job(tmp_path / "no-model", tmp_path / "labels", input={"path": str(input_path)},
                       executor={"type": "local", "tasks": 2})  # fmt: skip
        _, _, items, positions = start_output(job, job.output_dir(), None)
        return prepare_tasks(job, positions, items, log=lambda _: None)

    def test_a_finished_task_is_redone_when_its_items_changed(self, tmp_path):
        data = json.loads(PQAU_SAMPLE.read_text())
        input_path = tmp_path / "pqau.json"
        input_path.write_text(json.dumps(data))
        first = self._plan(tmp_path, input_path)
        finished = task_dir(tmp_path / "labels", 0)
        finished.mkdir(parents=True)
        (finished / "answers.parquet").write_bytes(b"answers to the old questions")
        assert self._plan(tmp_path, input_path) == first and finished.is_dir()  # unchanged: resumed

        first_id = next(iter(data))
        data[first_id]["QUESTION"] = "Does the corrected question reach the model?"
        input_path.write_text(json.dumps(data))  # the same items in the same positions, one question fixed
        second = self._plan(tmp_path, input_path)
        assert second["fingerprint"] != first["fingerprint"] and not finished.exists()


def test_files_named_inside_nested_settings_are_inputs_too(tmp_path):
    """decontam.eval_sets names its files in a list of sets: a changed eval set must be seen like a reader's file."""
    (tmp_path / "test.jsonl").write_text("{}\n")
    (tmp_path / "gt.json").write_text("{}")
    params = EvalSetParams(
        type="decontam.eval_sets",
        sets=[
            {"name": "medqa", "kind": "medqa", "path": str(tmp_path / "test.jsonl")},
            {
                "name": "pqa",
                "kind": "pubmedqa",
                "path": str(tmp_path / "test.jsonl"),
                "test_ground_truth": str(tmp_path / "gt.json"),
            },
        ],
    )
    assert path_fields("filters.0", params) == {
        "filters.0.sets.0.path": [str(tmp_path / "test.jsonl")],
        "filters.0.sets.1.path": [str(tmp_path / "test.jsonl")],
        "filters.0.sets.1.test_ground_truth": [str(tmp_path / "gt.json")],
    }
