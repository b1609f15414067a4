"""Progress lines for long work whose output is a file or a pipe (a job log, CI, `| tee`).

A terminal gets rich's live bars where a command has them; a log file gets nothing from a bar, so long work
also reports through `Heartbeat`: a background thread prints one line at least every `interval` seconds, even
while the main thread is blocked in a library call (a datatrove stage, a model load, a DeepSpeed op compile):

    training: step 120/1000 (12.0%), 1.52 step/s, ETA 9m39s, elapsed 1m19s
    training start-up: compiling DeepSpeed ops (first run only), elapsed 45s

The caller only updates the state (`update(done=..., phase=...)`); the thread does the printing. The interval
is 30 s unless CORPUSFORGE_PROGRESS_EVERY (seconds) says otherwise (tests use 1).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

DEFAULT_INTERVAL_S = 30.0
INTERVAL_ENV = "CORPUSFORGE_PROGRESS_EVERY"


def default_interval() -> float:
    """Seconds between lines: CORPUSFORGE_PROGRESS_EVERY when set to a positive number, else 30."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_duration(seconds: float) -> str:
    """45s, 9m39s, 2h05m."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(
    label: str,
    done: int | None,
    total: int | None,
    unit: str,
    elapsed: float,
    rate: float | None,
    phase: str | None = None,
) -> str:
    """One self-contained line: what, how far, how fast, how long still (when it can be known)."""
    parts = [phase] if phase else []
    if done is not None:
        count = f"{done}/{total} {unit}" if total else f"{done} {unit}"
        if total:
            count += f" ({100 * done / total:.1f}%)"
        parts.append(count.strip())
        if rate is not None and rate > 0:
            parts.append(f"{rate:.3g} {unit or 'item'}/s")
            if total and done < total:
                parts.append(f"ETA {format_duration((total - done) / rate)}")
        elif total and done < total:
            parts.append("ETA unknown")
    parts.append(f"elapsed {format_duration(elapsed)}")
    return f"{label}: " + ", ".join(parts)


class Heartbeat:
    """Print a progress line at least every `interval` seconds while the `with` block runs.

    `done` counts from where the work started (a resumed run starts at its checkpoint): the rate and the ETA
    use only the work done since this heartbeat began. `phase_fn(phase)`, when given, is asked for the phase
    each time a line is printed (it may look at the outside world, e.g. which op is compiling). `enabled=None` means "only when `stream` is not a
    terminal"; pass True to report on a terminal as well (e.g. when nothing else draws a bar).
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        *,
        done: int | None = None,
        phase: str | None = None,
        interval: float | None = None,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        write: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        phase_fn: Callable[[str | None], str | None] | None = None,
    ):
        self.label, self.total, self.unit = label, total, unit
        self.done, self.phase = done, phase
        self.interval = interval if interval is not None else default_interval()
        self._stream = stream
        self.enabled = (not is_terminal(stream)) if enabled is None else enabled
        self._write = write
        self._clock = clock
        self._phase_fn = phase_fn  # refines the phase when a line is printed (e.g. "compiling DeepSpeed ops")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = clock()
        self._first_done = done
        self._first_at = self.started

    # -- state (cheap; called from the work loop) --
    def update(self, done: int | None = None, *, total: int | None = None, phase: str | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = total
            if phase is not None:
                self.phase = phase
            if done is not None:
                if self._first_done is None:
                    self._first_done, self._first_at = done, self._clock()
                self.done = done

    def rate(self) -> float | None:
        if self.done is None or self._first_done is None:
            return None
        elapsed = self._clock() - self._first_at
        return (self.done - self._first_done) / elapsed if elapsed > 0 else None

    def line(self) -> str:
        with self._lock:
            phase = self._phase_fn(self.phase) if self._phase_fn is not None else self.phase
            return progress_line(
                self.label, self.done, self.total, self.unit, self._clock() - self.started, self.rate(), phase
            )

    def emit(self, text: str | None = None) -> None:
        """Print a line now (the current state unless `text` is given)."""
        if not self.enabled:
            return
        text = text if text is not None else self.line()
        if self._write is not None:
            self._write(text)
            return
        stream = self._stream or sys.stdout
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):  # the reader went away (closed pipe): progress is not worth a crash
            self.enabled = False

    # -- the reporting thread --
    def start(self) -> Heartbeat:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"heartbeat:{self.label}", daemon=True)
            self._thread.start()
        return self

    def stop(self, final: str | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if final is not None:
            self.emit(final)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.emit()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
