"""What a training config names must exist before anything slow starts (the launcher, DeepSpeed, model load).

Checked: model.path and model.tokenizer (a local model directory, or a Hub id that is cached or on the Hub),
data.path and mc_eval.path (a build's dataset directory with the splits the config names, a .jsonl/.parquet
file, or a Hub dataset id), method.mka_dir for MedCare DA. Each problem is one line that names the key, the
value and what to do. Relative paths are relative to the working directory, like every path in a recipe
(train/README.md, "Paths").

A Hub id is looked up in the local Hub cache first; only when it is not there is the Hub asked (unless
HF_HUB_OFFLINE is set), so an offline machine with a warm cache passes and an unreachable Hub is reported now
instead of after the start-up.
"""

from __future__ import annotations

from pathlib import Path

from corpusforge.output.dataset_dir import output_folder_problem
from corpusforge.sources_check import hub_problems, model_problems, where
from train.config import TrainConfig

DATA_FILES = (".jsonl", ".json", ".parquet", ".csv")


def check_paths(config: TrainConfig) -> list[str]:
    """Every problem with the files and ids the config names, as `key: message` lines (empty: all good)."""
    problems = model_problems("model.path", config.model.path, needs="config.json")
    if output_problem := output_folder_problem("train.output_dir", config.train.output_dir):
        problems.append(output_problem)
    if config.model.tokenizer:
        problems += model_problems("model.tokenizer", config.model.tokenizer, needs="tokenizer")
    splits = [config.data.train_split] + ([config.data.eval_split] if config.data.eval_split else [])
    problems += data_problems("data.path", config.data.path, splits, config.data.format)
    if config.mc_eval is not None:
        problems += data_problems("mc_eval.path", config.mc_eval.path, [config.mc_eval.split], "dataset")
    if config.method.name == "medcare_da":
        mka = Path(config.method.mka_dir).expanduser()
        if not (mka / "medcare_adapters.safetensors").is_file():
            problems.append(
                f"method.mka_dir: {config.method.mka_dir}{where(config.method.mka_dir)} has no "
                "medcare_adapters.safetensors; give the export/ folder of a finished medcare_mka run"
            )
    return problems


def data_problems(key: str, value: str, splits: list[str], fmt: str) -> list[str]:
    from corpusforge.output.dataset_dir import split_files

    local = Path(value).expanduser()
    if local.is_dir():
        if fmt == "tokenized":
            return []
        shards = split_files(local)
        if not shards:
            return [f"{key}: {value} has no data/<split>-*.parquet shards: is it the output of `corpusforge build`?"]
        missing = [s for s in splits if s not in shards]
        if missing:
            return [f"{key}: {value} has no split {', '.join(map(repr, missing))}; it has {sorted(shards)}"]
        return []
    if local.is_file():
        if local.suffix not in DATA_FILES:
            return [f"{key}: {value}: unsupported file type (use {', '.join(DATA_FILES)}) or a dataset directory"]
        return []
    if local.suffix in DATA_FILES or value.startswith((".", "/", "~")):
        return [f"{key}: {value} not found{where(value)}"]
    hint = "a dataset directory written by `corpusforge build` (build it first), a .jsonl/.parquet file"
    return hub_problems(key, value, "dataset", hint)


def deepspeed_problems(ds: dict, where: str, accelerator: str = "auto") -> list[str]:
    """DeepSpeed validates its `zero_optimization` section strictly, but only once the ranks have started;
    the same check here (importing DeepSpeed's config model costs a few seconds, the launcher much more)."""
    import os

    if accelerator != "auto":  # as the ranks will have it; DeepSpeed's import otherwise probes and warns
        os.environ.setdefault("DS_ACCELERATOR", accelerator)
    zero = ds.get("zero_optimization")
    if zero is None:
        return []
    if not isinstance(zero, dict):
        return [f"deepspeed: {where}: zero_optimization must be an object"]
    from pydantic import ValidationError

    from corpusforge.config import format_validation_error

    try:
        from deepspeed.runtime.zero.config import DeepSpeedZeroConfig
    except ImportError:  # DeepSpeed not installed: the launcher check says so
        return []
    try:
        DeepSpeedZeroConfig(**zero)
    except ValidationError as e:
        ours = "see the recipe reference in the README"
        return [
            f"deepspeed: {where}: zero_optimization.{p}".replace(ours, "see DeepSpeed's configuration reference")
            for p in format_validation_error(e)
        ]
    return []
