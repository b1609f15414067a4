"""Low-rank adapter layers shared by C-Poly and MedCare (plain LoRA goes through peft, see lora.py).

An `AdaptedLinear` keeps the frozen base nn.Linear and adds the outputs of named adapters:
    h = W x + sum_a adapter_a(x)
Adapters follow the papers' convention h = W x + (alpha / r) * x A B, stored the nn.Linear way: `A` is
[r, in] and `B` is [out, r], so the paper's A (d x r) is `A.T` here.

Several LoRAs mixed by gates (MoLoRA experts, C-Poly skills) run as two matmuls: x @ A_all -> [.., n*r],
scaled per LoRA by its gate, then @ B_all. A gate of exactly 0 removes that LoRA from the output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _init_a(weight: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # as peft / nn.Linear; B starts at zero


class LoRA(nn.Module):
    """x -> (alpha / r) * x A B."""

    def __init__(self, in_features: int, out_features: int, r: int, alpha: float):
        super().__init__()
        self.r, self.alpha = r, alpha
        self.scaling = alpha / r
        self.A = nn.Parameter(torch.empty(r, in_features))
        self.B = nn.Parameter(torch.zeros(out_features, r))
        _init_a(self.A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x.to(self.A.dtype), self.A), self.B) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """The dense update (alpha/r) * B A, shaped like the base weight [out, in]."""
        return (self.B.float() @ self.A.float()) * self.scaling


class GatedLoRAs(nn.Module):
    """n LoRAs of rank r computed together; `forward(x, gates)` with gates [..., n] broadcastable to x's rows."""

    def __init__(self, in_features: int, out_features: int, n: int, r: int, alpha: float):
        super().__init__()
        self.n, self.r, self.alpha = n, r, alpha
        self.scaling = alpha / r
        self.A = nn.Parameter(torch.empty(n * r, in_features))
        self.B = nn.Parameter(torch.zeros(out_features, n * r))
        for i in range(n):
            _init_a(self.A.data[i * r : (i + 1) * r])

    def forward(self, x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        h = F.linear(x.to(self.A.dtype), self.A)  # [..., n*r]
        h = h * gates.to(h.dtype).repeat_interleave(self.r, dim=-1)
        return F.linear(h, self.B) * self.scaling

    def single(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """LoRA i alone (ungated), for checks."""
        sl = slice(i * self.r, (i + 1) * self.r)
        return F.linear(F.linear(x.to(self.A.dtype), self.A[sl]), self.B[:, sl]) * self.scaling


class TopKRouter(nn.Module):
    """MoLoRA's router G(x) = softmax(x W_r), keeping the top-k probabilities per token and zeroing the rest
    (MedCare eq. 4-5: the output sums the k selected experts weighted by their softmax probabilities)."""

    def __init__(self, in_features: int, n_experts: int, top_k: int):
        super().__init__()
        self.top_k = top_k
        self.weight = nn.Parameter(torch.empty(n_experts, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(F.linear(x.to(self.weight.dtype), self.weight).float(), dim=-1)
        top, index = probs.topk(self.top_k, dim=-1)
        return torch.zeros_like(probs).scatter(-1, index, top)


class MoLoRA(nn.Module):
    """A mixture of LoRA experts with a softmax top-k router (MedCare's Noise Aggregator)."""

    def __init__(self, in_features: int, out_features: int, n_experts: int, top_k: int, r: int, alpha: float):
        super().__init__()
        self.router = TopKRouter(in_features, n_experts, top_k)
        self.experts = GatedLoRAs(in_features, out_features, n_experts, r, alpha)
        self.last_gates: torch.Tensor | None = None  # kept (detached) for inspection and tests

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.router(x)
        self.last_gates = gates.detach()
        return self.experts(x, gates)


class AdaptedLinear(nn.Module):
    """A frozen nn.Linear plus named adapters whose outputs are added to its output."""

    def __init__(self, base: nn.Linear):
        super().__init__()
        self.base = base
        self.adapters = nn.ModuleDict()

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:  # some model code reads .weight of its projections
        return self.base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        for adapter in self.adapters.values():
            out = out + adapter(x).to(out.dtype)
        return out

    @torch.no_grad()
    def merge(self, name: str) -> None:
        """Fold a LoRA adapter into the base weight (W' = W + alpha/r B A) and remove it."""
        adapter = self.adapters[name]
        weight = self.base.weight
        weight.copy_((weight.float() + adapter.delta_weight().to(weight.device)).to(weight.dtype))
        del self.adapters[name]


def wrap_linears(model: nn.Module, suffixes: list[str]) -> dict[str, AdaptedLinear]:
    """Replace every nn.Linear whose name ends with one of `suffixes` by an AdaptedLinear; returns them by name."""
    found = {}
    for name, module in list(model.named_modules()):
        leaf = name.rsplit(".", 1)[-1]
        if leaf in suffixes and isinstance(module, nn.Linear):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            wrapped = AdaptedLinear(module)
            setattr(parent, leaf, wrapped)
            found[name] = wrapped
        elif leaf in suffixes and isinstance(module, AdaptedLinear):
            found[name] = module
    missing = [s for s in suffixes if not any(n.rsplit(".", 1)[-1] == s for n in found)]
    if missing:
        raise ValueError(f"no linear layer named {missing} in the model (check the method's module names)")
    return found


def unwrap_linears(model: nn.Module) -> None:
    """Put the base nn.Linear back wherever an AdaptedLinear has no adapter left (so save_pretrained is plain)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, AdaptedLinear):
            if len(module.adapters):
                raise ValueError(f"{name} still has adapters {list(module.adapters)}; merge or drop them first")
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, name.rsplit(".", 1)[-1], module.base)
