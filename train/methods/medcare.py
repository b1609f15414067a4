"""MedCare's two stages (medcare-paper sections 3.2-3.3, appendix B.1).

MKA (miscellaneous knowledge aggregation), eq. (6)-(7), on every FFN linear (gate/up/down):
    h = W x + KA(x) + NA(x),  KA = LoRA of rank s*r (the s shared experts), NA = MoLoRA (E experts of rank r,
    softmax top-k router); plain LoRA (rank r) on the attention projections.
After MKA the Noise Aggregator is dropped (eq. 8). The export holds the merged model W + attention LoRA + KA
(for evaluation) and `medcare_adapters.safetensors` with the unmerged attention LoRA and KA, which DA starts from.

DA (downstream alignment), eq. (9)-(13): the attention LoRA is merged into W and attention is frozen; the KA keeps
training; an alignment LoRA is added on the FFN linears; the loss is NLL + lambda * sum_p |A_k^p^T A_d^p|
(sum of absolute entries, over the P FFN modules). The export merges KA and alignment into W (eq. 13).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from train.methods.base import AuxLosses, TrainModule, freeze
from train.methods.layers import LoRA, MoLoRA, unwrap_linears, wrap_linears

ADAPTER_FILE = "medcare_adapters.safetensors"
CONFIG_FILE = "medcare_config.json"
ATTN, KA, NA, KA_ALIGN = "attn_lora", "knowledge", "noise", "knowledge_align"


def orthogonality(A_k: torch.Tensor, A_d: torch.Tensor) -> torch.Tensor:
    """|A_k^T A_d| summed over entries, with the paper's A (d x r) stored here as [r, d]: A_k @ A_d^T."""
    return (A_k.float() @ A_d.float().T).abs().sum()


class KnowledgeAndAlign(nn.Module):
    """DA's FFN adapter: the Knowledge Aggregator (still training) plus the alignment LoRA, in one module with the
    four matrices as its own parameters, so that ZeRO-3 gathers all of them for its forward pass, where the
    orthogonality term |A_k^T A_d| is added to the shared AuxLosses."""

    def __init__(self, knowledge: LoRA, r: int, alpha: float, aux: AuxLosses):
        super().__init__()
        out_features, in_features = knowledge.B.shape[0], knowledge.A.shape[1]
        align = LoRA(in_features, out_features, r, alpha)
        self.A_k, self.B_k = nn.Parameter(knowledge.A.detach().clone()), nn.Parameter(knowledge.B.detach().clone())
        self.A_d, self.B_d = align.A, align.B
        self.scaling_k, self.scaling_d = knowledge.scaling, align.scaling
        self._aux = aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._aux.terms.append(orthogonality(self.A_k, self.A_d))
        x = x.to(self.A_k.dtype)
        knowledge = nn.functional.linear(nn.functional.linear(x, self.A_k), self.B_k) * self.scaling_k
        return knowledge + nn.functional.linear(nn.functional.linear(x, self.A_d), self.B_d) * self.scaling_d

    def delta_weight(self) -> torch.Tensor:
        """Eq. (13): (alpha/r') B_k A_k + (alpha/r') B_d A_d in the base weight's [out, in] layout."""
        return (self.B_k.float() @ self.A_k.float()) * self.scaling_k + (
            self.B_d.float() @ self.A_d.float()
        ) * self.scaling_d


def attach_mka(lm: nn.Module, method) -> None:
    for layer in wrap_linears(lm, list(method.attention_modules)).values():
        layer.adapters[ATTN] = LoRA(layer.in_features, layer.out_features, method.r, method.alpha)
    for layer in wrap_linears(lm, list(method.ffn_modules)).values():
        i, o = layer.in_features, layer.out_features
        layer.adapters[KA] = LoRA(i, o, method.shared_experts * method.r, method.alpha)
        layer.adapters[NA] = MoLoRA(i, o, method.n_experts, method.top_k, method.r, method.alpha)
    lm.to(next(lm.parameters()).device)


def build_mka(lm, method) -> TrainModule:
    freeze(lm)
    attach_mka(lm, method)
    return TrainModule(lm)


def _adapted(lm: nn.Module, adapter: str):
    from train.methods.layers import AdaptedLinear

    return {n: m for n, m in lm.named_modules() if isinstance(m, AdaptedLinear) and adapter in m.adapters}


def drop_noise_aggregator(lm: nn.Module) -> None:
    for layer in _adapted(lm, NA).values():
        del layer.adapters[NA]


def export_mka(module: TrainModule, method, out_dir: Path, dtype) -> dict:
    """Drop NA; save the attention LoRA + KA unmerged (for DA), then the merged model (for evaluation)."""
    from safetensors.torch import save_file

    lm = module.lm
    drop_noise_aggregator(lm)
    state = {k: v.detach().float().contiguous() for k, v in lm.state_dict().items() if ".adapters." in k}
    save_file(state, str(out_dir / ADAPTER_FILE))
    (out_dir / CONFIG_FILE).write_text(json.dumps(method.model_dump(mode="json"), indent=2) + "\n")
    for adapter in (ATTN, KA):
        for layer in _adapted(lm, adapter).values():
            layer.merge(adapter)
    unwrap_linears(lm)
    lm.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    return {"merged": True, "noise_aggregator": "dropped", "adapters_for_da": ADAPTER_FILE}


def load_mka_adapters(lm: nn.Module, mka_dir: Path):
    """Re-create the MKA attention LoRA and KA on the base model and load their trained weights."""
    from safetensors.torch import load_file

    from train.config import MedCareMKAMethod

    mka_dir = Path(mka_dir)
    for name in (ADAPTER_FILE, CONFIG_FILE):
        if not (mka_dir / name).is_file():
            raise FileNotFoundError(f"{mka_dir / name}: not found (method.mka_dir must be an MKA run's export)")
    mka = MedCareMKAMethod.model_validate(json.loads((mka_dir / CONFIG_FILE).read_text()))
    attach_mka(lm, mka)
    drop_noise_aggregator(lm)
    state = load_file(str(mka_dir / ADAPTER_FILE))
    missing, unexpected = lm.load_state_dict(state, strict=False)
    missing = [k for k in missing if ".adapters." in k]
    if missing or unexpected:
        raise ValueError(f"{mka_dir}: MKA adapters do not fit this base model ({missing[:3]} {unexpected[:3]})")
    return mka


def build_da(lm, method) -> TrainModule:
    freeze(lm)
    load_mka_adapters(lm, Path(method.mka_dir))
    for layer in _adapted(lm, ATTN).values():
        layer.merge(ATTN)  # attention: W + LoRA merged back and frozen (section 3.3)
    aux = AuxLosses()
    for layer in _adapted(lm, KA).values():
        knowledge = layer.adapters.pop(KA)
        # the KA keeps learning in DA (the paper does not fix it, unlike O-LoRA)
        layer.adapters[KA_ALIGN] = KnowledgeAndAlign(knowledge, method.align_r, method.align_alpha, aux).to(
            layer.base.weight.device
        )
    return TrainModule(lm, aux=aux, aux_name="orth", aux_weight=method.orth_lambda)


def export_da(module: TrainModule, method, out_dir: Path, dtype) -> dict:
    lm = module.lm
    for layer in _adapted(lm, KA_ALIGN).values():
        layer.merge(KA_ALIGN)  # eq. (13): W' = W + (alpha/r') A_k B_k + (alpha/r') A_d B_d
    unwrap_linears(lm)
    lm.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    return {"merged": True}


def build(lm, method) -> TrainModule:
    return build_mka(lm, method) if method.name == "medcare_mka" else build_da(lm, method)


def export(module: TrainModule, method, out_dir: Path, dtype) -> dict:
    return (
        export_mka(module, method, out_dir, dtype)
        if method.name == "medcare_mka"
        else export_da(module, method, out_dir, dtype)
    )
