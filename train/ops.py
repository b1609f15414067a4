"""DeepSpeed's C++ ops, compiled by torch on first use into the torch extensions folder.

A cold compile takes minutes on a small machine (ENVIRONMENT.md: ~35-100 s on 2 cores), during which a run
would otherwise look hung; `compiling_ops()` names the ops being compiled right now so the start-up heartbeat
can say so. torch serializes compiles with a `lock` file per op (FileBaton); a process killed while compiling
leaves that file behind and every later run waits on it forever. `clear_stale_locks()`, called before a run
starts its processes, removes such a file when no process is working in that op's folder (ninja and the
compiler run there).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("train")
SETTLE_S = 3.0  # a compile that has just taken its lock starts ninja (in the op's folder) within this


def extensions_root() -> Path:
    """TORCH_EXTENSIONS_DIR, else torch's default (~/.cache/torch_extensions) — without importing torch."""
    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return Path(os.environ["TORCH_EXTENSIONS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "torch_extensions"


def op_locks(root: Path | None = None) -> list[Path]:
    """Lock files of op builds: ROOT/<op>/lock, or ROOT/py311_cpu/<op>/lock under the default root."""
    root = root or extensions_root()
    if not root.is_dir():
        return []
    return sorted({*root.glob("*/lock"), *root.glob("*/*/lock")})


def compiling_ops(root: Path | None = None) -> list[str]:
    """Names of the ops whose build is in progress (their lock file exists)."""
    return [lock.parent.name for lock in op_locks(root)]


def _busy_dirs() -> set[Path]:
    import psutil

    busy = set()
    for p in psutil.process_iter():
        try:
            busy.add(Path(p.cwd()))
        except (psutil.Error, OSError):
            continue
    return busy


def clear_stale_locks(root: Path | None = None, settle_s: float = SETTLE_S) -> list[Path]:
    """Remove op build locks left by killed compiles; returns the removed files.

    Call it before any process of the run starts: torch's waiters never build, they load the op once the lock
    file is gone, so removing a lock that a running process already waits on makes that process fail. A lock
    counts as stale when no process works in its folder; a lock younger than `settle_s` is looked at again
    after that long, since a compile that has just taken it starts ninja within moments.
    """
    locks = [lock for lock in op_locks(root) if not _busy(lock.parent)]
    if any(time.time() - _mtime(lock) < settle_s for lock in locks):
        time.sleep(settle_s)
        locks = [lock for lock in locks if lock.exists() and not _busy(lock.parent)]
    removed = []
    for lock in locks:
        try:
            lock.unlink()
            removed.append(lock)
            log.warning(f"removed {lock}: left by a compile that was killed (it would block every later run)")
        except FileNotFoundError:
            pass
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _busy(folder: Path) -> bool:
    return any(d == folder or folder in d.parents for d in _busy_dirs())
