"""Random damage to good files (seeded, so a failure names its case): flipped and inserted bytes, cut and repeated
slices, truncation, with the characters that break parsers most often. Whatever comes in, no reader crashes, the
counts balance, and every quarantine entry holds its raw input and location. The exact outcomes of each class of
bad input are in test_inputs.py; this finds the inputs nobody wrote a case for."""

from __future__ import annotations

import random

import pytest

from tests.fuzz.cases import good, write
from tests.fuzz.specs import SPECS, Spec

CASES_PER_SPEC = 6
NASTY = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b"\n", b"\r", b"\t", b"\x00", b"\xff", b"\xef\xbb\xbf", b"<", b"&",
         b"\\ud800", b"\\u", b"\xe4\xb8", b"NaN", b"true"]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        if not data:
            return rng.choice(NASTY)
        i = rng.randrange(len(data))
        kind = rng.choice(["flip", "insert", "delete", "repeat", "truncate"])
        if kind == "flip":
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
        elif kind == "insert":
            data = data[:i] + rng.choice(NASTY) + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + rng.randint(1, 40) :]
        elif kind == "repeat":
            data = data[:i] + data[i : i + rng.randint(1, 80)] * 2 + data[i + 80 :]
        else:
            data = data[:i]
    return data


def _params() -> list:
    return [pytest.param(spec, seed, id=f"{spec.id}:seed{seed}") for spec in SPECS for seed in range(CASES_PER_SPEC)]


@pytest.mark.parametrize(("spec", "seed"), _params())
def test_damaged_input_never_crashes_and_balances(spec: Spec, seed: int, tmp_path):
    rng = random.Random(f"{spec.id}:{seed}")
    folder = tmp_path / "input"
    folder.mkdir()
    for name, data in write(spec, good(spec, 8)).items():
        (folder / name).write_bytes(mutate(data, rng))
    out = spec.run(folder, tmp_path)
    assert out.records == out.kept + out.dropped + out.quarantined
    for entry in out.quarantine:
        assert entry["location"], entry
        if not spec.id.startswith("label.") and entry.get("scope") != "file":
            assert entry["raw"], entry
