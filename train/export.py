"""The final export (a Hugging Face model directory) and loading it back for evaluation.

OUTPUT/export/ holds the model (adapters merged where the method allows it), the tokenizer, `train_config.yaml`
(the resolved config) and `export.json` (what the method did: merged or not, and why). Under ZeRO-3 the weights
are gathered first; rank 0 writes, into export.partial/ renamed to export/ when complete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger("train")

DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def _gathered(module, zero3: bool):
    if not zero3:
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(list(module.parameters()), modifier_rank=0)


def export_model(module, config, tokenizer, out_dir: Path, rank: int, zero3: bool, config_yaml: str) -> None:
    import torch

    from train.methods import export_module

    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")  # a run killed while exporting leaves no half export
    with _gathered(module, zero3):
        if rank == 0:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            module.eval()
            info = export_module(module, config.method, partial, getattr(torch, DTYPES[config.train.export_dtype]))
            info = relocate_paths(info, partial, out_dir)  # export.json names where things are after the rename
            tokenizer.save_pretrained(partial)
            (partial / "train_config.yaml").write_text(config_yaml, encoding="utf-8")
            (partial / "export.json").write_text(json.dumps({"method": config.method.name, **info}, indent=2) + "\n")
            shutil.rmtree(out_dir, ignore_errors=True)
            partial.rename(out_dir)
            log.info(f"exported {config.method.name} model to {out_dir} ({info})")
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def relocate_paths(info: dict, partial: Path, final: Path) -> dict:
    """`info` with every path written under `partial` pointing at the same file under `final`."""
    prefix = str(partial)

    def moved(value):
        if isinstance(value, str) and (value == prefix or value.startswith(prefix + "/")):
            return str(final) + value[len(prefix) :]
        return value

    return {key: moved(value) for key, value in info.items()}


def load_model(model_dir: str | Path, dtype: str = "float32", device: str = "cpu"):
    """An exported model ready to score: a plain causal LM, or a task-routed TrainModule for C-Poly exports."""
    import torch
    from transformers import AutoModelForCausalLM

    from train.methods import cpoly

    model_dir = Path(model_dir)
    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
    if (model_dir / cpoly.CONFIG_FILE).is_file():
        lm = cpoly.load(lm, model_dir)
    return lm.to(device).eval()
