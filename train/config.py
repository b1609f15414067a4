"""The training config: one strict YAML file per stage, validated as a whole before anything is loaded.

Unknown keys are rejected with their dotted path (corpusforge.config.StrictModel); `--set a.b=VALUE` overrides are
applied to the raw YAML first, so they are validated exactly like the file. The DeepSpeed JSON named by
`deepspeed:` is passed to DeepSpeed as it is, except for the keys this config owns (batch sizes, gradient
clipping), which are filled in here and must be absent or "auto" in the JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from corpusforge.config import StrictModel, load_config
from corpusforge.errors import ConfigError

Stage = Literal["pt", "sft", "adapt"]


class ModelConfig(StrictModel):
    path: str = Field(description="a Hugging Face model directory or Hub id (the base model of this stage)")
    tokenizer: str | None = Field(None, description="tokenizer directory or id; default: model.path")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: str | None = Field(None, description="e.g. sdpa, eager, flash_attention_2")
    gradient_checkpointing: bool = False
    trust_remote_code: bool = False


class DataConfig(StrictModel):
    path: str = Field(description="the build's output directory, a .jsonl/.parquet file, or a Hub dataset id")
    format: Literal["dataset", "tokenized"] = Field(
        "dataset", description="dataset: rows with text/messages; tokenized: datatrove .ds shards (stage pt only)"
    )
    train_split: str = "train"
    eval_split: str | None = None
    max_length: int = Field(2048, ge=8, description="tokens per packed block (pt) or per example (sft/adapt)")
    text_field: str = "text"
    packing: bool = Field(True, description="sft/adapt: pack several examples per row (else length bucketing)")
    max_examples: int | None = Field(None, ge=1, description="use only the first N rows (smoke runs)")
    eval_max_examples: int | None = Field(None, ge=1)
    task_ids: list[int] | None = Field(None, description="adapt: keep only these task ids (default: all)")


class FullMethod(StrictModel):
    name: Literal["full"] = "full"


class LoraMethod(StrictModel):
    """Plain LoRA through peft (AntGLM-Med stage 3: r=8)."""

    name: Literal["lora"] = "lora"
    r: int = Field(8, ge=1)
    alpha: float = 16
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class CPolyMethod(StrictModel):
    """C-Poly: A shared LoRA skills with a learned task-to-skill allocation plus one LoRA per task (paper A=4, r=4)."""

    name: Literal["cpoly"] = "cpoly"
    n_tasks: int = Field(ge=1, description="number of task ids in the data (ids are 0..n_tasks-1)")
    n_skills: int = Field(4, ge=1, description="A, the shared skills")
    r: int = Field(4, ge=1)
    alpha: float = 8
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class MedCareMKAMethod(StrictModel):
    """MedCare stage 1 (MKA): KA (shared LoRA, rank s*r) + NA (MoLoRA, top-k) on FFN linears, LoRA on attention."""

    name: Literal["medcare_mka"] = "medcare_mka"
    r: int = Field(16, ge=1)
    alpha: float = 32
    shared_experts: int = Field(2, ge=1, description="s: the Knowledge Aggregator has rank s*r")
    n_experts: int = Field(8, ge=1, description="Noise Aggregator experts")
    top_k: int = Field(2, ge=1)
    attention_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    ffn_modules: list[str] = ["gate_proj", "up_proj", "down_proj"]

    @model_validator(mode="after")
    def _top_k_fits(self):
        if self.top_k > self.n_experts:
            raise ValueError(f"top_k ({self.top_k}) cannot exceed n_experts ({self.n_experts})")
        return self


class MedCareDAMethod(StrictModel):
    """MedCare stage 2 (DA): attention LoRA merged and frozen, KA trained on, alignment LoRA + orthogonal loss."""

    name: Literal["medcare_da"] = "medcare_da"
    mka_dir: str = Field(description="the MKA run's export directory (holds medcare_adapters.safetensors)")
    align_r: int = Field(32, ge=1, description="rank of the alignment LoRA (eq. 13 scales both by alpha/r')")
    align_alpha: float = 32
    orth_lambda: float = Field(1.0, ge=0)


Method = Annotated[
    FullMethod | LoraMethod | CPolyMethod | MedCareMKAMethod | MedCareDAMethod, Field(discriminator="name")
]


class OptimizerConfig(StrictModel):
    impl: Literal["torch", "deepspeed"] = Field(
        "torch", description="torch: torch.optim.AdamW (no op to compile); deepspeed: DeepSpeed's AdamW/CPUAdam"
    )
    lr: float = Field(gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)


class ScheduleConfig(StrictModel):
    kind: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    warmup_steps: int | None = Field(None, ge=0, description="overrides warmup_ratio when set")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="the final LR as a fraction of the peak LR")


class BatchConfig(StrictModel):
    global_size: int = Field(ge=1, description="sequences per optimizer step over all processes")
    micro_size: int = Field(1, ge=1, description="sequences per forward pass per process")


class TrainLoopConfig(StrictModel):
    output_dir: str
    epochs: float = Field(1, gt=0)
    max_steps: int | None = Field(None, ge=1, description="the number of optimizer steps (overrides epochs)")
    seed: int = 42
    log_every: int = Field(10, ge=1)
    eval_every: int | None = Field(None, ge=1, description="optimizer steps between evaluations (None: at the end)")
    save_every: int | None = Field(None, ge=1, description="optimizer steps between checkpoints (None: at the end)")
    keep_checkpoints: int = Field(2, ge=1)
    resume: Literal["auto", "never"] = "auto"
    export: bool = True
    export_dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"


class RuntimeConfig(StrictModel):
    accelerator: Literal["auto", "cuda", "cpu"] = "auto"
    dist_backend: Literal["auto", "nccl", "gloo", "ccl"] = "auto"
    dist_timeout_s: int = Field(1800, ge=10)
    master_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="the ranks' rendezvous port; unset: MASTER_PORT from the environment, else a free port on one "
        "node (29500, DeepSpeed's default, with a hostfile)",
    )


class MCEvalConfig(StrictModel):
    """Multiple-choice scoring by option log-likelihood on a stage-3-format split (runs after every eval)."""

    path: str
    split: str = "test"
    max_items: int | None = Field(None, ge=1)
    max_length: int = Field(1024, ge=8)


class MonitorConfig(StrictModel):
    """DeepSpeed's monitors, passed through as its `tensorboard` / `wandb` / `csv_monitor` / `comet` sections.

    Each section is DeepSpeed's own (`enabled`, `output_path`, `job_name`, wandb's `project`/`team`/`group`...);
    an `output_path` left empty becomes `<train.output_dir>/monitor` and `job_name` the stage, so the files land
    next to the run. The loop writes loss, learning rate, gradient norm and every evaluation to them.
    """

    tensorboard: dict[str, Any] | None = None
    wandb: dict[str, Any] | None = None
    csv_monitor: dict[str, Any] | None = None
    comet: dict[str, Any] | None = None


MONITORS = ("tensorboard", "wandb", "csv_monitor", "comet")


class TrainConfig(StrictModel):
    stage: Stage
    model: ModelConfig
    data: DataConfig
    method: Method = Field(default_factory=FullMethod)
    optimizer: OptimizerConfig
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    batch: BatchConfig
    train: TrainLoopConfig
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    deepspeed: str | dict[str, Any] = Field(
        description="a DeepSpeed JSON file (relative to the working directory) or an inline mapping"
    )
    mc_eval: MCEvalConfig | None = None
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)

    @model_validator(mode="after")
    def _consistent(self):
        if self.method.name == "cpoly" and self.stage != "adapt":
            raise ValueError("method cpoly routes by task id and needs stage: adapt")
        if self.method.name == "cpoly" and self.data.packing:
            raise ValueError("method cpoly routes each example by its task id: set data.packing: false")
        if self.data.format == "tokenized" and self.stage != "pt":
            raise ValueError("data.format tokenized is for stage pt only")
        return self


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """YAML + `--set` overrides -> TrainConfig. Relative paths (the DeepSpeed JSON included) are relative to the
    working directory, as in build recipes; the DeepSpeed JSON is made absolute here so every process agrees."""
    config = load_config(TrainConfig, path, overrides)
    if isinstance(config.deepspeed, str):
        config.deepspeed = str(_resolve_deepspeed(config.deepspeed, Path(path).parent))
    return config


def _resolve_deepspeed(name: str, config_dir: Path) -> Path:
    candidate = Path(name).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    hint = ""
    if not candidate.is_absolute() and (config_dir / name).is_file():
        suggestion = os.path.relpath(config_dir / name)
        hint = f"; relative paths are relative to the working directory, not the config's folder: use {suggestion}"
    raise ConfigError(f"deepspeed: {name}: file not found in {os.getcwd()}{hint}")


# DeepSpeed keys this config owns; the JSON may leave them out or set them to "auto".
OWNED_DS_KEYS = ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps")


def load_deepspeed_json(config: TrainConfig) -> dict[str, Any]:
    """The DeepSpeed config as the user wrote it (file or inline mapping), checked for keys this config owns."""
    if isinstance(config.deepspeed, dict):
        ds, where = dict(config.deepspeed), "deepspeed"
    else:
        where = config.deepspeed
        try:
            ds = json.loads(Path(where).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"deepspeed: {where}: not a readable JSON file ({e})") from None
        if not isinstance(ds, dict):
            raise ConfigError(f"deepspeed: {where}: the top level must be a JSON object")
    problems = [
        f'{where}: {key}: set batch.global_size / batch.micro_size in the YAML instead (or use "auto")'
        for key in OWNED_DS_KEYS
        if ds.get(key, "auto") != "auto"
    ]
    for key in ("optimizer", "scheduler"):
        if key in ds:
            problems.append(f"{where}: {key}: set it in the YAML ({key if key == 'optimizer' else 'schedule'}:)")
    if problems:
        raise ConfigError(problems)
    return ds


def gradient_accumulation(config: TrainConfig, world_size: int) -> int:
    """Keep the global batch whatever the number of processes: accumulate global / (micro * world) micro-batches."""
    per_step = config.batch.micro_size * world_size
    if config.batch.global_size % per_step:
        raise ConfigError(
            f"batch.global_size ({config.batch.global_size}) must be a multiple of batch.micro_size "
            f"({config.batch.micro_size}) x processes ({world_size}) = {per_step}"
        )
    return config.batch.global_size // per_step


def resolved_deepspeed_config(config: TrainConfig, world_size: int) -> dict[str, Any]:
    """The DeepSpeed JSON with the owned keys filled in; everything else passed through unchanged."""
    ds = load_deepspeed_json(config)
    accumulation = gradient_accumulation(config, world_size)
    ds.update(
        train_batch_size=config.batch.global_size,
        train_micro_batch_size_per_gpu=config.batch.micro_size,
        gradient_accumulation_steps=accumulation,
    )
    clip = config.optimizer.grad_clip
    if ds.get("gradient_clipping", "auto") == "auto":
        ds["gradient_clipping"] = clip or 0.0
    elif clip is not None and float(ds["gradient_clipping"]) != clip:
        raise ConfigError(
            f"deepspeed: gradient_clipping {ds['gradient_clipping']} contradicts optimizer.grad_clip {clip}"
        )
    for key in MONITORS:  # the YAML's monitor sections over the JSON's; files default to the run's folder
        section = {**(ds.get(key) or {}), **(getattr(config.monitor, key) or {})}
        if section.get("enabled"):
            _check_monitor_package(key)
            if key in ("tensorboard", "csv_monitor"):
                section.setdefault("job_name", config.stage)
                if not section.get("output_path"):
                    section["output_path"] = str(Path(config.train.output_dir) / "monitor")
        if section:
            ds[key] = section
    if config.optimizer.impl == "deepspeed":
        opt = config.optimizer
        ds["optimizer"] = {
            "type": "AdamW",
            "params": {"lr": opt.lr, "betas": list(opt.betas), "eps": opt.eps, "weight_decay": opt.weight_decay},
        }
    else:
        # a torch optimizer is "untested" for DeepSpeed's ZeRO wrappers but works for AdamW (ENVIRONMENT.md)
        ds.setdefault("zero_allow_untested_optimizer", True)
        if _offloads_optimizer(ds):
            ds.setdefault("zero_force_ds_cpu_optimizer", False)
    return ds


def _check_monitor_package(key: str) -> None:
    """An enabled monitor whose package is missing fails here, before the model loads, with the install line."""
    import importlib.util

    package = {"tensorboard": "tensorboard", "wandb": "wandb", "comet": "comet_ml"}.get(key)
    if package and importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"monitor.{key}: enabled, but the {package} package is not installed (pip install {package})"
        )


def _offloads_optimizer(ds: dict[str, Any]) -> bool:
    offload = (ds.get("zero_optimization") or {}).get("offload_optimizer") or {}
    return offload.get("device", "none") not in ("none", None)


def zero_stage(ds: dict[str, Any]) -> int:
    return int((ds.get("zero_optimization") or {}).get("stage", 0))
