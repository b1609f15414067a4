"""Drives the strategies of many items in lockstep waves, through the cache, into records.

Items are taken `run.chunk_size` at a time. Every (item, strategy) pair is a generator; a wave collects the
requests all of them are waiting on and hands them to the engine (corpusforge/llm/engine.py), which answers what
it can from the cache, sends the rest to the backend as one batch, and stores each result in the cache the moment
the backend reports it. So the backend always sees the largest batch the strategies allow, and a killed run loses
at most the requests that were still running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem, Quarantined
from corpusforge.label.label_record import Ledger, RecordContext, build_record
from corpusforge.label.strategies import StrategyContext, StrategyOutcome, run_strategy
from corpusforge.llm.backends.base import Backend
from corpusforge.llm.cache import RequestCache
from corpusforge.llm.engine import CachedEngine, RequestCounters
from corpusforge.llm.requests import GenerateResult, Request, Result


@dataclass
class RunCounters(RequestCounters):
    """Totals for the summary; token counts cover only what the backend computed in this run.

    The engine counts into it as into its own EngineCounters (the same request counts, plus items and waves; no
    load_seconds: the labeller's backend loads itself)."""

    items: int = 0
    waves: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def computed_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cached_prompt_tokens


class Progress:
    """Progress callbacks (the CLI shows a rich bar; tests and benches pass nothing)."""

    def items_done(self, n: int) -> None: ...

    def wave(self, description: str, total: int) -> None: ...

    def request_done(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class _Pair:
    item_index: int
    strategy: str
    run: Iterator
    waiting: list[Request] = field(default_factory=list)
    outcome: StrategyOutcome | None = None
    ledger: Ledger = field(default_factory=Ledger)


class LabelRunner:
    def __init__(
        self,
        job: LabelJob,
        backend: Backend,
        cache: RequestCache,
        strategy_ctx: StrategyContext,
        progress: Progress | None = None,
    ):
        self.job = job
        self.engine = CachedEngine(
            backend.spec, job.model.name, job.task.chat, cache.path, backend=backend, cache=cache
        )  # the caller closes the backend and the cache
        self.ctx = strategy_ctx
        self.progress = progress or Progress()
        self.counters = RunCounters()
        self.record_ctx = RecordContext(job, backend.name, strategy_ctx.hashes)

    def label(self, items: Iterable[LabelItem]) -> Iterator[list[dict]]:
        """Records for `items`, in input order, one list per chunk of `run.chunk_size` items."""
        iterator = iter(items)
        while chunk := list(islice(iterator, self.job.run.chunk_size)):
            yield self._label_chunk(chunk)

    def _label_chunk(self, items: list[LabelItem]) -> list[dict]:
        pairs = [
            _Pair(i, strategy, run_strategy(strategy, item, self.ctx))
            for i, item in enumerate(items)
            for strategy in self.job.strategies
        ]
        active = []
        for pair in pairs:
            self._advance(pair, None)
            if pair.outcome is None:
                active.append(pair)
        while active:
            self._wave(active)
            active = [p for p in active if p.outcome is None]
        by_item: list[list[_Pair]] = [[] for _ in items]
        for pair in pairs:
            by_item[pair.item_index].append(pair)
        records = []
        for item, mine in zip(items, by_item):
            ledger = Ledger()
            for p in mine:
                for name, value in p.ledger.__dict__.items():
                    setattr(ledger, name, getattr(ledger, name) + value)
            records.append(build_record(item, [p.outcome for p in mine], ledger, self.record_ctx))
        self.counters.items += len(items)
        self.progress.items_done(len(items))
        return records

    def _advance(self, pair: _Pair, results: list[Result] | None) -> None:
        try:
            pair.waiting = next(pair.run) if results is None else pair.run.send(results)
        except StopIteration as stop:
            pair.outcome = stop.value
            pair.waiting = []

    def _wave(self, active: list[_Pair]) -> None:
        """One batch: every request the active pairs wait on, from the cache or the backend."""
        requests = [r for p in active for r in p.waiting]
        self.counters.waves += 1
        answered = self.engine.answer_marked(requests, self.counters, self._on_send, self.progress.request_done)
        start = 0
        for pair in active:
            mine = answered[start : start + len(pair.waiting)]
            start += len(pair.waiting)
            for result, cached in mine:
                _account(pair.ledger, result, cached)
            self._advance(pair, [result for result, _ in mine])

    def _on_send(self, n: int) -> None:
        self.progress.wave(f"{n} requests", n)


def _account(ledger: Ledger, result: Result, cached: bool) -> None:
    ledger.requests += 1
    ledger.cached_requests += int(cached)
    ledger.compute_seconds += result.seconds
    if result.error:  # a rejected request (prompt_too_long, ...) computed no tokens
        return
    ledger.prompt_tokens += result.prompt_tokens
    ledger.cached_prompt_tokens += result.cached_prompt_tokens
    if isinstance(result, GenerateResult):
        ledger.completion_tokens += result.completion_tokens


def select_items(
    records: Iterable[LabelItem | Quarantined],
    limit: int | None,
    num_shards: int = 1,
    shard_index: int = 0,
    on_quarantine: Callable[[Quarantined], None] | None = None,
    keep: Callable[[LabelItem], bool] | None = None,
) -> Iterator[LabelItem]:
    """The items this job labels: the first `limit` input records, this shard's share, quarantined ones reported.

    `limit` counts input records (kept or quarantined), so `--limit 10` reads exactly ten records.
    """
    for position, record in enumerate(records):
        if limit is not None and position >= limit:
            return
        if position % num_shards != shard_index:
            continue
        if isinstance(record, Quarantined):
            if on_quarantine:
                on_quarantine(record)
            continue
        if keep is None or keep(record):
            yield record
