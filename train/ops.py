"""DeepSpeed's C++ ops, compiled by torch on first use into the torch extensions folder.

A cold compile takes minutes on a small machine (ENVIRONMENT.md: ~35-100 s on 2 cores), during which a run
would otherwise look hung; `compiling_ops()` names the ops being compiled right now so the start-up heartbeat
can say so. torch serializes compiles with a `lock` file per op (FileBaton); a process killed while compiling
leaves that file behind and every later run waits on it forever. `clear_stale_locks()` removes such a file
when it is old and no process is working in that op's folder (the compiler runs there).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("train")
STALE_AFTER_S = 120


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


def clear_stale_locks(root: Path | None = None, stale_after_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove op build locks left by killed compiles; returns the removed files."""
    removed = []
    locks = [lock for lock in op_locks(root) if time.time() - lock.stat().st_mtime > stale_after_s]
    if not locks:
        return removed
    busy = _busy_dirs()
    for lock in locks:
        if any(d == lock.parent or lock.parent in d.parents for d in busy):
            continue  # a compiler is at work there
        try:
            lock.unlink()
            removed.append(lock)
            log.warning(f"removed {lock}: left by a compile that was killed (it would block every later run)")
        except FileNotFoundError:
            pass
    return removed
