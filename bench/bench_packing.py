"""Packing benchmark: the share of real (non-padding) tokens in what train/ actually feeds the model.

Generates documents (stage pt) and chat records (stage sft) with long-tailed lengths, writes them as the build
does (dataset directory), loads them with train/'s data module and runs one epoch of its batch schedule through
its collate step, counting real tokens against all tokens (padding included). Printed side by side:
- pt: EOS-joined fixed blocks (target >= 0.99), and the share of corpus tokens that made it into blocks;
- sft: packed rows (target >= 0.9), length-bucketed rows, and random batches padded to their longest row
  (the naive baseline).

    python bench/bench_packing.py                     # 3000 documents, 3000 chats, blocks of 2048, micro 4
    python bench/bench_packing.py --docs 20000 --max-length 4096
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import add_options, new_parser  # noqa: E402

from tests.tiny_models import WORDS  # noqa: E402  (the vocabulary the tiny tokenizer was trained on)


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def long_tailed(rng: random.Random, median: int, cap: int) -> int:
    return max(1, min(cap, int(rng.lognormvariate(0, 0.9) * median)))


def write_datasets(root: Path, n_docs: int, n_chats: int, seed: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusforge.output.card import card_metadata, render_card

    rng = random.Random(seed)
    docs = [{"id": f"d{i}", "text": words(rng, long_tailed(rng, 300, 6000))} for i in range(n_docs)]
    chats = []
    for i in range(n_chats):
        messages = [
            {"role": "user", "content": words(rng, long_tailed(rng, 80, 1200))},
            {"role": "assistant", "content": words(rng, long_tailed(rng, 60, 800))},
        ]
        chats.append({"id": f"c{i}", "task_id": 0, "messages": messages})
    out = []
    for name, rows in (("pt", docs), ("sft", chats)):
        folder = root / name
        (folder / "data").mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000.parquet")
        meta = card_metadata({"default": {"train": "data/train-*.parquet"}})
        (folder / "README.md").write_text(render_card(meta, name, []))
        out.append(folder)
    return out[0], out[1]


def efficiency(config, tokenizer, naive: bool = False) -> dict:
    """One epoch of the loop's own schedule and collate: real tokens / all tokens."""
    import numpy as np

    from train.data import load_split_data, make_schedule

    start = time.perf_counter()
    split = load_split_data(config, tokenizer, "train", None, with_task_ids=False)
    schedule = make_schedule(split, config, world_size=1, accumulation=1)
    if naive:
        schedule.bucket_by_length = False
    real = total = 0
    for rows in schedule.epoch_micro_batches(0):
        _, r, t = split.collate(rows)
        real += r
        total += t
    result = {"efficiency": real / total, "rows": len(split.rows), "seconds": time.perf_counter() - start}
    if "tokens" in split.report:
        result["corpus_tokens_in_blocks"] = 1 - split.report["tail_tokens_not_in_a_block"] / split.report["tokens"]
    else:
        result["mean_row_tokens"] = float(np.mean(split.rows.lengths))
    return result


def main() -> None:
    parser = new_parser(__doc__, summary_only=True)
    add_options(parser, {"--docs": 3000, "--chats": 3000, "--max-length": 2048, "--micro": 4, "--seed": 0})
    args = parser.parse_args()

    import datasets
    from transformers import AutoTokenizer

    from tests.tiny_models import build_tokenizer
    from train.config import TrainConfig

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tokenizer(root / "tok")
        tokenizer = AutoTokenizer.from_pretrained(root / "tok")
        pt_dir, sft_dir = write_datasets(root, args.docs, args.chats, args.seed)

        def config(stage: str, path: Path, packing: bool) -> TrainConfig:
            return TrainConfig.model_validate(
                {
                    "stage": stage,
                    "model": {"path": str(root / "tok")},
                    "data": {"path": str(path), "max_length": args.max_length, "packing": packing},
                    "optimizer": {"lr": 1e-4},
                    "batch": {"global_size": args.micro, "micro_size": args.micro},
                    "train": {"output_dir": str(root / "run")},
                    "deepspeed": {},
                }
            )

        results = {
            "pt blocks": efficiency(config("pt", pt_dir, False), tokenizer),
            "sft packed": efficiency(config("sft", sft_dir, True), tokenizer),
            "sft length-bucketed": efficiency(config("sft", sft_dir, False), tokenizer),
            "sft naive (random batches, padded)": efficiency(config("sft", sft_dir, False), tokenizer, naive=True),
        }
    print(f"{args.docs} documents, {args.chats} chats, max_length {args.max_length}, micro-batch {args.micro}")
    print(f"{'layout':40} {'efficiency':>10} {'rows':>7}  notes")
    for name, r in results.items():
        note = (
            f"corpus tokens in blocks {r['corpus_tokens_in_blocks']:.4f}"
            if "corpus_tokens_in_blocks" in r
            else f"mean real tokens/row {r['mean_row_tokens']:.0f}"
        )
        print(f"{name:40} {r['efficiency']:>10.4f} {r['rows']:>7}  {note}")
    print(
        f"targets: pt >= 0.99 -> {'ok' if results['pt blocks']['efficiency'] >= 0.99 else 'MISSED'}; "
        f"sft >= 0.9 -> {'ok' if results['sft packed']['efficiency'] >= 0.9 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
