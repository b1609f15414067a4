"""The job as the CLI resolves it: presets, recipe, flags, --set; errors name the key; --dry-run touches nothing."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from corpusforge.cli import app
from corpusforge.errors import ConfigError, InputError
from tests.label.conftest import PQAU_SAMPLE

RECIPE = PQAU_SAMPLE.parents[3] / "recipes" / "label_pqa_u.yaml"


def invoke(*args):
    return CliRunner().invoke(app, ["label", *args])


def test_dry_run_prints_the_resolved_job_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = invoke(
        "pqa-u", "--input", str(PQAU_SAMPLE), "--model", "some/model", "--backend", "transformers",
        "--strategy", "ensemble", "--output", str(out), "--limit", "3", "--set", "ppl.rank_by=loglikelihood",
        "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "type: transformers" in result.output and "rank_by: loglikelihood" in result.output
    for strategy in ("long-answer", "voc", "ppl"):
        assert f"#   {strategy}: templates" in result.output
    assert not out.exists()


def test_the_recipe_validates_and_flags_override_it(tmp_path):
    result = invoke(
        "run", str(RECIPE), "--model", "m", "--backend", "openai", "--output", str(tmp_path / "o"), "--dry-run"
    )
    assert result.exit_code == 0, result.output
    # switching the backend type replaces the recipe's vllm-only settings instead of failing on them
    assert "type: openai" in result.output and "tensor_parallel_size" not in result.output


def test_unknown_keys_and_bad_values_name_their_path(tmp_path):
    result = invoke(
        "pqa-u", "--input", str(PQAU_SAMPLE), "--model", "m", "--output", str(tmp_path),
        "--set", "model.backend.bogus=1", "--set", "answer.max_retries=-1", "--dry-run",
    )  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    text = str(result.exception)
    assert "model.backend.vllm.bogus: unknown key" in text and "answer.max_retries" in text


def test_a_missing_output_or_input_is_a_config_error(tmp_path):
    result = invoke("pqa-u", "--input", str(PQAU_SAMPLE), "--model", "m", "--dry-run")
    assert isinstance(result.exception, ConfigError) and "run.output" in str(result.exception)
    result = invoke("pqa-u", "--input", str(tmp_path / "nope.json"), "--model", "m", "-o", str(tmp_path), "--dry-run")
    assert isinstance(result.exception, ConfigError) and "nope.json: file not found" in str(result.exception)


def test_a_hub_dataset_offline_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    model = tmp_path / "m"  # a model folder that passes the check made before any work
    model.mkdir()
    (model / "config.json").write_text("{}")
    result = invoke("pqa-u", "--input", "qiaojin/PubMedQA", "--model", str(model), "--output", str(tmp_path / "o"))
    assert isinstance(result.exception, InputError)
    assert "qiaojin/PubMedQA" in str(result.exception) and "--input PATH" in str(result.exception)


def test_importing_the_cli_imports_no_heavy_library():
    code = (
        "import sys, corpusforge.cli; print(sorted(m for m in ('vllm', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("shard", ["run.shard_index=2"])
def test_shard_index_must_be_below_the_shard_count(tmp_path, shard):
    result = invoke(
        "pqa-u", "--input", str(PQAU_SAMPLE), "-m", "m", "-o", str(tmp_path), "--set", "run.num_shards=2",
        "--set", shard, "--dry-run",
    )  # fmt: skip
    assert isinstance(result.exception, ConfigError) and "shard_index" in str(result.exception)
