"""Stages sft and adapt: instruction records rendered with the tokenizer's chat template, loss on assistant tokens.

Each assistant turn is located by rendering the conversation up to that turn (with and without the turn itself);
the characters in between, which include the template's end-of-turn marker, are the trained span. Token labels
come from the tokenizer's character offsets, so any chat template works as long as rendering a prefix of the
conversation gives a prefix of the text (true of the usual templates; a template that is not is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_INDEX = -100


class RecordError(ValueError):
    """One record that cannot be trained on (the reason is counted)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class EncodedChat:
    input_ids: list[int]
    labels: list[int]


def _render(tokenizer, messages: list[dict], add_generation_prompt: bool) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the (start, end) character span of every assistant turn."""
    clean = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = _render(tokenizer, clean, add_generation_prompt=False)
    spans = []
    for i, message in enumerate(clean):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, clean[:i], add_generation_prompt=True)
        through = _render(tokenizer, clean[: i + 1], add_generation_prompt=False)
        if not (text.startswith(before) and text.startswith(through) and through.startswith(before)):
            raise RecordError("template_not_prefix", "the chat template does not render prefixes as prefixes")
        spans.append((len(before), len(through)))
    if not spans:
        raise RecordError("no_assistant_turn")
    return text, spans


def encode_chat(tokenizer, messages: list[dict], max_length: int) -> EncodedChat:
    """Token ids and labels (IGNORE_INDEX outside assistant turns), cut to `max_length` tokens."""
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    labels = [IGNORE_INDEX] * len(ids)
    for t, (start, end) in enumerate(offsets):
        if end > start and any(s <= start < e for s, e in spans):
            labels[t] = ids[t]
    if len(ids) > max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels[1:]):
        raise RecordError("no_answer_within_max_length", f"{len(enc['input_ids'])} tokens > {max_length}")
    return EncodedChat(ids, labels)


def encode_records(ds, tokenizer, max_length: int, with_task_ids: bool):
    """Map instruction records to input_ids/labels/length (+ task_id); returns (dataset, dropped reasons)."""
    from collections import Counter

    def encode(batch):
        out = {"input_ids": [], "labels": [], "length": [], "task_id": [], "error": []}
        for i, messages in enumerate(batch["messages"]):
            task_id = batch["task_id"][i] if with_task_ids else 0
            try:
                if not isinstance(messages, list) or not messages:
                    raise RecordError("bad_messages")
                enc = encode_chat(tokenizer, messages, max_length)
                out["input_ids"].append(enc.input_ids)
                out["labels"].append(enc.labels)
                out["length"].append(len(enc.input_ids))
                out["error"].append("")
            except RecordError as e:
                out["input_ids"].append([])
                out["labels"].append([])
                out["length"].append(0)
                out["error"].append(e.reason)
            out["task_id"].append(int(task_id) if task_id is not None else 0)
        return out

    encoded = ds.map(encode, batched=True, remove_columns=ds.column_names)
    reasons = Counter(r for r in encoded["error"] if r)
    kept = encoded.filter(lambda b: [not e for e in b["error"]], batched=True).remove_columns("error")
    return kept, dict(reasons)
