"""Memory bombs and blocking files, each read in a child process whose peak RSS is measured from outside (/proc).

A line with no end, a gzip that inflates 1000x with no newline, an EPUB whose one chapter inflates to hundreds of
MB, a FIFO in the input folder: the reader must end (quarantining each with its head and position), and its peak
RSS must stay far under the size of what it read. Inputs are a few hundred MB inflated at most, so these run in
seconds; the child runs under an address-space limit so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20
INFLATED = 300 * MiB  # what each bomb inflates to
RECORD_LIMIT = 4 * MiB  # max_record_bytes of the readers under test
AS_LIMIT = 3 * 2**30  # the child's address space: a reader holding the whole input dies instead of the machine
RSS_BOUND = 200 * MiB  # the interpreter, datatrove and a few record-limit buffers; the inputs are 300 MB

CHILD = """
import json, os, signal, sys
from pathlib import Path
from tests.fuzz.specs import registered_reader
name, folder, tmp, params = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
out = registered_reader(name, **params)(folder, tmp)
print(json.dumps({"records": out.records, "kept": out.kept, "quarantined": out.quarantined,
                  "files_quarantined": out.files_quarantined, "reasons": out.reasons,
                  "quarantine": [{k: e[k] for k in ("scope", "reason", "error", "location")} | {"raw_len": len(e["raw"])}
                                 for e in out.quarantine]}))
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGSTOP)  # the parent reads its peak RSS now, from outside, then lets it exit
"""


def run_reader(name: str, folder: Path, tmp: Path, timeout: float = 120, **params) -> tuple[dict, int]:
    """The reader's outcome and the child's own peak RSS in bytes: its VmHWM, read from /proc when it stops itself
    at the end (the rusage of a forked child would start from this test process's own peak)."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    params = {"max_record_bytes": RECORD_LIMIT, **params}
    cmd = [sys.executable, "-c", CHILD, name, str(folder), str(tmp), json.dumps(params)]
    out_path, err_path = tmp / "child.out", tmp / "child.err"
    with open(out_path, "wb") as stdout, open(err_path, "wb") as stderr:
        child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, preexec_fn=limit_memory)
    deadline = time.monotonic() + timeout
    peak = None
    while True:
        pid, status, _ = os.wait4(child.pid, os.WNOHANG | os.WUNTRACED)
        if pid and os.WIFSTOPPED(status):
            peak = _high_water_mark(child.pid)
            os.kill(child.pid, signal.SIGCONT)
            continue
        if pid:
            break
        if time.monotonic() > deadline:
            child.kill()
            os.wait4(child.pid, 0)
            pytest.fail(f"{name} did not finish within {timeout}s (a read that blocks?)")
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    assert child.returncode == 0 and peak is not None, err_path.read_text(errors="replace")[-3000:]
    return json.loads(out_path.read_text().strip().splitlines()[-1]), peak


def _high_water_mark(pid: int) -> int:
    """VmHWM (peak resident set size) of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak RSS is read from /proc")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "input"
    path.mkdir()
    return path


class TestMemoryBombs:
    def test_a_300_mb_line_without_newline_is_one_too_large_record_in_bounded_memory(self, folder, tmp_path):
        with open(folder / "one_line.jsonl", "wb") as f:
            f.write(b'{"id": "x", "text": "')
            for _ in range(INFLATED // MiB):
                f.write(b"a" * MiB)
        (folder / "good.jsonl").write_text(json.dumps({"id": "g", "text": "A good record."}) + "\n")
        out, peak = run_reader("read.jsonl", folder, tmp_path)
        assert (out["records"], out["kept"], out["quarantined"]) == (2, 1, 1), out
        (entry,) = out["quarantine"]
        assert entry["reason"] == "too_large" and entry["location"]["length"] == INFLATED + 21
        assert entry["raw_len"] == RECORD_LIMIT  # its head, never the whole line
        assert peak < RSS_BOUND, f"peak RSS {peak / MiB:.0f} MiB reading a {INFLATED / MiB:.0f} MiB line"

    def test_a_gzip_bomb_is_stopped_by_the_ratio_guard_in_bounded_memory(self, folder, tmp_path):
        member = gzip.compress(b"a" * (50 * MiB), compresslevel=9)  # ~50 KB; members concatenate into one stream
        (folder / "bomb.jsonl.gz").write_bytes(member * (INFLATED // (50 * MiB)))
        out, peak = run_reader("read.jsonl", folder, tmp_path)
        assert out["kept"] == 0 and out["files_quarantined"] == 1, out
        (entry,) = [e for e in out["quarantine"] if e["scope"] == "file"]
        assert entry["reason"] == "decompression_bomb" and "max_compression_ratio" in entry["error"]
        assert entry["location"]["offset"] > 256 * MiB and entry["location"]["size"] < MiB  # where, and how small
        assert peak < RSS_BOUND, f"peak RSS {peak / MiB:.0f} MiB"

    def test_max_file_bytes_stops_a_file_that_inflates_too_far(self, folder, tmp_path):
        lines = b"".join(json.dumps({"id": f"d{i}", "text": f"text {i}"}).encode() + b"\n" for i in range(20000))
        (folder / "many.jsonl.gz").write_bytes(gzip.compress(lines))
        out, _ = run_reader("read.jsonl", folder, tmp_path, max_file_bytes=100_000)
        # found while verifying the stream, before any record: the file is quarantined whole, with its head
        assert out["files_quarantined"] == 1 and out["reasons"] == {"file_too_large": 1}, out
        assert out["records"] == 0 and out["quarantine"][0]["raw_len"] > 0

    def test_an_epub_whose_chapter_inflates_to_300_mb_is_quarantined_in_bounded_memory(self, folder, tmp_path):
        with zipfile.ZipFile(folder / "bomb.epub", "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
            z.writestr("META-INF/container.xml", '<container><rootfiles><rootfile full-path="c.opf"/></rootfiles>'
                       "</container>")  # fmt: skip
            z.writestr("c.opf", '<package><manifest><item id="c1" href="c1.xhtml"/></manifest>'
                       '<spine><itemref idref="c1"/></spine></package>')  # fmt: skip
            with z.open("c1.xhtml", "w", force_zip64=True) as chapter:
                chapter.write(b"<html><body><p>")
                for _ in range(INFLATED // MiB):
                    chapter.write(b"a" * MiB)
        assert (folder / "bomb.epub").stat().st_size < 2 * MiB
        out, peak = run_reader("read.books", folder, tmp_path)
        assert (out["records"], out["quarantined"]) == (1, 1), out
        assert out["quarantine"][0]["reason"] == "too_large" and "zip bomb" in out["quarantine"][0]["error"]
        assert peak < RSS_BOUND, f"peak RSS {peak / MiB:.0f} MiB"


class TestBlockingFiles:
    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
    def test_a_fifo_in_the_input_folder_is_a_counted_file_quarantine_and_never_blocks(self, folder, tmp_path):
        (folder / "good.jsonl").write_text(json.dumps({"id": "g", "text": "A good record."}) + "\n")
        os.mkfifo(folder / "pipe.jsonl")
        out, _ = run_reader("read.jsonl", folder, tmp_path, timeout=60)
        assert (out["kept"], out["files_quarantined"]) == (1, 1), out
        (entry,) = out["quarantine"]
        assert entry["reason"] == "not_a_regular_file" and "FIFO" in entry["error"]
        assert entry["location"]["file"].endswith("pipe.jsonl")
