"""Two trainings on one machine: `corpusforge train` picks a free rendezvous port unless one is set, and a port
that was set and is busy is one line before anything starts (DeepSpeed's launcher always used 29500, and the
second training died with a 51-line EADDRINUSE traceback)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from corpusforge.cli.train import rendezvous_port
from corpusforge.errors import ConfigError
from tests.train.conftest import REPO, launcher_env, make_config, read_metrics
from train.runtime import port_in_use, shm_buffers

CLI = "from corpusforge.cli import main; main()"


@pytest.fixture
def busy_port():
    """A port something listens on, as the first training's rendezvous store does."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_listening_port_is_in_use_and_a_closed_one_is_not(busy_port):
    assert port_in_use(busy_port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert not port_in_use(free)


def test_an_unset_port_is_a_free_one_on_one_node(monkeypatch):
    monkeypatch.delenv("MASTER_PORT", raising=False)
    port = rendezvous_port(None, multi_node=False)
    assert isinstance(port, int) and not port_in_use(port)
    assert rendezvous_port(None, multi_node=True) is None  # a hostfile: DeepSpeed's default on the first node


def test_a_busy_port_that_was_set_is_one_line_naming_where_it_was_set(busy_port, monkeypatch):
    monkeypatch.delenv("MASTER_PORT", raising=False)
    with pytest.raises(ConfigError) as error:
        rendezvous_port(busy_port, multi_node=False)
    assert str(error.value) == (
        f"runtime.master_port: port {busy_port} is in use on this machine (another training?); choose a free one, "
        "or leave runtime.master_port unset to pick one"
    )
    monkeypatch.setenv("MASTER_PORT", str(busy_port))
    with pytest.raises(ConfigError, match=f"^MASTER_PORT: port {busy_port} is in use on this machine"):
        rendezvous_port(None, multi_node=False)
    monkeypatch.setenv("MASTER_PORT", "http")
    with pytest.raises(ConfigError, match=r"^MASTER_PORT='http': not a port number \(1-65535\)$"):
        rendezvous_port(None, multi_node=False)


def test_the_dry_run_shows_the_chosen_port_and_a_busy_set_port_fails_from_the_command(
    tmp_path, tiny_model_dir, pt_dataset, busy_port
):
    config = make_config(tmp_path, tiny_model_dir, pt_dataset)
    env = launcher_env()
    done = subprocess.run(
        [sys.executable, "-c", CLI, "train", str(config), "--dry-run"], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    launch_line = done.stdout.strip().splitlines()[-1]
    assert "--master_port " in launch_line, launch_line
    done = subprocess.run(
        [sys.executable, "-c", CLI, "train", str(config), "--set", f"runtime.master_port={busy_port}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert " ".join(done.stderr.split()) == (
        f"error: runtime.master_port: port {busy_port} is in use on this machine (another training?); choose a "
        "free one, or leave runtime.master_port unset to pick one"
    )
    assert not (tmp_path / "run").exists()  # refused before the output folder or the launcher


@pytest.mark.slow
def test_a_training_runs_while_another_holds_deepspeeds_default_port(tmp_path, tiny_model_dir, pt_dataset):
    """The collision itself: 29500 held (by a listener here, as by a first training), a second training finishes."""
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", 29500))
        holder.listen()
    except OSError:  # something on this machine holds it already: the same situation
        pass
    buffers_before = set(shm_buffers("*"))
    try:
        config = make_config(tmp_path, tiny_model_dir, pt_dataset, train={"max_steps": 2})
        done = subprocess.run(
            [sys.executable, "-c", CLI, "train", str(config)], cwd=REPO, env=launcher_env(), capture_output=True,
            text=True, timeout=400,
        )  # fmt: skip
    finally:
        holder.close()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "EADDRINUSE" not in done.stdout + done.stderr
    assert [m["step"] for m in read_metrics(tmp_path / "run") if "loss" in m] == [1, 2]
    assert set(shm_buffers("*")) <= buffers_before, "the training left DeepSpeed's all-reduce buffer in /dev/shm"
