"""Decoding the worker's replies: untrusted bytes become numeric arrays or a WireError.

Never a huge allocation: the header's claimed size is checked against the limit and the bytes actually sent.
"""

from __future__ import annotations

import contextlib
import io
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib import format as npy_format

from graders.sandbox import npy as npy_layout
from graders.sandbox.wire import Opaque, WireError, decode_npy, decode_reply_value, encode_array, encode_value
from graders.sandbox.worker_main import Encoder, read_array

LIMIT = 64 << 20


def npy(descr: Any, shape: tuple[int, ...], payload: bytes = b"", fortran: bool = False) -> bytes:
    """A .npy blob with a hand-written header (what a hostile worker could send), followed by ``payload``."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buffer.getvalue() + payload


def peak_bytes(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(WireError):
            action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("blob", "words"), [
    (npy("|O", (3,), b"\x80\x04N." * 3), "not a plain numeric dtype"),
    (encode_array(np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")])), "not a plain numeric dtype"),
    (encode_array(np.array(["ab", "cd"])), "not a plain numeric dtype"),
    (npy("<f8", (2**57,)), "exceeds the reply limit"),
    (npy("<f8", (2**30, 2**30, 2**30)), "exceeds the reply limit"),
    (npy("<f8", (1000, 1000), b"\0" * 16), "claims 8000000 bytes but 16 were sent"),
    (npy("<f8", (2,), b"\0" * 17), "claims 16 bytes but 17 were sent"),
    (b"\x93NUMPY\x01\x00" + b"\xff\xff" + b"{" * 100, "malformed .npy header"),
    (b"PK\x03\x04 not an npy at all", "malformed .npy header"),
    (b"", "malformed .npy header"),
], ids=["object", "structured", "unicode", "2**60-bytes", "product-overflow", "short-blob",
        "long-blob", "bad-header", "bad-magic", "empty"])
def test_hostile_blobs_raise_wire_error(blob: bytes, words: str) -> None:
    with pytest.raises(WireError, match=words.replace("*", r"\*")):
        decode_npy(blob, LIMIT)


@pytest.mark.parametrize("shape", [(2**57,), (1 << 20, 1 << 20)])
def test_a_huge_header_allocates_nothing_even_under_a_huge_limit(shape: tuple[int, ...]) -> None:
    blob = npy("<f8", shape, b"\0" * 64)
    with pytest.raises(WireError, match="bytes but 64 were sent"):
        decode_npy(blob, 2**63)
    assert peak_bytes(lambda: decode_npy(blob, 2**63)) < 1 << 20


def test_a_short_blob_allocates_nothing() -> None:
    blob = npy("<f8", (4096, 1024), b"\0" * 32)  # claims 32 MiB, sends 32 bytes
    assert peak_bytes(lambda: decode_npy(blob, LIMIT)) < 1 << 20


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float64).reshape(3, 4) / 7,
    np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    np.array([[1, -2], [3, 4]], dtype=np.int32),
    np.array([True, False, True]),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.arange(20.0).reshape(4, 5)[::2, 1::2],
    pytest.param(np.array(3.5)),
    np.zeros((0, 3)),
    np.array([np.nan, np.inf, -np.inf, -0.0]),
], ids=["float64", "float32-3d", "int32", "bool", "fortran", "strided", "0-d", "empty", "non-finite"])
def test_valid_arrays_round_trip(array: np.ndarray) -> None:
    decoded = decode_npy(encode_array(array), LIMIT)
    assert decoded.dtype == array.dtype and decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


def test_a_fortran_order_header_from_the_worker_is_honoured() -> None:
    array = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    buffer = io.BytesIO()
    npy_format.write_array(buffer, array, allow_pickle=False)  # keeps Fortran order on the wire
    assert b"'fortran_order': True" in buffer.getvalue()
    np.testing.assert_array_equal(decode_npy(buffer.getvalue(), LIMIT), array)


def test_nested_reply_values_round_trip() -> None:
    blobs: list[bytes] = []
    value = {"out": np.arange(6.0).reshape(2, 3), "pair": (np.array([1, 2]), 0.5, [np.zeros(1), "s", None]),
             "flags": {"ok": True, "n": 3}, "loss": float("nan")}
    decoded = decode_reply_value(encode_value(value, blobs), blobs, LIMIT)
    assert set(decoded) == set(value)
    np.testing.assert_array_equal(decoded["out"], value["out"])
    assert isinstance(decoded["pair"], tuple) and decoded["pair"][1] == 0.5
    np.testing.assert_array_equal(decoded["pair"][0], [1, 2])
    assert decoded["pair"][2][1:] == ["s", None]
    assert decoded["flags"] == {"ok": True, "n": 3}
    assert np.isnan(decoded["loss"])


def test_placeholders_are_shown_never_used() -> None:
    decoded = decode_reply_value({"__obj__": "Net" * 100, "repr": "x" * 10_000}, [], LIMIT)
    assert isinstance(decoded, Opaque)
    assert len(decoded.type_name) <= 100 and len(decoded.text) <= 200


@pytest.mark.parametrize(("node", "blobs", "words"), [
    ({"__nd__": 1}, [encode_array(np.zeros(1))], "out of range"),
    ({"__nd__": -1}, [encode_array(np.zeros(1))], "out of range"),
    ({"__nd__": "0"}, [encode_array(np.zeros(1))], "out of range"),
    ({"__float__": "1e308"}, [], "bad float"),
    ({"__pickle__": "gASVAAAAAAAAAAA="}, [], "unexpected value"),
    ({"__nd__": 0}, [npy("|O", (1,), b"x")], "not a plain numeric dtype"),
], ids=["index-past-end", "negative-index", "string-index", "bad-float", "unknown-node", "object-inside"])
def test_malformed_reply_values_raise_wire_error(node: Any, blobs: list[bytes], words: str) -> None:
    with pytest.raises(WireError, match=words):
        decode_reply_value(node, blobs, LIMIT)


def test_deeply_nested_reply_is_refused() -> None:
    node: Any = 1.0
    for _ in range(50):
        node = [node]
    with pytest.raises(WireError, match="nested too deeply"):
        decode_reply_value(node, [], LIMIT)


def test_a_numpy_scalar_returned_by_the_student_arrives_zero_dimensional() -> None:
    encoder = Encoder()
    node = encoder.encode({"loss": np.float64(2.5), "scores": np.ones((2, 3))})
    decoded = decode_reply_value(node, encoder.blobs, LIMIT)
    assert decoded["scores"].shape == (2, 3)
    assert decoded["loss"].shape == () and decoded["loss"] == 2.5


# ---------------------------------------------------------------- the load reply's notebook cell errors
def _load_reply(cell_errors: Any) -> dict[str, Any]:
    return {"modules": {"layers": {"ok": True, "names": ["f"], "cell_errors": cell_errors}}}


def test_cell_errors_of_a_load_reply_are_kept_when_well_formed() -> None:
    from graders.sandbox import replies

    loaded = replies.load(_load_reply([[4, "FileNotFoundError('x')"]]), {"layers": "layers"})
    assert loaded["modules"]["layers"]["cell_errors"] == [(4, "FileNotFoundError('x')")]
    assert replies.load(_load_reply(None), {"layers": "layers"})["modules"]["layers"]["cell_errors"] == []


@pytest.mark.parametrize("forged", [
    "cell 4",                       # not a list
    [[4]],                          # not a pair
    [["4", "e"]],                   # a cell number that is not an int
    [[True, "e"]],                  # a bool is not a cell number
    [[0, "e"]],                     # cells count from 1
    [[4, {"x": 1}]],                # an error that is not text
    [[i, "e"] for i in range(1, 100)],  # more than the worker ever sends
])
def test_forged_cell_errors_are_a_wire_error(forged: Any) -> None:
    from graders.sandbox import replies
    from graders.sandbox.wire import WireError

    with pytest.raises(WireError):
        replies.load(_load_reply(forged), {"layers": "layers"})


# ------------------------------------------------------------------ the .npy layout both ends share
PLAIN_DTYPES = st.sampled_from(["<f8", "<f4", "<f2", ">f8", "<i8", "<i4", "|i1", "<u2", "|u1", "|b1"])


@given(dtype=PLAIN_DTYPES, shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
       fortran=st.booleans())
def test_fast_npy_bytes_are_what_numpy_reads_and_both_ends_read_numpy_s_own(dtype: str, shape: tuple[int, ...],
                                                                              fortran: bool) -> None:
    array = (np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dtype)
    if fortran:
        array = np.asfortranarray(array)
    ours = npy_layout.to_bytes(array)
    assert (len(ours) - array.nbytes) % npy_layout.ALIGN == 0  # the data aligned as NumPy aligns it
    theirs = io.BytesIO()
    np.save(theirs, array, allow_pickle=False)
    for blob in (ours, theirs.getvalue()):
        assert npy_layout.simple_header(blob) is not None  # both take the fast path at both ends
        for parsed in (np.load(io.BytesIO(blob), allow_pickle=False), decode_npy(blob, 1 << 20), read_array(blob)):
            assert parsed.dtype == array.dtype and parsed.shape == array.shape
            assert np.array_equal(parsed, array)
    assert read_array(ours).flags.writeable  # the student may write into an input, as with np.load


def test_only_plain_dtypes_have_fast_bytes() -> None:
    for value in (np.array([1 + 2j]), np.array(["a"]), np.zeros(2, dtype=[("a", "<f8")])):
        with pytest.raises(ValueError, match="not a plain"):
            npy_layout.to_bytes(value)


def test_only_inputs_whose_bytes_changed_are_sent_back() -> None:
    """The worker names no input it got back byte for byte (most calls leave theirs alone); one written into,
    one whose shape was changed in place, and a value that is not a plain array go back for the parent to
    compare."""
    from graders.sandbox.worker_main import inputs_changed

    sent = {"kept": np.arange(6.0).reshape(2, 3), "written": np.ones(4), "reshaped": np.zeros((2, 2)),
            "param": {"p": 0.5}}
    blobs: list[bytes] = []
    request = {"inputs": encode_value(sent, blobs)["__dict__"], "return_inputs": [*sent, "absent"]}
    views = [memoryview(b) for b in blobs]
    after = {name: read_array(views[node["__nd__"]]) if "__nd__" in node else dict(sent[name])
             for name, node in request["inputs"].items()}
    after["written"][2] = -1.0
    after["reshaped"].shape = (4,)
    changed = inputs_changed(request, views, after)
    assert sorted(changed) == ["param", "reshaped", "written"]
    assert changed["written"][2] == -1.0


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3).T,
                                   np.array([True, False]), np.array(2.5), np.zeros((0, 3)),
                                   np.arange(4, dtype=">i4"), np.float32([[1.5, -0.0]])])
def test_an_untouched_input_has_the_same_bytes_and_any_change_is_seen(array: np.ndarray) -> None:
    from graders.sandbox.worker_main import same_bytes

    blob = memoryview(encode_array(array))
    assert same_bytes(read_array(blob), blob)
    assert not same_bytes(array.astype(np.float64 if array.dtype != np.float64 else np.float32), blob)
    assert not same_bytes(array.reshape(-1, 1) if array.ndim != 2 or array.shape[1] != 1 else array.reshape(-1),
                          blob)
    if array.size:
        changed = read_array(blob)
        changed.reshape(-1)[-1] = changed.reshape(-1)[-1] + 1 if changed.dtype != bool else not changed.reshape(-1)[-1]
        assert not same_bytes(changed, blob)
    assert not same_bytes(array.tolist(), blob)
