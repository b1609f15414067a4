"""corpusforge/io/lines.py: lines as a person counts them (LF, CR LF, lone CR), in bounded memory."""

from __future__ import annotations

import io
import random
import re

from corpusforge.io.lines import iter_lines


def lines(data: bytes, limit: int = 5, chunk: int = 3) -> list[tuple[int, int, bytes, int]]:
    return [(line.number, line.offset, line.data, line.length) for line in iter_lines(io.BytesIO(data), limit, chunk)]


def test_every_line_ending_is_a_break_and_a_cr_lf_cut_between_reads_is_one():
    assert lines(b"ab\rcd\r\nef\n\ngh") == [(1, 0, b"ab", 2), (2, 3, b"cd", 2), (3, 7, b"ef", 2), (4, 10, b"", 0),
                                            (5, 11, b"gh", 2)]  # fmt: skip
    assert lines(b"a\r\nb", chunk=2) == [(1, 0, b"a", 1), (2, 3, b"b", 1)]
    assert lines(b"a\r", chunk=1) == [(1, 0, b"a", 1)]


def test_a_line_over_the_limit_keeps_its_head_its_offset_and_its_true_length():
    assert lines(b"abcdefghijkl\r\nx\r") == [(1, 0, b"abcde", 12), (2, 14, b"x", 1)]
    assert lines(b"abcdefghijkl") == [(1, 0, b"abcde", 12)]
    assert lines(b"abcdefgh\nab", chunk=100) == [(1, 0, b"abcde", 8), (2, 9, b"ab", 2)]


def test_random_inputs_agree_with_a_plain_split():
    rng = random.Random(1)
    for _ in range(3000):
        parts = [b"a", b"bb", b"\r", b"\n", b"\n", b"\r\n", b"xyz" * rng.randint(0, 4)]
        data = b"".join(rng.choice(parts) for _ in range(rng.randint(0, 12)))
        expected = re.split(rb"\r\n|\r|\n", data)
        if expected and expected[-1] == b"":
            expected.pop()
        limit, chunk = rng.randint(1, 8), rng.randint(1, 7)
        got = list(iter_lines(io.BytesIO(data), limit, chunk))
        assert [g.length for g in got] == [len(e) for e in expected], (data, limit, chunk)
        assert [g.data for g in got] == [e[:limit] for e in expected], (data, limit, chunk)
        assert [g.number for g in got] == list(range(1, len(expected) + 1))
        assert all(data[g.offset : g.offset + len(g.data)] == g.data for g in got)
