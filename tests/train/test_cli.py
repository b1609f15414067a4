"""`corpusforge train` (validation, dry run, launcher command) and `corpusforge eval` argument checks."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from corpusforge.cli import app
from tests.train.conftest import REPO, make_config


def test_train_dry_run_prints_the_resolved_config_and_the_launch(tmp_path, tiny_model_dir, adapt_dataset):
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(REPO / "train" / "configs" / "stage3_lora.yaml"),
            "--num-gpus",
            "2",
            "--dry-run",
            "--set",
            "train.output_dir=" + str(tmp_path),
            "--set",
            f"model.path={tiny_model_dir}",
            "--set",
            f"data.path={adapt_dataset}",
            "--set",
            f"mc_eval.path={adapt_dataset}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "global batch 12 = micro 3 x accumulation 2 x 2" in result.output
    assert "--num_gpus 2" in result.output and "train/run.py --config" in result.output
    assert f"output_dir: {tmp_path}" in result.output and "r: 8" in result.output


def test_train_rejects_a_bad_config_before_launching():
    from corpusforge.cli import main  # noqa: F401  (the console entry maps ConfigError to exit code 2)
    from corpusforge.errors import ConfigError

    result = CliRunner().invoke(
        app, ["train", str(REPO / "train" / "configs" / "stage1_pt.yaml"), "--set", "optimizer.momentum=0.9"]
    )
    assert isinstance(result.exception, ConfigError)
    assert "optimizer.momentum: unknown key" in str(result.exception)
    result = CliRunner().invoke(app, ["train", str(REPO / "train" / "configs" / "stage1_pt.yaml"), "--num-gpus", "3"])
    assert isinstance(result.exception, ConfigError) and "multiple of" in str(result.exception)


def test_eval_needs_exactly_one_source(tiny_model_dir):
    from corpusforge.errors import ConfigError

    result = CliRunner().invoke(app, ["eval", str(tiny_model_dir)])
    assert isinstance(result.exception, ConfigError) and "exactly one of" in str(result.exception)
    result = CliRunner().invoke(app, ["eval", str(tiny_model_dir), "--pubmedqa", "a.json", "--data", "b"])
    assert isinstance(result.exception, ConfigError) and "exactly one of" in str(result.exception)


def test_eval_names_a_model_directory_that_is_not_there(tmp_path, capsys):
    code, lines = run_main(capsys, "eval", str(tmp_path / "runs" / "export"), "--data", "x.jsonl")
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: MODEL: {tmp_path / 'runs' / 'export'} is not a local path")


def run_main(capsys, *args: str) -> tuple[int, list[str]]:
    """The console entry point as a user runs it: exit code and the lines on stderr."""
    from corpusforge.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return exit_info.value.code, err.strip().splitlines()


def tiny_config(tmp_path, tiny_model_dir, data_dir, **sections) -> str:
    return str(make_config(tmp_path, tiny_model_dir, data_dir, **sections))


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_missing_model_or_data_path_is_named_before_anything_starts(
    dry_run, tmp_path, tiny_model_dir, pt_dataset, capsys
):
    flag = ["--dry-run"] if dry_run else []
    config = tiny_config(tmp_path, tmp_path / "no-model", pt_dataset)
    code, lines = run_main(capsys, "train", config, *flag)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {config}: model.path: {tmp_path / 'no-model'} is not a local path")
    config = tiny_config(tmp_path, tiny_model_dir, "out/never-built")  # relative: to the working directory
    code, lines = run_main(capsys, "train", config, *flag)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {config}: data.path: out/never-built is not a local path (relative to the")
    assert "HF_HUB_OFFLINE is set" in lines[0]
    assert not (tmp_path / "run").exists()  # nothing was started or written


def test_bad_deepspeed_config_and_missing_split_are_one_line_each(tmp_path, tiny_model_dir, pt_dataset, capsys):
    (tmp_path / "ds.json").write_text("{not json")
    config = tiny_config(tmp_path, tiny_model_dir, pt_dataset, deepspeed=str(tmp_path / "ds.json"))
    code, lines = run_main(capsys, "train", config)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: deepspeed: {tmp_path / 'ds.json'}: not a")
    ds = {"zero_optimization": {"stage": 2, "overlap_com": True}}  # DeepSpeed's key is overlap_comm
    (tmp_path / "ds.json").write_text(json.dumps(ds))
    code, lines = run_main(capsys, "train", config, "--dry-run")
    assert code == 2 and len(lines) == 1
    assert lines[0] == f"error: {config}: deepspeed: {tmp_path / 'ds.json'}: zero_optimization.overlap_com: " + (
        "unknown key (check the spelling; see DeepSpeed's configuration reference)"
    )
    config = tiny_config(tmp_path, tiny_model_dir, pt_dataset, data={"eval_split": "dev"})
    code, lines = run_main(capsys, "train", config, "--dry-run")
    assert code == 2 and lines[0] == f"error: {config}: data.path: {pt_dataset} has no split 'dev'; it has " + (
        "['train', 'validation']"
    )


def test_debug_shows_the_traceback(tmp_path, tiny_model_dir, monkeypatch):
    from corpusforge.cli import main
    from corpusforge.errors import DEBUG_ENV, ConfigError

    monkeypatch.delenv(DEBUG_ENV, raising=False)  # main() sets it for the training processes: undone after

    config = tiny_config(tmp_path, tiny_model_dir, tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="data.path"):
        main(["train", config, "--debug"])


def test_an_unreachable_hub_is_named_before_anything_starts(tmp_path, pt_dataset):
    """A Hub model id that is not cached, with the Hub out of reach: one line, at once, not after the start-up."""
    import os
    import subprocess
    import sys

    from train.runtime import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = tiny_config(tmp_path, "some-org/some-model", pt_dataset)
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    for key in ("HF_HUB_OFFLINE", "CORPUSFORGE_DEBUG"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-c", "from corpusforge.cli import main; main()", "train", config, "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {config}: model.path: some-org/some-model is not a local path")
    assert f"the Hub ({endpoint}) cannot be reached" in lines[0]


def test_debug_is_per_command_for_in_process_callers(tmp_path, capsys):
    """`main([... "--debug"])` in a test or notebook must not turn on tracebacks for the calls after it."""
    from corpusforge.errors import DEBUG_ENV

    with pytest.raises(Exception):  # noqa: B017 - with --debug the error propagates, whatever its class
        from corpusforge.cli import main

        main(["eval", str(tmp_path / "nowhere"), "--data", "x.jsonl", "--debug"])
    assert DEBUG_ENV not in os.environ
    code, lines = run_main(capsys, "eval", str(tmp_path / "nowhere"), "--data", "x.jsonl")
    assert code == 2 and lines[0].startswith("error: MODEL:")
