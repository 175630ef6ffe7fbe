"""seccomp (layer 1): the worker forbids itself the system calls student code has no business making.

Copied beside ``worker_main.py`` and imported by the worker (no nngrade imports). It uses a kept binding of
libseccomp rather than hand-written BPF: Debian's ``python3-seccomp`` (module ``seccomp``) or PyPI's
``pyseccomp`` (same API, ctypes on ``libseccomp.so.2``), whichever the worker's interpreter has.

The filter allows by default and refuses, with EPERM, what would let code leave the worker or reach others:
new processes (fork, vfork, clone without CLONE_THREAD, execve), sockets, ptrace and reading other processes'
memory, signals to any process but itself, namespaces and mounts, bpf, keyrings, io_uring (which would run
socket operations behind the filter's back), kernel modules, identity changes. ``clone3`` answers ENOSYS so
that glibc falls back to ``clone`` for threads, whose flags the filter can see; threads keep working.
Calls from other architectures (x32, i386) are killed by libseccomp's default bad-architecture action.
"""

from __future__ import annotations

import contextlib
import errno
import os
from types import ModuleType
from typing import Any

CLONE_THREAD = 0x00010000

DENIED = (
    # new programs and processes
    "fork", "vfork", "execve", "execveat",
    # the network and local sockets
    "socket", "socketpair",
    # other processes' memory and handles
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "tkill",
    # namespaces, mounts, the root
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "name_to_handle_at", "open_by_handle_at",
    # kernel facilities with a history of escapes
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "iopl", "ioperm",
    "mknod", "mknodat", "personality", "lookup_dcookie", "vhangup", "fanotify_init",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "sethostname", "setdomainname",
    # identity
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
)

#: Signals are allowed only to this process (the first argument must be our own pid).
SELF_SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


def binding() -> ModuleType:
    """The libseccomp binding this interpreter has (Debian's ``seccomp`` first, then PyPI's ``pyseccomp``)."""
    try:
        import seccomp

        return seccomp
    except ImportError:
        import pyseccomp

        return pyseccomp


def install() -> dict[str, Any]:
    """Load the filter into this process (all its threads). Returns what was installed; raises on failure."""
    sc = binding()
    deny = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(sc.ALLOW)
    skipped = []
    for name in DENIED:
        try:
            rules.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):  # a call this libseccomp does not know
            skipped.append(name)
    rules.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    me = os.getpid()
    for name in SELF_SIGNALS:
        rules.add_rule(deny, name, sc.Arg(0, sc.NE, me))
    with contextlib.suppress(OSError, ValueError, RuntimeError, AttributeError):
        rules.set_attr(sc.Attr.CTL_TSYNC, 1)
    rules.load()
    return {"binding": sc.__name__, "denied": len(DENIED) - len(skipped), "skipped": skipped}
