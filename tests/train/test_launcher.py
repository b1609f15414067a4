"""Every stage and method through the DeepSpeed launcher on CPU, with one process and with two (gloo).

Runs are shared between tests through module-scoped fixtures and kept to a few steps on tiny data; the op
compile DeepSpeed needs on a clean machine happens once (`deepspeed_ops`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests.train.conftest import launch, make_config, read_metrics, train_losses

pytestmark = pytest.mark.slow

ZERO = Path(__file__).resolve().parents[2] / "train" / "deepspeed"


def run_stage(tmp: Path, model_dir: Path, data_dir: Path, processes: int = 1, **sections) -> Path:
    """Launch a run of `sections` and check it finished (`check_finished`)."""
    config = make_config(tmp, model_dir, data_dir, **sections)
    launch(config, processes)
    check_finished(tmp / "run")
    return tmp / "run"


def mc_eval(dataset: Path) -> dict:
    """A periodic multiple-choice evaluation on the test split of `dataset`."""
    return {"path": str(dataset), "split": "test", "max_length": 128}


def check_finished(run: Path) -> None:
    """A finished run: losses logged, a checkpoint with the resolved config, an export that loads."""
    from train.export import load_model

    assert train_losses(run)
    checkpoint = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    assert (checkpoint / "config.yaml").is_file() and (checkpoint / "rng-0.pt").is_file()
    assert (run / "export" / "train_config.yaml").is_file() and (run / "export" / "tokenizer.json").is_file()
    load_model(run / "export")


PT = {"train": {"max_steps": 20, "save_every": 4, "log_every": 1, "export_dtype": "float32"}}
SHORT = {"max_steps": 4, "log_every": 1, "export_dtype": "float32"}
LORA = {"name": "lora", "r": 8, "alpha": 16, "dropout": 0.0}


@pytest.fixture(scope="module")
def pt_run(tmp_path_factory, tiny_model_dir, pt_dataset, deepspeed_ops) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("pt")
    config = make_config(
        tmp, tiny_model_dir, pt_dataset, data={"eval_split": "validation"}, train={**PT["train"], "eval_every": 10}
    )
    launch(config)
    return config, tmp / "run"


def test_pt_full_single_process_learns(pt_run):
    _, run = pt_run
    check_finished(run)
    losses = train_losses(run)
    assert losses[20] < 0.5 * losses[1]
    evals = [m for m in read_metrics(run) if "eval_loss" in m]
    assert [m["step"] for m in evals] == [10, 20] and evals[1]["eval_loss"] < evals[0]["eval_loss"]
    report = (run / "data_report.json").read_text()
    assert '"dropped_empty_text": 1' in report


def test_kill_and_resume_continues_the_same_loss_curve(pt_run, tmp_path):
    config, reference = pt_run
    text = config.read_text().replace(str(reference.parent), str(tmp_path))
    (tmp_path / "config.yaml").write_text(text)
    proc = launch(tmp_path / "config.yaml", wait=False)
    run = tmp_path / "run"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if max(train_losses(run), default=0) >= 6:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers, as a preempted job
            break
        time.sleep(0.05)
    proc.wait()
    killed_at = max(train_losses(run))
    assert killed_at < 20 and not (run / "export").exists(), "the run finished before it could be killed"
    launch(tmp_path / "config.yaml")
    records = [m for m in read_metrics(run) if "loss" in m]
    assert [m["step"] for m in records] == list(range(1, 21))  # what was logged after the checkpoint was redone
    resumed = {m["step"]: m["loss"] for m in records}
    expected = train_losses(reference)
    assert sorted(resumed) == sorted(expected)
    for step, loss in expected.items():
        assert resumed[step] == pytest.approx(loss, rel=1e-4), f"step {step}"


def test_pt_full_two_processes(tmp_path, tiny_model_dir, pt_dataset, deepspeed_ops):
    sections = {"deepspeed": str(ZERO / "zero2.json"), "train": {**PT["train"], "save_every": 10}}
    run = run_stage(tmp_path, tiny_model_dir, pt_dataset, processes=2, **sections)
    assert (run / "checkpoints" / "step-20" / "rng-1.pt").is_file()
    losses = train_losses(run)
    assert losses[20] < 0.5 * losses[1]


@pytest.fixture(scope="module")
def yes_model(tmp_path_factory, tiny_model_dir, yes_sft_dataset, deepspeed_ops) -> Path:
    """Full fine-tuning on PubMedQA-format records that always answer "A) yes" (stage sft, packed)."""
    sections = {"data": {"max_length": 128, "packing": True}, "train": {**SHORT, "max_steps": 16}}
    tmp = tmp_path_factory.mktemp("yes")
    return run_stage(tmp, tiny_model_dir, yes_sft_dataset, stage="sft", mc_eval=mc_eval(yes_sft_dataset), **sections)


def test_sft_full_learns_and_its_periodic_mc_eval_sees_the_preference(yes_model):
    losses = train_losses(yes_model)
    assert losses[16] < 0.5 * losses[1]
    mc = [m for m in read_metrics(yes_model) if "mc_accuracy" in m][-1]
    assert mc["mc_n"] == 12


def test_eval_scores_the_yes_model_as_the_official_metric(yes_model, real_pubmedqa, tmp_path):
    from corpusforge.cli import app

    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(yes_model / "export"),
            "--pubmedqa",
            str(real_pubmedqa),
            "--max-length",
            "64",
            "--batch-size",
            "32",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(out.read_text())
    assert report["n"] == 500
    assert set(report["predictions"].values()) == {"A"}  # the model always answers yes
    assert round(report["accuracy"], 3) == 0.552 and round(report["macro_f1"], 4) == 0.2371


def test_sft_lora_two_processes_zero3(tmp_path, tiny_model_dir, yes_sft_dataset, deepspeed_ops):
    sections = {"stage": "sft", "method": LORA, "data": {"max_length": 128}, "deepspeed": str(ZERO / "zero3.json")}
    run = run_stage(tmp_path, tiny_model_dir, yes_sft_dataset, processes=2, train=SHORT, **sections)
    assert (run / "export" / "adapter" / "adapter_config.json").is_file()
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    merged = AutoModelForCausalLM.from_pretrained(run / "export")
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(base.state_dict()[q], merged.state_dict()[q])  # the trained adapter is merged in


def test_adapt_lora_single_process_with_mc_eval(tmp_path, tiny_model_dir, adapt_dataset, deepspeed_ops):
    sections = {"stage": "adapt", "method": LORA, "data": {"max_length": 128}, "train": SHORT}
    run = run_stage(tmp_path, tiny_model_dir, adapt_dataset, mc_eval=mc_eval(adapt_dataset), **sections)
    mc = [m for m in read_metrics(run) if "mc_accuracy" in m]
    assert mc and mc[-1]["mc_n"] == 12
    info = json.loads((run / "export" / "export.json").read_text())
    assert info["adapter"].endswith("/export/adapter")  # not export.partial/adapter, gone after the rename
    assert (run / "export" / "adapter" / "adapter_config.json").is_file()


@pytest.mark.parametrize("processes", [1, 2])
def test_adapt_cpoly(processes, tmp_path, tiny_model_dir, adapt_dataset, deepspeed_ops):
    method = {"name": "cpoly", "n_tasks": 3, "n_skills": 4, "r": 4}
    sections = {"stage": "adapt", "method": method, "data": {"max_length": 128, "packing": False}, "train": SHORT}
    run = run_stage(tmp_path, tiny_model_dir, adapt_dataset, processes, mc_eval=mc_eval(adapt_dataset), **sections)
    export = run / "export"
    assert (export / "cpoly_adapters.safetensors").is_file() and '"merged": false' in (
        export / "export.json"
    ).read_text()


@pytest.fixture(scope="module")
def mka_run(tmp_path_factory, tiny_model_dir, sft_dataset, deepspeed_ops) -> Path:
    method = {"name": "medcare_mka", "r": 4, "alpha": 8, "shared_experts": 2, "n_experts": 8, "top_k": 2}
    sections = {"stage": "sft", "method": method, "data": {"max_length": 128}, "train": SHORT}
    return run_stage(tmp_path_factory.mktemp("mka"), tiny_model_dir, sft_dataset, **sections)


def test_medcare_da_two_processes_keeps_attention_fixed(mka_run, tmp_path, tiny_model_dir, sft_dataset):
    from safetensors.torch import load_file

    method = {
        "name": "medcare_da",
        "mka_dir": str(mka_run / "export"),
        "align_r": 8,
        "align_alpha": 8,
        "orth_lambda": 1.0,
    }
    sections = {"stage": "sft", "method": method, "data": {"max_length": 128}, "train": SHORT}
    run = run_stage(tmp_path, tiny_model_dir, sft_dataset, processes=2, **sections)
    assert all("orth" in m for m in read_metrics(run) if "loss" in m)
    mka = load_file(mka_run / "export" / "model.safetensors")  # W + attention LoRA + KA, merged
    da = load_file(run / "export" / "model.safetensors")
    base = load_file(tiny_model_dir / "model.safetensors")
    for name in mka:
        if "self_attn" in name:
            assert torch.equal(mka[name], da[name]), f"{name} changed in DA"
    ffn = "model.layers.0.mlp.down_proj.weight"
    assert not torch.allclose(mka[ffn], da[ffn]) and not torch.allclose(base[ffn], da[ffn])
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(base[q], da[q])  # the MKA attention LoRA was merged in
