"""Data for the three stages: EOS-joined packing, assistant-only labels, packed rows without cross-attention,
and a batch schedule that covers every micro-batch once, splits it over processes and is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.train.conftest import instruction_record, make_config, write_dataset_dir
from train.config import load_train_config
from train.data import load_split_data, make_schedule
from train.data.batching import EpochSchedule, collate_chat, pack_into_bins, packed_rows, single_rows
from train.data.chat import IGNORE_INDEX, encode_chat
from train.data.pretrain import PackedBlocks, TokenStream


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_token_stream_slices_across_pieces_and_blocks_drop_only_the_tail():
    stream = TokenStream([np.arange(0, 5), np.arange(5, 7), np.arange(7, 23)])
    assert stream.slice(3, 9).tolist() == [3, 4, 5, 6, 7, 8]
    blocks = PackedBlocks(stream, 6)
    assert len(blocks) == 3 and blocks.dropped_tail_tokens == 5
    assert np.concatenate([blocks[i] for i in range(3)]).tolist() == list(range(18))


def test_pt_documents_are_joined_with_eos_into_full_blocks(tmp_path, tiny_model_dir, tokenizer):
    texts = ["insulin lowers glucose", "", "aspirin and heart failure risk", "fever in children"]
    docs = [{"id": f"d{i}", "text": t, "source": "qa"} for i, t in enumerate(texts)]
    data = write_dataset_dir(tmp_path / "ds", {"train": docs})
    config = load_train_config(make_config(tmp_path, tiny_model_dir, data, data={"max_length": 8}))
    split = load_split_data(config, tokenizer, "train", None, False)
    expected = []
    for t in texts:
        if t:
            expected += tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    got = np.concatenate([split.examples[i] for i in range(len(split.examples))]).tolist()
    assert got == expected[: len(got)] and len(expected) - len(got) < 8
    assert split.report["dropped_empty_text"] == 1 and split.report["kept"] == 3
    batch, real, total = split.collate([0, 1])
    assert batch["input_ids"].shape == (2, 8) and real == total  # no padding at all
    assert torch.equal(batch["labels"], batch["input_ids"])


def test_chat_labels_cover_only_assistant_turns(tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Is aspirin useful?"},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "It lowers risk."},
    ]
    enc = encode_chat(tokenizer, messages, max_length=512)
    trained = tokenizer.decode([t for t, label in zip(enc.input_ids, enc.labels) if label != IGNORE_INDEX])
    assert trained == "yes<|end|>\nIt lowers risk.<|end|>\n"
    assert all(label in (IGNORE_INDEX, t) for t, label in zip(enc.input_ids, enc.labels))


def test_records_without_a_trainable_answer_are_counted(tmp_path, tiny_model_dir, tokenizer):
    rows = [
        instruction_record(0, [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]),
        instruction_record(1, [{"role": "user", "content": "only a question"}, {"role": "user", "content": "?"}]),
        instruction_record(2, [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "a"}]),
    ]
    data = write_dataset_dir(tmp_path / "ds", {"train": rows})
    config = load_train_config(make_config(tmp_path, tiny_model_dir, data, stage="sft", data={"max_length": 64}))
    split = load_split_data(config, tokenizer, "train", None, False)
    assert split.report == {
        "rows": 3,
        "dropped_no_assistant_turn": 1,
        "dropped_no_answer_within_max_length": 1,
        "kept": 1,
        "rows_after_packing": 1,
    }


def test_pack_into_bins_keeps_examples_whole_and_within_capacity():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=300).tolist()
    bins = pack_into_bins(lengths, 64)
    assert sorted(i for b in bins for i in b) == list(range(300))
    assert all(sum(lengths[i] for i in b) <= 64 for b in bins)
    assert sum(lengths) / (64 * len(bins)) > 0.95


def test_packed_rows_do_not_attend_across_examples(tiny_model_dir, tokenizer):
    """A packed row gives each example exactly the logits it gets alone (block-diagonal attention), through the
    TrainModule the loop uses (which must switch the KV cache off for transformers to honour the positions)."""
    from transformers import AutoModelForCausalLM

    from train.methods.base import TrainModule

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    module = TrainModule(model)
    examples = []
    for q, a in (("insulin dose?", "low"), ("fever in children treated with aspirin?", "no")):
        enc = encode_chat(tokenizer, [{"role": "user", "content": q}, {"role": "assistant", "content": a}], 64)
        examples.append({"input_ids": enc.input_ids, "labels": enc.labels})
    batch, real, total = collate_chat([examples], tokenizer.pad_token_id, packed=True, pad_multiple=8)
    assert "attention_mask" not in batch and batch["position_ids"][0, len(examples[0]["input_ids"])] == 0
    with torch.no_grad():
        packed = module.logits(batch["input_ids"], position_ids=batch["position_ids"])[0]
        n0 = len(examples[0]["input_ids"])
        alone = model(input_ids=torch.tensor([examples[1]["input_ids"]])).logits[0]
    assert torch.allclose(packed[n0 : n0 + len(examples[1]["input_ids"])], alone, atol=1e-4)
    assert real == n0 + len(examples[1]["input_ids"]) and total % 8 == 0


def test_schedule_splits_each_step_over_processes_and_is_reproducible():
    rows = single_rows(list(range(1, 41)))
    schedules = [EpochSchedule(rows, micro_size=2, world_size=2, accumulation=2, seed=7) for _ in range(2)]
    assert schedules[0].steps_per_epoch == 5
    epoch = schedules[0].epoch_micro_batches(0)
    assert epoch == schedules[1].epoch_micro_batches(0)  # a function of (seed, epoch): resume needs only the step
    assert epoch != schedules[0].epoch_micro_batches(1)
    seen = []
    for step in range(5):
        per_rank = [schedules[0].step_micro_batches(epoch, step, r) for r in range(2)]
        assert all(len(p) == 2 for p in per_rank)
        seen += [row for p in per_rank for mb in p for row in mb]
    assert sorted(seen) == list(range(40))


def test_length_bucketing_keeps_padding_low():
    rng = np.random.default_rng(1)
    lengths = rng.integers(10, 500, size=2000)
    schedule = EpochSchedule(single_rows(lengths.tolist()), 8, 1, 1, seed=0, bucket_by_length=True)
    batches = schedule.epoch_micro_batches(0)
    real = sum(lengths[mb].sum() for mb in batches)
    padded = sum(lengths[mb].max() * len(mb) for mb in batches)
    assert real / padded > 0.9


def test_global_batch_is_kept_whatever_the_number_of_processes(tmp_path, tiny_model_dir, pt_dataset, tokenizer):
    from train.config import gradient_accumulation

    config = load_train_config(make_config(tmp_path, tiny_model_dir, pt_dataset, batch={"global_size": 16}))
    assert [gradient_accumulation(config, w) for w in (1, 2, 4)] == [4, 2, 1]
    split = load_split_data(config, tokenizer, "train", None, False)
    for world in (1, 2):
        schedule = make_schedule(split, config, world, gradient_accumulation(config, world))
        rows_per_step = sum(
            len(mb) for r in range(world) for mb in schedule.step_micro_batches(schedule.epoch_micro_batches(0), 0, r)
        )
        assert rows_per_step == 16


def test_packed_rows_count_tokens():
    rows = packed_rows([10, 20, 30, 40], 50)
    assert sorted(rows.lengths.tolist()) == [50, 50]


def test_pt_reads_datatrove_token_shards(tmp_path, tiny_model_dir, tiny_tokenizer_file, tokenizer):
    """The build may write datatrove DocumentTokenizer shards (.ds); stage pt trains on them directly."""
    from datatrove.data import Document
    from datatrove.pipeline.tokens import DocumentTokenizer

    docs = [Document(text=f"insulin lowers glucose in patient {i}", id=str(i)) for i in range(40)]
    DocumentTokenizer(str(tmp_path / "tokens"), str(tiny_tokenizer_file), eos_token="</s>", shuffle_documents=False)(
        docs, rank=0, world_size=1
    )
    config = load_train_config(
        make_config(tmp_path, tiny_model_dir, tmp_path / "tokens", data={"format": "tokenized", "max_length": 16})
    )
    split = load_split_data(config, tokenizer, "train", None, False)
    stream = []
    for d in docs:
        stream += tokenizer(d.text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert len(split.examples) >= 10
    # datatrove hands out consecutive windows of the token stream (seq_len + 1 tokens each)
    assert split.examples[0].tolist() == stream[:16] and split.examples[1].tolist() == stream[16:32]
    batch, real, total = split.collate([0, 1])
    assert batch["input_ids"].shape == (2, 16) and real == total
