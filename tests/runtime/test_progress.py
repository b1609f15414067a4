"""corpusforge.runtime.progress: the heartbeat lines long work prints when its output is a file or a pipe."""

from __future__ import annotations

import io
import time

from corpusforge.runtime.progress import Heartbeat, format_duration, progress_line


def test_line_has_done_total_rate_and_eta():
    line = progress_line("training", 120, 1000, "step", elapsed=79, rate=1.52)
    assert line == "training: 120/1000 step (12.0%), 1.52 step/s, ETA 9m39s, elapsed 1m19s"
    assert progress_line("start-up", None, None, "", 45, None, phase="compiling DeepSpeed ops (first run only)") == (
        "start-up: compiling DeepSpeed ops (first run only), elapsed 45s"
    )
    assert "ETA unknown" in progress_line("stage", 0, 4, "tasks", 3, None)
    assert format_duration(7500) == "2h05m"


def test_rate_counts_only_the_work_done_since_the_heartbeat_began():
    now = [100.0]
    beat = Heartbeat("training", total=100, unit="step", done=40, clock=lambda: now[0], enabled=True)
    now[0] += 10
    beat.update(done=60)  # 20 steps in 10 s, resumed at step 40
    assert beat.rate() == 2.0
    assert "60/100 step (60.0%), 2 step/s, ETA 20s" in beat.line()


def test_the_thread_prints_while_the_caller_is_blocked():
    out = io.StringIO()
    with Heartbeat("stage 1/2 read", total=4, unit="tasks", done=0, interval=0.05, stream=out, enabled=True):
        time.sleep(0.3)  # a blocking call: the caller never updates
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and all(line.startswith("stage 1/2 read: 0/4 tasks (0.0%)") for line in lines)


def test_silent_on_a_terminal_by_default():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    with Heartbeat("x", interval=0.01, stream=out):
        time.sleep(0.05)
    assert out.getvalue() == ""
