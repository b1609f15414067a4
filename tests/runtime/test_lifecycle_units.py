"""The pieces a killed or concurrent run relies on: the output lock and the process group's watchdog."""

from __future__ import annotations

import contextlib
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
from corpusforge.runtime.lock import RunLock
from corpusforge.runtime.procgroup import group_members

REPO = Path(__file__).resolve().parents[2]


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
    from corpusforge.runtime.procgroup import ProcessGroup
    # one child stays in the group, one moves to a group of its own (as ninja does with each compiler)
    leaver = "import os, time; os.setpgid(0, 0); time.sleep(300)"
    group = ProcessGroup(["bash", "-c", f"sleep 300 & {sys.executable} -c '{leaver}' & wait"])
    group.start()
    print(group.pgid, flush=True)
    time.sleep(300)
    """
)


def test_sigkill_of_the_owner_kills_its_whole_group_and_what_left_it():
    import psutil

    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    pgid = int(parent.stdout.readline())
    tree = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # bash, sleep, and the leaver once it has left
            tree = psutil.Process(pgid).children(recursive=True)
            if len(tree) == 3 and len({os.getpgid(p.pid) for p in tree}) == 2:
                break
            time.sleep(0.05)
        assert len(tree) == 3 and len({os.getpgid(p.pid) for p in tree}) == 2  # one left the group
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        killed_at = time.monotonic()
        _, alive = psutil.wait_procs(tree, timeout=5)
        assert alive == [], "processes of the run survived their owner"
        assert group_members(pgid) == [] and time.monotonic() - killed_at < 5
    finally:
        for p in [*group_members(pgid), *tree]:
            with contextlib.suppress(psutil.Error):
                p.kill()


def test_the_watchdog_ends_what_the_command_left_running():
    import psutil

    from corpusforge.runtime.procgroup import ProcessGroup

    group = ProcessGroup(["bash", "-c", "setsid sleep 300 & sleep 1"])
    group.start()
    deadline, left_behind = time.monotonic() + 10, []
    while not left_behind and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            tree = psutil.Process(group.pgid).children(recursive=True)
            left_behind = [p for p in tree if p.cmdline() == ["sleep", "300"]]
        time.sleep(0.02)
    assert left_behind
    assert group.wait(10) == 0  # bash is done; its sleep, in a session of its own, would live on
    _, alive = psutil.wait_procs(left_behind, timeout=5)
    assert alive == []
    group.kill()


def test_an_op_build_lock_left_by_a_killed_compile_is_removed(tmp_path):
    from train.ops import clear_stale_locks, compiling_ops

    for op in ("deepspeed_shm_comm", "fused_adam"):
        (tmp_path / "py311_cpu" / op).mkdir(parents=True)
        (tmp_path / "py311_cpu" / op / "lock").touch()
        os.utime(tmp_path / "py311_cpu" / op / "lock", (time.time() - 60, time.time() - 60))
    assert compiling_ops(tmp_path) == ["deepspeed_shm_comm", "fused_adam"]
    busy = tmp_path / "py311_cpu" / "fused_adam"
    compiler = subprocess.Popen(["sleep", "30"], cwd=busy)  # as ninja runs in the op's folder
    try:
        removed = clear_stale_locks(tmp_path)
    finally:
        compiler.kill()
        compiler.wait()
    assert removed == [tmp_path / "py311_cpu" / "deepspeed_shm_comm" / "lock"]
    assert compiling_ops(tmp_path) == ["fused_adam"]


def test_a_fresh_lock_is_looked_at_again_before_it_is_removed(tmp_path):
    from train.ops import clear_stale_locks

    (tmp_path / "op").mkdir()
    (tmp_path / "op" / "lock").touch()  # just taken: its compile may not have started ninja yet
    started = time.monotonic()
    compiler = subprocess.Popen(["bash", "-c", f"sleep 0.2; cd {tmp_path / 'op'} && exec sleep 30"])
    try:
        assert clear_stale_locks(tmp_path, settle_s=1.0) == []  # ninja came: a live compile
    finally:
        compiler.kill()
        compiler.wait()
    assert time.monotonic() - started >= 1.0
    assert clear_stale_locks(tmp_path, settle_s=0.1) == [tmp_path / "op" / "lock"]
