"""Multiple-choice evaluation by option log-likelihood, the lm-evaluation-harness way.

For each item, the prompt (the record's user turns rendered with the tokenizer's chat template and the
generation prompt) is followed by each option's answer text, rendered by the same instruction template and target
that wrote the record's assistant turn (corpusforge/instruct/templates; `meta.template` / `meta.target` of a
stage-3 record), so a model is scored on the answers it was trained to write, and in the forms a chat model
writes them ("A", "yes", "Yes"), combined per option as the labeller's PPL strategy does
(corpusforge/eval/option_scoring.py; `rank_by` perplexity or loglikelihood); the best option is the prediction. Items come from
stage-3 instruction records (`mc` filled) or from PubMedQA's original files, where the official test split is
selected by the PMIDs of test_ground_truth.json. Scores are accuracy, macro-F1 and the confusion matrix of
corpusforge.eval.metrics (over yes/no/maybe when every item has those options, else over option keys).

torch is imported inside the scoring functions, so importing this module stays light.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.errors import InputError
from corpusforge.eval.metrics import ClassificationReport, classification_report
from corpusforge.eval.option_scoring import option_scores, options_forms
from corpusforge.formats.instruction import make_record, record_meta
from corpusforge.formats.pubmedqa import MalformedItem, PubMedQAItem, iter_items, load_test_ground_truth
from corpusforge.instruct.adapters.pubmedqa import pubmedqa_mc
from corpusforge.instruct.render import render_answer, render_mc
from corpusforge.output.splits import load_split  # the same reading rules as training (dataset dir, file, Hub id)

DEFAULT_TEMPLATE = "mc_table9_en"  # the paper's Table 9 layout
DEFAULT_TARGET = "option"  # "A) yes"


@dataclass
class MCItem:
    id: str
    messages: list[dict[str, str]]  # the prompt turns, without the answer
    options: list[tuple[str, str]]  # (key, text)
    answer: str | None  # gold key
    task_id: int = 0
    template: str = DEFAULT_TEMPLATE
    target: str = DEFAULT_TARGET
    meta: dict[str, Any] = field(default_factory=dict)

    def key_to_text(self) -> dict[str, str]:
        return dict(self.options)


def item_from_record(record: dict[str, Any], where: str = "") -> MCItem:
    """A stage-3 instruction record (schemas/instruction.schema.json) with `mc` filled -> MCItem."""
    where = where or str(record.get("id"))
    mc = record.get("mc")
    if not isinstance(mc, dict):
        raise InputError(f"{where}: field 'mc' is empty; only multiple-choice records can be scored")
    messages = [{"role": m["role"], "content": m["content"]} for m in record.get("messages") or []]
    while messages and messages[-1]["role"] == "assistant":
        messages.pop()  # the gold answer is what is scored, not part of the prompt
    if not messages:
        raise InputError(f"{where}: field 'messages' has no prompt turn")
    options = [(o["key"], o["text"]) for o in mc.get("options") or []]
    if len(options) < 2:
        raise InputError(f"{where}: field 'mc.options' needs at least two options")
    meta = record_meta(record)
    return MCItem(
        id=str(record["id"]),
        messages=messages,
        options=options,
        answer=mc.get("answer"),
        task_id=int(record.get("task_id") or 0),
        template=meta.get("template", DEFAULT_TEMPLATE),
        target=meta.get("target", DEFAULT_TARGET),
    )


def items_from_records(records: Iterable[dict[str, Any]], source: str = "") -> list[MCItem]:
    return [item_from_record(r, f"{source} row {i}") for i, r in enumerate(records)]


def pubmedqa_record(
    item, label: str, task_id: int = 0, template: str = DEFAULT_TEMPLATE, target: str = DEFAULT_TARGET
) -> dict[str, Any]:
    """A PubMedQA item with answer `label` as a stage-3 record, rendered exactly as the stage-3 build does."""
    mc = pubmedqa_mc(item, label)
    return make_record(
        id=f"pubmedqa:{item.pmid}",
        source="pubmedqa",
        task="pubmedqa",
        task_id=task_id,
        language="en",
        messages=render_mc(mc, template, target),
        provenance={"file": "", "pmid": item.pmid},
        mc=mc,
        meta={"template": template, "target": target},
    )


def pubmedqa_items(pqal: str | Path) -> tuple[dict[str, PubMedQAItem], list[str]]:
    """{PMID: item} of a PubMedQA file and its malformed records; InputError naming the file when it holds no item
    at all (a wrong file is said to be one, before any file looked up next to it is)."""
    items_by_pmid, malformed = {}, []
    for _, item, _ in iter_items(pqal):
        if isinstance(item, MalformedItem):
            malformed.append(str(item))
        else:
            items_by_pmid[item.pmid] = item
    if not items_by_pmid:
        why = f" (first record: {malformed[0]})" if malformed else " (it holds no records)"
        raise InputError(f"{pqal}: no PubMedQA items in this file{why}; give PQA-L's ori_pqal.json")
    return items_by_pmid, malformed


def pubmedqa_test_items(
    pqal: str | Path,
    ground_truth: str | Path,
    task_id: int = 0,
    template: str = DEFAULT_TEMPLATE,
    target: str = DEFAULT_TARGET,
) -> list[MCItem]:
    """The official test split: exactly the PMIDs of test_ground_truth.json, gold labels from that file."""
    items_by_pmid, malformed = pubmedqa_items(pqal)
    gold = load_test_ground_truth(ground_truth)
    found = {pmid: item for pmid, item in items_by_pmid.items() if pmid in gold}
    missing = sorted(set(gold) - set(found))
    if missing and not found:
        raise InputError(
            f"{pqal}: none of the {len(gold)} test PMIDs of {ground_truth} is in this file; give PQA-L's "
            "ori_pqal.json (not PQA-U or PQA-A)"
        )
    if missing:
        why = f"; malformed records: {malformed[:3]}" if malformed else ""
        raise InputError(f"{pqal}: {len(missing)} test PMIDs of {ground_truth} are missing, e.g. {missing[:5]}{why}")
    items = []
    for pmid in sorted(gold):
        items.append(item_from_record(pubmedqa_record(found[pmid], gold[pmid], task_id, template, target)))
    return items


def answer_text(item: MCItem, key: str, text: str) -> str:
    """What the model is scored on for option `key`: the item's own template and target, without explanation."""
    return render_answer(item.template, item.target, key, text)


@dataclass
class Encoded:
    item: int
    option: int
    ids: list[int]
    n_continuation: int


def item_forms(item: MCItem) -> list[tuple[str, ...]]:
    """Every option's spellings: the item's trained answer form first, then the forms chat models use."""
    return options_forms(item.options, [answer_text(item, key, text) for key, text in item.options])


def encode_options(tokenizer, item: MCItem, index: int, max_length: int) -> list[Encoded]:
    """Token ids of prompt + each form of each option (item_forms order); the last `n_continuation` tokens are the
    answer. Long prompts lose their beginning (the question and options sit at the end), as lm-evaluation-harness
    truncates."""
    prompt = tokenizer.apply_chat_template(item.messages, tokenize=False, add_generation_prompt=True)
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    out = []
    for o, forms in enumerate(item_forms(item)):
        for form in forms:
            whole = tokenizer(prompt + form, add_special_tokens=False)["input_ids"]
            n_cont = max(len(whole) - len(context), 1)
            if n_cont >= max_length:
                raise InputError(
                    f"{item.id}: option {item.options[o][0]} alone is longer than max_length {max_length}"
                )
            out.append(Encoded(index, o, whole[-max_length:], n_cont))
    return out


def score_encoded(logits_fn: Callable, encoded: list[Encoded], task_ids: list[int], pad_id: int, batch_size: int):
    """Summed log-probability of each encoded option's continuation; left-padded batches, logits of the tail only.

    `logits_fn(input_ids, attention_mask, position_ids, task_ids, keep)` returns logits of the last `keep`
    positions. Returns one float per entry of `encoded`, in order.
    """
    import torch

    scores = [0.0] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width = max(len(encoded[i].ids) for i in chunk)
        keep = max(encoded[i].n_continuation for i in chunk) + 1
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):
            seq = encoded[i].ids
            ids[row, width - len(seq) :] = torch.as_tensor(seq)
            mask[row, width - len(seq) :] = 1
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        tasks = torch.as_tensor([task_ids[i] for i in chunk], dtype=torch.long)
        with torch.no_grad():
            logits = logits_fn(ids, mask, position_ids, tasks, keep).float()
        logprobs = torch.log_softmax(logits[:, -keep:-1, :], dim=-1)  # predicts the last keep-1 tokens
        targets = ids[:, width - keep + 1 :].to(logprobs.device)
        token_lp = logprobs.gather(-1, targets[..., None])[..., 0]
        for row, i in enumerate(chunk):
            n = encoded[i].n_continuation
            scores[i] = float(token_lp[row, -n:].sum())
    return scores


def score_items(
    logits_fn: Callable,
    tokenizer,
    items: list[MCItem],
    max_length: int = 1024,
    batch_size: int = 16,
    rank_by: str = "perplexity",
) -> list[list[float]]:
    """The score of every option of every item: its forms' log-likelihoods combined (option_scoring)."""
    encoded = [e for i, item in enumerate(items) for e in encode_options(tokenizer, item, i, max_length)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    flat = score_encoded(logits_fn, encoded, [items[e.item].task_id for e in encoded], pad_id, batch_size)
    per_item: list[tuple[list[float], list[int]]] = [([], []) for _ in items]
    for e, s in zip(encoded, flat):
        per_item[e.item][0].append(s)
        per_item[e.item][1].append(e.n_continuation)
    return [
        option_scores(item_forms(item), logprobs, counts, rank_by)
        for item, (logprobs, counts) in zip(items, per_item)
    ]


def predict(items: list[MCItem], scores: list[list[float]]) -> dict[str, str]:
    """Item id -> the key of its most likely option."""
    return {item.id: item.options[max(range(len(s)), key=s.__getitem__)][0] for item, s in zip(items, scores)}


def report(items: list[MCItem], predicted: dict[str, str]) -> ClassificationReport:
    """Accuracy / macro-F1 / confusion over option texts when all items share the same option texts (PubMedQA:
    yes/no/maybe, as the official metric), else over option keys."""
    texts = {tuple(t for _, t in item.options) for item in items}
    by_text = len(texts) == 1
    labels = list(next(iter(texts))) if by_text else sorted({k for item in items for k, _ in item.options})
    gold, pred = [], []
    for item in items:
        if item.answer is None:
            raise InputError(f"{item.id}: no gold answer to score against")
        names = item.key_to_text() if by_text else {k: k for k, _ in item.options}
        gold.append(names[item.answer])
        pred.append(names.get(predicted.get(item.id)) if predicted.get(item.id) else None)
    return classification_report(gold, pred, labels)


def hf_logits_fn(model) -> Callable:
    """Adapt a transformers causal LM (or train's TrainModule) to score_encoded's logits_fn."""

    def logits_fn(input_ids, attention_mask, position_ids, task_ids, keep):
        device = next(model.parameters()).device
        kwargs = dict(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            position_ids=position_ids.to(device),
            logits_to_keep=keep,
        )
        if hasattr(model, "task_context"):  # train.methods.base.TrainModule (C-Poly routes by task)
            return model.logits(**kwargs, task_ids=task_ids.to(device))
        return model(**kwargs).logits

    return logits_fn


def read_records(path: str | Path, split: str = "test") -> Iterator[dict[str, Any]]:
    """Stage-3 records from a .jsonl file or a dataset directory / Hub id (datasets.load_dataset)."""
    path_obj = Path(path)
    if path_obj.is_file() and path_obj.suffix == ".jsonl":
        with open(path_obj, encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as e:
                        raise InputError(f"{path}:{line_no}: not valid JSON ({e})") from None
        return
    yield from load_split(str(path), split)
