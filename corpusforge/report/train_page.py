"""The report of training runs: loss, learning rate, gradient norm and evaluation curves from metrics.jsonl.

Several runs given in order (stage 1, 2, 3) are drawn one after the other on one step axis, each stage in its own
colour, with each stage's last evaluation side by side: AntGLM-Med's Figure 6 (PubMedQA accuracy stage by stage)
for your own runs. Each run's resolved config (train_config.yaml) is shown as it was saved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from corpusforge.errors import InputError
from corpusforge.report import charts
from corpusforge.report.page import Page, chart, note, pre, row, table

TRAIN_KEYS = ("loss", "lr", "grad_norm", "tokens_per_s", "epoch", "tokens", "time", "step")
EVAL_HINT = ("eval_", "mc_")


@dataclass
class Run:
    path: Path
    name: str
    config_text: str
    config: dict[str, Any]
    train: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    data_report: dict[str, Any] | None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl; a line cut by a kill is skipped, and for a step logged twice (a resumed run) the last wins."""
    rows: dict[tuple[int, bool], dict[str, Any]] = {}
    file = path / "metrics.jsonl"
    if not file.is_file():
        return []
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "step" in record:
            rows[(int(record["step"]), is_eval(record))] = record
    return [rows[k] for k in sorted(rows)]


def is_eval(record: dict[str, Any]) -> bool:
    return "loss" not in record and any(k.startswith(EVAL_HINT) for k in record)


def load_run(path: Path) -> Run:
    path = Path(path)
    config_file = path / "train_config.yaml"
    text = config_file.read_text(encoding="utf-8") if config_file.is_file() else ""
    config = yaml.safe_load(text) or {} if text else {}
    metrics = read_metrics(path)
    if not metrics and not text:
        raise InputError(f"{path}: no metrics.jsonl nor train_config.yaml; is this a training run's output_dir?")
    stage = config.get("stage")
    method = (config.get("method") or {}).get("name")
    name = path.name + (f" ({stage}" + (f", {method})" if method else ")") if stage else "")
    report_file = path / "data_report.json"
    return Run(
        path=path,
        name=name,
        config_text=text,
        config=config,
        train=[m for m in metrics if not is_eval(m)],
        evals=[m for m in metrics if is_eval(m)],
        data_report=json.loads(report_file.read_text()) if report_file.is_file() else None,
    )


def _series(runs: list[Run], key: str, evals: bool = False) -> dict[str, tuple[list[float], list[float]]]:
    """{run: (global steps, values)}: each run continues where the previous one ended."""
    out, offset = {}, 0
    for run in runs:
        rows = run.evals if evals else run.train
        points = [(offset + r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        out[run.name] = ([p[0] for p in points], [p[1] for p in points])
        offset += max((r["step"] for r in run.train + run.evals), default=0)
    return out


def train_page(paths: list[Path]) -> Page:
    runs = [load_run(p) for p in paths]
    several = len(runs) > 1
    if several:  # stage numbers in the order given: names stay distinct even when every folder is called `run`
        for i, run in enumerate(runs, 1):
            run.name = f"{i}. {run.path.parent.name}/{run.name}"
    last = runs[-1]
    final_loss = next((r["loss"] for r in reversed(last.train) if "loss" in r), None)
    first_loss = next((r["loss"] for r in last.train if "loss" in r), None)
    steps = sum(max((r["step"] for r in run.train), default=0) for run in runs)
    page = Page(
        title=" → ".join(r.name for r in runs) if several else f"training run {last.name}",
        kind="training runs, stage by stage" if several else "training run",
        path=", ".join(str(r.path) for r in runs),
        status="ok" if all((r.path / "export").exists() or r.train for r in runs) else "incomplete",
        summary=(
            f"{len(runs)} run(s), {steps:,} optimizer steps in total."
            + (
                f" Loss of the last run: {first_loss:.4g} at its first logged step, {final_loss:.4g} at its last."
                if final_loss is not None and first_loss is not None
                else ""
            )
        ),
    )
    page.cards = [("Runs", str(len(runs)), "stages" if several else ""), ("Steps", f"{steps:,}", "optimizer steps")]
    if final_loss is not None:
        page.cards.append(("Loss", f"{final_loss:.4g}", f"last step of {last.path.name}"))
    eval_keys = sorted(
        {
            k
            for run in runs
            for r in run.evals
            for k, v in r.items()
            if k.startswith(EVAL_HINT) and isinstance(v, float)
        }
    )
    for key in eval_keys:
        value = next((r[key] for r in reversed(last.evals) if key in r), None)
        if value is not None and key in ("mc_accuracy", "eval_loss"):
            page.cards.append((key.replace("_", " "), f"{value:.4g}", "last evaluation"))

    x = "optimizer step" + (" (stages one after the other)" if several else "")
    sec = page.section(
        "curves", "Training curves", "From metrics.jsonl, as logged by rank 0 every `log_every` steps."
    )
    sec.add(
        row(
            chart("loss", charts.svg(charts.curves(_series(runs, "loss"), "Training loss", x, "loss"))),
            chart("lr", charts.svg(charts.curves(_series(runs, "lr"), "Learning rate", x, "lr"))),
        )
    )
    grad = _series(runs, "grad_norm")
    figures = [chart("grad-norm", charts.svg(charts.curves(grad, "Gradient norm", x, "global L2 norm")))]
    if not any(len(v[0]) for v in grad.values()):
        figures.append(note("No gradient norm was logged (DeepSpeed reports it under ZeRO, or with clipping on)."))
    sec.add(row(*figures))
    if any(len(v[0]) for v in _series(runs, "tokens_per_s").values()):
        sec.add(
            chart(
                "throughput", charts.svg(charts.curves(_series(runs, "tokens_per_s"), "Throughput", x, "tokens / s"))
            )
        )

    if eval_keys:
        ev = page.section(
            "eval",
            "Evaluation",
            "Every evaluation of every run; with several runs, each stage's last "
            "evaluation side by side (the paper's Figure 6 for your runs).",
        )
        ev.add(
            row(
                *[
                    chart(
                        f"eval-{key}",
                        charts.svg(charts.curves(_series(runs, key, evals=True), key, x, key, markers=True)),
                    )
                    for key in eval_keys
                ]
            )
        )
        if several:
            for key in eval_keys:
                finals = {run.name: next((r[key] for r in reversed(run.evals) if key in r), None) for run in runs}
                finals = {k: v for k, v in finals.items() if v is not None}
                if finals:
                    ev.add(
                        chart(
                            f"stages-{key}",
                            charts.svg(charts.bars(finals, f"{key} at the end of each stage", key)),
                            "In the order the runs were given.",
                        )
                    )
        rows = [[run.name, r["step"], *[r.get(k) for k in eval_keys]] for run in runs for r in run.evals]
        ev.add(table(["run", "step", *eval_keys], rows, "eval", numeric_from=1))

    for run in runs:
        s = page.section(f"run-{run.path.name}", f"Run {run.name}")
        s.add(note(f"{run.path}: {len(run.train)} logged steps, {len(run.evals)} evaluations."))
        if run.data_report:
            s.add(
                table(
                    ["data", "report"],
                    [[k, json.dumps(v, default=str)] for k, v in run.data_report.items()],
                    f"data-{run.path.name}",
                )
            )
        if run.config_text:
            s.add(pre(run.config_text, f"config-{run.path.name}"))
    return page


LOSS_PLOT = "loss.png"


def write_loss_plot(run_dir: Path) -> Path | None:
    """RUN/loss.png: the training loss (and the eval loss, when evaluated) of one run, from its metrics.jsonl."""
    metrics = read_metrics(Path(run_dir))
    train = [m for m in metrics if not is_eval(m) and isinstance(m.get("loss"), (int, float))]
    if not train:
        return None
    series = {"train loss": ([m["step"] for m in train], [m["loss"] for m in train])}
    evals = [m for m in metrics if is_eval(m) and isinstance(m.get("eval_loss"), (int, float))]
    if evals:
        series["eval loss"] = ([m["step"] for m in evals], [m["eval_loss"] for m in evals])
    fig = charts.curves(series, f"{Path(run_dir).name}: loss", "optimizer step", "loss", markers=len(train) < 30)
    return charts.save_png(fig, Path(run_dir) / LOSS_PLOT)
