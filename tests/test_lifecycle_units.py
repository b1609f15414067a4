"""The pieces a killed or concurrent run relies on: the output lock and the process group's watchdog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpusforge.errors import InputError
from corpusforge.procgroup import group_members
from corpusforge.runlock import RunLock

REPO = Path(__file__).resolve().parents[1]


def test_a_second_run_is_refused_with_the_holders_pid(tmp_path):
    with RunLock(tmp_path / "out" / "train.lock", "training run", command=["corpusforge", "train", "a.yaml"]):
        with pytest.raises(InputError) as err:
            RunLock(tmp_path / "out" / "train.lock", "training run").acquire()
        first = str(err.value).splitlines()[0]
        assert first.startswith(f"{tmp_path / 'out'} is in use by another training run: PID {os.getpid()}")
        assert "`corpusforge train a.yaml`" in first and f"kill {os.getpid()}" in str(err.value)
    assert not (tmp_path / "out" / "train.lock").exists()  # released: the file goes with it
    RunLock(tmp_path / "out" / "train.lock").acquire().release()


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    path = tmp_path / "train.lock"
    path.write_text(json.dumps({"pid": pid, "command": "corpusforge train old.yaml"}))  # left by a SIGKILL
    lock = RunLock(path).acquire()
    assert lock.took_over["pid"] == pid
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()


def test_the_lock_lasts_while_a_child_holds_its_descriptor(tmp_path):
    lock = RunLock(tmp_path / "x.lock").acquire()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], pass_fds=(lock.fd,))
    try:
        os.close(lock.fd)  # the parent is gone as far as the lock is concerned; the child still holds it
        lock.fd = None
        with pytest.raises(InputError):
            RunLock(tmp_path / "x.lock").acquire()
    finally:
        child.kill()
        child.wait()
    RunLock(tmp_path / "x.lock").acquire().release()


PARENT = textwrap.dedent(
    """
    import sys, time
    from corpusforge.procgroup import ProcessGroup
    group = ProcessGroup(["bash", "-c", "sleep 300 & sleep 300 & wait"])
    group.start()
    print(group.pgid, flush=True)
    time.sleep(300)
    """
)


def test_sigkill_of_the_owner_kills_its_whole_group():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    pgid = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 10
        while len(group_members(pgid)) < 4 and time.monotonic() < deadline:  # watchdog, bash, 2 x sleep
            time.sleep(0.05)
        assert len(group_members(pgid)) == 4
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        killed_at = time.monotonic()
        while group_members(pgid) and time.monotonic() - killed_at < 5:
            time.sleep(0.02)
        assert group_members(pgid) == [], "processes of the group survived their owner"
        assert time.monotonic() - killed_at < 2
    finally:
        for p in group_members(pgid):
            p.kill()
