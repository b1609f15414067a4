"""The exact one-line messages and exit codes of mistakes a new user makes on the command line (issue 25, item 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_errors import REPO, run_cli

PQAU_SAMPLE = REPO / "data" / "samples" / "pubmedqa" / "ori_pqau_sample.json"
PQAL_SAMPLE = REPO / "data" / "samples" / "pubmedqa" / "ori_pqal_sample.json"
TRUTH_SAMPLE = REPO / "data" / "samples" / "pubmedqa" / "test_ground_truth_sample.json"


def one_line_error(proc, code: int) -> str:
    """The whole of stderr, which must be one `error:` line, and nothing on stdout (no work started)."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert "Traceback" not in out and not proc.stdout.strip(), out
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, out
    return " ".join(lines[0].split())


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """What the up-front model check accepts (a folder with config.json); nothing here loads it."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


def test_eval_with_a_file_that_is_not_pubmedqa_names_that_file(tmp_path, model_dir):
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"a": 1}))
    proc = run_cli("eval", str(model_dir), "--pubmedqa", str(wrong), "--ground-truth", str(TRUTH_SAMPLE))
    assert one_line_error(proc, 3) == (
        f"error: {wrong}: no PubMedQA items in this file (first record: {wrong}:1: no 'pubid' or 'pmid' field); "
        "give PQA-L's ori_pqal.json"
    )


def test_eval_with_a_wrong_file_and_no_ground_truth_beside_it_names_the_given_file(tmp_path, model_dir):
    """Before, this named `test_ground_truth.json: file not found`, a file the user never gave."""
    wrong = tmp_path / "wrong.json"
    wrong.write_text("not json at all\n")
    proc = run_cli("eval", str(model_dir), "--pubmedqa", str(wrong))
    assert one_line_error(proc, 3) == (
        f"error: {wrong}: not a PubMedQA JSON file: not a JSON array, object or JSON lines: expected '[' or '{{', "
        "found 'n' at line 1 column 1"
    )
    (tmp_path / "pqal.json").write_text(PQAL_SAMPLE.read_text())
    proc = run_cli("eval", str(model_dir), "--pubmedqa", str(tmp_path / "pqal.json"))
    assert one_line_error(proc, 2) == (
        f"error: --pubmedqa {tmp_path / 'pqal.json'}: no test_ground_truth.json next to it "
        f"({tmp_path / 'test_ground_truth.json'}); give --ground-truth FILE"
    )


def test_eval_with_pqa_u_instead_of_pqa_l_says_so(model_dir):
    proc = run_cli("eval", str(model_dir), "--pubmedqa", str(PQAU_SAMPLE), "--ground-truth", str(TRUTH_SAMPLE))
    n = len(json.loads(TRUTH_SAMPLE.read_text()))
    assert one_line_error(proc, 3) == (
        f"error: {PQAU_SAMPLE}: none of the {n} test PMIDs of {TRUTH_SAMPLE} is in this file; give PQA-L's "
        "ori_pqal.json (not PQA-U or PQA-A)"
    )


def test_label_without_a_model_says_how_to_give_one(tmp_path):
    proc = run_cli("label", "pqa-u", "--input", str(PQAU_SAMPLE), "--output", str(tmp_path / "out"))
    assert one_line_error(proc, 2) == (
        "error: no model given: use --model PATH_OR_HUB_ID, or set model.name in a recipe given with --recipe"
    )


def test_label_with_a_missing_model_path_stops_before_any_work(tmp_path):
    proc = run_cli(
        "label", "pqa-u", "--input", str(PQAU_SAMPLE), "--model", str(tmp_path / "no-model"),
        "--backend", "transformers", "--output", str(tmp_path / "out"),
        env={"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    message = one_line_error(proc, 2)  # no "N items to label" and no progress line before it
    assert message.startswith(f"error: model.name: {tmp_path / 'no-model'} is not a local path"), message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["build", "label"])
def test_an_output_that_is_a_file_is_a_one_line_config_error(tmp_path, model_dir, command):
    target = tmp_path / "taken.txt"
    target.write_text("mine")
    if command == "build":
        recipe = tmp_path / "r.yaml"
        recipe.write_text(f"name: t\nsources:\n  web:\n    reader: {{type: read.jsonl, path: {PQAU_SAMPLE}}}\n")
        args, key = ["build", str(recipe)], "output.path (--output)"
    else:
        args = ["label", "pqa-u", "--input", str(PQAU_SAMPLE), "--model", str(model_dir), "--backend", "transformers"]
        key = "run.output (--output)"
    for output, what in ((target, "is a file"), (target / "sub", f"is under {target}, which is a file")):
        proc = run_cli(*args, "-o", str(output))
        assert one_line_error(proc, 2) == (
            f"error: {key}: {output} {what}, not a folder; choose another output folder (nothing was written)"
        )
    assert target.read_text() == "mine"


def test_a_yaml_indentation_slip_is_reported_with_file_line_and_column(tmp_path):
    """`steps:` dedented by two spaces still parses, as a source named `steps`: the line says where to look."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: t\n"
        "sources:\n"
        "  web:\n"
        f"    reader: {{type: read.jsonl, path: {PQAU_SAMPLE}}}\n"
        "  steps:\n"
        "    - {type: filter.length, min_chars: 5}\n"
    )
    proc = run_cli("build", str(recipe), "--dry-run")
    assert one_line_error(proc, 2) == (
        f"error: {recipe}:5:3: sources.steps: Input should be a valid dictionary or instance of SourceSpec"
    )
    recipe.write_text(f"name: t\nsources:\n  web:\n    reader:\n      type: read.jsonl\n    path: {PQAU_SAMPLE}\n")
    proc = run_cli("build", str(recipe), "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [" ".join(line.split()) for line in proc.stderr.strip().splitlines()]
    assert lines == [
        f"error: {recipe}: 2 problems in the configuration",
        f"- {recipe}:4:5: sources.web.reader.path (type read.jsonl): Field required",
        f"- {recipe}:6:5: sources.web.path: unknown key (check the spelling; see the recipe reference in the README)",
    ]
