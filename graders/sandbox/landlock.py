"""Landlock (layer 1): the worker confines its own file system and TCP access, without root.

Standard library only (``ctypes`` on the three Landlock system calls), because this file is copied beside
``worker_main.py`` and imported by the worker, which imports nothing of nngrade. The parent imports it too, to
detect the kernel's Landlock ABI for ``nngrade doctor`` and the report.

What the worker gets after ``restrict``: read access beneath the folders it was given (the interpreter, NumPy,
its own folder with the submission copy), full access beneath its private temporary folder, nothing else; no
TCP bind or connect (ABI 4+); no signals to processes outside its Landlock domain and no abstract UNIX sockets
to them (ABI 6+). A rule only ever removes rights: there is no way back for the process or its threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import stat

SYS_CREATE_RULESET = 444  # the same numbers on x86_64 and aarch64
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

#: Rights that apply to a file (as opposed to a folder) in a path-beneath rule.
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV


class LandlockError(OSError):
    """Landlock is missing or refused a step; the worker reports it and the layer counts as absent."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library, found once per process (``find_library`` runs ``ldconfig``: a fork server finds it before
    forking, and its children inherit the answer)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when Landlock is not built in or not enabled at boot)."""
    try:
        libc = _libc()
    except OSError:
        return 0
    version = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return int(version) if version > 0 else 0


def handled_fs(abi: int) -> int:
    rights = (MAKE_SYM << 1) - 1  # ABI 1: bits 0-12
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def read_rules(read_paths: list[str], hidden: list[str], rights: int) -> list[tuple[str, int]]:
    """Rules that grant ``rights`` beneath each read path except beneath the ``hidden`` ones.

    Landlock only grants (a rule beneath a folder covers everything below it), so a read path that holds a
    hidden package is split: the folder itself may be listed (READ_DIR), and each of its entries gets its own
    rule, recursively along the way to the hidden entry, which gets none. Python then sees the package folder
    but cannot read a file of it: importing it fails with PermissionError, whatever the student does to the
    worker's import machinery.
    """
    hidden_real = [os.path.realpath(h) for h in hidden]
    rules: list[tuple[str, int]] = []

    def visit(path: str, depth: int) -> None:
        real = os.path.realpath(path)
        if any(real == h or real.startswith(h + "/") for h in hidden_real):
            return
        prefix = real.rstrip("/") + "/"
        if not any(h.startswith(prefix) for h in hidden_real):
            rules.append((path, rights))
            return
        if depth > 16:
            return
        rules.append((path, rights & READ_DIR))
        try:
            children = sorted(entry.path for entry in os.scandir(real))
        except OSError:
            return
        for child in children:
            visit(child, depth + 1)

    for path in dict.fromkeys(read_paths):
        visit(path, 0)
    return rules


def restrict(read_paths: list[str], write_paths: list[str], hidden: list[str] | None = None) -> dict[str, object]:
    """Confine the calling thread (and every thread or child it creates later) to the given folders; the
    ``hidden`` paths (packages the worker must not import) stay unreadable even inside a read path.

    Call it while the process has a single thread: Landlock applies to the calling thread and what it starts.
    Paths that do not exist are skipped. Returns what was enforced: the ABI, and whether TCP and signal scoping
    are part of it. Raises LandlockError when the kernel refuses.
    """
    libc = _libc()
    abi = abi_version()
    if abi < 1:
        raise LandlockError("Landlock is not available in this kernel")
    fs = handled_fs(abi)
    attr = _RulesetAttr(handled_access_fs=fs, handled_access_net=0, scoped=0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        read = READ_FILE | READ_DIR
        write = fs & ~(EXECUTE | IOCTL_DEV)
        rules = read_rules(read_paths, list(hidden or []), read)
        rules += [(path, write) for path in dict.fromkeys(write_paths)]
        for path, rights in rules:
            _add_path_rule(libc, int(ruleset), path, rights)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise LandlockError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(int(ruleset))
    return {"abi": abi, "tcp": abi >= 4, "signals": abi >= 6}


def restrict_writes(write_paths: list[str]) -> None:
    """Add a Landlock layer that allows writing only beneath ``write_paths`` (reads untouched: the layer does
    not handle them). A worker forked by the fork server calls it on itself, so that it cannot write into the
    folders of the server's other workers, which the server's own layer had to allow."""
    libc = _libc()
    abi = abi_version()
    if abi < 1:
        raise LandlockError("Landlock is not available in this kernel")
    write = handled_fs(abi) & ~(EXECUTE | READ_FILE | READ_DIR | IOCTL_DEV)
    attr = _RulesetAttr(handled_access_fs=write, handled_access_net=0, scoped=0)
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in dict.fromkeys(write_paths):
            _add_path_rule(libc, int(ruleset), path, write)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise LandlockError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(int(ruleset))


def _add_path_rule(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder this interpreter does not have: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        if not rights:
            return
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                        ctypes.c_uint32(0)) != 0:
            raise LandlockError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)
