"""Why a vLLM engine would not start, said in one or two lines instead of the engine core's 100-line traceback.

On CPU, vLLM reserves `gpu_memory_utilization` (0.92 by default, despite the name) of the memory node's total
memory, and its engine core process refuses to start when less than that is free: the command then ends, after
about 100 lines from the child process, in "Engine core initialization failed". The same check is made here,
with vLLM's own memory numbers, before the engine is started; `VLLM_CPU_KVCACHE_SPACE` (GiB for the KV cache,
which replaces the share) is checked the same way. A start-up failure that still happens is named by what it
usually is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import psutil

GIB = 2**30
KVCACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"
VLLM_DEFAULT_SHARE = 0.92  # vllm.config.CacheConfig.gpu_memory_utilization, read from vLLM when it is importable


@dataclass(frozen=True)
class NodeMemory:
    total: int
    available: int


def cpu_node_memory() -> NodeMemory:
    """Total and available memory of the node vLLM's CPU worker will use (its own helpers; psutil without them)."""
    try:  # vllm is imported only when an engine starts (seconds of import time)
        from vllm.utils.cpu_resource_utils import get_allowed_cpu_list, get_memory_node_info

        info = get_memory_node_info(get_allowed_cpu_list()[0].numa_node)
        return NodeMemory(info.total_memory, info.available_memory)
    except Exception:  # noqa: BLE001 - another vLLM version: the system's numbers are what it used before
        memory = psutil.virtual_memory()
        return NodeMemory(memory.total, memory.available)


def vllm_default_share() -> float:
    try:  # (imported when an engine starts, as above)
        from vllm.config import CacheConfig

        return float(CacheConfig.__pydantic_fields__["gpu_memory_utilization"].default)  # a pydantic dataclass
    except Exception:  # noqa: BLE001 - a vLLM without it: the value its docs give
        return VLLM_DEFAULT_SHARE


def cpu_memory_problem(
    engine_kwargs: dict[str, Any], memory: NodeMemory, default_share: float, env: dict[str, str] | None = None
) -> str | None:
    """The one- or two-line reason a CPU engine with these arguments would not start, or None when it fits."""
    env = os.environ if env is None else env
    space = env.get(KVCACHE_ENV, "")
    free = f"{memory.available / GIB:.1f} GiB are free (of {memory.total / GIB:.1f} GiB)"
    if space != "":
        if not space.strip().isdigit():
            return f"{KVCACHE_ENV}={space!r}: give the KV cache size in whole GiB, e.g. {KVCACHE_ENV}=4"
        if int(space) * GIB > memory.available:
            return (
                f"{KVCACHE_ENV}={space} asks vLLM for {space} GiB of KV cache on CPU, but only {free}\n"
                f"  set {KVCACHE_ENV} to at most {int(memory.available / GIB)}, or free memory"
            )
        return None
    if engine_kwargs.get("kv_cache_memory_bytes") is not None:
        return None  # sized explicitly through model.backend.engine_args: vLLM checks it against what is free
    share = engine_kwargs.get("gpu_memory_utilization") or default_share
    requested = math.ceil(memory.total * share)
    if requested <= memory.available:
        return None
    fits = math.floor(memory.available / memory.total * 20) / 20  # a round share that fits now
    setting = "set to" if "gpu_memory_utilization" in engine_kwargs else "left at vLLM's default,"
    hint = f"to {fits:.2f} or less" if fits >= 0.05 else "lower"
    return (
        f"vLLM on CPU reserves model.backend.gpu_memory_utilization ({setting} {share}) of this machine's memory, "
        f"{requested / GIB:.1f} GiB, but only {free}\n"
        f"  set model.backend.gpu_memory_utilization {hint} (--set model.backend.gpu_memory_utilization="
        f"{max(fits, 0.05):.2f}), or {KVCACHE_ENV}=GiB for the KV cache alone"
    )


def is_engine_start_failure(error: BaseException) -> bool:
    """vLLM's parent-side error when its engine core process died while starting (the cause is in its log)."""
    return "Engine core initialization failed" in str(error)


def engine_start_message(error: BaseException, on_cpu: bool) -> str:
    cause = (
        "on CPU this is most often memory: model.backend.gpu_memory_utilization (the share of RAM it reserves, "
        f"0.92 by default) or {KVCACHE_ENV}"
        if on_cpu
        else "most often GPU memory (model.backend.gpu_memory_utilization, max_model_len) or the model's files"
    )
    return f"the vLLM engine did not start ({str(error).strip().splitlines()[0]}); its log above says why\n  {cause}"


def is_engine_death(error: BaseException) -> bool:
    """vLLM's error when its engine core died after starting (e.g. its worker process was killed)."""
    return any(cls.__name__ == "EngineDeadError" for cls in type(error).__mro__)


def engine_death_message(on_cpu: bool, env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if on_cpu:
        held = f"{env[KVCACHE_ENV]} GiB" if env.get(KVCACHE_ENV) else "model.backend.gpu_memory_utilization of RAM"
        cause = (
            "its log above says which: a worker that 'died unexpectedly (exit code: -9)' was killed, on CPU most "
            f"often by the out-of-memory killer (vLLM holds {held} for its KV cache whether it needs it or not; a "
            f"smaller {KVCACHE_ENV}=GiB, e.g. 2 for a small model, leaves room); a worker that 'hit an exception' "
            "met an error of vLLM's own"
        )
    else:
        cause = "most often GPU memory or a lost GPU; its log above says why"
    return (
        f"the vLLM engine died mid-run (EngineDeadError); every answer received so far is in the request cache, "
        f"so the same command resumes\n  {cause}"
    )
