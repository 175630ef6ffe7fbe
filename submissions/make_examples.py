"""Rebuild the one derived example that is committed as a file: ``zip-submission/submission.zip``.

It is ``cs231n-correct-vectorised/submission`` zipped under a nested top folder (fixed timestamps and order, so
the archive is byte-for-byte reproducible), plus the macOS resource-fork junk that the grader must ignore.
The other derived examples (``bug-*``, ``seed-conv-backward``) declare ``base`` and ``[[patch]]`` in their
expected.toml and graders/examples.py derives them when grading (graders/selftest/patch.py).

    python submissions/make_examples.py            # rewrite submission.zip
    python submissions/make_examples.py --check    # exit 1 if the committed zip is stale
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

from graders.selftest.patch import PatchError, read_tree

EXAMPLES = Path(__file__).resolve().parent / "examples"
VECTORISED = "cs231n-correct-vectorised"


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
    outputs: dict[Path, dict[str, bytes] | bytes] = {}
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
