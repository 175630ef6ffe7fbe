"""The parent's side of the worker protocol: framing, and decoding replies it does not trust.

A reply comes from student-controlled code, so decoding is defensive: every ``.npy`` header is parsed here
(never ``np.load`` on the raw bytes), only plain numeric dtypes are accepted, the declared size must match the
bytes actually sent before anything is allocated, and nothing is ever unpickled.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from graders.sandbox import npy

HEADER = struct.Struct(">I")
#: One array's ``.npy`` bytes as received: a read-only view of the frame's buffer (or bytes).
Blob = bytes | memoryview
NUMERIC_KINDS = "biuf"


class WireError(Exception):
    """A reply that breaks the protocol (malformed, oversized, or carrying a forbidden dtype)."""


class Opaque:
    """Placeholder for a value the student returned that is neither an array nor JSON (shown, never used)."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


def uninitialised(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes to read into, not zeroed first (a bytearray is: for the tens of MB a
    grading run reads, zeroing cost more than the reading)."""
    return np.empty(size, dtype=np.uint8).data


def frame_parts(header: dict[str, Any], blobs: list[bytes]) -> list[bytes]:
    """A frame as its pieces (the length of the JSON header, the header, each blob), for a gathering write."""
    data = json.dumps(dict(header, blob_sizes=[len(b) for b in blobs])).encode()
    return [HEADER.pack(len(data)), data, *blobs]


def frame(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    return b"".join(frame_parts(header, blobs))


def encode_array(array: np.ndarray) -> bytes:
    if npy.is_plain(array.dtype):
        return npy.to_bytes(array)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def encode_value(value: Any, blobs: list[bytes]) -> Any:
    """Trusted case inputs -> the worker's JSON-with-blobs form."""
    if isinstance(value, np.ndarray):
        blobs.append(encode_array(value))
        return {"__nd__": len(blobs) - 1}
    if isinstance(value, np.generic):
        return encode_value(np.asarray(value), blobs)
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, blobs) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, blobs) for v in value]
    if isinstance(value, dict):
        return {"__dict__": {str(k): encode_value(v, blobs) for k, v in value.items()}}
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    return value


def decode_npy(blob: Blob, max_bytes: int) -> np.ndarray:
    """Parse one ``.npy`` blob with checks before allocation; read-only view on the received bytes."""
    simple = npy.simple_header(blob)
    if simple is not None:
        shape, fortran, dtype, offset = simple
        return _view(blob, shape, fortran, dtype, offset, max_bytes)
    stream = io.BytesIO(blob)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise WireError(f"unsupported .npy version {version}")
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"malformed .npy header: {exc}") from None
    return _view(blob, shape, fortran, dtype, stream.tell(), max_bytes)


def _view(blob: Blob, shape: Any, fortran: bool, dtype: np.dtype[Any], offset: int, max_bytes: int) -> np.ndarray:
    """The array a checked header describes, as a read-only view on ``blob`` (size checked first)."""
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"array dtype {dtype} is not a plain numeric dtype")
    if dtype.hasobject:
        raise WireError("object arrays are not accepted")
    if not isinstance(shape, tuple):
        raise WireError(f"bad shape {shape!r}")
    count = 1
    for dim in shape:
        if not isinstance(dim, int) or dim < 0:
            raise WireError(f"bad shape {shape!r}")
        count *= dim
    nbytes = count * dtype.itemsize
    if nbytes > max_bytes:
        raise WireError(f"array of {nbytes} bytes exceeds the reply limit of {max_bytes}")
    if len(blob) - offset != nbytes:
        raise WireError(f"array header claims {nbytes} bytes but {len(blob) - offset} were sent")
    flat = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def decode_reply_value(node: Any, blobs: Sequence[Blob], max_bytes: int, depth: int = 0) -> Any:
    """Untrusted JSON-with-blobs -> arrays, scalars, tuples, lists, dicts and Opaque placeholders.

    Every shape the worker's encoder cannot produce is a WireError (never an AttributeError or a
    RecursionError in the parent)."""
    if depth > 16:
        raise WireError("reply nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode_reply_value(v, blobs, max_bytes, depth + 1) for v in node]
    if not isinstance(node, dict) or len(node) > 2:
        raise WireError("unexpected value in reply")
    if "__nd__" in node:
        index = node["__nd__"]
        if type(index) is not int or not 0 <= index < len(blobs):
            raise WireError("array reference out of range")
        return decode_npy(blobs[index], max_bytes)
    if "__tuple__" in node:
        items = node["__tuple__"]
        if not isinstance(items, list):
            raise WireError("malformed tuple in reply")
        return tuple(decode_reply_value(v, blobs, max_bytes, depth + 1) for v in items)
    if "__dict__" in node:
        entries = node["__dict__"]
        if not isinstance(entries, dict):
            raise WireError("malformed dict in reply")
        return {str(k)[:200]: decode_reply_value(v, blobs, max_bytes, depth + 1) for k, v in entries.items()}
    if "__float__" in node:
        text = node["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise WireError(f"bad float {str(text)[:20]!r}")
        return float(text)
    if "__obj__" in node:
        return Opaque(str(node["__obj__"])[:100], str(node.get("repr", ""))[:200])
    raise WireError("unexpected value in reply")
