"""DeepSpeed's CPU all-reduce buffers (~70 MB each in /dev/shm, named by uid, address, port and rank) are never
unlinked by DeepSpeed; with a free port per training, every run left a new one. Ranks now unlink their own at a
clean exit, and `corpusforge train` unlinks its port's after any end (a killed rank never reaches its exit)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import train.runtime
from train.runtime import SHM_BUFFER_PREFIX, remove_shm_buffers, shm_buffers
from train.supervise import supervise


@pytest.fixture
def shm_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "shm"
    folder.mkdir()
    monkeypatch.setattr(train.runtime, "SHM_DIR", folder)
    return folder


def buffer(shm_dir: Path, port: int, rank: int, uid: int | None = None) -> Path:
    uid = os.getuid() if uid is None else uid
    path = shm_dir / f"{SHM_BUFFER_PREFIX}_{uid}_127.0.0.1_{port}_{rank}"
    path.write_bytes(b"\0" * 16)
    return path


def test_only_this_users_buffers_of_the_port_are_removed(shm_dir):
    mine = [buffer(shm_dir, 40001, rank) for rank in (0, 1)]
    other_port = buffer(shm_dir, 40002, 0)
    other_user = buffer(shm_dir, 40001, 0, uid=os.getuid() + 1)
    assert shm_buffers(40001) == mine
    assert remove_shm_buffers(40001) == 2
    assert not any(path.exists() for path in mine)
    assert other_port.exists() and other_user.exists()
    assert remove_shm_buffers(40001) == 0


def test_the_supervisor_unlinks_the_buffers_of_ranks_that_died(shm_dir, tmp_path):
    """A rank killed mid-run (here: a launcher that writes two buffers and is SIGKILLed) leaves its buffers; the
    supervisor removes those of its own port, and leaves another run's alone."""
    other_run = buffer(shm_dir, 40009, 0)
    script = (
        "import os, signal, sys\n"
        f"for rank in (0, 1): open(os.path.join({str(shm_dir)!r}, '{SHM_BUFFER_PREFIX}_' + str(os.getuid()) + "
        f"'_127.0.0.1_40008_' + str(rank)), 'wb').close()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    code = supervise([sys.executable, "-c", script], tmp_path / "run", port=40008)
    assert code != 0
    assert shm_buffers(40008) == []
    assert other_run.exists()


def test_several_nodes_leave_the_buffers_to_each_node(shm_dir, tmp_path):
    """With a hostfile the ranks run elsewhere and the port is DeepSpeed's: nothing here is touched."""
    kept = buffer(shm_dir, 40010, 0)
    supervise([sys.executable, "-c", "pass"], tmp_path / "run", multi_node=True, port=40010)
    assert kept.exists()


def test_buffers_no_process_maps_are_stale_and_removed_once_old_enough(shm_dir):
    """A SIGKILL of `corpusforge train` leaves its ranks' buffers (the watchdog kills the ranks, nobody unlinks):
    the next training sweeps every buffer of this user that no process maps, but never one just created."""
    import subprocess
    import time

    from train.runtime import remove_stale_shm_buffers

    stale, fresh, in_use = (buffer(shm_dir, port, 0) for port in (40020, 40021, 40022))
    old = time.time() - 60
    for path in (stale, in_use):
        os.utime(path, (old, old))
    holder = subprocess.Popen(  # a live rank: maps its buffer and keeps running
        [sys.executable, "-c", "import mmap, sys, time\nf = open(sys.argv[1], 'r+b')\nm = mmap.mmap(f.fileno(), 0)\n"
         "print('mapped', flush=True)\ntime.sleep(60)", str(in_use)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "mapped"
        assert remove_stale_shm_buffers() == 1
    finally:
        holder.kill()
        holder.wait()
    assert not stale.exists() and fresh.exists() and in_use.exists()
