"""A LoRA instruction-tuning step of the real SmolLM2-135M-Instruct on the corpus `recipes/stage2.yaml` builds,
through `corpusforge train` and DeepSpeed on CPU, and its export: the merged model and the saved adapter give the
same logits, the export keeps the chat template, and it still writes text that ends on its own."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from tests.train.conftest import REPO, launcher_env, make_config, read_metrics

pytestmark = [pytest.mark.slow, pytest.mark.realmodel]

CLI = "from corpusforge.cli import main; main()"


def test_lora_sft_of_smollm2_on_the_built_stage2_corpus_and_its_export(
    smollm2_dir, instruct_outputs, tmp_path, deepspeed_ops
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = make_config(
        tmp_path, smollm2_dir, instruct_outputs["stage2"], stage="sft",
        method={"name": "lora", "r": 8, "alpha": 16, "dropout": 0.0},
        data={"max_length": 256}, optimizer={"lr": 1e-3, "weight_decay": 0.0},
        batch={"global_size": 4, "micro_size": 2}, train={"max_steps": 4, "log_every": 1, "export_dtype": "float32"},
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", CLI, "train", str(config)], cwd=REPO, env=launcher_env(), capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = tmp_path / "run"
    losses = [m["loss"] for m in read_metrics(run) if "loss" in m]
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses), losses

    export = run / "export"
    info = json.loads((export / "export.json").read_text())
    assert info["merged"] is True and info["adapter"] == str(export / "adapter")
    assert (export / "adapter" / "adapter_config.json").is_file()

    tokenizer = AutoTokenizer.from_pretrained(export)
    assert tokenizer.chat_template, "the export lost the chat template"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What does insulin do?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    merged = AutoModelForCausalLM.from_pretrained(export).eval()
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(smollm2_dir), export / "adapter").eval()
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    with torch.inference_mode():
        merged_logits, adapted_logits = merged(ids).logits, adapted(ids).logits
        assert torch.allclose(merged_logits, adapted_logits, atol=1e-3)  # merging kept what the adapter learned
        assert not torch.allclose(merged_logits, base(ids).logits, atol=1e-3)  # and it learned something
        out = merged.generate(ids, max_new_tokens=96, do_sample=False)[0, ids.shape[1] :]
    text = tokenizer.decode(out, skip_special_tokens=True)
    assert sum(c.isalpha() for c in text) > 10, text
    assert tokenizer.eos_token_id in out.tolist(), text  # the chat model still ends its turn
