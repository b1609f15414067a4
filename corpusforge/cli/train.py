"""`corpusforge train CONFIG` (through the DeepSpeed launcher) and `corpusforge eval MODEL` (multiple choice)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from corpusforge.cli.app import app
from corpusforge.errors import ConfigError, InputError
from train.runtime import free_port, port_in_use


def run_script() -> Path:
    """train/run.py of the installed `train` package."""
    import train

    return Path(train.__file__).resolve().parent / "run.py"


def rendezvous_port(configured: int | None, multi_node: bool) -> int | None:
    """The ranks' rendezvous port: runtime.master_port, else MASTER_PORT, else a free port (one node) or None
    (DeepSpeed's 29500, with a hostfile: the port must be free on the first node, not here).

    DeepSpeed's launcher always uses 29500 unless told otherwise, so two trainings on one machine collided with a
    51-line EADDRINUSE traceback; a port that was chosen and is busy is one line now, before anything starts.
    """
    key, port = "runtime.master_port", configured
    if port is None and os.environ.get("MASTER_PORT"):
        key, value = "MASTER_PORT", os.environ["MASTER_PORT"]
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ConfigError(f"MASTER_PORT={value!r}: not a port number (1-65535)")
        port = int(value)
    if port is None:
        return None if multi_node else free_port()
    if not multi_node and port_in_use(port):
        raise ConfigError(
            f"{key}: port {port} is in use on this machine (another training?); choose a free one, or leave "
            f"{key} unset to pick one"
        )
    return port


def launcher_command(
    config: Path,
    overrides: list[str],
    num_gpus: int | None,
    num_nodes: int | None,
    hostfile: Path | None,
    master_port: int | None = None,
) -> list[str]:
    """The `deepspeed` command line: GPUs per node and a hostfile for several nodes are passed to the launcher."""
    launcher = shutil.which("deepspeed") or str(Path(sys.executable).parent / "deepspeed")
    if not Path(launcher).exists():
        raise InputError("the `deepspeed` launcher is not installed: pip install 'corpusforge[train]'")
    cmd = [launcher]
    if master_port is not None:
        cmd += ["--master_port", str(master_port)]
    if hostfile is not None:
        if not hostfile.is_file():
            raise InputError(f"{hostfile}: hostfile not found")
        cmd += ["--hostfile", str(hostfile)]
    if num_nodes is not None:
        cmd += ["--num_nodes", str(num_nodes)]
    if num_gpus is not None:
        cmd += ["--num_gpus", str(num_gpus)]
    cmd += [str(run_script()), "--config", str(config)]
    for override in overrides:
        cmd += ["--set", override]
    return cmd


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="training config, e.g. train/configs/stage1_pt.yaml")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a config key: --set optimizer.lr=1e-5")
    ] = None,
    num_gpus: Annotated[int | None, typer.Option("--num-gpus", help="processes (GPUs) per node")] = None,
    num_nodes: Annotated[int | None, typer.Option("--num-nodes", help="number of nodes (with --hostfile)")] = None,
    hostfile: Annotated[
        Path | None, typer.Option("--hostfile", help="DeepSpeed hostfile: one `host slots=N` line per node")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Validate (paths included), print the resolved config and the launch command"),
    ] = False,
) -> None:
    """Train one stage (pt, sft, adapt) with DeepSpeed: the same config on one GPU, several, or several nodes.

    Checkpoints go to OUTPUT/checkpoints (a rerun resumes from the latest), the final model to OUTPUT/export.
    Ctrl-C or SIGTERM stops after the current step with a checkpoint (twice: at once); one run per OUTPUT.
    """
    from corpusforge.config import dump_yaml
    from train.config import gradient_accumulation, load_deepspeed_json, load_train_config
    from train.preflight import check_paths, deepspeed_problems

    overrides = set_ or []
    parsed = load_train_config(config, overrides)
    ds = load_deepspeed_json(parsed)  # fail now, not after the launcher has started
    world = (num_gpus or 1) * (num_nodes or 1)
    if num_gpus is not None and hostfile is None:
        gradient_accumulation(parsed, world)  # the global batch must split evenly over the processes
    problems = check_paths(parsed)  # model, data, adapters: before any slow start-up, in a dry run too
    where = "deepspeed" if isinstance(parsed.deepspeed, dict) else parsed.deepspeed
    problems += deepspeed_problems(ds, where, parsed.runtime.accelerator)
    if problems:
        raise ConfigError(problems, source=str(config))
    port = rendezvous_port(parsed.runtime.master_port, multi_node=hostfile is not None)
    cmd = launcher_command(config, overrides, num_gpus, num_nodes, hostfile, port)
    if dry_run:
        typer.echo(dump_yaml(parsed))
        if num_gpus is not None:
            accumulation = gradient_accumulation(parsed, world)
            typer.echo(
                f"# {world} process(es): global batch {parsed.batch.global_size} = micro {parsed.batch.micro_size}"
                f" x accumulation {accumulation} x {world}"
            )
        typer.echo("# " + " ".join(cmd))
        return
    from train.supervise import supervise

    code = supervise(cmd, Path(parsed.train.output_dir), multi_node=hostfile is not None, port=port)
    if code != 0:  # the ranks have printed what went wrong
        raise typer.Exit(code)


@app.command("eval")
def eval_(
    model: Annotated[Path, typer.Argument(help="a model directory (e.g. runs/stage3_lora/export)")],
    pubmedqa: Annotated[
        Path | None,
        typer.Option("--pubmedqa", help="PubMedQA's ori_pqal.json (or its folder): the official 500-PMID test split"),
    ] = None,
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="test_ground_truth.json (default: next to ori_pqal.json)")
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="stage-3 multiple-choice records: dataset dir, .jsonl or Hub id")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="split of --data")] = "test",
    task_id: Annotated[int, typer.Option("--task-id", help="task id for --pubmedqa items (C-Poly routing)")] = 0,
    max_length: Annotated[
        int, typer.Option("--max-length", help="tokens per prompt + option (left-truncated)")
    ] = 1024,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 16,
    limit: Annotated[int | None, typer.Option("--limit", help="score only the first N items")] = None,
    template: Annotated[
        str, typer.Option("--template", help="--pubmedqa: instruction template of the prompt (as in stage 3)")
    ] = "mc_table9_en",
    target: Annotated[
        str, typer.Option("--target", help="--pubmedqa: answer form scored: letter (A), option (A) yes), sentence")
    ] = "option",
    rank_by: Annotated[
        str,
        typer.Option(
            "--rank-by",
            help="perplexity (mean log-prob per token) or loglikelihood (summed), per answer form; the forms of an "
            "option are combined as the labeller's PPL strategy does",
        ),
    ] = "perplexity",
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="float32, bfloat16 or float16")] = "float32",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the report as JSON here")] = None,
) -> None:
    """Score a model on multiple-choice items by option log-likelihood: accuracy, macro-F1, confusion matrix."""
    import json

    from corpusforge.eval import mc_loglik
    from corpusforge.sources_check import model_problems

    problems = model_problems("MODEL", str(model), needs="config.json")
    if problems:
        raise ConfigError(problems)
    if rank_by not in ("perplexity", "loglikelihood"):
        raise ConfigError(f"--rank-by {rank_by}: use perplexity or loglikelihood")
    if (pubmedqa is None) == (data is None):
        raise ConfigError("give exactly one of --pubmedqa (the official test split) or --data (stage-3 records)")
    if pubmedqa is not None:
        pqal = pubmedqa / "ori_pqal.json" if pubmedqa.is_dir() else pubmedqa
        truth = ground_truth or pqal.parent / "test_ground_truth.json"
        if not pqal.is_file():
            raise ConfigError(f"--pubmedqa {pubmedqa}: not found; give ori_pqal.json or the folder that holds it")
        mc_loglik.pubmedqa_items(pqal)  # a wrong file is named before the ground truth looked up next to it
        if ground_truth is None and not truth.is_file():
            raise ConfigError(
                f"--pubmedqa {pqal}: no test_ground_truth.json next to it ({truth}); give --ground-truth FILE"
            )
        if not truth.is_file():
            raise ConfigError(f"--ground-truth {truth}: file not found (the official test_ground_truth.json)")
        items = mc_loglik.pubmedqa_test_items(pqal, truth, task_id=task_id, template=template, target=target)
        source = f"PubMedQA official test split ({truth})"
    else:
        records = [r for r in mc_loglik.read_records(data, split) if r.get("mc")]
        items = mc_loglik.items_from_records(records, f"{data} [{split}]")
        source = f"{data} [{split}]"
    if limit:
        items = items[:limit]
    if not items:
        raise InputError(f"{source}: no multiple-choice items to score")

    from transformers import AutoTokenizer

    from train.export import load_model

    tokenizer = AutoTokenizer.from_pretrained(model)
    lm = load_model(model, dtype=dtype, device=device)
    scores = mc_loglik.score_items(mc_loglik.hf_logits_fn(lm), tokenizer, items, max_length, batch_size, rank_by)
    predicted = mc_loglik.predict(items, scores)
    report = mc_loglik.report(items, predicted)
    typer.echo(f"{model} on {source}: n={report.n} accuracy={report.accuracy:.4f} macro-F1={report.macro_f1:.4f}")
    typer.echo(report.confusion_table())
    if output is not None:
        result = {"model": str(model), "source": source, **report.to_dict(), "predictions": predicted}
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
