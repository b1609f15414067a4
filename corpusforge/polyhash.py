"""Polynomial hashes of runs (of characters, of token hashes) for all runs of a sequence at once.

With prefix sums Q[j] = sum of x[k] * B**-k for k < j (modulo 2**64, B odd so invertible), the run x[i:i+L] has
the polynomial (Q[i+L] - Q[i]) * B**(i+L-1) = x[i]*B**(L-1) + ... + x[i+L-1], Horner's rule's value, in a few
array operations whatever L is. Used by the Gopher repetition rule and by decontamination's n-gram index.
"""

from __future__ import annotations

import numpy as np

BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
BASE_INV = pow(BASE, -1, 2**64)

_powers = np.ones(1, dtype=np.uint64)
_inverse_powers = np.ones(1, dtype=np.uint64)


def _geometric(base: int, size: int) -> np.ndarray:
    out = np.empty(size, dtype=np.uint64)
    out[0] = 1
    out[1:] = np.uint64(base)
    return np.cumprod(out, dtype=np.uint64)  # wraps modulo 2**64


def power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """B**k and B**-k modulo 2**64 for k < size (grown by doubling, shared by every caller)."""
    global _powers, _inverse_powers
    if len(_powers) < size:
        size = max(size, 2 * len(_powers))
        _powers, _inverse_powers = _geometric(BASE, size), _geometric(BASE_INV, size)
    return _powers, _inverse_powers


def prefix_sums(values: np.ndarray) -> np.ndarray:
    """Q (see module docstring): len(values) + 1 entries, Q[0] = 0."""
    _, inverse_powers = power_tables(len(values) + 1)
    prefix = np.zeros(len(values) + 1, dtype=np.uint64)
    np.cumsum(values * inverse_powers[: len(values)], out=prefix[1:])
    return prefix


def run_polynomials(prefix: np.ndarray, length: int) -> np.ndarray:
    """The polynomial of every run of `length` values, from their prefix sums."""
    count = len(prefix) - length
    powers, _ = power_tables(len(prefix) + length)
    runs = prefix[length:] - prefix[:count]
    runs *= powers[length - 1 : length - 1 + count]
    return runs


def span_polynomials(prefix: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The polynomial of each span values[start:end] (any lengths; an empty span is 0), from their prefix sums."""
    powers, _ = power_tables(len(prefix))
    return (prefix[ends] - prefix[starts]) * powers[ends - 1]
