"""The ground floor on its own: JSON files cut into raw records by parsing, whatever their layout.

The readers' and adapters' tests (tests/pipeline, tests/instruct, tests/fuzz) cover the same cutters through the
pipeline; these pin the io/ functions themselves, with nothing of the pipeline imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpusforge.io.input_records import MalformedFile, RowRecord
from corpusforge.io.json_layouts import iter_json_document, iter_jsonl, json_layout
from corpusforge.io.safe_xml import UnsafeXML, parse_bytes

ITEMS = {"1001": {"QUESTION": "Does it work?"}, "1002": {"QUESTION": "Is it safe?"}}


def opener(path: Path):
    return lambda: open(path, "rb")


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        (json.dumps(ITEMS), "object"),  # PubMedQA's ori_pqal.json, compact on one line
        (json.dumps(ITEMS, indent=2), "object"),
        (json.dumps(list(ITEMS.values())), "array"),
        ("\n".join(json.dumps(v) for v in ITEMS.values()) + "\n", "lines"),
        ("{broken\n" + json.dumps(ITEMS["1001"]) + "\n", "lines"),  # a bad first line does not hide JSON lines
        ("", "empty"),
    ],
)
def test_the_layout_is_found_by_parsing(tmp_path, text, layout):
    path = tmp_path / "data.json"
    path.write_text(text)
    assert json_layout(opener(path)) == layout


def test_a_keyed_object_gives_one_record_per_member_with_its_own_bytes(tmp_path):
    path = tmp_path / "ori_pqal.json"
    path.write_text(json.dumps(ITEMS, indent=1))
    records = list(iter_json_document(opener(path), str(path)))
    assert [type(r) for r in records] == [RowRecord, RowRecord]
    assert [r.data for r in records] == [ITEMS["1001"], ITEMS["1002"]]
    assert json.loads(records[0].raw) == ITEMS["1001"]
    assert records[0].location["file"] == str(path)


def test_records_before_a_break_stand_and_the_rest_is_a_file_quarantine_with_line_and_column(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[{"a": 1},\n {"a": 2},\n {"a": ')
    records = []
    with pytest.raises(MalformedFile) as error:
        for record in iter_json_document(opener(path), str(path)):
            records.append(record)
    assert [r.data for r in records] == [{"a": 1}, {"a": 2}]
    assert "line 3" in str(error.value)


def test_json_lines_keep_line_numbers_and_drop_a_bom(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n{"a": 2}\r\n')
    records = list(iter_jsonl(opener(path), str(path)))
    assert [(r.raw, r.location["line"]) for r in records] == [(b'{"a": 1}', 1), (b'{"a": 2}', 3)]


def test_safe_xml_refuses_entity_declarations():
    assert parse_bytes(b"<a><b>text</b></a>").find("b").text == "text"
    with pytest.raises(UnsafeXML):
        parse_bytes(b'<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>')


def test_the_ground_floor_imports_nothing_above_it():
    code = (
        "import sys, corpusforge.io.json_layouts, corpusforge.io.delimited, corpusforge.io.parquet, "
        "corpusforge.io.safe_xml, corpusforge.io.quarantine, corpusforge.io.lone_surrogates\n"
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith(('corpusforge.', 'datatrove')))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    above = [m for m in json.loads(loaded) if not m.startswith(("corpusforge.io", "corpusforge.errors"))]
    assert above == []
