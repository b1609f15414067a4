"""Training throughput: train/'s loop against the transformers Trainer, same DeepSpeed config, model and data.

A random-weight Llama of a few million parameters (hidden 256, 4 layers, vocab 512: ~3.4M) is trained on the
same packed blocks of a generated corpus (stage pt) by both, each in its own process, one after the other and
alternating for `--rounds` rounds (the best round of each counts, which damps other load on the machine):
- train/: `python train/run.py --config ...` (what `deepspeed train/run.py` runs on each process);
- Trainer: transformers.Trainer with `deepspeed=` the very JSON train/ resolved (batch sizes, clipping, ZeRO
  stage), the same torch AdamW, constant LR, no evaluation or saving.
Throughput is target tokens per second between the end of the warmup steps and the last step.
Target (issue 5): train/ >= 1.0x the Trainer.

    python bench/bench_train.py                       # ZeRO-2 fp32, 40 steps, 2 rounds
    python bench/bench_train.py --deepspeed train/deepspeed/zero2_bf16.json --steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import add_options, new_parser  # noqa: E402

from tests.tiny_models import WORDS  # noqa: E402  (the vocabulary the tiny tokenizer was trained on)


def prepare(root: Path, n_docs: int) -> Path:
    """Tokenizer + ~3.4M-parameter Llama + a stage-1-like dataset directory."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusforge.output.card import card_metadata, render_card
    from tests.tiny_models import build_tiny_llama

    build_tiny_llama(root / "model", hidden_size=256, layers=4, heads=4, kv_heads=4, intermediate_size=688)
    rng = random.Random(0)
    docs = [
        {"id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 800)))}
        for i in range(n_docs)
    ]
    (root / "data" / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(docs), root / "data" / "data" / "train-00000.parquet")
    meta = card_metadata({"default": {"train": "data/train-*.parquet"}})
    (root / "data" / "README.md").write_text(render_card(meta, "bench", []))
    return root


def write_config(root: Path, args, output: str) -> Path:
    import yaml

    config = {
        "stage": "pt",
        "model": {"path": str(root / "model")},
        "data": {"path": str(root / "data"), "max_length": args.seq_len},
        "method": {"name": "full"},
        "optimizer": {"lr": 1e-4, "weight_decay": 0.0, "grad_clip": 1.0},
        "schedule": {"kind": "constant"},
        "batch": {"global_size": args.micro * args.accumulation, "micro_size": args.micro},
        "train": {
            "output_dir": str(root / output),
            "max_steps": args.steps,
            "log_every": 1,
            "export": False,
            "resume": "never",
            "save_every": 10**9,
        },
        "runtime": {"accelerator": "cpu"},
        "deepspeed": str(Path(args.deepspeed).resolve()),
    }
    path = root / f"{output}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def throughput(times: list[float], tokens: list[int], warmup: int) -> float:
    """Tokens of steps warmup+1..N over the time from the end of step `warmup` to the end of step N."""
    return sum(tokens[warmup:]) / (times[-1] - times[warmup - 1])


def run_ours(config: Path, warmup: int) -> float:
    output = Path(__import__("yaml").safe_load(config.read_text())["train"]["output_dir"])
    subprocess.run(
        [sys.executable, str(REPO / "train" / "run.py"), "--config", str(config)],
        check=True,
        env=worker_env(),
        capture_output=True,
    )
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in records if "loss" in r]
    return throughput([r["time"] for r in records], [r["tokens"] for r in records], warmup)


def run_trainer(config: Path, warmup: int) -> float:
    out = config.with_suffix(".trainer.json")
    subprocess.run(
        [sys.executable, __file__, "--trainer-worker", str(config), "--warmup", str(warmup), "--result", str(out)],
        check=True,
        env=worker_env(),
        capture_output=True,
    )
    return json.loads(out.read_text())["tokens_per_s"]


def worker_env() -> dict:
    env = dict(os.environ, DS_ACCELERATOR="cpu", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def trainer_worker(config_path: Path, warmup: int, result: Path) -> None:
    """The transformers Trainer on train/'s blocks with train/'s resolved DeepSpeed JSON."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

    from train.config import load_train_config, resolved_deepspeed_config
    from train.data import load_split_data
    from train.runtime import prepare_environment

    config = load_train_config(config_path)
    prepare_environment(config.runtime)
    tokenizer = AutoTokenizer.from_pretrained(config.model.path)
    split = load_split_data(config, tokenizer, "train", None, with_task_ids=False)

    class Blocks(torch.utils.data.Dataset):
        def __len__(self):
            return len(split.rows)

        def __getitem__(self, i):
            ids = torch.as_tensor(split.examples[i].astype("int64"))
            return {"input_ids": ids, "labels": ids.clone()}

    class StepClock(TrainerCallback):
        times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.time())

    ds = resolved_deepspeed_config(config, world_size=1)
    args = TrainingArguments(
        output_dir=str(Path(config.train.output_dir)),
        per_device_train_batch_size=config.batch.micro_size,
        gradient_accumulation_steps=ds["gradient_accumulation_steps"],
        max_steps=config.train.max_steps,
        learning_rate=config.optimizer.lr,
        weight_decay=config.optimizer.weight_decay,
        max_grad_norm=config.optimizer.grad_clip,
        lr_scheduler_type="constant",
        optim="adamw_torch",
        logging_steps=10**9,
        save_strategy="no",
        report_to=[],
        deepspeed=ds,
        dataloader_num_workers=0,
        use_cpu=True,
        seed=config.train.seed,
    )
    model = AutoModelForCausalLM.from_pretrained(config.model.path, dtype=torch.float32)
    clock = StepClock()
    Trainer(model=model, args=args, train_dataset=Blocks(), callbacks=[clock]).train()
    tokens = [config.batch.global_size * config.data.max_length] * len(clock.times)  # as train/ counts them
    result.write_text(json.dumps({"tokens_per_s": throughput(clock.times, tokens, warmup)}))


def main() -> None:
    parser = new_parser(__doc__, summary_only=True)
    add_options(
        parser, {"--deepspeed": str(REPO / "train" / "deepspeed" / "zero2.json"), "--steps": 40, "--warmup": 5}
    )
    add_options(parser, {"--seq-len": 256, "--micro": 8, "--accumulation": 2, "--docs": 3000, "--rounds": 2})
    parser.add_argument("--trainer-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trainer_worker:
        trainer_worker(args.trainer_worker, args.warmup, args.result)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = prepare(Path(tmp), args.docs)
        ours, theirs = [], []
        for r in range(args.rounds):
            ours.append(run_ours(write_config(root, args, f"ours{r}"), args.warmup))
            theirs.append(run_trainer(write_config(root, args, f"trainer{r}"), args.warmup))
    print(
        f"model ~3.4M params, seq {args.seq_len}, micro {args.micro} x accumulation {args.accumulation}, "
        f"{args.steps} steps (first {args.warmup} not timed), DeepSpeed {Path(args.deepspeed).name}"
    )
    print("train/ tokens/s per round:  " + ", ".join(f"{x:,.0f}" for x in ours))
    print("Trainer tokens/s per round: " + ", ".join(f"{x:,.0f}" for x in theirs))
    ratio = max(ours) / max(theirs)
    print(
        f"best: train/ {max(ours):,.0f} vs Trainer {max(theirs):,.0f} tokens/s -> ratio {ratio:.3f} "
        f"(target >= 1.0: {'ok' if ratio >= 1.0 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
