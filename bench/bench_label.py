"""Benchmark of `corpusforge label`: the labeler's own overhead, and the work VoC's shared prefix saves.

On one tiny model and the same PQA-style items (real PQA-L question/abstract/long-answer texts from
../shared/data/pubmedqa when present, synthetic otherwise), side by side in one run:

  (a) labeler items/s on the vLLM backend vs the raw engine running the very same prompts (the token ids and
      sampling settings the labeler sent, wave by wave) through LLM.generate          target >= 0.9x
  (b) labeler items/s on the transformers backend vs batched model.generate (left padding, same batch size) on
      the same prompts                                                                 target >= 0.8x
  (c) voc vs long-answer: wall time and prompt tokens actually computed, vLLM prefix caching on and off
                                                                  target: caching cuts voc's computed tokens >= 40%
and a projection of labelling all 61,249 PQA-U items with voc on one H100 with an 8B model (assumptions printed).

    python bench/bench_label.py                 # 256 items, ~10-20 min on 2 CPU cores
    python bench/bench_label.py --items 64 --repeats 1

Every timed labeler run uses a fresh label cache (nothing is served from it) and starts from an empty prefix cache.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import add_model_and_json, add_options, model_or_tiny, new_parser, write_json  # noqa: E402

SHARED_PQAL = REPO.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"
SAMPLE_PQAU = REPO / "data" / "samples" / "pubmedqa" / "ori_pqau_sample.json"
PQA_U_ITEMS = 61_249
MAX_MODEL_LEN = 4096


# ----------------------------------------------------------------------------------------------- inputs
def make_items(n: int, path: Path) -> str:
    """n PQA-style items in the ori_pqau.json layout, each with its own text (no prefix shared across items)."""
    if SHARED_PQAL.is_file():
        source, origin = json.loads(SHARED_PQAL.read_text()), f"real PQA-L texts ({SHARED_PQAL})"
    else:
        source, origin = json.loads(SAMPLE_PQAU.read_text()), f"the PQA-U sample ({SAMPLE_PQAU.name}), cycled"
    entries = list(source.values())
    items = {}
    for i in range(n):
        e = entries[i % len(entries)]
        contexts = list(e["CONTEXTS"])
        contexts[0] = f"(study {i}) " + contexts[0]  # distinct from the first token: no cross-item prefix reuse
        items[str(40_000_000 + i)] = {
            "QUESTION": e["QUESTION"],
            "CONTEXTS": contexts,
            "LABELS": e.get("LABELS", []),
            "MESHES": e.get("MESHES", []),
            "YEAR": e.get("YEAR"),
            "LONG_ANSWER": e["LONG_ANSWER"],
        }
    path.write_text(json.dumps(items))
    return origin


def make_job(model: str, items: Path, output: Path, strategy: str, backend: dict, args):
    from corpusforge.config import validate
    from corpusforge.label.config import LabelJob

    return validate(
        LabelJob,
        {
            "input": {"path": str(items)},
            "model": {"name": model, "backend": backend},
            "strategy": strategy,
            "sampling": {
                "max_tokens": {"explain": args.gen_tokens, "verify": args.gen_tokens, "reason": args.gen_tokens}
            },
            "run": {"output": str(output), "progress": False, "chunk_size": 4096},
        },
    )


class RecordingBackend:
    """Passes requests to a real backend and keeps each wave, so a baseline can replay exactly the same work."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.waves: list[list] = []

    def __getattr__(self, name):  # what else the labeler reads of a backend (spec, model, chat, ...): the inner one's
        return getattr(self.inner, name)

    def load(self):
        self.inner.load()

    def run(self, requests, on_result):
        self.waves.append(list(requests))
        self.inner.run(requests, on_result)

    def describe(self):
        return self.inner.describe()

    def close(self):
        pass


def timed_label(job, backend) -> tuple[float, dict, list[list]]:
    """Seconds for a whole labeler run (input, prompts, cache, backend, records, parquet), summary, the waves."""
    from corpusforge.label.job import run_label_job

    recording = RecordingBackend(backend)
    started = time.perf_counter()
    run = run_label_job(job, backend=recording)
    return time.perf_counter() - started, run.summary, recording.waves


# ----------------------------------------------------------------------------------------------- vLLM
def start_engine(model: str, prefix_caching: bool, dtype: str):
    from vllm import LLM

    return LLM(
        model=model,
        dtype=dtype,
        max_model_len=MAX_MODEL_LEN,
        enforce_eager=True,
        enable_prefix_caching=prefix_caching,
        seed=0,
    )


def stop_engine(llm) -> None:
    llm.llm_engine.engine_core.shutdown()
    del llm
    gc.collect()


def raw_vllm_replay(llm, waves, chat: bool, pretokenized: bool) -> float:
    """The labeler's waves sent straight to LLM.generate, SamplingParams built up front; the prompts as the
    rendered prompt texts (vLLM tokenizes them, as in a hand-written script) or as token ids (stricter: the
    baseline then does no tokenization at all)."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.sampling_params import StructuredOutputsParams

    from corpusforge.llm.backends.base import encode_prompt, render_prompt

    tokenizer = llm.get_tokenizer()
    prepared = []
    for wave in waves:
        prompts, params = [], []
        for r in wave:
            if pretokenized:
                prompts.append(TokensPrompt(prompt_token_ids=encode_prompt(tokenizer, r.prompt, chat)))
            else:
                prompts.append(render_prompt(tokenizer, r.prompt, chat))
            kwargs = {"max_tokens": r.max_tokens, "temperature": r.temperature, "top_p": r.top_p, "seed": r.seed}
            if r.choices:
                kwargs["structured_outputs"] = StructuredOutputsParams(choice=list(r.choices))
            if r.score_choices:
                kwargs["logprob_token_ids"] = [
                    tokenizer.encode(c, add_special_tokens=False)[0] for c in r.score_choices
                ]
            params.append(SamplingParams(**kwargs))
        prepared.append((prompts, params))
    # a chat-rendered text already holds its special tokens
    tokenization = None if pretokenized else {"add_special_tokens": not chat}
    llm.reset_prefix_cache()
    started = time.perf_counter()
    for prompts, params in prepared:
        llm.generate(prompts, params, use_tqdm=False, tokenization_kwargs=tokenization)
    return time.perf_counter() - started


def vllm_backend(llm, job):
    from corpusforge.llm.backends.vllm import VLLMBackend

    backend = VLLMBackend(job.model.backend, job.model.name, job.task.chat, llm=llm)
    backend.load()
    return backend


# ----------------------------------------------------------------------------------------------- transformers
def raw_transformers_replay(
    backend, waves, batch_size: int, sort_by_length: bool, pretokenized: bool = False
) -> float:
    """The same waves as a hand-written script would run them: the rendered prompt texts tokenized a batch at a
    time (left padding) and passed to model.generate, greedy, answers constrained with transformers' own
    prefix_allowed_tokens_fn; in input order, or sorted by length like the backend does (less padding).
    `pretokenized`: the stricter baseline, tokenized and padded before the clock starts."""
    import torch

    from corpusforge.llm.backends.base import render_prompt

    tok, model = backend.tokenizer, backend.hf_model
    batches = []
    for wave in waves:
        texts = [render_prompt(tok, r.prompt, True) for r in wave]
        order = sorted(range(len(wave)), key=lambda i: len(texts[i])) if sort_by_length else range(len(wave))
        order = list(order)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batches.append(([texts[i] for i in chosen], wave[chosen[0]]))

    def encode(texts):
        return tok(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)

    if pretokenized:
        batches = [(encode(texts), request) for texts, request in batches]
    started = time.perf_counter()
    with torch.inference_mode():
        for texts, request in batches:
            encoded = texts if pretokenized else encode(texts)
            width = encoded["input_ids"].shape[1]
            allowed = _allowed_tokens(tok, request.choices, width) if request.choices else None
            model.generate(
                **encoded,
                max_new_tokens=request.max_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tok.pad_token_id,
                prefix_allowed_tokens_fn=allowed,
            )
    return time.perf_counter() - started


def _allowed_tokens(tok, choices, prompt_width: int):
    """transformers' own way to constrain generation (prefix_allowed_tokens_fn): one of the choices, then EOS."""
    sequences = [tok.encode(c, add_special_tokens=False) for c in choices]

    def allowed(_batch_id, input_ids):
        written = input_ids[prompt_width:].tolist()
        options = {s[len(written)] for s in sequences if s[: len(written)] == written and len(s) > len(written)}
        return sorted(options) or [tok.eos_token_id]

    return allowed


# ----------------------------------------------------------------------------------------------- projection
def projection(args, voc_on: dict, voc_off: dict) -> list[str]:
    """61,249 PQA-U items with voc on one H100 and an 8B model; every number it rests on is printed."""
    words_context, words_answer, words_question = 212.0, 38.0, 13.0  # PQA-L means when the file is absent
    if SHARED_PQAL.is_file():
        data = list(json.loads(SHARED_PQAL.read_text()).values())
        words_context = statistics.mean(len(" ".join(e["CONTEXTS"]).split()) for e in data)
        words_answer = statistics.mean(len(e["LONG_ANSWER"].split()) for e in data)
        words_question = statistics.mean(len(e["QUESTION"].split()) for e in data)
    tpw = args.tokens_per_word
    item = (words_context + words_answer + words_question) * tpw + 40  # + template and chat markup
    gen = args.h100_mean_gen_tokens
    # voc per item: 3 explanations (prompt = item + ~15), a verification (item + 3 explanations + ~60),
    # the answer (verification prompt + its reply + ~30; 1 generated token)
    explain_p, verify_p = item + 15, item + 3 * gen + 60
    answer_p = verify_p + gen + 30
    total_prompt = 3 * explain_p + verify_p + answer_p
    # with prefix caching the engine computes the item once, then only what each prompt adds; the tiny-model
    # bench measured the same ratio on its own tokenizer (printed next to it)
    computed_cached = explain_p + 2 * 15 + (verify_p - item) + (answer_p - verify_p)
    generated = 4 * gen + 1
    rows = []
    for label, prompt_tokens in (("prefix caching on", computed_cached), ("prefix caching off", total_prompt)):
        seconds_per_item = prompt_tokens / args.h100_prefill_tps + generated / args.h100_decode_tps
        hours = PQA_U_ITEMS * seconds_per_item / 3600
        rows.append(
            f"  {label:<18} {prompt_tokens:>6.0f} prompt tokens computed + {generated:.0f} generated per item "
            f"-> {seconds_per_item * 1000:.0f} ms/item -> {hours:.2f} h for {PQA_U_ITEMS:,} items"
        )
    measured = 1 - voc_on["tokens"]["prompt_computed"] / max(voc_off["tokens"]["prompt_computed"], 1)
    return [
        "Projection: voc on all of PQA-U, one H100 (80 GB), an 8B model in bf16, vLLM offline engine",
        f"  assumptions: {words_context:.0f} + {words_answer:.0f} + {words_question:.0f} words (abstract + long "
        f"answer + question, PQA-L means) x {tpw} tokens/word + 40 template tokens = {item:.0f} item tokens;",
        f"  {gen} generated tokens per explanation/verification (max_tokens 192; greedy stops earlier);",
        f"  prefill {args.h100_prefill_tps:,.0f} tokens/s (~50% of H100 bf16 peak at 16 GFLOP/token) and decode "
        f"{args.h100_decode_tps:,.0f} tokens/s (batch of several hundred sequences) - both assumed, not measured;",
        "  prefill and decode added (no overlap credited), so the estimate is on the slow side.",
        f"  prefix caching saves {1 - computed_cached / total_prompt:.0%} of prompt tokens in this model of the "
        f"prompts; the tiny-model bench measured {measured:.0%} (128-token CPU blocks, its own tokenizer).",
        *rows,
    ]


# ----------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = new_parser(__doc__)
    parts_help = (
        "which comparisons to run: a (vLLM overhead), b (transformers overhead), c (voc vs long-answer, prefix "
        "caching on/off)"
    )
    add_options(
        parser,
        {
            "--items": 256,
            "--gen-tokens": (32, "max_tokens of explain/verify/reason steps"),
            "--repeats": (2, "timed repeats; the best of each is reported"),
            "--batch-size": (16, "transformers batch size (both sides)"),
            "--dtype": "bfloat16",
            "--parts": ("a,b,c", parts_help),
            "--transformers-strategies": ("long-answer,cot", "comma-separated, for (b)"),
        },
    )
    add_model_and_json(parser)
    # the projection's assumptions
    add_options(parser, {"--tokens-per-word": 1.4, "--h100-prefill-tps": 30_000.0, "--h100-decode-tps": 12_000.0})
    add_options(parser, {"--h100-mean-gen-tokens": 120})
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-label-"))
    model = model_or_tiny(args.model, work, max_positions=MAX_MODEL_LEN)
    items = work / "ori_pqau_bench.json"
    origin = make_items(args.items, items)
    print(f"{args.items} items from {origin}; model {model}; explain/verify max_tokens {args.gen_tokens}", flush=True)
    results: dict = {"items": args.items, "origin": origin}
    counter = iter(range(10_000))

    def job(strategy: str, backend: dict):
        return make_job(model, items, work / f"out-{next(counter)}", strategy, backend, args)

    vllm_spec = {"type": "vllm", "dtype": args.dtype, "max_model_len": MAX_MODEL_LEN, "enforce_eager": True}

    parts = set(args.parts.split(","))
    if parts & {"a", "c"}:
        run_vllm_parts(args, parts, job, vllm_spec, model, results)
    if "b" in parts:
        run_transformers_part(args, job, model, results)
    if "c" in parts:
        lines = projection(args, results["vllm_voc"], results["vllm_voc_no_prefix_cache"])
        print("\n".join(lines))
        results["projection"] = lines
    write_json(args.json, results)


def run_vllm_parts(args, parts, job, vllm_spec, model, results) -> None:
    """(a) the labeler against LLM.generate on the same waves; (c) voc and long-answer, prefix caching on and off."""
    # (a) and (c, caching on)
    llm = start_engine(model, True, args.dtype)
    warm = job("voc", vllm_spec)
    timed_label(warm.model_copy(update={"run": warm.run.model_copy(update={"limit": 16})}), vllm_backend(llm, warm))
    for strategy in ("long-answer", "voc"):
        best_label, best_raw, best_ids = float("inf"), float("inf"), float("inf")
        for _ in range(args.repeats):
            j = job(strategy, vllm_spec)
            llm.reset_prefix_cache()
            seconds, summary, waves = timed_label(j, vllm_backend(llm, j))
            best_label = min(best_label, seconds)
            best_raw = min(best_raw, raw_vllm_replay(llm, waves, chat=True, pretokenized=False))
            best_ids = min(best_ids, raw_vllm_replay(llm, waves, chat=True, pretokenized=True))
        results[f"vllm_{strategy}"] = {
            "labeler_items_per_s": args.items / best_label,
            "raw_items_per_s": args.items / best_raw,
            "raw_token_ids_items_per_s": args.items / best_ids,
            "ratio": best_raw / best_label,
            "ratio_vs_token_ids": best_ids / best_label,
            "seconds": best_label,
            "tokens": summary["tokens"],
            "requests": summary["requests"]["total"],
            "unlabeled": summary["unlabeled_by_reason"],
        }
        r = results[f"vllm_{strategy}"]
        print(
            f"(a) vLLM {strategy:<11}: labeler {r['labeler_items_per_s']:.1f} items/s, raw LLM.generate on the prompt "
            f"texts {r['raw_items_per_s']:.1f} items/s -> {r['ratio']:.2f}x (target >= 0.9x); on pre-tokenized ids "
            f"{r['raw_token_ids_items_per_s']:.1f} items/s -> {r['ratio_vs_token_ids']:.2f}x; unlabeled: {r['unlabeled']}",
            flush=True,
        )
    stop_engine(llm)
    if "c" not in parts:
        return

    # (c, caching off)
    llm = start_engine(model, False, args.dtype)
    for strategy in ("long-answer", "voc"):
        j = job(strategy, vllm_spec)
        timed_label(j.model_copy(update={"run": j.run.model_copy(update={"limit": 8})}), vllm_backend(llm, j))
        best, summary = float("inf"), None
        for _ in range(args.repeats):
            j = job(strategy, vllm_spec)
            seconds, summary, _ = timed_label(j, vllm_backend(llm, j))
            best = min(best, seconds)
        results[f"vllm_{strategy}_no_prefix_cache"] = {"seconds": best, "tokens": summary["tokens"]}
    stop_engine(llm)
    print("(c) voc vs long-answer, vLLM, prompt tokens actually computed (prompt - served by the prefix cache):")
    for strategy in ("long-answer", "voc"):
        on, off = results[f"vllm_{strategy}"], results[f"vllm_{strategy}_no_prefix_cache"]
        cut = 1 - on["tokens"]["prompt_computed"] / off["tokens"]["prompt_computed"]
        results[f"prefix_cache_cut_{strategy}"] = cut
        print(
            f"    {strategy:<11} caching on : {on['seconds']:6.1f} s, {on['tokens']['prompt_computed']:>8} computed of "
            f"{on['tokens']['prompt']} prompt tokens\n"
            f"    {strategy:<11} caching off: {off['seconds']:6.1f} s, {off['tokens']['prompt_computed']:>8} computed"
            f" -> caching cuts computed prompt tokens by {cut:.0%}"
            + (" (target >= 40%)" if strategy == "voc" else "")
        )
    voc_on, la_on = results["vllm_voc"], results["vllm_long-answer"]
    print(
        f"    voc / long-answer (caching on): {voc_on['seconds'] / la_on['seconds']:.2f}x wall time, "
        f"{voc_on['tokens']['prompt_computed'] / la_on['tokens']['prompt_computed']:.2f}x computed prompt tokens, "
        f"{voc_on['requests'] / la_on['requests']:.0f}x requests",
        flush=True,
    )


def run_transformers_part(args, job, model, results) -> None:
    """(b) the labeler on transformers against batched model.generate on the same waves."""
    from corpusforge.llm.backends.transformers import TransformersBackend
    from corpusforge.llm.config import TransformersBackendSpec

    spec = {"type": "transformers", "batch_size": args.batch_size, "dtype": "float32"}
    backend = TransformersBackend(TransformersBackendSpec(**spec), model, chat=True)
    backend.load()
    for strategy in args.transformers_strategies.split(","):
        best = {
            "labeler": float("inf"),
            "input_order": float("inf"),
            "sorted": float("inf"),
            "sorted_ids": float("inf"),
        }
        for _ in range(args.repeats):
            seconds, summary, waves = timed_label(job(strategy, spec), backend)
            best["labeler"] = min(best["labeler"], seconds)
            for name, sort, ids in (
                ("input_order", False, False),
                ("sorted", True, False),
                ("sorted_ids", True, True),
            ):
                best[name] = min(best[name], raw_transformers_replay(backend, waves, args.batch_size, sort, ids))
        r = {f"{k}_items_per_s": args.items / v for k, v in best.items()}
        r.update({f"ratio_vs_{k}": v / best["labeler"] for k, v in best.items() if k != "labeler"})
        r["unlabeled"] = summary["unlabeled_by_reason"]
        results[f"transformers_{strategy}"] = r
        print(
            f"(b) transformers {strategy:<11}: labeler {r['labeler_items_per_s']:.2f} items/s; batched model.generate "
            f"(target >= 0.8x): input order {r['input_order_items_per_s']:.2f} items/s -> "
            f"{r['ratio_vs_input_order']:.2f}x, sorted by length {r['sorted_items_per_s']:.2f} -> "
            f"{r['ratio_vs_sorted']:.2f}x, sorted and tokenized before the clock {r['sorted_ids_items_per_s']:.2f} -> "
            f"{r['ratio_vs_sorted_ids']:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
