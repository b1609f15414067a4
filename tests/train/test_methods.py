"""The methods' building blocks, in-process on the tiny model: MoLoRA routing, the orthogonal loss, C-Poly's
allocation, and that every merge gives the logits of the unmerged adapter model."""

from __future__ import annotations

import pytest
import torch

from train.config import CPolyMethod, LoraMethod, MedCareDAMethod, MedCareMKAMethod
from train.methods import build_module, export_module
from train.methods.layers import AdaptedLinear, MoLoRA
from train.methods.medcare import KnowledgeAndAlign, orthogonality


def tiny_lm(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)


def randomize_adapters(module, seed=0):
    """LoRA B matrices start at zero (a no-op); give every adapter weight random values so merges are tested."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def sample_ids(n=2, length=12, seed=0):
    return torch.randint(10, 500, (n, length), generator=torch.Generator().manual_seed(seed))


def test_molora_router_uses_exactly_top_k_experts():
    torch.manual_seed(0)
    layer = MoLoRA(16, 12, n_experts=8, top_k=2, r=4, alpha=8)
    torch.nn.init.normal_(layer.experts.B)
    x = torch.randn(3, 5, 16)
    out = layer(x)
    gates = layer.last_gates
    assert ((gates > 0).sum(-1) == 2).all()  # exactly top-2 experts per token
    probs = torch.softmax(x @ layer.router.weight.T, -1)
    top = probs.topk(2, -1)
    assert torch.allclose(gates.gather(-1, top.indices), top.values)  # the softmax weights of the selected two
    expected = torch.zeros_like(out)
    for e in range(8):
        expected += gates[..., e : e + 1] * layer.experts.single(e, x)
    assert torch.allclose(out, expected, atol=1e-5)
    # for one token, the 6 experts it did not select do not change its output
    token = x[:1, :1]
    first = layer(token)
    unused = [e for e in range(8) if layer.last_gates[0, 0, e] == 0]
    assert len(unused) == 6
    with torch.no_grad():
        for e in unused:
            layer.experts.B[:, e * 4 : (e + 1) * 4] += 100.0
    assert torch.allclose(layer(token), first, atol=1e-5)


def test_orthogonal_loss_equals_the_formula_on_known_matrices():
    # paper layout A (d x r); stored here as [r, d]
    A_k_paper = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # d=3, r=2
    A_d_paper = torch.tensor([[0.0, 1.0, -1.0], [1.0, 0.0, 3.0], [2.0, 1.0, 0.0]])  # d=3, r'=3
    expected = (A_k_paper.T @ A_d_paper).abs().sum()  # [[2, 2, -1], [4, 1, 6]] -> 16
    assert expected == 16.0
    assert orthogonality(A_k_paper.T, A_d_paper.T) == pytest.approx(16.0)


def test_orthogonal_loss_gradient_pushes_alignment_toward_orthogonality():
    from train.methods.base import AuxLosses
    from train.methods.layers import LoRA

    torch.manual_seed(0)
    knowledge = LoRA(32, 16, r=4, alpha=8)
    aux = AuxLosses()
    adapter = KnowledgeAndAlign(knowledge, r=4, alpha=8, aux=aux)
    adapter.train()
    optimizer = torch.optim.SGD([adapter.A_d], lr=0.02)
    before = orthogonality(adapter.A_k, adapter.A_d).item()
    for _ in range(100):
        aux.reset()
        adapter(torch.randn(2, 32))
        optimizer.zero_grad()
        aux.total().backward()
        optimizer.step()
    after = orthogonality(adapter.A_k, adapter.A_d).item()
    assert after < 0.1 * before
    # the subspaces spanned by the rows of A_k and A_d are now nearly orthogonal
    cos = torch.nn.functional.normalize(adapter.A_k, dim=1) @ torch.nn.functional.normalize(adapter.A_d, dim=1).T
    assert cos.abs().max() < 0.05


def test_lora_merge_gives_the_adapter_models_logits(tiny_model_dir, tmp_path):
    module = build_module(tiny_lm(tiny_model_dir), LoraMethod(r=8, dropout=0.0))
    randomize_adapters(module)
    ids = sample_ids()
    module.eval()
    with torch.no_grad():
        unmerged = module.lm(input_ids=ids).logits
    export_module(module, LoraMethod(r=8, dropout=0.0), tmp_path, torch.float32)
    merged = tiny_lm(tmp_path)(input_ids=ids).logits
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert torch.allclose(unmerged, merged, atol=1e-4)


def test_medcare_mka_drops_noise_and_merges_attention_and_knowledge(tiny_model_dir, tmp_path):
    method = MedCareMKAMethod(r=4, alpha=8, shared_experts=2, n_experts=8, top_k=2)
    module = build_module(tiny_lm(tiny_model_dir), method)
    layer = module.lm.model.layers[0].mlp.up_proj
    assert isinstance(layer, AdaptedLinear) and set(layer.adapters) == {"knowledge", "noise"}
    assert layer.adapters["knowledge"].r == 8  # rank s*r
    assert set(module.lm.model.layers[0].self_attn.q_proj.adapters) == {"attn_lora"}
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable and all(".adapters." in n for n in trainable)
    randomize_adapters(module)
    ids = sample_ids()
    module.eval()
    with torch.no_grad():
        with_noise = module.lm(input_ids=ids).logits
        for m in module.lm.modules():  # the model without NA (eq. 8) is what the export must equal
            if isinstance(m, AdaptedLinear) and "noise" in m.adapters:
                m.adapters["noise"].experts.B.zero_()
        without_noise = module.lm(input_ids=ids).logits
    assert not torch.allclose(with_noise, without_noise)
    export_module(module, method, tmp_path, torch.float32)
    merged = tiny_lm(tmp_path)(input_ids=ids).logits
    assert torch.allclose(without_noise, merged, atol=1e-4)
    assert (tmp_path / "medcare_adapters.safetensors").is_file()


def test_medcare_da_merges_knowledge_and_alignment(tiny_model_dir, tmp_path):
    mka = MedCareMKAMethod(r=4, alpha=8)
    mka_module = build_module(tiny_lm(tiny_model_dir), mka)
    randomize_adapters(mka_module)
    export_module(mka_module, mka, tmp_path / "mka", torch.float32)
    mka_attention = tiny_lm(tmp_path / "mka").model.layers[0].self_attn.q_proj.weight

    da = MedCareDAMethod(mka_dir=str(tmp_path / "mka"), align_r=8, align_alpha=8)
    module = build_module(tiny_lm(tiny_model_dir), da)
    q_proj = module.lm.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj, AdaptedLinear) and not q_proj.adapters  # attention LoRA merged back
    assert torch.allclose(q_proj.base.weight, mka_attention, atol=1e-6)
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable and all("knowledge_align" in n for n in trainable)  # attention frozen, KA + align train
    ids = sample_ids()
    module.train()
    loss, parts = module(input_ids=ids, labels=ids)
    assert parts["orth"] > 0 and torch.isclose(loss, parts["nll"] + parts["orth"])
    randomize_adapters(module)
    module.eval()
    with torch.no_grad():
        unmerged = module.lm(input_ids=ids).logits
    export_module(module, da, tmp_path / "da", torch.float32)
    assert torch.allclose(unmerged, tiny_lm(tmp_path / "da")(input_ids=ids).logits, atol=1e-4)


def test_cpoly_routes_by_task_and_round_trips_through_export(tiny_model_dir, tmp_path):
    from train.export import load_model

    method = CPolyMethod(n_tasks=3, n_skills=4, r=4)
    module = build_module(tiny_lm(tiny_model_dir), method)
    adapter = module.lm.model.layers[0].self_attn.q_proj.adapters["cpoly"]
    randomize_adapters(module)
    module.eval()
    gates = adapter.gates(torch.tensor([0, 2]))
    assert gates.shape == (2, 4 + 3)  # the allocation matrix row: A shared skills + T task-specific
    assert torch.allclose(gates[:, :4].sum(-1), torch.ones(2), atol=1e-4)  # shared weights normalised
    assert gates[0, 4 + 1] == 0 and gates[0, 4 + 2] == 0 and gates[0, 4] != 0  # only its own specific LoRA
    ids = sample_ids(n=1).repeat(3, 1)
    with torch.no_grad():
        logits = module.logits(ids, task_ids=torch.tensor([0, 1, 2]))
    assert not torch.allclose(logits[0], logits[1]) and not torch.allclose(logits[1], logits[2])
    module.train()  # training samples the allocation with Gumbel noise: two passes differ
    a, b = adapter.gates(torch.tensor([1])), adapter.gates(torch.tensor([1]))
    assert not torch.allclose(a, b)
    module.eval()
    export_module(module, method, tmp_path, torch.float32)
    reloaded = load_model(tmp_path)
    with torch.no_grad():
        again = reloaded.logits(ids, task_ids=torch.tensor([0, 1, 2]))
    assert torch.allclose(logits, again, atol=1e-4)
    with pytest.raises(ValueError, match="task_ids"):
        reloaded.logits(ids)
