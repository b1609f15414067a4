"""Stage pt: documents joined with EOS into one token stream, cut into fixed-length blocks (no padding at all).

The stream is the tokenized `input_ids` column as Arrow stores it: one flat, memory-mapped buffer per chunk, so a
corpus larger than RAM is packed without loading it. Only the tail that does not fill a last block is left out
(and reported). Pre-tokenized datatrove shards (`.ds`) are read with datatrove's own dataset class.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np


class TokenStream:
    """Several flat token arrays read as one; `slice(a, b)` crosses array boundaries."""

    def __init__(self, pieces: list[np.ndarray]):
        self.pieces = [p for p in pieces if len(p)]
        self.starts = np.cumsum([0] + [len(p) for p in self.pieces]).tolist()

    def __len__(self) -> int:
        return self.starts[-1]

    def slice(self, start: int, stop: int) -> np.ndarray:
        out, i = [], bisect_right(self.starts, start) - 1
        while start < stop:
            piece, offset = self.pieces[i], start - self.starts[i]
            take = min(stop - start, len(piece) - offset)
            out.append(piece[offset : offset + take])
            start += take
            i += 1
        return out[0] if len(out) == 1 else np.concatenate(out)


@dataclass
class PackedBlocks:
    """Fixed-length blocks over a token stream: block i is tokens [i*L, (i+1)*L)."""

    stream: TokenStream
    block_length: int

    def __len__(self) -> int:
        return len(self.stream) // self.block_length

    def __getitem__(self, i: int) -> np.ndarray:
        return self.stream.slice(i * self.block_length, (i + 1) * self.block_length)

    def lengths(self) -> np.ndarray:
        return np.full(len(self), self.block_length, dtype=np.int64)

    @property
    def dropped_tail_tokens(self) -> int:
        return len(self.stream) - len(self) * self.block_length


def tokenize_documents(ds, tokenizer, text_field: str, num_proc: int | None = None):
    """Map texts to token ids with EOS appended to each document (rows with empty text are filtered out)."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token; documents cannot be joined for packing")

    def encode(batch):
        ids = tokenizer(batch[text_field], add_special_tokens=False)["input_ids"]
        return {"input_ids": [x + [eos] for x in ids]}

    nonempty = ds.filter(lambda b: [bool(t and t.strip()) for t in b[text_field]], batched=True, num_proc=num_proc)
    tokenized = nonempty.map(encode, batched=True, remove_columns=nonempty.column_names, num_proc=num_proc)
    return tokenized, len(ds) - len(nonempty)


def stream_from_dataset(tokenized) -> TokenStream:
    """The `input_ids` list column as zero-copy views of Arrow's flat value buffers."""
    column = tokenized.data.column("input_ids")
    pieces = []
    for chunk in column.chunks:
        values = chunk.flatten()  # respects slicing offsets; zero-copy for an unsliced chunk
        pieces.append(values.to_numpy(zero_copy_only=False))
    return TokenStream(pieces)


class TokenizedShards:
    """datatrove's pre-tokenized `.ds` shards (DocumentTokenizer output) as blocks of `block_length` tokens."""

    def __init__(self, folder: str, block_length: int, vocab_size: int):
        from datatrove.utils.dataset import DatatroveFolderDataset

        # datatrove reads seq_len + 1 tokens per item (inputs and shifted targets); the HF model shifts itself,
        # so ask for block_length - 1 and feed all block_length tokens.
        self.dataset = DatatroveFolderDataset(
            folder, seq_len=block_length - 1, token_size=2 if vocab_size < 65536 else 4, recursive=True
        )
        self.block_length = block_length
        if len(self.dataset) == 0:
            from corpusforge.errors import InputError

            raise InputError(f"{folder}: no .ds token shards with at least {block_length} tokens")

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.dataset[i]["input_ids"])

    def lengths(self) -> np.ndarray:
        return np.full(len(self), self.block_length, dtype=np.int64)

    dropped_tail_tokens = 0
