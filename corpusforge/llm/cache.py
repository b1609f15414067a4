"""A sqlite store (WAL) of every finished request, written the moment each one finishes.

This is what makes labelling resumable: a run killed part-way restarts, finds every finished request here and sends
only the rest; a second identical run sends nothing. Each row remembers which run computed it, so a resumed run can
prove it recomputed nothing (`computed_by`). Failed requests (errors) are never stored: they are retried next time.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from corpusforge.llm.requests import Result, result_from_json, result_to_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, started REAL NOT NULL, description TEXT);
"""


class RequestCache:
    def __init__(self, path: str | Path, description: str = "", timeout_s: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # several processes (a build's tasks) may share one file: a writer waits for the lock instead of failing
        self.db = sqlite3.connect(str(self.path), timeout=timeout_s)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives the process being killed (only an OS crash may lose the last commits)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.run_id = uuid.uuid4().hex[:12]
        self.db.execute("INSERT INTO runs VALUES (?, ?, ?)", (self.run_id, time.time(), description))
        self.db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Result]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Result] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self.db.execute(f"SELECT key, result FROM results WHERE key IN ({marks})", chunk):
                found[key] = result_from_json(text)
        return found

    def put(self, key: str, result: Result) -> None:
        """Store one finished request and commit at once (a kill right after loses nothing)."""
        if result.error:
            return
        self.db.execute(
            "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?)",
            (key, result.kind, result_to_json(result), self.run_id, time.time()),
        )
        self.db.commit()

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def computed_by(self, run_id: str) -> set[str]:
        """The keys a given run computed (sent to the backend and stored)."""
        return {k for (k,) in self.db.execute("SELECT key FROM results WHERE run_id = ?", (run_id,))}

    def close(self) -> None:
        self.db.close()
