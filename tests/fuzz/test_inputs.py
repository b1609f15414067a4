"""Every bad-input class (cases.py) against every reader, adapter and the labeler's input (specs.py).

Per case: no crash; exact counts (input = kept + dropped + quarantined, and each as expected); every quarantine
entry holds the raw input and its location, and the bad record's own bytes are among them.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from corpusforge.output.schemas import validation_errors
from tests.fuzz.cases import CLASSES, SECRET, Case, layout_cases
from tests.fuzz.specs import SPECS, Outcome, Spec

RECORD_LOCATION_KEYS = {"line", "row", "element", "key", "pmid", "offset"}


def _cases() -> list:
    params = []
    for spec in SPECS:
        cases = {name: make(spec) for name, make in CLASSES.items()} | layout_cases(spec)
        for name, case in cases.items():
            if case is not None:
                params.append(pytest.param(spec, case, id=f"{spec.id}:{name}"))
    return params


def _raw_bytes(entry: dict) -> bytes:
    raw = entry.get("raw")
    if isinstance(raw, dict) and "base64" in raw:
        return base64.b64decode(raw["base64"])
    if entry.get("raw_encoding") == "base64":
        return base64.b64decode(raw)
    if not isinstance(raw, str):
        import json

        raw = json.dumps(raw, ensure_ascii=True)
    return raw.encode("utf-8", "surrogatepass")


def _run(spec: Spec, case: Case, tmp_path: Path) -> Outcome:
    folder = tmp_path / "input"
    folder.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    for name, data in case.files.items():
        (folder / name).write_bytes(data.replace(b"@SECRET@", str(secret).encode()))
    return spec.run(folder, tmp_path)


@pytest.mark.parametrize(("spec", "case"), _cases())
def test_bad_input_is_counted_and_kept(spec: Spec, case: Case, tmp_path):
    out = _run(spec, case, tmp_path)
    counts = (out.records, out.kept, out.quarantined, out.dropped, out.files_quarantined)
    assert out.records == out.kept + out.dropped + out.quarantined, counts  # the balance
    assert len(set(out.ids)) == len(out.ids), out.ids  # no record hides behind another's id
    if case.records is not None:
        assert out.records == case.records, counts
        assert (out.kept, out.quarantined, out.dropped) == (case.kept, case.quarantined, case.dropped), counts
    if case.files_quarantined is not None:
        assert out.files_quarantined == case.files_quarantined, counts
    else:
        assert out.files_quarantined + out.quarantined >= 1, counts
    if case.reasons:
        assert case.reasons & set(out.reasons), out.reasons
    labeler = spec.id.startswith("label.")
    for entry in out.quarantine:
        if labeler:
            assert entry["location"] and entry["raw"] not in (None, "", {}), entry
            continue
        assert validation_errors("quarantine", entry) == [], entry
        location = entry["location"]
        assert location["file"], entry
        if entry["scope"] == "file":
            assert "size" in location and entry["error"].startswith(location["file"]), entry
        else:
            assert spec.layout == "text" or RECORD_LOCATION_KEYS & set(location), entry  # a book: the file
            assert entry["raw"], entry
    if case.never is not None:
        assert not any(case.never.decode() in t for t in out.texts)
        assert not any(case.never in _raw_bytes(e) or case.never.decode() in str(e) for e in out.quarantine)
    if case.marker is not None:
        holding = [e for e in out.quarantine if case.marker in _raw_bytes(e)]
        assert holding, [e.get("raw") for e in out.quarantine]
        for key in case.location_keys:
            assert key in holding[0]["location"] or labeler, holding[0]
