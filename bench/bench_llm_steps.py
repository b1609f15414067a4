"""Benchmark of LLM build steps (kg.rewrite) on vLLM: the step's overhead, and a rerun answered from the cache.

On one tiny random model and the same documents (knowledge-graph subgraphs of the bundled sample, cycled to
`--docs` with distinct ids and prompts), side by side in one run:

  (a) kg.rewrite documents/s (render the prompt, look up the sqlite cache, send the batch to vLLM, store each
      answer, check it, write the document) vs raw `LLM.generate` of the very same token ids with the same
      sampling settings, batch by batch (`--batch` documents per call)                    target >= 0.9x
  (b) a rerun of the step over the same documents with the cache filled: every answer from sqlite, the engine
      never started                                                                        target <= 5% of (a)

and a projection for a GPU run from the measured token counts (assumptions printed).

    python bench/bench_llm_steps.py                       # 256 documents, 64 generated tokens, ~3-6 min on 2 cores
    python bench/bench_llm_steps.py --docs 128 --repeats 1

Every timed step run (a) uses a fresh cache file; the engine (and its prefix cache) is shared by both sides, and
runs alternate raw / step so drift on a shared machine hits both.
"""

from __future__ import annotations

import argparse
import csv
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
TRIPLES = REPO / "data" / "samples" / "kg" / "medical_kg_triples.tsv"


def make_documents(n: int, max_triples: int):
    """n subgraph documents (triples in metadata, template text as the draft), as kg.subgraphs emits them."""
    from datatrove.data import Document

    by_head: dict[str, list[list[str]]] = {}
    with open(TRIPLES, encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            by_head.setdefault(row["head"], []).append([row["head"], row["relation"], row["tail"]])
    groups = [triples[:max_triples] for triples in by_head.values()]
    docs = []
    for i in range(n):
        triples = [list(t) for t in groups[i % len(groups)]]
        triples[0][0] = triples[0][0] + f" ({i})"  # distinct prompts: no answer shared across documents
        draft = " ".join(f"{h} {r} {t}." for h, r, t in triples)
        docs.append(Document(text=draft, id=f"kg:bench/{i}", metadata={"source": "kg", "triples": triples}))
    return docs


def copy_docs(docs):
    from datatrove.data import Document

    return [Document(text=d.text, id=d.id, metadata={k: (list(v) if isinstance(v, list) else v)
                                                     for k, v in d.metadata.items()}) for d in docs]  # fmt: skip


def make_step(model: str, cache: Path, args):
    from corpusforge.pipeline.steps.llm.config import LLMDefaults
    from corpusforge.pipeline.steps.llm.rewrite import KGRewrite

    params = KGRewrite.Params(type="kg.rewrite")
    settings = LLMDefaults.model_validate(
        {
            "model": {"name": model, "backend": {"type": "vllm", "max_model_len": args.max_model_len}},
            "sampling": {"temperature": 0.0, "max_tokens": args.gen_tokens},
            "batch_size": args.batch,
            "max_retries": 0,
        }
    )
    return KGRewrite(params, settings, cache_path=str(cache), report_dir=None, source="kg")


def run_step(step, docs) -> tuple[float, object]:
    started = time.perf_counter()
    out = list(step.run(iter(docs)))
    seconds = time.perf_counter() - started
    assert len(out) == len(docs)
    return seconds, step.counters


def step_prompts(step, docs, tokenizer):
    """The token ids and sampling params the step sends, in its batches."""
    from vllm.inputs import TokensPrompt

    from corpusforge.llm.backends.base import encode_prompt
    from corpusforge.llm.backends.vllm import VLLMBackend

    backend = VLLMBackend(step.settings.model.backend, step.settings.model.name, True, llm=object())
    batches = []
    for start in range(0, len(docs), step.settings.batch_size):
        chunk = docs[start : start + step.settings.batch_size]
        requests = [step.request(step.prepare(d), 0) for d in chunk]
        prompts = [TokensPrompt(prompt_token_ids=encode_prompt(tokenizer, r.prompt, True)) for r in requests]
        batches.append((prompts, [backend._generate_params(r) for r in requests]))
    return batches


def run_raw(llm, batches) -> tuple[float, int, int]:
    started = time.perf_counter()
    prompt_tokens = completion_tokens = 0
    for prompts, params in batches:
        for output in llm.generate(prompts, params, use_tqdm=False):
            prompt_tokens += len(output.prompt_token_ids)
            completion_tokens += len(output.outputs[0].token_ids)
    return time.perf_counter() - started, prompt_tokens, completion_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64, help="documents per engine call (the step's batch_size)")
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--max-triples", type=int, default=6)
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", help="a local model folder (default: a tiny random Llama built here)")
    args = parser.parse_args()

    from vllm import LLM

    from corpusforge.llm.engine import close_all, preload, unload

    work = Path(tempfile.mkdtemp(prefix="bench-llm-steps-"))
    if args.model:
        model = args.model
    else:
        from tests.tiny_models import build_tiny_llama

        model = str(build_tiny_llama(work / "tiny"))
    docs = make_documents(args.docs, args.max_triples)
    t0 = time.perf_counter()
    from corpusforge.pipeline.steps.llm.base import VLLM_STEP_ENGINE_ARGS

    llm = LLM(model=model, dtype="bfloat16", max_model_len=args.max_model_len, enforce_eager=True,
              enable_prefix_caching=True, seed=0, **VLLM_STEP_ENGINE_ARGS)  # fmt: skip
    load_seconds = time.perf_counter() - t0
    preload(model, llm)
    batches = step_prompts(make_step(model, work / "probe.sqlite", args), docs, llm.get_tokenizer())
    run_raw(llm, batches[:1])  # warm-up (compilation, allocator)

    raw_times, step_times, counters = [], [], None
    raw_tokens = (0, 0)
    for r in range(args.repeats):
        seconds, p, c = run_raw(llm, batches)
        raw_times.append(seconds)
        raw_tokens = (p, c)
        cache = work / f"cache-{r}.sqlite"
        seconds, counters = run_step(make_step(model, cache, args), copy_docs(docs))
        step_times.append(seconds)
    raw_s, step_s = statistics.median(raw_times), statistics.median(step_times)

    # (b) rerun from the filled cache, with no engine to hand: it must not need one
    unload(model)
    close_all()  # no warm engine either: the rerun has nothing to send with
    rerun_s, rerun_counters = run_step(make_step(model, work / f"cache-{args.repeats - 1}.sqlite", args),
                                       copy_docs(docs))  # fmt: skip
    assert rerun_counters.sent == 0 and rerun_counters.load_seconds == 0, rerun_counters

    n = args.docs
    print(f"model: {model} (vLLM {'bf16'}, prefix caching on), engine start {load_seconds:.1f} s")
    print(f"documents: {n} kg.rewrite subgraphs (<= {args.max_triples} triples), batch {args.batch}, "
          f"{args.gen_tokens} generated tokens max, repeats {args.repeats} (medians)")  # fmt: skip
    print(f"tokens per document: prompt {counters.prompt_tokens / n:.0f}, generated {counters.completion_tokens / n:.1f}"
          f" (raw engine: {raw_tokens[0] / n:.0f} / {raw_tokens[1] / n:.1f})")  # fmt: skip
    ratio = (n / step_s) / (n / raw_s)
    print(f"(a) raw LLM.generate: {n / raw_s:7.1f} docs/s   kg.rewrite step: {n / step_s:7.1f} docs/s   "
          f"ratio {ratio:.2f}x  (target >= 0.9x)  {'OK' if ratio >= 0.9 else 'BELOW TARGET'}")  # fmt: skip
    share = rerun_s / step_s
    print(f"(b) rerun from cache: {rerun_s:.2f} s vs first run {step_s:.2f} s = {share:.1%}  (target <= 5%)  "
          f"{'OK' if share <= 0.05 else 'ABOVE TARGET'}; requests sent 0, engine never started")  # fmt: skip

    # projection for a GPU run (assumptions, not measurements)
    prefill, decode = 40_000, 8_000  # tokens/s of an 8B model in bf16 on one H100 at batch >= 256 with vLLM
    p_doc, g_doc = counters.prompt_tokens / n, 384 * 0.6  # a real rewrite: ~60% of kg.rewrite's 384-token budget
    per_doc = p_doc / prefill + g_doc / decode
    print(f"projection (assumed 8B bf16 on 1x H100: prefill {prefill:,} tok/s, decode {decode:,} tok/s; "
          f"{p_doc:.0f} prompt + {g_doc:.0f} generated tokens per document): ~{1 / per_doc:,.0f} documents/s, "
          f"1M subgraphs in ~{1e6 * per_doc / 3600:.1f} h per GPU (tensor_parallel_size 1; data parallel = one "
          f"task per GPU)")  # fmt: skip
    llm.llm_engine.engine_core.shutdown()


if __name__ == "__main__":
    main()
