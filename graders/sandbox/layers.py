"""Which isolation layers this machine offers, detected once per grading process, and the plan for a worker.

  0  process   a separate ``python -I`` in its own session, empty environment, rlimits, wall and CPU limits per
               call, capped output, pipes with a checked protocol, clean-up until no process is left (always)
  1  landlock  read-only view of the interpreter and the submission copy, writes only to a private folder,
               no TCP, no signals out (the worker confines itself; no root needed)
     seccomp   no sockets, fork, exec, ptrace, mount, namespaces, bpf... (the worker filters itself)
  2  uid       when root: the worker runs as a uid of its own (privileges.py)
  3  bwrap     namespaces of its own, read-only binds, tmpfs elsewhere (bwrap.py)

``default`` uses what is available and the report says which; ``strict`` refuses to grade unless layers 0-1,
and 2-3 when root, are active. What a worker actually applied comes back in its hello reply: a layer is
reported only when the worker confirmed it, not when it was merely planned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.sandbox import bwrap, landlock, privileges

MODES = ("default", "strict")
BASE_LAYERS = ("process", "rlimits", "import-gate")
#: Interpreters tried, in order, when the grader is root and its own interpreter is out of the sandbox uid's
#: reach (a pyenv under a 0700 /root): Debian's, with python3-numpy.
FALLBACK_PYTHONS = ("/usr/bin/python3",)

PROBE = r"""
import json, os, sys, sysconfig
info = {"executable": os.path.realpath(sys.executable), "version": sys.version.split()[0]}
try:
    import numpy
    info["numpy"] = numpy.__version__
    info["numpy_dir"] = os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__)))
except Exception as exc:
    info["numpy_error"] = f"{type(exc).__name__}: {exc}"
binding = None
for name in ("seccomp", "pyseccomp"):
    try:
        module = __import__(name)
        binding = {"name": name, "dir": os.path.dirname(os.path.realpath(module.__file__))}
        break
    except Exception:
        pass
info["seccomp"] = binding
paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
paths |= {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
info["paths"] = sorted(paths | {os.path.realpath(p) for p in paths})
info["sys_path"] = [p for p in sys.path if p and os.path.isdir(p)]
print(json.dumps(info))
"""


class SandboxUnavailable(RuntimeError):
    """Strict mode was asked for and a required layer is missing (the grader refuses to grade)."""


@dataclass(frozen=True)
class Plan:
    """How to start this session's workers."""

    mode: str
    python: str
    numpy: str
    landlock: bool
    seccomp: bool
    uid: bool
    bwrap: str | None
    read_paths: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)
    #: the worker interpreter's sys.path folders (where hidden packages are looked for)
    import_dirs: tuple[str, ...] = ()

    def planned(self) -> list[str]:
        names = list(BASE_LAYERS)
        names += [n for n, on in (("landlock", self.landlock), ("seccomp", self.seccomp), ("uid", self.uid),
                                  ("bwrap", self.bwrap is not None)) if on]
        return names


def required(mode: str, root: bool) -> tuple[str, ...]:
    if mode != "strict":
        return ()
    return ("landlock", "seccomp", "uid", "bwrap") if root else ("landlock", "seccomp")


_probes: dict[tuple[str, int | None], dict[str, Any]] = {}
_plans: dict[tuple[str | None, str], Plan] = {}


def probe_python(python: str, uid: int | None) -> dict[str, Any]:
    """What ``python`` offers (NumPy, a seccomp binding, its folders), run as ``uid`` when given. Cached."""
    key = (python, uid is not None)
    if key in _probes:
        return _probes[key]
    try:
        lease = privileges.lease_uid() if uid is not None else None
    except privileges.NoFreeUid as exc:
        return {"error": str(exc)}
    try:
        done = subprocess.run(
            [python, "-I", "-c", PROBE], capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
            cwd="/", preexec_fn=(lambda: privileges.drop_to(lease.uid, 64)) if lease else None, check=False,
        )
        info = json.loads(done.stdout) if done.returncode == 0 else {
            "error": (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]}
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        info = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        if lease:
            lease.release()
    _probes[key] = info
    return info


def probe_bwrap(executable: str, python: str, read_paths: list[str], uid: int | None) -> str | None:
    """None when ``bwrap`` starts ``python`` with NumPy in a sandbox of our options, else why not."""
    try:
        lease = privileges.lease_uid() if uid is not None else None
    except privileges.NoFreeUid as exc:
        return str(exc)
    read, write = os.pipe()
    try:
        os.write(write, b"\0".join(a.encode() for a in bwrap.options(read_paths, None)) + b"\0")
        os.close(write)
        write = -1
        done = subprocess.run(
            [executable, "--args", str(read), python, "-I", "-c", "import numpy"], capture_output=True,
            timeout=60, env={"PATH": "/usr/bin:/bin"}, cwd="/", pass_fds=(read,), check=False,
            preexec_fn=(lambda: privileges.drop_to(lease.uid, 64)) if lease else None,
        )
        if done.returncode != 0:
            return (done.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
        return None
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)
        if lease:
            lease.release()


def plan(python: str | None = None, mode: str = "default") -> Plan:
    """Detect the layers once per (interpreter, mode) and decide how workers start. Raises SandboxUnavailable
    in strict mode when a required layer is missing."""
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}: choose from {', '.join(MODES)}")
    key = (python, mode)
    if key not in _plans:
        _plans[key] = _detect(python, mode)
    chosen = _plans[key]
    refuse(chosen, chosen.planned())
    return chosen


def refuse(chosen: Plan, active: list[str]) -> None:
    """Strict mode: raise unless every required layer is in ``active``."""
    lacking = [name for name in required(chosen.mode, os.geteuid() == 0) if name not in active]
    if lacking:
        reasons = "; ".join(f"{name}: {chosen.missing.get(name, 'not confirmed by the worker')}"
                            for name in lacking)
        raise SandboxUnavailable(f"--sandbox strict refuses to grade: missing layer(s) {reasons}")


def _detect(python: str | None, mode: str) -> Plan:
    root = os.geteuid() == 0
    missing: dict[str, str] = {}
    candidates = [python] if python else list(dict.fromkeys([sys.executable, *FALLBACK_PYTHONS]))
    # Each probe starts an interpreter and imports NumPy (~0.2 s): run them side by side, once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        probes = [pool.submit(probe_python, candidates[0], None)]
        if root:
            probes += [pool.submit(probe_python, c, privileges.UID_BASE) for c in candidates if Path(c).exists()]
        for probe in probes:
            probe.result()
    chosen, info, uid = candidates[0], probe_python(candidates[0], None), False
    if root:
        failures = []
        for candidate in candidates:
            if not Path(candidate).exists():
                continue
            as_uid = probe_python(candidate, privileges.UID_BASE)
            if "numpy" in as_uid:
                chosen, info, uid = candidate, as_uid, True
                break
            failures.append(f"{candidate}: {as_uid.get('error') or as_uid.get('numpy_error')}")
        if not uid:
            missing["uid"] = ("no interpreter with NumPy is readable by an unprivileged uid ("
                              + "; ".join(failures) + ")" + (
                                  "; install it where other users can read it" if python else
                                  "; install python3-numpy or pass --python"))
    else:
        missing["uid"] = "the grader is not root (nothing to drop)"
    if "numpy" not in info:
        raise SandboxUnavailable(f"the worker interpreter {chosen} cannot import NumPy: "
                                 f"{info.get('error') or info.get('numpy_error')}")
    read_paths = [*info["paths"], info["numpy_dir"]]
    if info.get("seccomp"):
        read_paths.append(info["seccomp"]["dir"])
    read_paths = list(dict.fromkeys(read_paths))
    abi = landlock.abi_version()
    if abi < 1:
        missing["landlock"] = "the kernel has no Landlock (needs Linux 5.13+ with landlock in the lsm= list)"
    if not info.get("seccomp"):
        missing["seccomp"] = (f"{chosen} has no libseccomp binding: install python3-seccomp (Debian) or "
                              "pyseccomp (PyPI)")
    bwrap_path = bwrap.executable()
    bwrap_ok: str | None = None
    if bwrap_path is None:
        missing["bwrap"] = "bwrap is not installed (Debian package bubblewrap)"
    elif root and not uid:
        missing["bwrap"] = "bwrap started by root does not enforce the process limit: it needs layer 2 (uid)"
    else:
        why = probe_bwrap(bwrap_path, chosen, read_paths, privileges.UID_BASE if root else None)
        if why is None:
            bwrap_ok = bwrap_path
        else:
            missing["bwrap"] = f"bwrap does not start a sandbox here: {why}"
    return Plan(mode, chosen, str(info["numpy"]), abi >= 1, bool(info.get("seccomp")), uid, bwrap_ok,
                tuple(read_paths), missing, tuple(info.get("sys_path", ())))


#: Packages no student code may import whatever the assignment says: the grader's own (its reference would
#: give a student the expected values).
GRADER_PACKAGES = ("graders", "reference", "nngrade")
_MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".abi3.so")


def hidden_paths(chosen: Plan, names: Iterable[str]) -> list[str]:
    """The files and folders through which the worker's interpreter would import each top-level name in
    ``names`` (a package folder, a module file, an extension module), found by listing its sys.path folders.

    These are made unreadable from outside the worker (Landlock, bubblewrap): a policy that changes a score
    must not depend on code the student can rewrite, such as the worker's import gate.
    """
    wanted = set(names)
    found: list[str] = []
    for folder in chosen.import_dirs:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            stem = entry.name.split(".", 1)[0]
            if stem not in wanted:
                continue
            if entry.name == stem or entry.name.endswith(_MODULE_SUFFIXES) and not entry.name.endswith(".pth"):
                found.append(entry.path)
                real = os.path.realpath(entry.path)
                if real != entry.path:
                    found.append(real)
    return sorted(dict.fromkeys(found))


def describe(chosen: Plan, active: list[str], starts: int, refusals: dict[str, str] | None = None
             ) -> dict[str, Any]:
    """The report's ``sandbox`` entry: the layers every worker confirmed, and why the others are absent."""
    wanted = ("landlock", "seccomp", "uid", "bwrap")
    reasons = {**chosen.missing, **(refusals or {})}
    return {
        "mode": chosen.mode,
        "layers": [n for n in (*BASE_LAYERS, *wanted) if n in active],
        "missing": {n: reasons.get(n, "not confirmed by the worker") for n in wanted if n not in active},
        "worker_starts": starts,
        "python": chosen.python,
        "numpy": chosen.numpy,
    }
