"""Full fine-tuning: every weight trains; the export is the model itself."""

from __future__ import annotations

from train.methods.base import TrainModule


def build(lm, method) -> TrainModule:
    for p in lm.parameters():
        p.requires_grad_(True)
    return TrainModule(lm)


def export(module: TrainModule, method, out_dir, dtype) -> dict:
    module.lm.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    return {"merged": True}
