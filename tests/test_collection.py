"""A plain `pytest` must collect every test under tests/.

pytest's default `norecursedirs` skips folders named `build`, `dist`, `.*`, ... without a word: `tests/build/` once
held 44 tests that no run collected. Naming every entry of tests/ on the command line bypasses those rules, so the two
counts must match.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collected(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = re.search(r"(\d+) tests? collected", done.stdout)
    assert found, (
        f"pytest --collect-only {' '.join(args)} printed no count:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    )
    return int(found.group(1))


def test_plain_pytest_collects_every_test_under_tests():
    entries = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").iterdir()
        if p.name != "__pycache__" and (p.is_dir() or (p.suffix == ".py" and p.name.startswith("test_")))
    )
    plain = _collected()
    explicit = _collected(*entries)
    assert plain == explicit, (
        f"plain `pytest` collects {plain} tests, naming every entry of tests/ collects {explicit}: "
        "a folder is skipped by a default rule (norecursedirs?)"
    )
