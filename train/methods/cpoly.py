"""C-Poly (AntGLM-Med eq. 1): per task t, sum_i w_i^t phi_i(x) + w^t phi^t(x).

- A shared LoRA skills phi_1..phi_A, allocated to tasks by the learned matrix W_A [T x A]. The allocation is
  peft's Polytropon router (PolyRouter): Gumbel-sigmoid (a relaxed Bernoulli sample) while training, the plain
  sigmoid at eval, normalised to sum to one per task.
- One task-specific LoRA phi^t per task with a learned weight w^t (W_B, the diagonal of the paper's T x T block).
Together the gates form the paper's allocation matrix W in R^{T x (A+T)}: row t is [W_A[t], w^t e_t].

Unlike peft's Poly, which mixes the A and B matrices of the skills, this mixes their outputs, as eq. (1) writes
it. The model cannot be merged into one set of weights (the mix depends on the task id, and on Gumbel noise in
training); the export is the base model plus `cpoly_adapters.safetensors` and `cpoly_config.json`, loaded with
`train.export.load_model`, which routes by the `task_ids` given to forward.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from train.methods.base import TaskContext, TrainModule, freeze
from train.methods.layers import GatedLoRAs, wrap_linears

ADAPTER_FILE = "cpoly_adapters.safetensors"
CONFIG_FILE = "cpoly_config.json"


class CPolyAdapter(nn.Module):
    """The shared skills and task-specific LoRAs of one linear layer, gated per example by its task id."""

    def __init__(self, in_features, out_features, n_tasks, n_skills, r, alpha, context: TaskContext):
        super().__init__()
        from peft.tuners.poly.config import PolyConfig
        from peft.tuners.poly.router import PolyRouter

        self.n_tasks, self.n_skills = n_tasks, n_skills
        self.context = context
        self.loras = GatedLoRAs(in_features, out_features, n_skills + n_tasks, r, alpha)
        self.router = PolyRouter(PolyConfig(n_tasks=n_tasks, n_skills=n_skills, n_splits=1))
        self.router.reset()
        self.task_weight = nn.Parameter(torch.ones(n_tasks))

    def gates(self, task_ids: torch.Tensor) -> torch.Tensor:
        """[batch, A + T]: the row of the allocation matrix W for each example's task."""
        task_ids = task_ids.to(self.task_weight.device).long()
        if task_ids.numel() and (task_ids.min() < 0 or task_ids.max() >= self.n_tasks):
            raise ValueError(f"task ids must be in 0..{self.n_tasks - 1}, got {task_ids.tolist()}")
        shared = self.router(task_ids=task_ids, input_ids=None)[:, 0, :]  # [batch, A]
        specific = nn.functional.one_hot(task_ids, self.n_tasks).to(shared.dtype) * self.task_weight[task_ids, None]
        return torch.cat([shared, specific], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gates(self.context.require())  # [batch, A+T]
        return self.loras(x, gates[:, None, :] if x.dim() == 3 else gates)


def attach(lm: nn.Module, method, context: TaskContext) -> dict[str, nn.Module]:
    layers = wrap_linears(lm, list(method.target_modules))
    for layer in layers.values():
        layer.adapters["cpoly"] = CPolyAdapter(
            layer.in_features, layer.out_features, method.n_tasks, method.n_skills, method.r, method.alpha, context
        ).to(layer.base.weight.device)
    return layers


def build(lm, method) -> TrainModule:
    freeze(lm)
    context = TaskContext()
    attach(lm, method, context)
    return TrainModule(lm, task_context=context)


def adapter_state(lm: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().float().contiguous() for k, v in lm.state_dict().items() if ".adapters.cpoly." in k}


def export(module: TrainModule, method, out_dir: Path, dtype) -> dict:
    """Base weights as a plain HF model + the adapters beside them (C-Poly cannot be merged, see module doc)."""
    from safetensors.torch import save_file

    from train.methods.layers import AdaptedLinear

    lm = module.lm
    state = adapter_state(lm)
    bases = {name: m.base for name, m in lm.named_modules() if isinstance(m, AdaptedLinear)}
    removed = {}
    for name, base in bases.items():  # save the base model without adapters, then put them back
        parent_name, leaf = name.rsplit(".", 1)
        parent = lm.get_submodule(parent_name)
        removed[name] = getattr(parent, leaf)
        setattr(parent, leaf, base)
    try:
        lm.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    finally:
        for name, wrapped in removed.items():
            parent_name, leaf = name.rsplit(".", 1)
            setattr(lm.get_submodule(parent_name), leaf, wrapped)
    save_file(state, str(out_dir / ADAPTER_FILE))
    (out_dir / CONFIG_FILE).write_text(json.dumps(method.model_dump(mode="json"), indent=2) + "\n")
    return {"merged": False, "adapters": ADAPTER_FILE, "why": "C-Poly mixes adapters per task id; not mergeable"}


def load(lm: nn.Module, export_dir: Path) -> TrainModule:
    """Rebuild an exported C-Poly model on its base weights (eval mode: sigmoid allocation, no Gumbel noise)."""
    from safetensors.torch import load_file

    from train.config import CPolyMethod

    method = CPolyMethod.model_validate(json.loads((export_dir / CONFIG_FILE).read_text()))
    module = build(lm, method)
    state = load_file(str(export_dir / ADAPTER_FILE))
    missing, unexpected = module.lm.load_state_dict(state, strict=False)
    cpoly_missing = [k for k in missing if ".adapters.cpoly." in k]
    if cpoly_missing or unexpected:
        raise ValueError(f"{export_dir}: adapters do not fit the model ({cpoly_missing[:3]} {unexpected[:3]})")
    return module
