"""Reading IDX files (the container format of MNIST), gzip-compressed or raw.

IDX layout: a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32 sizes, then the
values in C order, big-endian. MNIST uses type 0x08 (unsigned byte): images are ``0x00000803``
(count x rows x cols), labels ``0x00000801`` (count).

Why this module is strict: a half-downloaded file or an HTML error page saved under an MNIST name must fail
loudly with the file name and the defect, never turn into silently wrong training data. Every check happens
before an array is returned, so a caller gets either a complete array or an :class:`IDXFormatError`.

Why it is fast: the payload is wrapped with ``np.frombuffer`` (no per-element parsing, no pickle); the only
copies are gzip's decompression and the one that makes the result writable.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "IDXFormatError",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "GZIP_SIGNATURE",
    "decompress_if_gzip",
    "read_idx_bytes",
    "parse_idx",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
]

GZIP_SIGNATURE = b"\x1f\x8b"
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# IDX type codes -> big-endian NumPy dtypes (from the format's definition).
_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}


class IDXFormatError(ValueError):
    """Not a well-formed IDX file of the expected kind; the message names the file and the defect."""


def _describe_magic(magic: int) -> str:
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    type_name = _IDX_TYPE_NAMES.get(type_code, "unknown type")
    return f"0x{magic:08X} ({type_name}, {ndim} dimension{'s' if ndim != 1 else ''})"


def decompress_if_gzip(data: bytes | bytearray, source: str) -> bytes | bytearray:
    """``data`` gunzipped when it starts with the gzip signature ``1f 8b``, else ``data`` itself.

    Compression is detected from the content, not a file name, so a raw file called ``.gz`` and a gzip
    file without the suffix both load. A truncated or corrupt gzip stream raises :class:`IDXFormatError`
    naming ``source``.
    """
    if data[:2] != GZIP_SIGNATURE:
        return data
    try:
        return gzip.decompress(data)
    except EOFError as exc:
        raise IDXFormatError(
            f"{source}: gzip stream is truncated (the file ends before the end-of-stream marker; "
            f"an interrupted download?): {exc}"
        ) from exc
    except (OSError, zlib.error) as exc:
        raise IDXFormatError(f"{source}: gzip stream is corrupt: {exc}") from exc


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes | bytearray:
    """The file's IDX bytes, gunzipped if compressed (see :func:`decompress_if_gzip`).

    Raw files are read into a ``bytearray`` so arrays made from it are writable without another copy.
    """
    path = Path(path)
    size = path.stat().st_size
    buffer = bytearray(size)
    with open(path, "rb") as handle:
        read = handle.readinto(buffer)
    if read != size:
        raise IDXFormatError(f"{path}: file changed while reading ({read} of {size} bytes read)")
    return decompress_if_gzip(buffer, str(path))


def parse_idx(
    data: bytes | bytearray | memoryview, source: str, expected_magic: int | None = None
) -> np.ndarray:
    """Decode IDX bytes into an array of the stored shape (native byte order).

    ``source`` names the file in error messages. ``expected_magic``, when given, must equal the header's
    magic number exactly (type code and number of dimensions). The data length must match the header to
    the byte: short data is a truncated file, extra bytes are rejected too (a concatenation or a wrong file).
    """
    view = memoryview(data).cast("B")
    if len(view) < 4:
        raise IDXFormatError(
            f"{source}: too short to be an IDX file ({len(view)} bytes; the magic number alone takes 4)"
        )
    if view[0] != 0 or view[1] != 0:
        head = bytes(view[:16])
        raise IDXFormatError(
            f"{source}: neither gzip-compressed (no 1f 8b signature) nor an IDX file (an IDX file starts "
            f"with two zero bytes); it starts with {head!r}. Is it an HTML error page or another format?"
        )
    (magic,) = struct.unpack(">I", view[:4])
    type_code, ndim = view[2], view[3]
    if expected_magic is not None and magic != expected_magic:
        expected_ndim = expected_magic & 0xFF
        detail = f"bad magic number {_describe_magic(magic)}, expected {_describe_magic(expected_magic)}"
        if ((magic >> 8) & 0xFF) == ((expected_magic >> 8) & 0xFF) and ndim != expected_ndim:
            detail += f": wrong number of dimensions ({ndim} instead of {expected_ndim})"
        raise IDXFormatError(f"{source}: {detail}")
    if type_code not in _IDX_TYPES:
        raise IDXFormatError(
            f"{source}: bad magic number 0x{magic:08X}: unknown IDX data type 0x{type_code:02X}"
        )
    header_len = 4 + 4 * ndim
    if len(view) < header_len:
        raise IDXFormatError(
            f"{source}: truncated header: {ndim} dimensions need {header_len} header bytes, "
            f"the file has {len(view)}"
        )
    shape = struct.unpack(f">{ndim}I", view[4:header_len])
    dtype = np.dtype(_IDX_TYPES[type_code])
    payload = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    expected_len = header_len + payload
    dims = " x ".join(str(s) for s in shape) or "scalar"
    if len(view) < expected_len:
        raise IDXFormatError(
            f"{source}: truncated: header declares {dims} values ({expected_len} bytes in all) "
            f"but the file has {len(view)} bytes ({expected_len - len(view)} missing)"
        )
    if len(view) > expected_len:
        raise IDXFormatError(
            f"{source}: {len(view) - expected_len} trailing bytes after the data: header declares {dims} "
            f"values ({expected_len} bytes in all) but the file has {len(view)} bytes"
        )
    array = np.frombuffer(view, dtype=dtype, offset=header_len).reshape(shape)
    if dtype.byteorder == ">":
        return array.astype(dtype.newbyteorder("="))
    return array if array.flags.writeable else array.copy()


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw) completely; see :func:`parse_idx` for the checks."""
    return parse_idx(read_idx_bytes(path), str(path), expected_magic)


def read_idx_images(path: str | os.PathLike[str]) -> npt.NDArray[np.uint8]:
    """An MNIST-style image file: magic 0x00000803, shape (count, rows, cols) with rows, cols >= 1."""
    images = read_idx(path, IMAGES_MAGIC)
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise IDXFormatError(
            f"{path}: wrong dimensions: images of {images.shape[1]} x {images.shape[2]} pixels are empty"
        )
    return images


def read_idx_labels(path: str | os.PathLike[str]) -> npt.NDArray[np.uint8]:
    """An MNIST-style label file: magic 0x00000801, shape (count,)."""
    return read_idx(path, LABELS_MAGIC)
