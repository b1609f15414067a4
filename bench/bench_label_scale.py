"""Benchmark of `corpusforge label --executor ... --tasks N`: items/s with 1 task vs N tasks, side by side.

The same VoC job (real PQA-L question/abstract/long-answer texts from ../shared/data/pubmedqa when present, the
PQA-U sample otherwise) on the tiny test Llama, run through the CLI as a user runs it, each run into a fresh output
(nothing served from a label cache):

  (a) per device: 1 task on one core vs N local tasks on one core each (`executor.cpus_per_task=1`, pinned), the
      CPU counterpart of 1 GPU vs N GPUs                                  target: 2 tasks >= 1.6x on 2 cores
  (b) whole machine: 1 task with torch's threads on every core vs the same N tasks (on a CPU, torch already
      spreads one task over every core, so this ratio is bounded by how well it does that)
  alternated, best of --repeats; optionally the same with --backends vllm (one vLLM engine per task)

and, on paper, the wall time of labelling all 61,249 PQA-U items with voc on 8 GPUs (8 tasks, one 8B engine
each), from per-item prompt sizes measured on the real texts through the labeler's own prompts (assumptions
printed).

    python bench/bench_label_scale.py                       # 64 items, transformers, 1 vs 2 tasks (~4 min)
    python bench/bench_label_scale.py --items 32 --repeats 1 --backends transformers,vllm
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import add_model_and_json, add_options, model_or_tiny, new_parser, write_json  # noqa: E402

PQA_U_ITEMS = 61_249


def label_command(
    model: str, items: Path, output: Path, backend: str, tasks: int, gen: int, cores: int | None = None
) -> list[str]:
    args = ["label", "pqa-u", "--input", str(items), "--model", model, "--backend", backend, "--strategy", "voc",
            "--output", str(output), "--quiet", "--tasks", str(tasks)]  # fmt: skip
    settings = [f"sampling.max_tokens.explain={gen}", f"sampling.max_tokens.verify={gen}", "run.chunk_size=16"]
    if cores:
        settings.append(f"executor.cpus_per_task={cores}")
    if backend == "transformers":
        settings.append("model.backend.batch_size=16")
    else:
        settings += ["model.backend.dtype=bfloat16", "model.backend.max_model_len=4096",
                     "model.backend.enforce_eager=true"]  # fmt: skip
    for s in settings:
        args += ["--set", s]
    return [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]


def timed_run(model, items, work: Path, backend: str, tasks: int, gen: int, n: int, cores: int | None) -> dict:
    output = work / f"out-{backend}-{tasks}-{time.monotonic_ns()}"
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    command = label_command(model, items, output, backend, tasks, gen, cores)
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"label run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    manifest = json.loads((output / "manifest.json").read_text())
    summary = manifest["summary"]
    assert summary["labeled"] + summary["unlabeled"] == n and summary["requests"]["cache_hits"] == 0
    per_task = manifest.get("executor", {}).get("per_task")
    load = max(t["load_seconds"] for t in per_task) if per_task else summary["seconds"]["load"]
    if per_task:  # the task processes are reaped by datatrove's pool, not by the command: they report their own
        cpu += sum(t["cpu_seconds"] for t in per_task)
    return {
        "tasks": tasks,
        "wall_s": round(wall, 2),
        "load_s": round(load, 2),
        "items_per_s": round(n / wall, 4),
        "items_per_s_after_load": round(n / max(wall - load, 1e-9), 4),
        "cpu_s": round(cpu, 1),
        "items_per_cpu_s": round(n / max(cpu, 1e-9), 3),
        "cores_busy": round(cpu / wall, 2),  # CPU seconds of the command and its processes per wall second
        "loadavg_before": round(load_before, 2),
        "prompt_tokens": summary["tokens"]["prompt"],
        "prompt_computed": summary["tokens"]["prompt_computed"],
        "completion_tokens": summary["tokens"]["completion"],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


RUNS = {  # name: (tasks, cores per task; None = torch's default, every core for one task)
    "1 task, 1 core": (1, 1),
    "1 task, all cores": (1, None),
}


def compare(args, model, items, work, backend: str) -> dict:
    configs = {**RUNS, f"{args.tasks} tasks, 1 core each": (args.tasks, 1)}
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    for r in range(args.repeats):
        for name in list(configs) if r % 2 == 0 else list(configs)[::-1]:  # alternate: load drift hits all
            tasks, cores = configs[name]
            run = timed_run(model, items, work, backend, tasks, args.gen_tokens, args.items, cores)
            runs[name].append(run)
            print(f"  {backend} {name}: {run['wall_s']:.1f} s wall (load {run['load_s']:.1f} s), "
                  f"{run['items_per_s']:.3f} items/s, {run['cores_busy']:.2f} cores busy "
                  f"(machine load average before: {run['loadavg_before']:.1f})", flush=True)  # fmt: skip
    best = {name: max(rs, key=lambda x: x["items_per_s"]) for name, rs in runs.items()}
    many = f"{args.tasks} tasks, 1 core each"

    def ratio(base: str, key: str) -> float:
        return round(best[many][key] / best[base][key], 3)

    return {
        "runs": runs,
        "per_device": ratio("1 task, 1 core", "items_per_s"),
        "per_device_after_load": ratio("1 task, 1 core", "items_per_s_after_load"),
        "whole_machine": ratio("1 task, all cores", "items_per_s"),
        "whole_machine_after_load": ratio("1 task, all cores", "items_per_s_after_load"),
        "items_per_cpu_s": {name: statistics.median(x["items_per_cpu_s"] for x in rs) for name, rs in runs.items()},
    }


# ----------------------------------------------------------------------------------------------- paper estimate
def measured_prompt_sizes(items_path: Path, n: int) -> dict:
    """Characters of every VoC prompt the labeler writes for real items (the labeler's own templates), and how
    much of them is the item prefix the engine's prefix cache computes once."""
    from corpusforge.config import validate
    from corpusforge.label.config import LabelJob
    from corpusforge.label.items import LabelItem, iter_input
    from corpusforge.label.prompts import PromptBook
    from corpusforge.label.strategies import StrategyContext, run_strategy
    from corpusforge.llm.backends.base import plain_text
    from corpusforge.llm.requests import GenerateResult

    job = validate(LabelJob, {"input": {"path": str(items_path)}, "model": {"name": "m"}, "strategy": "voc"})
    ctx = StrategyContext(job, PromptBook(None))
    per_item, prefix = [], []
    for record in list(iter_input(job.input))[:n]:
        if not isinstance(record, LabelItem):
            continue
        chars, texts = [], []
        run = run_strategy("voc", record, ctx)
        requests = next(run)
        while True:
            texts += [plain_text(r.prompt) for r in requests]
            chars += [len(t) for t in texts[-len(requests) :]]
            fake = [  # an explanation of ~120 tokens; an answer that parses
                GenerateResult(
                    text=r.choices[0] if r.choices else "word " * 100,
                    choice_logprobs={c: -1.0 for c in r.score_choices} if r.score_choices else None,
                )
                for r in requests
            ]
            try:
                requests = run.send(fake)
            except StopIteration:
                break
        per_item.append(chars)
        prefix.append(len(os.path.commonprefix(texts)))
    return {
        "requests_per_item": statistics.mean(len(c) for c in per_item),
        "prompt_chars_per_item": statistics.mean(sum(c) for c in per_item),
        "shared_prefix_chars": statistics.mean(prefix),
        "items": len(per_item),
    }


def paper_estimate(args, sizes: dict) -> list[str]:
    cpt = args.chars_per_token
    prompt = sizes["prompt_chars_per_item"] / cpt
    prefix = sizes["shared_prefix_chars"] / cpt
    reqs = sizes["requests_per_item"]
    computed = prompt - (reqs - 1) * prefix  # the prefix cache computes the item prefix once per item
    generated = (reqs - 1) * args.mean_gen_tokens + 1
    per_item_s = computed / args.prefill_tps + generated / args.decode_tps
    per_gpu_items = PQA_U_ITEMS / args.gpus
    label_h = per_gpu_items * per_item_s / 3600
    wall_h = label_h + (args.engine_start_s + args.merge_s) / 3600
    return [
        f"Paper estimate: voc on all {PQA_U_ITEMS:,} PQA-U items, {args.gpus} GPUs = {args.gpus} tasks "
        "(--executor local|ray|slurm --tasks 8 --set executor.gpus_per_task=1), an 8B model per GPU",
        f"  measured on {sizes['items']} real items through the labeler's prompts: {reqs:.0f} requests/item, "
        f"{sizes['prompt_chars_per_item']:,.0f} prompt characters/item, of which the item prefix shared by its "
        f"requests is {sizes['shared_prefix_chars']:,.0f}",
        f"  assumed: {cpt} characters/token (Llama-3 tokenizer on PubMed English), {args.mean_gen_tokens} generated "
        f"tokens per explanation/verification, prefill {args.prefill_tps:,.0f} and decode {args.decode_tps:,.0f} "
        "tokens/s per H100-class GPU (bench_label.py's assumptions), engine start "
        f"{args.engine_start_s:.0f} s, merge {args.merge_s:.0f} s; prefill and decode added (no overlap credited)",
        f"  per item: {prompt:,.0f} prompt tokens, {computed:,.0f} computed with prefix caching, {generated:.0f} "
        f"generated -> {per_item_s * 1000:.0f} ms of one GPU",
        f"  {per_gpu_items:,.0f} items per GPU -> {label_h:.2f} h labelling -> about {wall_h:.2f} h wall "
        f"(vs {label_h * args.gpus:.1f} h on one GPU)",
    ]


def main() -> None:
    parser = new_parser(__doc__)
    add_options(
        parser, {"--items": 64, "--tasks": 2, "--repeats": 2, "--gen-tokens": 16, "--backends": "transformers"}
    )
    add_model_and_json(parser)
    # the paper estimate's assumptions
    add_options(parser, {"--gpus": 8, "--chars-per-token": 4.2, "--mean-gen-tokens": 120, "--prefill-tps": 30_000.0})
    add_options(parser, {"--decode-tps": 12_000.0, "--engine-start-s": 120.0, "--merge-s": 60.0})
    args = parser.parse_args()

    from bench_label import make_items

    work = Path(tempfile.mkdtemp(prefix="bench-label-scale-"))
    model = model_or_tiny(args.model, work, max_positions=4096)
    items = work / "ori_pqau_bench.json"
    origin = make_items(args.items, items)
    print(
        f"{args.items} items from {origin}; {os.cpu_count()} CPUs; voc, explain/verify max_tokens {args.gen_tokens}"
    )
    results: dict = {"items": args.items, "origin": origin, "cpus": os.cpu_count()}
    for backend in args.backends.split(","):
        print(f"(a) {backend}: 1 task vs {args.tasks} local tasks", flush=True)
        results[backend] = compare(args, model, items, work, backend)
        r = results[backend]
        target = (
            f"   target >= 1.6x: {'ok' if r['per_device'] >= 1.6 else 'MISSED'}" if backend == "transformers" else ""
        )
        print(f"  -> per device ({args.tasks} tasks on a core each / 1 task on one core): {r['per_device']:.2f}x "
              f"items/s (whole command), {r['per_device_after_load']:.2f}x after the model load{target}")  # fmt: skip
        print(f"  -> whole machine ({args.tasks} tasks / 1 task with torch on every core): {r['whole_machine']:.2f}x "
              f"(whole command), {r['whole_machine_after_load']:.2f}x after the model load")  # fmt: skip
        per_cpu = ", ".join(f"{name} {v:.2f}" for name, v in r["items_per_cpu_s"].items())
        print(f"     items per CPU second: {per_cpu}; a busy machine (see load average) lowers wall-clock ratios")
    sizes = measured_prompt_sizes(items, args.items)
    results["prompt_sizes"] = sizes
    lines = paper_estimate(args, sizes)
    print("\n".join(lines))
    results["paper_estimate"] = lines
    write_json(args.json, results)


if __name__ == "__main__":
    main()
