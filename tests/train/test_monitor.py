"""Training monitoring: DeepSpeed's monitors from the config, the loss plot of every run, and the training report."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from corpusforge.errors import ConfigError
from tests.report.helpers import assert_self_contained, rendered_charts
from tests.train.conftest import REPO, launch, make_config, read_metrics
from train.config import load_train_config, resolved_deepspeed_config


def config_with(tmp_path: Path, monitor: dict, deepspeed: dict | None = None):
    data = yaml.safe_load((REPO / "train" / "configs" / "stage1_pt.yaml").read_text())
    data.update(deepspeed=deepspeed or {"zero_optimization": {"stage": 1}}, monitor=monitor)
    data["train"]["output_dir"] = str(tmp_path / "run")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_train_config(path)


def test_monitor_sections_pass_through_to_deepspeed_next_to_the_run(tmp_path):
    ds = resolved_deepspeed_config(
        config_with(tmp_path, {"csv_monitor": {"enabled": True}, "tensorboard": {"enabled": True, "job_name": "x"}},
                    deepspeed={"tensorboard": {"output_path": "/elsewhere"}, "wandb": {"enabled": False}}),
        1,
    )  # fmt: skip
    assert ds["csv_monitor"] == {"enabled": True, "job_name": "pt", "output_path": str(tmp_path / "run" / "monitor")}
    assert ds["tensorboard"] == {
        "enabled": True,
        "job_name": "x",
        "output_path": "/elsewhere",
    }  # the JSON's path kept
    assert ds["wandb"] == {"enabled": False}  # untouched when not enabled


def test_an_enabled_monitor_without_its_package_fails_before_loading(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"monitor.wandb: .*pip install wandb"):
        resolved_deepspeed_config(config_with(tmp_path, {"wandb": {"enabled": True, "project": "p"}}), 1)


@pytest.mark.slow
def test_csv_and_tensorboard_monitors_loss_plot_and_the_training_report(
    tmp_path, tiny_model_dir, pt_dataset, deepspeed_ops, report_browser
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from corpusforge.report import write_report

    config = make_config(
        tmp_path / "s1", tiny_model_dir, pt_dataset,
        data={"eval_split": "validation"},
        train={"max_steps": 6, "log_every": 1, "eval_every": 3, "export": False},
        monitor={"csv_monitor": {"enabled": True}, "tensorboard": {"enabled": True}},
    )  # fmt: skip
    launch(config)
    run = tmp_path / "s1" / "run"
    metrics = read_metrics(run)
    steps = [m for m in metrics if "loss" in m]
    assert len(steps) == 6 and all(m["grad_norm"] > 0 for m in steps)  # ZeRO-1 reports the gradient norm

    monitor = run / "monitor" / "pt"
    with open(monitor / "Train_loss.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "loss"] and [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx([m["loss"] for m in steps])
    assert (monitor / "Eval_eval_loss.csv").is_file() and (monitor / "Train_grad_norm.csv").is_file()
    events = EventAccumulator(str(monitor))
    events.Reload()
    assert {"Train/loss", "Train/lr", "Train/grad_norm", "Eval/eval_loss"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("Train/loss")] == [1, 2, 3, 4, 5, 6]
    assert (run / "loss.png").stat().st_size > 5000  # the loss plot of every run

    # two stages one after the other (here the same run twice, as stage 1 and stage 2 folders)
    shutil.copytree(run, tmp_path / "s2" / "run", ignore=shutil.ignore_patterns("checkpoints", "monitor"))
    html = write_report([run, tmp_path / "s2" / "run"], tmp_path / "training.html")
    text = assert_self_contained(html)
    assert "lr: 0.003" in text or "lr:" in text  # the resolved config is shown
    page, errors = report_browser.open(html)
    assert {"loss", "lr", "grad-norm", "eval-eval_loss", "stages-eval_loss"} <= rendered_charts(page)
    page.screenshot(path=str(tmp_path / "training.png"), full_page=True)
    assert errors == []
