"""PPL scoring on the transformers backend: every answer form scored on one KV cache of the shared prompt
(corpusforge's TransformersBackend) against the baseline of scoring each whole (prompt + form) sequence on its own
(what it did before; lm-evaluation-harness's way), on the same PQA-L test items and answer forms, side by side.

Runs alternate (baseline, shared, baseline, shared, ...) so machine noise hits both; it prints the median seconds
per item of each, their ratio, and the largest log-probability difference (should be ~0: the same numbers).

    python bench/bench_ppl_scoring.py --model ~/.cache/corpusforge/models/smollm2-135m-instruct --items 4
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import _common

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PQAL = REPO.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"


def score_requests(items: int):
    """The PPL requests of the first `items` PQA-L items, as `--strategy ppl` builds them (its first wave)."""
    from corpusforge.config import validate
    from corpusforge.label.config import LabelJob
    from corpusforge.label.items import LabelItem, iter_input
    from corpusforge.label.prompts import PromptBook
    from corpusforge.label.strategies import StrategyContext, run_strategy

    job = validate(LabelJob, {"task": {"name": "pqa-l"}, "input": {"path": str(PQAL)}, "model": {"name": "m"},
                              "strategy": "ppl", "run": {"output": "unused"}})  # fmt: skip
    context = StrategyContext(job, PromptBook(job.task.templates))
    requests = []
    for item in iter_input(job.input):
        if isinstance(item, LabelItem):
            requests += next(run_strategy("ppl", item, context))
        if len(requests) >= items:
            break
    return requests


def whole_sequence_logprobs(backend, request) -> list[float]:
    """The baseline: each (prompt + continuation) scored by a forward pass over the whole sequence."""
    import torch

    from corpusforge.llm.backends.base import encode_continuation

    out = []
    for continuation in request.continuations:
        context, whole = encode_continuation(backend.tokenizer, request.prompt, backend.chat, continuation)
        with torch.inference_mode():
            logits = backend.hf_model(input_ids=torch.tensor([whole])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        out.append(float(sum(logprobs[t - 1, whole[t]] for t in range(len(context), len(whole)))))
    return out


def main() -> None:
    parser = _common.new_parser(__doc__)
    _common.add_options(parser, {"--items": (4, "PQA-L items"), "--rounds": (3, "alternating rounds")})
    _common.add_model_and_json(parser)
    args = parser.parse_args()
    if not PQAL.is_file():
        sys.exit(f"real PubMedQA not found at {PQAL}")
    from corpusforge.llm.backends.transformers import TransformersBackend
    from corpusforge.llm.config import TransformersBackendSpec

    with _common.scratch("bench-ppl") as work:
        model = _common.model_or_tiny(args.model, work)
        backend = TransformersBackend(TransformersBackendSpec(), model, chat=True)
        backend.load()
        requests = score_requests(args.items)
        forms = len(requests[0].continuations)
        times = {"baseline": [], "shared": []}
        worst = 0.0
        for _ in range(args.rounds):
            started = time.perf_counter()
            baseline = [whole_sequence_logprobs(backend, r) for r in requests]
            times["baseline"].append((time.perf_counter() - started) / len(requests))
            started = time.perf_counter()
            results = {}
            backend.run(requests, results.__setitem__)
            times["shared"].append((time.perf_counter() - started) / len(requests))
            for i, expected in enumerate(baseline):
                worst = max(worst, *(abs(a - b) for a, b in zip(results[i].logprobs, expected)))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{len(requests)} items x {forms} answer forms, {args.rounds} alternating rounds, model {model}")
    for name, value in medians.items():
        print(f"  {name:8s} median {value:.2f} s/item  (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    print(f"  speed-up (baseline / shared): {medians['baseline'] / medians['shared']:.1f}x")
    print(f"  largest log-probability difference: {worst:.2e}")
    _common.write_json(args.json, {"seconds_per_item": medians, "times": times, "max_abs_diff": worst})


if __name__ == "__main__":
    main()
