"""Rebuild the two derived example submissions that are committed as ordinary student files.

  * ``seed-conv-backward``: ``cs231n-correct-loops/submission`` with its conv_backward_naive replaced by the
    seed document's function, so the seed's code is there to read as a student handed it in;
  * ``zip-submission``: ``cs231n-correct-vectorised/submission`` zipped under a nested top folder (fixed
    timestamps and order, so the archive is byte-for-byte reproducible), plus macOS resource-fork junk
    that the grader must ignore.

The ``bug-*`` examples are not generated here: each declares ``base`` and ``[[patch]]`` in its expected.toml
and graders/examples.py derives it when grading (the patch mechanism is graders/selftest/patch.py).

    python submissions/make_examples.py            # rewrite the derived submissions
    python submissions/make_examples.py --check    # exit 1 if any committed copy differs
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

from graders.selftest.patch import Patch, PatchError, apply_patches, read_tree

EXAMPLES = Path(__file__).resolve().parent / "examples"
LOOPS = "cs231n-correct-loops"
VECTORISED = "cs231n-correct-vectorised"
LAYERS = "assignment2/cs231n/layers.py"


# The conv_backward_naive of /work/shared/seeds/000_ad09a38b68ced428.txt (a question-and-answer page quoting
# a student's cs231n code), re-indented from the page's flattened text and otherwise used as it is.
SEED_CONV_BACKWARD = """def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    # 边界补0
    pad = conv_param['pad']
    # 步长
    stride = conv_param['stride']
    F, C, HH, WW = w.shape
    N, C, H, W = x.shape
    H_new = 1 + (H + 2 * pad - HH) // stride
    W_new = 1 + (W + 2 * pad - WW) // stride
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    s = stride
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), 'constant')
    dx_padded = np.pad(dx, ((0, 0), (0, 0), (pad, pad), (pad, pad)), 'constant')
    # 图片个数
    for i in range(N):  # ith image
        # 卷积核滤波个数
        for f in range(F):  # fth filter
            for j in range(H_new):
                for k in range(W_new):
                    # 3*7*7
                    window = x_padded[i, :, j * s:HH + j * s, k * s:WW + k * s]
                    db[f] += dout[i, f, j, k]
                    # 3*7*7
                    dw[f] += window * dout[i, f, j, k]
                    # 3*7*7 => 2*3*38*38
                    dx_padded[i, :, j * s:HH + j * s, k * s:WW + k * s] += w[f] * dout[i, f, j, k]
    # Unpad
    dx = dx_padded[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db
"""


def _loops_function(name: str) -> str:
    """The text of one top-level function of the loops example's layers.py (up to its last line)."""
    text = (EXAMPLES / LOOPS / "submission" / LAYERS).read_text()
    start = text.index(f"\ndef {name}(") + 1
    end = text.find("\n\n\n", start)
    return text[start : end + 1 if end >= 0 else len(text)]


def seed_patches() -> list[Patch]:
    return [Patch(LAYERS, _loops_function("conv_backward_naive"), SEED_CONV_BACKWARD)]


def _zip_bytes(files: dict[str, bytes], top: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = {f"{top}/{path}": data for path, data in files.items()}
        # what the Finder adds when a Mac user compresses a folder: AppleDouble files the grader must skip
        apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X"
        entries[f"__MACOSX/{top}/assignment2/cs231n/._layers.py"] = apple_double
        for path in sorted(entries):
            info = zipfile.ZipInfo(path, date_time=(2024, 4, 20, 23, 58, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[path])
    return buffer.getvalue()


def derived() -> dict[Path, dict[str, bytes] | bytes]:
    """Every generated output: a folder (relative path -> bytes) or a single file's bytes."""
    loops = read_tree(EXAMPLES / LOOPS / "submission")
    outputs: dict[Path, dict[str, bytes] | bytes] = {}
    seed = "seed-conv-backward"
    outputs[EXAMPLES / seed / "submission"] = apply_patches(loops, seed_patches(), seed)
    vectorised = read_tree(EXAMPLES / VECTORISED / "submission")
    outputs[EXAMPLES / "zip-submission" / "submission.zip"] = _zip_bytes(vectorised, "hw2_jsmith_final")
    return outputs


def _stale(target: Path, content: dict[str, bytes] | bytes) -> bool:
    if isinstance(content, bytes):
        return not target.is_file() or target.read_bytes() != content
    return not target.is_dir() or read_tree(target) != content


def _write(target: Path, content: dict[str, bytes] | bytes) -> None:
    if isinstance(content, bytes):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return
    for old in sorted(target.rglob("*"), reverse=True) if target.exists() else []:
        if old.is_file() and old.relative_to(target).as_posix() not in content:
            old.unlink()
    for path, data in content.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale derived examples")
    args = parser.parse_args(argv)
    try:
        outputs = derived()
    except PatchError as exc:
        print(exc, file=sys.stderr)
        return 1
    stale = []
    for target, content in outputs.items():
        if _stale(target, content):
            stale.append(target.relative_to(EXAMPLES.parent).as_posix())
            if not args.check:
                _write(target, content)
    if args.check and stale:
        print("stale derived examples (run python submissions/make_examples.py):", *stale, sep="\n  ")
        return 1
    print(("rewrote: " + ", ".join(stale)) if stale and not args.check else "derived examples are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
