"""Tiny local models for tests: nothing can be downloaded, so the test session makes its own.

A byte-level BPE tokenizer trained with `tokenizers` on synthetic medical-ish sentences, wrapped as a
PreTrainedTokenizerFast with bos/eos/pad and a chat template, plus a random-weight Llama config sized for vLLM's
CPU attention (head_dim 32). Real loading code is tested on what this writes.
"""

from __future__ import annotations

import random
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

WORDS = [
    "patient",
    "patients",
    "disease",
    "diabetes",
    "insulin",
    "glucose",
    "heart",
    "failure",
    "therapy",
    "treatment",
    "trial",
    "randomized",
    "clinical",
    "outcome",
    "mortality",
    "risk",
    "factor",
    "blood",
    "pressure",
    "hypertension",
    "cancer",
    "tumor",
    "cell",
    "protein",
    "gene",
    "study",
    "results",
    "conclusion",
    "methods",
    "background",
    "objective",
    "yes",
    "no",
    "maybe",
    "answer",
    "question",
    "context",
    "the",
    "a",
    "of",
    "in",
    "with",
    "and",
    "or",
    "was",
    "were",
    "is",
    "are",
    "for",
    "to",
    "by",
    "on",
    "at",
    "from",
    "not",
    "than",
    "more",
    "less",
    "significant",
    "increase",
    "decrease",
    "associated",
    "effect",
    "dose",
    "drug",
    "aspirin",
    "statin",
    "infection",
    "antibiotic",
    "fever",
    "pain",
    "chronic",
    "acute",
    "children",
    "adults",
]


def synthetic_corpus(n: int = 3000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 25))]
        lines.append(" ".join(words).capitalize() + rng.choice([".", "?", "."]))
    lines += ["A) yes B) no C) maybe", "QUESTION: Is it? ANSWER: yes", "The answer is (A) yes."] * 20
    return lines


def build_tokenizer(out_dir: Path, vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(synthetic_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)
    return fast


def build_tiny_llama(
    out_dir: str | Path,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 2,
    kv_heads: int = 1,
    intermediate_size: int = 128,
    max_positions: int = 2048,
    seed: int = 0,
) -> Path:
    """Tokenizer + random-weight LlamaForCausalLM saved to `out_dir` (head_dim 32 for vLLM's CPU attention)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(out_dir)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=hidden_size // heads,
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
