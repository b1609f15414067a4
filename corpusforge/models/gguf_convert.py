"""A GGUF file -> a float32 transformers model folder (weights, config, tokenizer with its chat template).

transformers dequantizes a GGUF file on `from_pretrained(folder, gguf_file=...)`, but `save_pretrained` refuses a
model loaded that way (it still carries the GGUF quantization config). So the weights move into a fresh model
built from the same config without it, and that one is saved.
"""

from __future__ import annotations

from pathlib import Path


def convert_gguf_to_folder(gguf: Path, out: Path) -> None:
    # torch/transformers load in seconds; only this command needs them, so they are imported here
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.tie_weights()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    if loaded.generation_config is not None:
        loaded.generation_config.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(out)
