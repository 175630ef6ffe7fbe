"""The standing attack suite: each attack is one hostile function in an otherwise correct submission.

Sources are ``string.Template`` texts: ``$name`` fields are filled per test with what an attacker would aim at
(the grader's pid, the canary file, the report folder, loopback ports listening in the test). Whatever an
attack manages to read, it raises or prints, so a leak would show up in the report the test inspects.
An attack names the statuses it may end with: the first is what this machine's full sandbox gives, the others
what weaker layers give (e.g. a fork that seccomp refuses is an ``error``; without seccomp, a ``timeout``).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    name: str
    source: str  # overrides ``target`` in layers.py, or the whole utils.py when ``module == "utils"``
    statuses: tuple[str, ...]
    words: tuple[str, ...] = ()  # one of them must appear in the attacking function's message
    target: str = "affine_backward"
    module: str = "layers"
    leak: bool = False  # prefix the _leak helper
    #: the attacking function returns right values besides its trick: it may keep its points (the test then
    #: checks that the trick cost the others nothing and that ``words`` appear in its warnings or messages)
    keeps_points: bool = False

    def code(self) -> str:
        return (LEAK.strip() + "\n\n\n" if self.leak else "") + textwrap.dedent(self.source).strip() + "\n"


#: What every leak helper does with loot: put it where the report would show it.
LEAK = '''
def _leak(found):
    if found:
        print("LEAK", found)
        raise RuntimeError("LEAK " + repr(found)[:3000])
'''

GOOD_UTILS = "import numpy as np\n\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"

ATTACKS: tuple[Attack, ...] = (
    # ------------------------------------------------------------------ leaving early
    Attack("sys-exit-at-import", "import sys\nsys.exit(3)\n" + GOOD_UTILS, ("error",), ("SystemExit",),
           target="utils_relu", module="utils"),
    Attack("sys-exit-in-call", """
        import sys

        def affine_backward(dout, cache):
            sys.exit(0)
    """, ("crashed",), ("exited with status 0",)),
    Attack("os-exit", """
        import os

        def affine_backward(dout, cache):
            os._exit(9)
    """, ("crashed",), ("exited with status 9",)),
    # ------------------------------------------------------------------ time
    Attack("busy-loop", """
        def affine_backward(dout, cache):
            while True:
                pass
    """, ("timeout",), ("did not return within", "CPU time")),
    Attack("sleep-forever", """
        import time

        def affine_backward(dout, cache):
            time.sleep(10**6)
    """, ("timeout",), ("did not return within",)),
    Attack("cpu-burning-threads", """
        import threading

        def _burn():
            while True:
                pass

        def affine_backward(dout, cache):
            for _ in range(4):
                threading.Thread(target=_burn, daemon=True).start()
            _burn()
    """, ("timeout",), ("CPU time", "did not return within")),
    # ------------------------------------------------------------------ memory
    Attack("allocate-50-GB", """
        import numpy as np

        def affine_backward(dout, cache):
            block = np.ones(50 * 2**30 // 8)
            return block, block, block
    """, ("error", "crashed"), ("MemoryError", "memory")),
    Attack("touch-memory-in-chunks", """
        import numpy as np

        def affine_backward(dout, cache):
            kept = []
            while True:
                kept.append(np.ones(2**22))  # 32 MiB, every page written
    """, ("error", "crashed", "timeout"), ("MemoryError", "memory")),
    Attack("recursion-bomb", """
        import sys

        def _down(n):
            return _down(n + 1) + 1

        def affine_backward(dout, cache):
            sys.setrecursionlimit(10**8)
            return _down(0)
    """, ("timeout", "crashed", "error"), ("did not return within", "CPU time", "SIGSEGV", "RecursionError",
                                           "MemoryError")),
    # ------------------------------------------------------------------ processes
    Attack("fork-bomb-with-setsid", """
        import os

        def affine_backward(dout, cache):
            while True:
                if os.fork() == 0:
                    os.setsid()
    """, ("error", "timeout", "crashed"), ("Operation not permitted", "did not return", "Resource")),
    Attack("os-system", """
        import os

        def affine_backward(dout, cache):
            status = os.system("echo pwned > /tmp/$mark.system; echo pwned > $tmp_root/$mark.system")
            raise RuntimeError(f"os.system returned {status}")
    """, ("error",), ("os.system returned", "not permitted")),
    Attack("signal-the-grader", """
        import os
        import signal

        def affine_backward(dout, cache):
            for target in ($parent_pid, os.getppid()):
                for call in (lambda: os.kill(target, signal.SIGKILL), lambda: os.killpg(os.getpgid(target), 9)):
                    try:
                        call()
                    except OSError:
                        pass
            os.kill($parent_pid, signal.SIGKILL)
    """, ("error",), ("Operation not permitted", "No such process")),
    Attack("threads-left-running", """
        import os
        import threading
        import time
        import numpy as np

        def _later():
            time.sleep(0.3)
            np.maximum = lambda a, b, *args, **kwargs: a * 0
            os._exit(5)

        def affine_backward(dout, cache):
            threading.Thread(target=_later, daemon=True).start()
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("passed",), ("threads were left running",), keeps_points=True),
    Attack("timer-left-pending", """
        import os
        import signal

        def affine_backward(dout, cache):
            signal.signal(signal.SIGALRM, lambda *args: os._exit(6))
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("passed",), ("timer",), keeps_points=True),
    # ------------------------------------------------------------------ output
    Attack("five-GiB-of-output", """
        import sys

        def affine_backward(dout, cache):
            chunk = "x" * (1 << 20)
            for _ in range(5 * 1024):
                sys.stdout.write(chunk)
    """, ("crashed", "timeout"), ("output limit", "did not return")),
    # ------------------------------------------------------------------ network (loopback only)
    Attack("tcp-by-name", """
        import socket

        def affine_backward(dout, cache):
            connection = socket.create_connection(("localhost", $tcp_port), timeout=1)
            connection.sendall(b"$mark")
            _leak("connected")
    """, ("error",), ("name resolution", "not permitted", "refused", "denied"), leak=True),
    Attack("tcp-by-ip", """
        import socket

        def affine_backward(dout, cache):
            connection = socket.create_connection(("127.0.0.1", $tcp_port), timeout=1)
            connection.sendall(b"$mark")
            _leak("connected")
    """, ("error",), ("not permitted", "refused", "denied"), leak=True),
    Attack("udp", """
        import socket

        def affine_backward(dout, cache):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sender.sendto(b"$mark", ("127.0.0.1", $udp_port))
            raise RuntimeError("sent")
    """, ("error",), ("not permitted", "sent")),
    # ------------------------------------------------------------------ reading what it should not
    Attack("read-the-reference", """
        import importlib
        import sys

        def affine_backward(dout, cache):
            found = []
            for path in ("$reference_file", "$repo/graders/grade.py"):
                try:
                    found.append(open(path).read()[:400])
                except OSError as exc:
                    print(exc)
            sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportGate"]
            sys.path.append("$repo")
            for name in ("reference", "reference.cs231n"):
                try:
                    module = importlib.import_module(name)
                    found.append(str(getattr(module, "affine_backward", module)))
                except Exception as exc:
                    print(exc)
            _leak(found)
            raise PermissionError("nothing found")
    """, ("crashed", "error"), ("import hooks", "nothing found", "denied"), leak=True),
    Attack("read-the-hidden-cases", """
        import glob
        import os

        def affine_backward(dout, cache):
            found = []
            for path in ["$hidden_file", *glob.glob("$tmp_root/**/*", recursive=True), *glob.glob("/tmp/*")]:
                try:
                    with open(path) as handle:
                        text = handle.read(4096)
                except OSError:
                    continue
                if "$canary" in text:
                    found.append(text)
            _leak(found)
            open("$hidden_file").read()
    """, ("error",), ("Permission denied", "No such file"), leak=True),
    Attack("read-grader-proc-environ", """
        import os

        def affine_backward(dout, cache):
            found = []
            pids = {"$parent_pid", str(os.getppid()), "1", "self"}
            try:
                pids |= set(os.listdir("/proc"))
            except OSError:
                pass
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/environ", "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                if b"$canary" in data:
                    found.append(data.decode(errors="replace"))
            _leak(found)
            open("/proc/$parent_pid/environ", "rb").read()
    """, ("error",), ("Permission denied", "No such file"), leak=True),
    Attack("read-grader-proc-maps", """
        def affine_backward(dout, cache):
            with open("/proc/$parent_pid/maps") as handle:
                _leak(handle.read()[:2000])
    """, ("error",), ("Permission denied", "No such file"), leak=True),
    Attack("read-stdin", """
        import sys

        def affine_backward(dout, cache):
            data = sys.stdin.read()
            return input(data)
    """, ("error",), ("EOFError",)),
    # ------------------------------------------------------------------ writing what it should not
    Attack("fake-reports-everywhere", """
        import os

        FAKE = '{"score": 1000, "max_score": 7, "tests": []}'

        def affine_backward(dout, cache):
            here = os.path.dirname(os.path.abspath(__file__))
            folders = {os.getcwd(), here, os.path.dirname(here), os.path.dirname(os.path.dirname(here)),
                       os.environ.get("HOME", "/"), os.environ.get("TMPDIR", "/tmp"), "/tmp", "/",
                       "$out_dir", "$tmp_root", "$repo", "/autograder/results", "/root"}
            written = []
            for folder in folders:
                for name in ("report.json", "results.json", "$mark.json"):
                    try:
                        with open(os.path.join(folder, name), "w") as handle:
                            handle.write(FAKE)
                        written.append(os.path.join(folder, name))
                    except OSError:
                        pass
            return None, None, written
    """, ("failed", "error"), ("got None", "expected")),
    Attack("chdir-and-delete", """
        import os
        import shutil

        def affine_backward(dout, cache):
            here = os.path.dirname(os.path.abspath(__file__))
            os.chdir("/")
            for target in (here, "$hidden_dir", "$out_dir", "$tmp_root/sub", "$repo/reference"):
                shutil.rmtree(target, ignore_errors=True)
            return None
    """, ("failed", "error"), ("got None", "expected")),
    Attack("extra-reply-on-the-pipe", """
        import json
        import os
        import struct
        import sys

        def affine_backward(dout, cache):
            x, w, b = cache
            fd = int(sys.argv[2])
            header = json.dumps({"ok": True, "error": None, "outputs": {}, "blob_sizes": [], "seq": 10**6}).encode()
            os.write(fd, struct.pack(">I", len(header)) + header)
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("crashed",), ("sequence", "more than one reply")),
    # ------------------------------------------------------------------ fooling the comparison
    Attack("patch-numpy", """
        import numpy as np

        def affine_backward(dout, cache):
            np.allclose = lambda *args, **kwargs: True
            np.array_equal = lambda *args, **kwargs: True
            np.testing.assert_allclose = lambda *args, **kwargs: None
            np.maximum = lambda a, b, *args, **kwargs: a * 0
            np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
            return np.zeros(1), np.zeros(1), np.zeros(1)
    """, ("failed",), ("NumPy or builtins were modified",)),
    Attack("ndarray-subclass", """
        import numpy as np

        class Agreeable(np.ndarray):
            def __eq__(self, other):
                return np.ones(np.shape(other), dtype=bool)

            def __array_finalize__(self, obj):
                pass

        def affine_backward(dout, cache):
            x, w, b = cache
            return (np.zeros(x.shape).view(Agreeable), np.zeros(w.shape).view(Agreeable),
                    np.zeros(b.shape).view(Agreeable))
    """, ("failed",), ("Agreeable",)),
    Attack("eq-array-reduce-tricks", """
        import os
        import numpy as np

        class Chameleon:
            def __eq__(self, other):
                return True

            def __array__(self, dtype=None, copy=None):
                return np.zeros(3)

            def __reduce__(self):
                return (os.system, ("touch /tmp/$mark.reduce",))

            def __float__(self):
                return 0.0

        def affine_backward(dout, cache):
            return Chameleon(), Chameleon(), Chameleon()
    """, ("failed",), ("Chameleon",)),
    Attack("del-trick", """
        import os

        class TimeBomb:
            def __del__(self):
                os._exit(4)

        def affine_backward(dout, cache):
            x, w, b = cache
            return TimeBomb(), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("crashed",), ("exited with status 4",)),
    Attack("object-and-structured-dtypes", """
        import numpy as np

        def affine_backward(dout, cache):
            x, w, b = cache
            dx = np.empty(x.shape, dtype=object)
            dx[...] = None
            dw = np.zeros(w.shape, dtype=[("re", "f8"), ("im", "f8")])
            return dx, dw, np.array(["0"] * b.shape[0])
    """, ("failed",), ("dtype",)),
    Attack("forged-npy-header-2-to-60-bytes", """
        import json
        import os
        import struct
        import sys

        def affine_backward(dout, cache):
            header = "{'descr': '<f8', 'fortran_order': False, 'shape': (144115188075855872,), }"
            header += " " * (63 - (10 + len(header)) % 64) + "\\n"
            blob = b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(header)) + header.encode()
            reply = {"ok": True, "error": None, "outputs": {"dx": {"__nd__": 0}, "dw": {"__nd__": 0},
                     "db": {"__nd__": 0}}, "blob_sizes": [len(blob)],
                     "seq": sys.modules["__main__"].CURRENT_SEQ[0]}  # the worker's own bookkeeping
            data = json.dumps(reply).encode()
            os.write(int(sys.argv[2]), struct.pack(">I", len(data)) + data + blob)
            os._exit(0)
    """, ("crashed",), ("exceeds the reply limit", "sequence", "malformed")),
    Attack("reply-of-100-MiB", """
        import numpy as np

        def affine_backward(dout, cache):
            big = np.ones(100 * 2**20 // 8 + 1)
            return big, big, big
    """, ("crashed",), ("reply of more than",)),
    # ------------------------------------------------------------------ forbidden libraries
    Attack("torch-imported-in-the-function", """
        def affine_backward(dout, cache):
            import torch
            return torch.zeros(1)
    """, ("forbidden",), ("torch",)),
    Attack("torch-imported-past-the-gate", """
        import importlib
        import sys

        def affine_backward(dout, cache):
            sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportGate"]
            torch = importlib.import_module("to" + "rch")
            x, w, b = (torch.tensor(a) for a in cache)
            d = torch.tensor(dout)
            return ((d @ w.T).reshape(x.shape).numpy(), (x.reshape(x.shape[0], -1).T @ d).numpy(),
                    d.sum(0).numpy())
    """, ("error", "forbidden"), ("No module named", "Permission denied", "not available", "torch")),
    Attack("clear-the-gate-sets-and-import-the-reference", """
        import glob
        import importlib
        import sys

        def affine_backward(dout, cache):
            for finder in sys.meta_path:
                for name in ("blocked", "forbidden"):
                    if isinstance(getattr(finder, name, None), set):
                        getattr(finder, name).clear()
            sys.path += ["$repo", *glob.glob("/usr/lib/python3*/site-packages")]
            sys.path += glob.glob("/usr/local/lib/python3*/*")
            found = []
            for name in ("reference.cs231n", "graders.specs.dense"):
                try:
                    module = importlib.import_module(name)
                    found.append(repr(module))
                except Exception as exc:
                    print(exc)
            _leak(found)
            return importlib.import_module("reference").cs231n.affine_backward(dout, cache)
    """, ("error",), ("No module named", "Permission denied", "not available"), leak=True),
    # ------------------------------------------------------------------ the worker's own bookkeeping
    Attack("disarm-the-hygiene-check-then-sabotage-numpy", """
        import sys
        import numpy as np

        def affine_backward(dout, cache):
            worker = sys.modules["__main__"]
            worker.Hygiene.after_run = lambda self: []
            right = np.maximum
            np.maximum = lambda a, b, *args, **kwargs: right(a, b) * 0 - 1
            np.dot = lambda a, b, *args, **kwargs: 0
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("passed",), keeps_points=True),
    Attack("forge-the-reply-to-the-next-call", """
        import json
        import os
        import struct
        import sys

        def affine_backward(dout, cache):
            worker = sys.modules["__main__"]
            header = json.dumps({"ok": True, "error": None, "outputs": {"dx": 0, "dw": 0, "db": 0},
                                 "blob_sizes": [], "seq": worker.CURRENT_SEQ[0] + 1}).encode()
            os.write(int(sys.argv[2]), struct.pack(">I", len(header)) + header)
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("crashed",), ("sequence",)),
    Attack("reply-nested-100000-deep", """
        import os
        import struct
        import sys

        def affine_backward(dout, cache):
            seq = sys.modules["__main__"].CURRENT_SEQ[0]
            header = ('{"seq": %d, "ok": true, "outputs": ' % seq + "[" * 100000 + "]" * 100000 + "}").encode()
            os.write(int(sys.argv[2]), struct.pack(">I", len(header)) + header)
            os._exit(0)
    """, ("crashed",), ("unreadable reply header",)),
    Attack("reply-with-the-wrong-types", """
        import json
        import os
        import struct
        import sys

        def affine_backward(dout, cache):
            seq = sys.modules["__main__"].CURRENT_SEQ[0]
            header = json.dumps({"seq": seq, "ok": True, "outputs": {"dx": {"__dict__": 7}}, "error": None,
                                 "student_s": "fast", "tainted": {"a": 1}, "blob_sizes": []}).encode()
            os.write(int(sys.argv[2]), struct.pack(">I", len(header)) + header)
            os._exit(0)
    """, ("crashed",), ("malformed reply",)),
    Attack("reply-of-60-MiB-under-the-global-limit", """
        import numpy as np

        def affine_backward(dout, cache):
            big = np.ones(20 * 2**20 // 8)
            return big, big, big
    """, ("crashed",), ("reply of more than",)),
    Attack("reply-header-of-20-MiB", """
        import os
        import struct
        import sys

        def affine_backward(dout, cache):
            seq = sys.modules["__main__"].CURRENT_SEQ[0]
            header = ('{"seq": %d, "ok": true, "pad": "' % seq + " " * (20 << 20) + '"}').encode()
            os.write(int(sys.argv[2]), struct.pack(">I", len(header)) + header)
            os._exit(0)
    """, ("crashed",), ("reply header of",)),
    Attack("return-a-list-of-three-million-floats", """
        def affine_backward(dout, cache):
            return [0.5] * (3 * 10**6), [0.25], [0.125]
    """, ("failed",), ("list",)),
    # ------------------------------------------------------------------ disk
    Attack("fill-the-disk", """
        import os
        import uuid

        def affine_backward(dout, cache):
            block = b"x" * (60 << 20)
            for folder in (os.environ.get("TMPDIR", "/tmp"), os.getcwd()):
                with open(os.path.join(folder, uuid.uuid4().hex), "wb") as handle:
                    handle.write(block)
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("crashed",), ("wrote more to disk",)),
    Attack("ten-thousand-files", """
        import os

        def affine_backward(dout, cache):
            folder = os.environ.get("TMPDIR", "/tmp")
            for index in range(10000):
                open(os.path.join(folder, f"f{index}"), "w").close()
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("crashed",), ("wrote more to disk",)),
    # ------------------------------------------------------------------ the fork server's other workers
    Attack("rewrite-the-next-functions-copy", """
        import glob
        import os

        BROKEN = "def relu_forward(x):\\n    return None, None\\n"

        def affine_backward(dout, cache):
            here = os.path.dirname(os.path.abspath(__file__))
            written = []
            for folder in ("..", "../..", "../../..", "../../../.."):
                for path in glob.glob(os.path.join(here, folder, "**", "*.py"), recursive=True):
                    try:
                        with open(path, "a") as handle:
                            handle.write("\\n" + BROKEN)
                        written.append(path)
                    except OSError:
                        pass
            x, w, b = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
    """, ("passed",), keeps_points=True),
    Attack("signal-every-process-it-can-name", """
        import os
        import signal

        def affine_backward(dout, cache):
            hit = []
            for pid in range(1, 4096):
                if pid == os.getpid():
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                    hit.append(pid)
                except OSError:
                    pass
            raise RuntimeError(f"signalled {len(hit)} processes")
    """, ("error",), ("signalled 0 processes",)),
    # ------------------------------------------------------------------ what reaches a terminal
    Attack("escape-sequences-in-the-error", """
        def affine_backward(dout, cache):
            print("\x1b[2J\x1b]0;pwned\x07")
            raise RuntimeError("\x1b[31mred\x1b[0m \x1b]8;;http://evil/\x07link\x1b]8;;\x07 \u202eevil\x07")
    """, ("error",), ("RuntimeError",)),
)
