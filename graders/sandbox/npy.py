"""The ``.npy`` bytes of plain arrays, written and read quickly, at both ends of the worker protocol.

Arrays cross between the grader and the sandboxed worker as ``.npy`` blobs (a grading run of a complete
submission moves about thirteen thousand). NumPy's own reader parses every header with ``ast.literal_eval``,
and Debian's NumPy 1.x (the root path's worker) first runs it through the ``tokenize`` module: 17 to 80 us an
array, more than most student calls take. This module writes the header NumPy writes for a plain array
(format 1.0) and reads exactly that layout with one regular expression; anything else (a header another writer
made, an older or newer format) is left to NumPy's functions by the callers.

WHY one module for both ends: the parent (graders/sandbox/wire.py) and the worker (worker_main.py, which loads
this file beside it, since it may import nothing of nngrade's package) must agree on the layout byte for byte.
It imports only NumPy and the standard library.
"""

from __future__ import annotations

import functools
import re
import struct
from typing import Any

import numpy as np

MAGIC = b"\x93NUMPY\x01\x00"
#: NumPy pads a header so that the data starts at a multiple of this (numpy.lib.format.ARRAY_ALIGN).
ALIGN = 64
#: The header NumPy writes for a plain array, format 1.0.
SIMPLE_HEADER = re.compile(
    rb"\{'descr': '([<>|=]?[biuf][1248]|\|b1)', 'fortran_order': (True|False), "
    rb"'shape': \(((?:\d{1,18}, ?)*\d{0,18})\), \} *\n")
#: Kinds of dtype that travel: booleans, integers, floats (never objects, strings or records).
PLAIN_KINDS = "biuf"


def is_plain(dtype: np.dtype[Any]) -> bool:
    return dtype.kind in PLAIN_KINDS and dtype.fields is None and dtype.subdtype is None


def to_bytes(array: np.ndarray) -> bytes:
    """``.npy`` format 1.0 bytes of a plain array (C order), as ``np.save`` lays them out."""
    if not is_plain(array.dtype):
        raise ValueError(f"not a plain numeric array: {array.dtype}")
    # One copy: the C-order array (itself, when it already is one) joined straight after its header
    # (``tobytes`` then ``+`` copied every array twice, into fresh memory each time).
    return b"".join((_prefix(array.dtype.str, array.shape), np.ascontiguousarray(array).data))


#: (shape, fortran order, dtype, offset of the data)
Header = tuple[tuple[int, ...], bool, np.dtype[Any], int]
#: Distinct headers remembered (a grading run moves thousands of arrays of a few dozen shapes).
HEADERS_KEPT = 4096


@functools.lru_cache(maxsize=HEADERS_KEPT)
def _prefix(descr: str, shape: tuple[int, ...]) -> bytes:
    """The magic, header length and header NumPy writes for a C-order array of this dtype and shape."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    padding = -(len(MAGIC) + 2 + len(header) + 1) % ALIGN
    header += b" " * padding + b"\n"
    return MAGIC + struct.pack("<H", len(header)) + header


def simple_header(blob: bytes | memoryview) -> Header | None:
    """(shape, fortran order, dtype, offset of the data) of a format 1.0 header in NumPy's own layout; None
    for anything else. The header bytes alone decide the answer, so each distinct header is parsed once."""
    if len(blob) < 10 or blob[:8] != MAGIC:
        return None
    (length,) = struct.unpack("<H", blob[8:10])
    parsed = _parse(bytes(blob[10:10 + length]))
    return None if parsed is None else (*parsed, 10 + length)


@functools.lru_cache(maxsize=HEADERS_KEPT)
def _parse(text: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any]] | None:
    match = SIMPLE_HEADER.fullmatch(text)
    if match is None:
        return None
    descr, fortran, dims = match.groups()
    shape = tuple(int(d) for d in dims.replace(b" ", b"").split(b",") if d)
    return shape, fortran == b"True", np.dtype(descr.decode())
