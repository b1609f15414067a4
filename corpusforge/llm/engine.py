"""One engine for labelling and for LLM steps in builds: a backend behind the sqlite request cache.

`CachedEngine.answer(requests)` looks every request up in the cache (keyed by backend, model, chat flag and the
whole request: prompt, sampling, constraint, template hash), sends only the missing ones to the backend as one
batch, and stores each result the moment the backend reports it. So a killed run loses only the requests still in
flight, and a rerun of a finished run sends nothing. The backend is loaded on the first request that misses the
cache: a rerun answered wholly from the cache never starts vLLM.

`shared_engine()` gives every step of one process the same engine for the same model and settings (a datatrove
task runs its steps as chained generators, so two LLM steps of a source are alive at once and must not start two
vLLM engines). In the main process (a local build with workers=1 runs its tasks there one after another) the last
`release()` keeps the engine warm for the next task and stage, so a build loads the model once; asking for an
engine with other settings closes the idle ones first (one model on the GPUs at a time), and they are closed at
exit. In a worker process the last `release()` closes the engine at once. `preload()` hands a started `vllm.LLM` to the engines of a model
(tests, notebooks, benchmarks), which then never close it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.llm.backends import backend_for
from corpusforge.llm.backends.base import Backend
from corpusforge.llm.cache import RequestCache
from corpusforge.llm.requests import GenerateResult, Request, Result, cache_key

_PRELOADED: dict[str, Any] = {}
_SHARED: dict[str, tuple[CachedEngine, int]] = {}
_LOCK = threading.Lock()


@dataclass
class RequestCounters:
    """What was asked of an engine: requests, answered from the cache, sent; tokens of what it computed."""

    requests: int = 0
    cache_hits: int = 0
    sent: int = 0
    deduplicated: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    backend_seconds: float = 0.0


@dataclass
class EngineCounters(RequestCounters):
    """An LLM step's engine: the request counts plus how long its model took to load, and errors by kind."""

    load_seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def preload(model: str, llm: Any) -> None:
    """Use this already started vllm.LLM for every vLLM engine of `model` in this process (never closed by them)."""
    _PRELOADED[model] = llm


def unload(model: str) -> None:
    _PRELOADED.pop(model, None)


def model_config_hash(model: str) -> str | None:
    """sha256 (16 hex) of a local model's config.json (+ generation_config.json): which weights answered."""
    folder = Path(model)
    if not (folder / "config.json").is_file():
        return None
    digest = hashlib.sha256()
    for name in ("config.json", "generation_config.json"):
        if (folder / name).is_file():
            digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return digest.hexdigest()[:16]


class CachedEngine:
    """A backend behind the request cache. Build steps give a spec (the backend starts on the first cache miss);
    the labeller gives its own `backend` (loaded on demand by itself) and its open `cache`, and closes both."""

    def __init__(
        self,
        backend_spec: Any,
        model: str,
        chat: bool,
        cache_path: str | Path,
        description: str = "",
        backend: Backend | None = None,
        cache: RequestCache | None = None,
    ):
        self.spec = backend_spec
        self.model = model
        self.chat = chat
        self.cache_path = Path(cache_path)
        self.cache = cache if cache is not None else RequestCache(self.cache_path, description=description)
        self.backend = backend
        self.backend_name: str = backend.name if backend is not None else backend_spec.type
        self.counters = EngineCounters()

    def key(self, request: Request) -> str:
        return cache_key(request, backend=self.backend_name, model=self.model, chat=self.chat)

    def load(self) -> None:
        """Start the backend (done by the first request the cache cannot answer)."""
        if self.backend is not None:
            return

        started = time.perf_counter()
        llm = _PRELOADED.get(self.model) if self.spec.type == "vllm" else None
        backend = backend_for(self.spec, self.model, self.chat, llm=llm) if llm else None
        backend = backend or backend_for(self.spec, self.model, self.chat)
        backend.load()
        self.backend = backend
        self.counters.load_seconds += time.perf_counter() - started

    @property
    def constrains_structure(self) -> bool:
        """Whether JSON Schema / regex constraints are applied while decoding (vLLM, servers) or only checked."""
        if self.spec.type == "transformers":
            return False
        return self.spec.type != "openai" or self.spec.constraint_field == "structured_outputs"

    def answer(self, requests: Sequence[Request], counters: EngineCounters | None = None) -> list[Result]:
        """Results in request order: from the cache, or computed (and cached as each one finishes).

        `counters` (a step's own) are updated along with the engine's, so steps sharing an engine count apart.
        """
        return [result for result, _ in self.answer_marked(requests, counters)]

    def answer_marked(
        self,
        requests: Sequence[Request],
        counters: Any = None,
        on_send: Callable[[int], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> list[tuple[Result, bool]]:
        """(result, whether the cache answered it) in request order, for callers that account per request.

        `on_send(n)` is called before n requests go to the backend and `on_done()` as each of them finishes
        (progress); `counters` is anything with EngineCounters' fields (the labeller's RunCounters).
        """
        keys = [self.key(r) for r in requests]
        found = self.cache.get_many(keys)
        to_send: dict[str, Request] = {}
        for key, request in zip(keys, requests):
            if key not in found:
                to_send.setdefault(key, request)
        every = [self.counters] + ([counters] if counters is not None else [])
        hits = sum(1 for k in keys if k in found)
        for c in every:
            c.requests += len(keys)
            c.cache_hits += hits
            c.deduplicated += len(keys) - hits - len(to_send)
        fresh: dict[str, Result] = {}
        if to_send:
            self._send(to_send, fresh, every, on_send, on_done)
        return [(found[k], True) if k in found else (fresh[k], False) for k in keys]

    def _send(
        self,
        to_send: dict[str, Request],
        fresh: dict[str, Result],
        every: list[Any],
        on_send: Callable[[int], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        if self.backend is None:
            loading = time.perf_counter()
            self.load()
            for c in every[1:]:
                c.load_seconds += time.perf_counter() - loading
        send_keys = list(to_send)
        if on_send is not None:
            on_send(len(send_keys))
        started = time.perf_counter()

        def on_result(index: int, result: Result) -> None:
            key = send_keys[index]
            fresh[key] = result
            self.cache.put(key, result)
            for c in every:
                c.sent += 1
                if result.error:  # e.g. a prompt rejected as too long: its tokens were counted, never computed
                    c.errors[result.error] = c.errors.get(result.error, 0) + 1
                    continue
                c.prompt_tokens += result.prompt_tokens
                c.cached_prompt_tokens += result.cached_prompt_tokens
                if isinstance(result, GenerateResult):
                    c.completion_tokens += result.completion_tokens
            if on_done is not None:
                on_done()

        self.backend.run([to_send[k] for k in send_keys], on_result)
        for c in every:
            c.backend_seconds += time.perf_counter() - started
        missing = [k for k in send_keys if k not in fresh]
        if missing:
            raise RuntimeError(f"backend {self.backend_name} returned no result for {len(missing)} requests (a bug)")

    def describe(self) -> dict[str, Any]:
        """Model and backend settings worth recording next to what the engine produced."""
        settings = self.spec.model_dump(mode="json")
        if self.backend is not None:
            settings = self.backend.describe()
        return {
            "model": self.model,
            "model_config_sha256": model_config_hash(self.model),
            "backend": self.backend_name,
            "backend_settings": {k: v for k, v in settings.items() if k != "backend"},
            "chat": self.chat,
            "cache": str(self.cache_path),
        }

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        self.cache.close()


def _shared_key(spec: Any, model: str, chat: bool, cache_path: str | Path) -> str:
    payload = {"spec": spec.model_dump(mode="json"), "model": model, "chat": chat, "cache": str(cache_path)}
    return json.dumps(payload, sort_keys=True)


def shared_engine(spec: Any, model: str, chat: bool, cache_path: str | Path, description: str = "") -> CachedEngine:
    """This process's engine for these settings (created on first use); pair every call with `release()`."""
    key = _shared_key(spec, model, chat, cache_path)
    with _LOCK:
        engine, users = _SHARED.get(key, (None, 0))
        if engine is None:
            for other, (idle, n) in list(_SHARED.items()):  # a warm engine of other settings makes way
                if n == 0:
                    del _SHARED[other]
                    idle.close()
            engine = CachedEngine(spec, model, chat, cache_path, description)
        _SHARED[key] = (engine, users + 1)
        return engine


def release(engine: CachedEngine) -> None:
    """One user fewer; the last one closes the engine (and its backend, unless preloaded)."""
    keep_warm = multiprocessing.parent_process() is None
    with _LOCK:
        for key, (shared, users) in list(_SHARED.items()):
            if shared is engine:
                if users > 1 or keep_warm:
                    _SHARED[key] = (shared, users - 1)
                    return
                del _SHARED[key]
                break
    engine.close()


@atexit.register
def close_all() -> None:
    """Close every engine this process still holds (warm ones kept between tasks)."""
    with _LOCK:
        engines = [engine for engine, _ in _SHARED.values()]
        _SHARED.clear()
    for engine in engines:
        with contextlib.suppress(Exception):  # at exit, a failing close must not hide the others
            engine.close()
