"""What the lone-surrogate check costs a reader: the same reads with and without SourceReader.check_encodable,
side by side in one process, CPU seconds (best of 3) and their ratio.

    python bench/bench_text_check.py --records 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpusforge.pipeline.readers.base import SourceReader  # noqa: E402
from tests.fuzz.specs import medqa, registered_reader  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    inputs = {
        "instruct.medqa (chat records)": (lambda i: medqa(i), "instruct.medqa", "train.jsonl"),
        "read.jsonl (2 kB English texts)": (
            lambda i: {"id": f"d{i}", "text": "word " * 400},
            "read.jsonl",
            "d.jsonl",
        ),
        "read.jsonl (2 kB Chinese texts)": (
            lambda i: {"id": f"d{i}", "text": "糖尿病患者可以吃水果吗" * 60},
            "read.jsonl",
            "d.jsonl",
        ),  # fmt: skip
    }
    checked = SourceReader.check_encodable
    for label, (make, reader, name) in inputs.items():
        folder = tmp / label.split()[0] / str(abs(hash(label)))
        folder.mkdir(parents=True)
        with open(folder / name, "w") as f:
            for i in range(args.records):
                f.write(json.dumps(make(i), ensure_ascii=False) + "\n")
        best = {}
        for run in range(3):
            for mode in ("with check", "without"):
                SourceReader.check_encodable = checked if mode == "with check" else (lambda self, parsed: None)
                start = time.process_time()
                registered_reader(reader, max_record_bytes=2**20)(folder, tmp / f"out-{run}-{mode}")
                best[mode] = min(best.get(mode, float("inf")), time.process_time() - start)
        SourceReader.check_encodable = checked
        ratio = best["with check"] / best["without"]
        print(
            f"{label:34} {args.records} records: {best['with check']:.2f} vs {best['without']:.2f} CPU s, x{ratio:.3f}"
        )


if __name__ == "__main__":
    main()
