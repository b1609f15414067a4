"""LoRA through peft (AntGLM-Med stage 3, r=8); the export merges the adapter into the weights."""

from __future__ import annotations

from train.methods.base import TrainModule


def build(lm, method) -> TrainModule:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=method.r,
        lora_alpha=method.alpha,
        lora_dropout=method.dropout,
        target_modules=list(method.target_modules),
        task_type="CAUSAL_LM",
    )
    return TrainModule(get_peft_model(lm, config))


def export(module: TrainModule, method, out_dir, dtype) -> dict:
    peft_model = module.lm
    peft_model.save_pretrained(out_dir / "adapter")  # the unmerged adapter too, for users who swap adapters
    merged = peft_model.merge_and_unload()
    merged.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    return {"merged": True, "adapter": str(out_dir / "adapter")}
