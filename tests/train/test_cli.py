"""`corpusforge train` (validation, dry run, launcher command) and `corpusforge eval` argument checks."""

from __future__ import annotations

from typer.testing import CliRunner

from corpusforge.cli import app
from tests.train.conftest import REPO


def test_train_dry_run_prints_the_resolved_config_and_the_launch(tmp_path):
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


def test_eval_needs_exactly_one_source(tmp_path):
    from corpusforge.errors import ConfigError

    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    result = CliRunner().invoke(app, ["eval", str(tmp_path), "--pubmedqa", "a.json", "--data", "b"])
    assert isinstance(result.exception, ConfigError)
