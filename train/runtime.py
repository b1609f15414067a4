"""Process setup: the accelerator, the distributed backend, rank-0-only logging.

The same code runs on CUDA with NCCL and on CPU with gloo; the choice comes from the config's `runtime` section
(auto picks CUDA and NCCL when a GPU is visible). Started without a launcher (`python train/run.py`), the
process makes itself rank 0 of a world of one, so DeepSpeed does not go looking for MPI.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import time
from pathlib import Path

log = logging.getLogger("train")

SHM_DIR = Path("/dev/shm")
SHM_BUFFER_PREFIX = "deepspeed_allreduce_buffer"  # deepspeed/ops/csrc/cpu/comm/shm.cpp, SHM_BUFFER_NAME


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether something on this machine listens on `port` (IPv4 or IPv6, as torch's rendezvous store binds)."""
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed socket's TIME_WAIT is no user
                s.bind((address, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
    return False


def prepare_environment(runtime) -> str:
    """Set DS_ACCELERATOR and the single-process rendezvous variables; returns the accelerator name."""
    accelerator = runtime.accelerator
    if accelerator == "auto":
        accelerator = os.environ.get("DS_ACCELERATOR") or ("cuda" if _cuda_available() else "cpu")
    os.environ["DS_ACCELERATOR"] = accelerator
    if "RANK" not in os.environ and "OMPI_COMM_WORLD_RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    return accelerator


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def dist_backend(runtime, accelerator: str) -> str:
    if runtime.dist_backend != "auto":
        return runtime.dist_backend
    return "nccl" if accelerator == "cuda" else "gloo"


def init_distributed(runtime, accelerator: str) -> tuple[int, int, int]:
    """Start the process group; returns (rank, world size, local rank) and binds this process's device."""
    from datetime import timedelta

    import deepspeed
    import torch

    deepspeed.init_distributed(
        dist_backend=dist_backend(runtime, accelerator), timeout=timedelta(seconds=runtime.dist_timeout_s)
    )
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if accelerator == "cuda":
        torch.cuda.set_device(local_rank)
    return rank, world, local_rank


def device_for(accelerator: str, local_rank: int):
    import torch

    return torch.device("cuda", local_rank) if accelerator == "cuda" else torch.device("cpu")


def setup_logging(rank: int) -> None:
    """INFO from rank 0; the other ranks only report warnings and errors."""
    level = logging.INFO if rank == 0 else logging.WARNING
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s [rank{rank}] %(message)s", "%H:%M:%S"))
    root = logging.getLogger("train")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for noisy in ("DeepSpeed", "deepspeed", "datasets", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if rank == 0 else logging.ERROR)
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def shm_buffers(port: int | str, addr: str = "*", rank: int | str = "*") -> list[Path]:
    """DeepSpeed's CPU all-reduce buffers of one rendezvous: shm.cpp names them PREFIX_uid_addr_port_rank and
    never unlinks them, so every CPU training left ~70 MB in /dev/shm, a new file for every new port."""
    return sorted(SHM_DIR.glob(f"{SHM_BUFFER_PREFIX}_{os.getuid()}_{addr}_{port}_{rank}"))


def remove_shm_buffers(port: int | str, addr: str = "*", rank: int | str = "*") -> int:
    """Unlink the buffers of one rendezvous (a process that still maps one keeps its memory); returns how many."""
    return sum(remove_shm_buffers_at(path) for path in shm_buffers(port, addr, rank))


def remove_stale_shm_buffers(min_age_s: float = 2.0) -> int:
    """Unlink this user's buffers that no process maps any more: those of runs killed before any clean-up (a SIGKILL
    of `corpusforge train` itself, a killed direct `deepspeed` launch). A buffer is mapped by the rank that created
    it within microseconds of its creation, so `min_age_s` keeps a run that is starting right now safe."""
    now = time.time()
    candidates = []
    for path in shm_buffers("*"):
        try:
            if now - path.stat().st_mtime >= min_age_s:
                candidates.append(path)
        except FileNotFoundError:
            pass
    if not candidates:
        return 0
    mapped = mapped_files()
    return sum(remove_shm_buffers_at(path) for path in candidates if str(path) not in mapped)


def mapped_files() -> set[str]:
    """Paths of the files mapped by the processes this user can see (/proc/*/maps; other users' are unreadable,
    and their buffers carry their uid anyway)."""
    paths = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:  # gone, or not ours
            continue
        for line in text.splitlines():
            fields = line.split(None, 5)  # address perms offset dev inode [path]
            if len(fields) == 6:
                paths.add(fields[5])
    return paths


def remove_shm_buffers_at(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


def remove_own_shm_buffer() -> None:
    """At a clean exit, each rank unlinks its own buffer: every rank mapped every buffer at start-up, and a clean
    exit means the ranks met in collectives since, so no rank still waits to open it."""
    port, addr, rank = (os.environ.get(key) for key in ("MASTER_PORT", "MASTER_ADDR", "RANK"))
    if port and addr and rank is not None:
        remove_shm_buffers(port, addr, rank)
