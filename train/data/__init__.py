"""Training data for the three stages, as one interface: rows, a deterministic schedule, and a collate step.

- pt: documents -> one EOS-joined token stream -> fixed blocks (or datatrove's pre-tokenized .ds shards);
- sft: chat `messages` -> assistant-only labels -> packed rows (or length-bucketed single rows);
- adapt: the same from stage-3 multiple-choice records, with their `task_id` kept for per-task routing.

Every row that is not trained on is counted by reason in `report` (nothing is dropped silently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corpusforge.output.splits import load_split, require_columns
from train.data.batching import EpochSchedule, Rows, collate_blocks, collate_chat, packed_rows, single_rows
from train.data.chat import encode_records
from train.data.pretrain import PackedBlocks, TokenizedShards, stream_from_dataset, tokenize_documents


@dataclass
class SplitData:
    """One split ready to batch: `rows` index into `examples` (token lists, or pt blocks)."""

    stage: str
    examples: Any
    rows: Rows
    pad_id: int
    packed: bool
    with_task_ids: bool
    report: dict[str, Any] = field(default_factory=dict)

    def collate(self, row_indices: list[int]):
        """(batch tensors, real tokens, all tokens incl. padding) for these rows."""
        if self.stage == "pt":
            return collate_blocks([self.examples[self.rows.members[r][0]] for r in row_indices])
        rows = [[self.examples[i] for i in self.rows.members[r]] for r in row_indices]
        return collate_chat(rows, self.pad_id, self.packed, pad_multiple=8, with_task_ids=self.with_task_ids)


def load_split_data(config, tokenizer, split: str, max_rows: int | None, with_task_ids: bool) -> SplitData:
    """Read, tokenize and arrange one split according to the stage."""
    data = config.data
    if config.stage == "pt":
        return _pretrain_split(config, tokenizer, split, max_rows)
    ds = load_split(data.path, split, max_rows)
    columns = ["messages"] + (["task_id"] if config.stage == "adapt" else [])
    require_columns(ds, columns, data.path, split)
    report: dict[str, Any] = {"rows": len(ds)}
    if config.stage == "adapt" and data.task_ids is not None:
        wanted = set(data.task_ids)
        before = len(ds)
        ds = ds.filter(lambda b: [t in wanted for t in b["task_id"]], batched=True)
        report["dropped_other_task"] = before - len(ds)
    encoded, reasons = encode_records(ds, tokenizer, data.max_length, with_task_ids=config.stage == "adapt")
    report.update({f"dropped_{k}": v for k, v in reasons.items()})
    report["kept"] = len(encoded)
    if len(encoded) == 0:
        from corpusforge.errors import InputError

        raise InputError(f"{data.path} [{split}]: no trainable example left ({report})")
    examples = encoded.to_list()
    lengths = [e["length"] for e in examples]
    rows = packed_rows(lengths, data.max_length) if data.packing else single_rows(lengths)
    report["rows_after_packing" if data.packing else "rows_bucketed"] = len(rows)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return SplitData(config.stage, examples, rows, pad_id, data.packing, with_task_ids, report)


def _pretrain_split(config, tokenizer, split: str, max_rows: int | None) -> SplitData:
    data = config.data
    if data.format == "tokenized":
        blocks = TokenizedShards(data.path, data.max_length, len(tokenizer))
        report: dict[str, Any] = {"blocks": len(blocks)}
    else:
        ds = load_split(data.path, split, max_rows)
        require_columns(ds, [data.text_field], data.path, split)
        tokenized, empty = tokenize_documents(ds, tokenizer, data.text_field)
        blocks = PackedBlocks(stream_from_dataset(tokenized), data.max_length)
        report = {
            "rows": len(ds),
            "dropped_empty_text": empty,
            "kept": len(tokenized),
            "tokens": len(blocks.stream),
            "blocks": len(blocks),
            "tail_tokens_not_in_a_block": blocks.dropped_tail_tokens,
        }
    if len(blocks) == 0:
        from corpusforge.errors import InputError

        raise InputError(f"{data.path} [{split}]: fewer tokens than one block of {data.max_length}")
    rows = Rows([[i] for i in range(len(blocks))], blocks.lengths())
    return SplitData("pt", blocks, rows, tokenizer.eos_token_id, False, False, report)


def make_schedule(split: SplitData, config, world_size: int, accumulation: int) -> EpochSchedule:
    bucket = split.stage != "pt" and not split.packed
    return EpochSchedule(
        split.rows, config.batch.micro_size, world_size, accumulation, config.train.seed, bucket_by_length=bucket
    )
