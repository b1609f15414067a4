"""Book cleaning on real books: characters kept and stripped by kind, and residue greps on the chunks.

Runs `books.strip_nontext` and `books.chunk` (the steps a build runs, with the defaults of
recipes/examples/real_stage1.yaml) on every book under the given folders and prints, per book: characters in, kept
and stripped (and the share of each kind), the chunk count, and how many chunks still hold what should be gone -
the Project Gutenberg licence, transcriber's notes, an illustrations list, index entries, page-number lines, a
chunk ending on an opening bracket or on a heading cut from its text. Counts, not samples: `--show` prints the
residue lines found.

    python bench/bench_book_strip.py                                 # ../shared/data/real/books
    python bench/bench_book_strip.py /data/gutenberg --show 5
    python bench/bench_book_strip.py --built out/real_stage1       # the book rows of a built dataset instead
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusforge.pipeline.readers.books import BooksReader  # noqa: E402
from corpusforge.pipeline.registry import BuildContext  # noqa: E402
from corpusforge.pipeline.steps.books.chunk import BookChunker  # noqa: E402
from corpusforge.pipeline.steps.books.headings import heading_level  # noqa: E402
from corpusforge.pipeline.steps.books.strip import strip_nontext, stripped_chars_by_kind  # noqa: E402

REAL_BOOKS = ROOT.parent / "shared" / "data" / "real" / "books"
# what must not be left in a chunk: a line of the chunk matching the pattern
RESIDUE = {
    "licence": re.compile(r"Project Gutenberg|\bGUTENBERG\b|www\.gutenberg|FULL LICENSE", re.IGNORECASE),
    "transcriber": re.compile(r"transcriber", re.IGNORECASE),
    "illustrations_list": re.compile(r"^(?:list of )?(?:illustrations|plates|figures)\b|\[Illustration", re.I),
    "index_entry": re.compile(r"^[A-Z][\w ,'’()-]{1,60}?,?\s+\d{1,4}(?:[-–,]\s*\d{1,4})*\.?$|\bINDEX\b"),
    "page_number": re.compile(r"^\s*(?:\[?(?:Pg|Page|p\.)\s*\d+\]?|\d{1,4})\s*$|\[Pg\s*\d+\]", re.IGNORECASE),
}


def residue(chunks: list[str], show: int) -> Counter:
    """Chunks that still hold each kind of residue, and chunk cuts that strand a bracket or a heading."""
    found: Counter = Counter()
    for text in chunks:
        for kind, pattern in RESIDUE.items():
            hits = [line for line in text.split("\n") if pattern.search(line.strip())]
            if hits:
                found[kind] += 1
                if found[kind] <= show:
                    print(f"      {kind}: {hits[0][:120]!r}")
        last = text.rstrip().rsplit("\n\n", 1)[-1]
        if last[-1:] in "([{":
            found["ends_on_open_bracket"] += 1
        if heading_level(last) is not None and "\n" not in last:
            found["ends_on_heading"] += 1
    return found


def main() -> None:
    parser = _common.new_parser(__doc__)
    parser.add_argument("folders", nargs="*", default=[str(REAL_BOOKS)])
    parser.add_argument("--show", type=int, default=0, help="residue lines printed per kind and book")
    parser.add_argument("--built", help="a built dataset folder: residue greps on its rows of source `books`")
    args = parser.parse_args()
    if args.built:
        import pyarrow.parquet as pq  # only for --built

        rows = [r for f in sorted(Path(args.built).glob("data/**/*.parquet")) for r in pq.read_table(f).to_pylist()]
        chunks = [r["text"] for r in rows if r["source"] == "books"]
        found = residue(chunks, args.show)
        print(f"{args.built}: {len(chunks)} book rows; residue (rows): "
              + (", ".join(f"{k} {n}" for k, n in sorted(found.items())) or "none"))  # fmt: skip
        return
    ctx = BuildContext(source="books", output_dir=Path("."), work_dir=Path("."))
    params = BookChunker.Params(language="en", target_chars=2000, max_chars=4000, min_chars=200)
    chunker = BookChunker.from_params(params, ctx)
    total: Counter = Counter()
    for folder in args.folders:
        with tempfile.TemporaryDirectory() as tmp:
            reader = BooksReader(path=folder, source="books", quarantine_dir=Path(tmp) / "q")
            books = list(reader.run())
        for doc in books:
            cleaned, stats = strip_nontext(doc.text)
            kinds = stripped_chars_by_kind(stats)
            chunks = [cleaned[c.start : c.end] for c in chunker.chunks(cleaned)]
            chars_in = stats["chars_in"]
            print(f"\n== {doc.id}: {chars_in:,} characters in, {stats['chars_out']:,} kept "
                  f"({stats['chars_out'] / chars_in:.1%}), {chars_in - stats['chars_out']:,} stripped; "
                  f"{len(chunks)} chunks")  # fmt: skip
            for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
                print(f"   {kind:<22} {n:>9,}  {n / chars_in:6.2%}")
            found = residue(chunks, args.show)
            print("   residue (chunks): " + (", ".join(f"{k} {n}" for k, n in sorted(found.items())) or "none"))
            total.update({"chars_in": chars_in, "chars_out": stats["chars_out"], "chunks": len(chunks), **found})
    print(f"\nall books: {total['chars_in']:,} in, {total['chars_out']:,} kept, {total['chunks']} chunks")


if __name__ == "__main__":
    main()
