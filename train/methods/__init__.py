"""Training methods: each builds the TrainModule for a config and exports the trained model.

full (all weights), lora (peft), cpoly (shared skills + task-specific LoRAs, task-routed), medcare_mka and
medcare_da (MedCare's two stages). `build_module` and `export_module` dispatch on `method.name`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _impl(name: str):
    from importlib import import_module

    module = {"full": "full", "lora": "lora", "cpoly": "cpoly", "medcare_mka": "medcare", "medcare_da": "medcare"}
    return import_module(f"train.methods.{module[name]}")


def build_module(lm, method: Any):
    """Attach the method's adapters to the loaded causal LM and wrap it for the loop."""
    return _impl(method.name).build(lm, method)


def export_module(module, method: Any, out_dir: Path, dtype) -> dict[str, Any]:
    """Write the trained model as a Hugging Face model directory; returns what was written (for the log)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _impl(method.name).export(module, method, out_dir, dtype)
