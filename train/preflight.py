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

import os
from pathlib import Path

from train.config import TrainConfig

DATA_FILES = (".jsonl", ".json", ".parquet", ".csv")


def where(value: str) -> str:
    """How a relative path was resolved, for messages."""
    return "" if Path(value).expanduser().is_absolute() else f" (relative to the working directory {os.getcwd()})"


def check_paths(config: TrainConfig) -> list[str]:
    """Every problem with the files and ids the config names, as `key: message` lines (empty: all good)."""
    problems = model_problems("model.path", config.model.path, needs="config.json")
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


def model_problems(key: str, value: str, needs: str) -> list[str]:
    local = Path(value).expanduser()
    if local.is_dir():
        if needs == "config.json" and not (local / "config.json").is_file():
            return [
                f"{key}: {value} has no config.json: not a Hugging Face model directory (save_pretrained writes one)"
            ]
        if needs == "tokenizer" and not any(
            (local / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")
        ):
            return [f"{key}: {value} has no tokenizer.json or tokenizer_config.json"]
        return []
    if local.exists():
        return [f"{key}: {value} is a file; give a model directory (with config.json) or a Hub model id"]
    return hub_problems(key, value, "model", "a local model directory")


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


def hub_problems(key: str, value: str, repo_type: str, local_kind: str) -> list[str]:
    """A value that is not a local path: fine if it is a Hub id that is cached or exists on the Hub."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    from corpusforge.errors import first_line, hub_endpoint, is_network_error

    not_local = f"{key}: {value} is not a local path{where(value)}"
    try:
        validate_repo_id(value)
    except HFValidationError:
        return [f"{not_local}; give {local_kind} or a Hub {repo_type} id"]
    cache = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{value.replace('/', '--')}"
    if cache.is_dir():
        return []
    if constants.HF_HUB_OFFLINE:
        return [
            f"{not_local} nor in the Hub cache, and HF_HUB_OFFLINE is set; give {local_kind}, or download it first"
        ]
    from huggingface_hub import HfApi

    try:
        exists = HfApi().repo_exists(value, repo_type=repo_type)
    except Exception as e:
        if not is_network_error(e) and "OfflineModeIsEnabled" not in type(e).__name__:
            raise
        return [f"{not_local}, and the Hub ({hub_endpoint()}) cannot be reached to look it up ({first_line(e)})"]
    if not exists:
        return [f"{not_local} nor a {repo_type} on the Hub; give {local_kind} (or check the id and HF_TOKEN)"]
    return []
