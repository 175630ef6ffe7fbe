"""The MNIST/IDX loader: the real files, synthetic IDX round trips, corrupt files, offline downloads."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.data import (
    IDXFormatError,
    MNISTDownloadError,
    download_mnist,
    load_mnist,
    read_idx,
    read_idx_images,
    read_idx_labels,
)
from reference.data import mnist as mnist_module
from reference.data.idx import read_idx_bytes

NAMES = {
    "train_img": "train-images-idx3-ubyte",
    "train_label": "train-labels-idx1-ubyte",
    "test_img": "t10k-images-idx3-ubyte",
    "test_label": "t10k-labels-idx1-ubyte",
}
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


# --------------------------------------------------------------------------------------------------------
# An independent IDX writer for the tests (the library only reads).
# --------------------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as IDX; ``magic`` overrides the header's magic number."""
    if magic is None:
        magic = 0x00000800 | array.ndim
    return (
        struct.pack(">I", magic)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(np.uint8).tobytes()
    )


def write(path: Path, payload: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_dataset(
    directory: Path,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    compress: bool = True,
) -> dict[str, Path]:
    """Four IDX files named like MNIST in ``directory`` (``.gz`` suffix when compressed)."""
    suffix = ".gz" if compress else ""
    arrays = {"train_img": x_train, "train_label": t_train, "test_img": x_test, "test_label": t_test}
    return {
        role: write(directory / f"{NAMES[role]}{suffix}", idx_bytes(arrays[role]), compress) for role in NAMES
    }


def small_dataset(seed: int = 0, n_train: int = 7, n_test: int = 3, rows: int = 4, cols: int = 5):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, rows, cols), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, rows, cols), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


# --------------------------------------------------------------------------------------------------------
# The real files.
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_raw(mnist_dir: Path):
    return load_mnist(normalize=False, flatten=True, one_hot_label=False, data_dir=mnist_dir)


def test_real_shapes_and_dtypes_default_options(mnist_dir: Path) -> None:
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=mnist_dir)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert t_train.shape == (60000,) and t_test.shape == (10000,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert t_train.dtype == np.uint8 and t_test.dtype == np.uint8
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    assert float(x_test.min()) == 0.0 and float(x_test.max()) == 1.0


def test_real_normalisation_is_the_books_float32_division(mnist_dir: Path, real_raw) -> None:
    (x_train, _), (x_test, _) = load_mnist(normalize=True, data_dir=mnist_dir)
    (raw_train, _), (raw_test, _) = real_raw
    expected = raw_test.astype(np.float32)
    expected /= 255.0
    np.testing.assert_array_equal(x_test, expected)
    assert raw_train.dtype == np.uint8 and int(raw_train.max()) == 255
    np.testing.assert_array_equal(x_train[:1000] * 255.0, raw_train[:1000].astype(np.float32))


def test_real_label_counts(real_raw) -> None:
    (_, t_train), (_, t_test) = real_raw
    train_counts = np.bincount(t_train, minlength=10)
    assert train_counts.shape == (10,) and train_counts.sum() == 60000
    assert np.all((train_counts >= 5000) & (train_counts <= 7000)), train_counts
    assert np.bincount(t_test, minlength=10).sum() == 10000 and int(t_test.max()) == 9


def test_real_one_hot_and_unflattened(mnist_dir: Path, real_raw) -> None:
    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False, one_hot_label=True, data_dir=mnist_dir)
    (_, labels_train), (raw_test, labels_test) = real_raw
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert t_train.shape == (60000, 10) and t_test.shape == (10000, 10)
    assert np.issubdtype(t_train.dtype, np.floating)
    np.testing.assert_array_equal(t_train.sum(axis=1), 1.0)
    assert set(np.unique(t_train).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(t_train.argmax(axis=1), labels_train)
    np.testing.assert_array_equal(t_test.argmax(axis=1), labels_test)
    # Unflattening is a reshape of the same pixels, row-major.
    np.testing.assert_array_equal(x_test.reshape(10000, 784) * 255.0, raw_test.astype(np.float32))


@pytest.mark.parametrize("base", sorted(PUBLISHED_MD5))
def test_real_decompressed_md5(mnist_dir: Path, base: str) -> None:
    path = mnist_dir / f"{base}.gz"
    if not path.exists():
        path = mnist_dir / base
    assert hashlib.md5(read_idx_bytes(path)).hexdigest() == PUBLISHED_MD5[base]
    assert mnist_module.MNIST_MD5[base] == PUBLISHED_MD5[base]


def test_real_arrays_are_writable(real_raw) -> None:
    (x_train, t_train), _ = real_raw
    assert x_train.flags.writeable and t_train.flags.writeable


# --------------------------------------------------------------------------------------------------------
# Synthetic round trips.
# --------------------------------------------------------------------------------------------------------


@given(
    images=hnp.arrays(
        np.uint8,
        st.tuples(st.integers(0, 12), st.integers(1, 6), st.integers(1, 6)),
    ),
    compress=st.booleans(),
)
def test_idx_image_round_trip(images: np.ndarray, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = write(Path(scratch) / "any-name", idx_bytes(images), compress)
        loaded = read_idx_images(path)
        assert loaded.dtype == np.uint8 and loaded.shape == images.shape
        np.testing.assert_array_equal(loaded, images)
        np.testing.assert_array_equal(read_idx(path), images)


@given(
    n_train=st.integers(1, 15),
    n_test=st.integers(1, 6),
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    compress=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_load_mnist_round_trip_all_options(
    n_train: int, n_test: int, rows: int, cols: int, compress: bool, seed: int
) -> None:
    x_train, t_train, x_test, t_test = small_dataset(seed, n_train, n_test, rows, cols)
    with tempfile.TemporaryDirectory() as scratch:
        write_dataset(Path(scratch), x_train, t_train, x_test, t_test, compress)
        for normalize in (False, True):
            for flatten in (False, True):
                for one_hot in (False, True):
                    (a, b), (c, d) = load_mnist(normalize, flatten, one_hot, data_dir=scratch)
                    for got, raw in ((a, x_train), (c, x_test)):
                        shape = (len(raw), rows * cols) if flatten else (len(raw), 1, rows, cols)
                        assert got.shape == shape
                        if normalize:
                            assert got.dtype == np.float32
                            np.testing.assert_allclose(got.reshape(raw.shape), raw / 255.0, rtol=1e-6)
                        else:
                            assert got.dtype == np.uint8
                            np.testing.assert_array_equal(got.reshape(raw.shape), raw)
                    for got, raw in ((b, t_train), (d, t_test)):
                        if one_hot:
                            assert got.shape == (len(raw), 10) and np.issubdtype(got.dtype, np.floating)
                            np.testing.assert_array_equal(got, np.eye(10)[raw])
                        else:
                            assert got.dtype == np.uint8
                            np.testing.assert_array_equal(got, raw)


def test_compression_is_detected_from_content_not_name(tmp_path: Path) -> None:
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw_named_gz = write(tmp_path / "raw.gz", idx_bytes(images), compress=False)
    gzip_without_suffix = write(tmp_path / "compressed", idx_bytes(images), compress=True)
    np.testing.assert_array_equal(read_idx_images(raw_named_gz), images)
    np.testing.assert_array_equal(read_idx_images(gzip_without_suffix), images)


def test_raw_and_gz_files_may_be_mixed(tmp_path: Path) -> None:
    x_train, t_train, x_test, t_test = small_dataset()
    paths = write_dataset(tmp_path, x_train, t_train, x_test, t_test, compress=True)
    raw_labels = paths["train_label"].with_suffix("")
    raw_labels.write_bytes(gzip.decompress(paths["train_label"].read_bytes()))
    paths["train_label"].unlink()
    (_, labels), _ = load_mnist(data_dir=tmp_path)
    np.testing.assert_array_equal(labels, t_train)


# --------------------------------------------------------------------------------------------------------
# Where the files are looked for; missing files.
# --------------------------------------------------------------------------------------------------------


def test_missing_files_name_directory_files_and_remedy(tmp_path: Path) -> None:
    x_train, t_train, x_test, t_test = small_dataset()
    paths = write_dataset(tmp_path, x_train, t_train, x_test, t_test)
    paths["test_label"].unlink()
    paths["train_img"].unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "t10k-labels-idx1-ubyte" in message and "train-images-idx3-ubyte" in message
    assert "train-labels-idx1-ubyte" not in message
    assert "download_mnist" in message


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x_train, t_train, x_test, t_test = small_dataset(seed=3)
    write_dataset(tmp_path, x_train, t_train, x_test, t_test)
    monkeypatch.setenv("NNGRADE_MNIST_DIR", str(tmp_path))
    (_, labels), _ = load_mnist()
    np.testing.assert_array_equal(labels, t_train)


def test_argument_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x_train, t_train, x_test, t_test = small_dataset(seed=4)
    write_dataset(tmp_path, x_train, t_train, x_test, t_test)
    monkeypatch.setenv("NNGRADE_MNIST_DIR", str(tmp_path / "does-not-exist"))
    (_, labels), _ = load_mnist(data_dir=tmp_path)
    np.testing.assert_array_equal(labels, t_train)


def test_default_directory_is_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NNGRADE_MNIST_DIR", raising=False)
    monkeypatch.setattr(mnist_module.platformdirs, "user_cache_dir", lambda app: str(tmp_path / app))
    assert mnist_module.resolve_data_dir() == tmp_path / "nngrade" / "mnist"
    with pytest.raises(FileNotFoundError, match="nngrade"):
        load_mnist()


# --------------------------------------------------------------------------------------------------------
# Corrupt files: each defect raises IDXFormatError naming the file and the defect.
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def dataset_dir(tmp_path: Path) -> dict[str, Path]:
    x_train, t_train, x_test, t_test = small_dataset(seed=7)
    return write_dataset(tmp_path, x_train, t_train, x_test, t_test, compress=False)


def corrupt(path: Path, payload: bytes) -> None:
    path.write_bytes(payload)


def load_failure(directory: Path) -> str:
    with pytest.raises(IDXFormatError) as info:
        load_mnist(data_dir=directory)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_bad_magic_labels_file_in_place_of_images(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["train_img"]
    corrupt(target, idx_bytes(np.zeros(7, np.uint8)))
    message = load_failure(target.parent)
    assert str(target) in message
    assert "bad magic number" in message and "0x00000801" in message and "0x00000803" in message


def test_bad_magic_wrong_data_type(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["test_label"]
    corrupt(target, idx_bytes(np.zeros(3, np.uint8), magic=0x00000D01))
    message = load_failure(target.parent)
    assert str(target) in message and "bad magic number" in message and "float32" in message


def test_wrong_number_of_dimensions(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["train_img"]
    corrupt(target, idx_bytes(np.zeros((7, 1, 4, 5), np.uint8)))
    message = load_failure(target.parent)
    assert str(target) in message and "wrong number of dimensions (4 instead of 3)" in message


def test_empty_image_dimensions(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["test_img"]
    corrupt(target, idx_bytes(np.zeros((3, 0, 5), np.uint8)))
    message = load_failure(target.parent)
    assert str(target) in message and "wrong dimensions" in message and "0 x 5" in message


def test_train_and_test_image_sizes_disagree(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["test_img"]
    corrupt(target, idx_bytes(np.zeros((3, 5, 4), np.uint8)))
    message = load_failure(target.parent)
    assert "wrong dimensions" in message
    assert str(target) in message and str(dataset_dir["train_img"]) in message


def test_truncated_payload(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["train_img"]
    corrupt(target, target.read_bytes()[:-5])
    message = load_failure(target.parent)
    assert str(target) in message and "truncated" in message and "5 missing" in message


def test_truncated_header(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["train_img"]
    corrupt(target, target.read_bytes()[:10])
    message = load_failure(target.parent)
    assert str(target) in message and "truncated header" in message


def test_file_shorter_than_magic(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["train_label"]
    corrupt(target, b"\x00\x00")
    message = load_failure(target.parent)
    assert str(target) in message and "too short" in message


def test_trailing_bytes(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["test_label"]
    corrupt(target, target.read_bytes() + b"\x00\x01\x02")
    message = load_failure(target.parent)
    assert str(target) in message and "3 trailing bytes" in message


def test_count_mismatch_between_images_and_labels(dataset_dir: dict[str, Path]) -> None:
    labels = dataset_dir["train_label"]
    corrupt(labels, idx_bytes(np.zeros(6, np.uint8)))
    message = load_failure(labels.parent)
    assert "count mismatch" in message and "7 images" in message and "6 labels" in message
    assert str(labels) in message and str(dataset_dir["train_img"]) in message


def test_label_out_of_range(dataset_dir: dict[str, Path]) -> None:
    labels = dataset_dir["test_label"]
    corrupt(labels, idx_bytes(np.array([1, 12, 3], np.uint8)))
    message = load_failure(labels.parent)
    assert str(labels) in message and "label 12 at index 1" in message


def test_neither_gzip_nor_idx(dataset_dir: dict[str, Path]) -> None:
    target = dataset_dir["train_img"]
    corrupt(target, b"<!DOCTYPE html><html><body>403 Forbidden</body></html>")
    message = load_failure(target.parent)
    assert str(target) in message
    assert "neither gzip-compressed" in message and "nor an IDX file" in message and "<!DOCTYPE" in message


def test_truncated_gzip(tmp_path: Path) -> None:
    x_train, t_train, x_test, t_test = small_dataset(seed=8, n_train=40, rows=10, cols=10)
    paths = write_dataset(tmp_path, x_train, t_train, x_test, t_test, compress=True)
    target = paths["train_img"]
    corrupt(target, target.read_bytes()[: len(target.read_bytes()) // 2])
    message = load_failure(tmp_path)
    assert str(target) in message and "gzip stream is truncated" in message


def test_corrupt_gzip(tmp_path: Path) -> None:
    x_train, t_train, x_test, t_test = small_dataset(seed=9, n_train=40, rows=10, cols=10)
    paths = write_dataset(tmp_path, x_train, t_train, x_test, t_test, compress=True)
    target = paths["test_img"]
    damaged = bytearray(target.read_bytes())
    damaged[-8:-4] = bytes(b ^ 0xFF for b in damaged[-8:-4])  # the CRC32 of the member
    corrupt(target, bytes(damaged))
    message = load_failure(tmp_path)
    assert str(target) in message and "gzip stream is corrupt" in message


def test_read_idx_labels_rejects_images(tmp_path: Path) -> None:
    path = write(tmp_path / "x", idx_bytes(np.zeros((2, 2, 2), np.uint8)), compress=True)
    with pytest.raises(IDXFormatError, match="bad magic number"):
        read_idx_labels(path)


# --------------------------------------------------------------------------------------------------------
# download_mnist: offline, with file:// mirrors.
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def synthetic_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mirror folder of small valid .gz files whose md5s are made the 'published' ones for the test."""
    mirror = tmp_path / "good-mirror"
    mirror.mkdir()
    x_train, t_train, x_test, t_test = small_dataset(seed=11)
    paths = write_dataset(mirror, x_train, t_train, x_test, t_test, compress=True)
    for role, path in paths.items():
        digest = hashlib.md5(gzip.decompress(path.read_bytes())).hexdigest()
        monkeypatch.setitem(mnist_module.MNIST_MD5, NAMES[role], digest)
    return mirror


def mirror_url(folder: Path) -> str:
    return folder.as_uri() + "/"


def test_download_from_file_mirror(tmp_path: Path, synthetic_mirror: Path) -> None:
    target = tmp_path / "cache" / "mnist"
    assert download_mnist(target, mirrors=[mirror_url(synthetic_mirror)]) == target
    assert sorted(os.listdir(target)) == sorted(f"{name}.gz" for name in NAMES.values())  # no temp files left
    for name in NAMES.values():
        assert (target / f"{name}.gz").read_bytes() == (synthetic_mirror / f"{name}.gz").read_bytes()
    (_, labels), _ = load_mnist(data_dir=target)
    np.testing.assert_array_equal(labels, small_dataset(seed=11)[1])


def test_download_skips_bad_mirrors_and_checks_md5(tmp_path: Path, synthetic_mirror: Path) -> None:
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    corrupted = tmp_path / "corrupt-mirror"
    corrupted.mkdir()
    for name in NAMES.values():  # well-formed gzip, wrong content: only the checksum can catch it
        good = gzip.decompress((synthetic_mirror / f"{name}.gz").read_bytes())
        (corrupted / f"{name}.gz").write_bytes(gzip.compress(good[:-1] + bytes([good[-1] ^ 1])))
    target = tmp_path / "out"
    download_mnist(target, mirrors=[mirror_url(empty), mirror_url(corrupted), mirror_url(synthetic_mirror)])
    for name in NAMES.values():
        assert (target / f"{name}.gz").read_bytes() == (synthetic_mirror / f"{name}.gz").read_bytes()


def test_download_failure_lists_every_mirror(tmp_path: Path, synthetic_mirror: Path) -> None:
    corrupted = tmp_path / "corrupt-mirror"
    corrupted.mkdir()
    for name in NAMES.values():
        (corrupted / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    missing = tmp_path / "missing-mirror"
    target = tmp_path / "out"
    with pytest.raises(MNISTDownloadError) as info:
        download_mnist(target, mirrors=[mirror_url(corrupted), mirror_url(missing)])
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(target) in message
    assert mirror_url(corrupted) in message and "md5" in message
    assert mirror_url(missing) in message
    assert not any(p.name.startswith("train-images") for p in target.iterdir())  # nothing half-written


def test_download_keeps_valid_files_and_replaces_invalid_ones(tmp_path: Path, synthetic_mirror: Path) -> None:
    target = tmp_path / "out"
    download_mnist(target, mirrors=[mirror_url(synthetic_mirror)])
    # Already complete: no mirror needed at all.
    download_mnist(target, mirrors=[])
    # A damaged file is fetched again.
    damaged = target / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(b"garbage")
    with pytest.raises(MNISTDownloadError, match="t10k-labels-idx1-ubyte"):
        download_mnist(target, mirrors=[])
    download_mnist(target, mirrors=[mirror_url(synthetic_mirror)])
    assert damaged.read_bytes() == (synthetic_mirror / damaged.name).read_bytes()


def test_download_real_files_from_local_mirror(tmp_path: Path, mnist_dir: Path) -> None:
    target = tmp_path / "mnist"
    download_mnist(target, mirrors=[mirror_url(mnist_dir)])
    for name, digest in PUBLISHED_MD5.items():
        assert hashlib.md5(read_idx_bytes(target / f"{name}.gz")).hexdigest() == digest


def test_load_mnist_never_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_mnist must not touch the network")

    monkeypatch.setattr(mnist_module.urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError):
        load_mnist(data_dir=tmp_path)
