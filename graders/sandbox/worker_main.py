"""The sandbox worker: runs student code on request, in its own process.

This file is copied into the worker's private directory and run as a script (``python -I worker_main.py``):
it imports nothing of nngrade, so the student's process has no handle on the grader, the reference or the
hidden cases. It speaks a framed protocol over two inherited pipe file descriptors (never stdout, which belongs
to the student's prints and goes to a capped log):

  frame   := u32 header_length, header (JSON, UTF-8), then the blobs whose byte lengths the header lists
  request := {"op": "hello" | "load" | "run" | "bye", ...}
  reply   := {"ok": bool, ...}

Arrays travel as ``.npy`` bytes (``allow_pickle=False`` both ways); every other value is JSON. Objects the
student returns that are neither (caches, layer instances) stay here, referenced by the program's step ids.

The interpreter (``Interpreter``) is also importable in-process, for tests that run a NumPy implementation
through a spec's program without a subprocess.
"""

from __future__ import annotations

import importlib
import importlib.abc
import io
import json
import os
import struct
import sys
import time
import traceback
from typing import Any

import numpy as np

HEADER = struct.Struct(">I")
MAX_REPR = 200


# ------------------------------------------------------------------ encoding
class Encoder:
    """Turns a value into JSON plus ``.npy`` blobs; anything else becomes a described placeholder."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def array(self, value: np.ndarray) -> dict[str, Any]:
        if value.dtype.kind not in "biuf" or value.dtype.fields is not None or value.dtype.subdtype is not None:
            return {"__obj__": "ndarray", "repr": f"array of dtype {value.dtype} and shape {value.shape}"}
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        self.blobs.append(buffer.getvalue())
        return {"__nd__": len(self.blobs) - 1}

    def opaque(self, value: Any) -> dict[str, Any]:
        try:
            text = repr(value)
        except Exception:  # a hostile __repr__ must not break the reply
            text = "<unrepresentable>"
        return {"__obj__": type(value).__name__, "repr": text[:MAX_REPR]}

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return self.opaque(value)
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            return value if abs(value) < 2**53 else float(value)
        if type(value) is float:
            if value != value or value in (float("inf"), float("-inf")):
                return {"__float__": repr(value)}
            return value
        if type(value) is np.ndarray:
            return self.array(value)
        if isinstance(value, np.generic) and type(value).__module__ == "numpy":
            return self.array(np.asarray(value))
        if type(value) is tuple:
            return {"__tuple__": [self.encode(v, depth + 1) for v in value]}
        if type(value) is list:
            return [self.encode(v, depth + 1) for v in value]
        if type(value) is dict and all(type(k) is str for k in value):
            return {"__dict__": {k: self.encode(v, depth + 1) for k, v in value.items()}}
        return self.opaque(value)


def decode(node: Any, blobs: list[bytes]) -> Any:
    """Inverse of Encoder.encode for the parent's (trusted) data."""
    if isinstance(node, list):
        return [decode(v, blobs) for v in node]
    if isinstance(node, dict):
        if "__nd__" in node:
            return np.load(io.BytesIO(blobs[node["__nd__"]]), allow_pickle=False)
        if "__tuple__" in node:
            return tuple(decode(v, blobs) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: decode(v, blobs) for k, v in node["__dict__"].items()}
        if "__float__" in node:
            return float(node["__float__"])
        raise ValueError(f"unknown node {sorted(node)}")
    return node


# ------------------------------------------------------------------ interpreter
class StepError(Exception):
    def __init__(self, step: str, error: BaseException, where: str) -> None:
        super().__init__(f"{step}: {type(error).__name__}: {error}")
        self.step = step
        self.error = error
        self.where = where
        self.partial: dict[str, Any] = {}


#: Folder prefixes replaced by "" in tracebacks, so reports name files relative to the submission and do not
#: depend on this worker's temporary path (the same submission must give the same report).
HIDDEN_PREFIXES: list[str] = []


def relative_paths(text: str) -> str:
    for prefix in HIDDEN_PREFIXES:
        text = text.replace(prefix.rstrip("/") + "/", "")
    return text


def student_traceback(error: BaseException) -> str:
    """The traceback without the worker's or importlib's frames, so the student sees only their code."""
    frames = [
        f for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.endswith("worker_main.py") and not f.filename.startswith("<frozen")
    ]
    lines = traceback.format_list(frames[-6:])
    lines += traceback.format_exception_only(type(error), error)
    return relative_paths("".join(lines))[-4000:]


class OutputError(Exception):
    """A value the program asked for could not be taken from what the student returned."""


class Interpreter:
    """Evaluates a program (see graders/specs/program.py) against a dict of modules."""

    def __init__(self, modules: dict[str, Any]) -> None:
        self.modules = modules
        self.student_s = 0.0

    def run(self, program: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        env: dict[str, Any] = {"input": inputs, "result": {}}
        try:
            for step in program["steps"]:
                if step["op"] == "call":
                    self.call(step, env)
                else:
                    target = self.eval(step["target"], env)
                    target[...] = self.eval(step["value"], env)
        except StepError as exc:
            # Keep what the steps before the failure produced (a forward's output when the backward raised),
            # so the checks that depend only on those still get their credit.
            exc.partial = self.completed_outputs(program, env)
            raise
        outputs = {}
        for name, expr in program["outputs"].items():
            try:
                outputs[name] = self.eval(expr, env)
            except Exception as exc:
                raise OutputError(f"{name} could not be read from what was returned: {self.explain(expr, env, exc)}") from None
        return outputs

    def completed_outputs(self, program: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
        outputs = {}
        for name, expr in program["outputs"].items():
            try:
                outputs[name] = self.eval(expr, env)
            except Exception:
                continue
        return outputs

    def explain(self, expr: dict[str, Any], env: dict[str, Any], error: Exception) -> str:
        """Say what the student returned where an item or attribute was expected (e.g. None instead of a tuple)."""
        if expr["e"] in ("item", "attr", "slice"):
            try:
                inner = self.eval(expr["of"], env)
            except Exception as exc:
                return self.explain(expr["of"], env, exc)
            what = "None" if inner is None else f"a {type(inner).__name__}"
            if isinstance(inner, (tuple, list)):
                what += f" of length {len(inner)}"
            wanted = {"item": f"item {expr.get('key')!r}", "attr": f"attribute {expr.get('name')!r}",
                      "slice": "a slice"}[expr["e"]]
            return f"expected something with {wanted}, got {what}"
        return f"{type(error).__name__}: {error}"

    def call(self, step: dict[str, Any], env: dict[str, Any]) -> None:
        try:
            fn = self.eval(step["fn"], env)
            args = [self.eval(a, env) for a in step["args"]]
            kwargs = {k: self.eval(v, env) for k, v in step["kwargs"].items()}
        except StepError:
            raise
        except Exception as exc:
            raise StepError(step["id"], exc, student_traceback(exc)) from None
        start = time.perf_counter()
        try:
            env["result"][step["id"]] = fn(*args, **kwargs)
        except Exception as exc:
            raise StepError(step["id"], exc, student_traceback(exc)) from None
        finally:
            self.student_s += time.perf_counter() - start

    def eval(self, expr: dict[str, Any], env: dict[str, Any]) -> Any:
        kind = expr["e"]
        if kind == "input":
            return env["input"][expr["name"]]
        if kind == "const":
            return expr["value"]
        if kind == "result":
            return env["result"][expr["step"]]
        if kind == "func":
            module = self.modules.get(expr["module"])
            if module is None:
                raise LookupError(f"module {expr['module']!r} was not found in the submission")
            if not hasattr(module, expr["name"]):
                raise LookupError(f"{expr['module']}.{expr['name']} is not defined")
            return getattr(module, expr["name"])
        if kind == "item":
            return self.eval(expr["of"], env)[expr["key"]]
        if kind == "attr":
            return getattr(self.eval(expr["of"], env), expr["name"])
        if kind == "slice":
            return self.eval(expr["of"], env)[expr["start"]:expr["stop"]]
        raise ValueError(f"unknown expression {kind!r}")


# ------------------------------------------------------------------ imports
class ImportGate(importlib.abc.MetaPathFinder):
    """Refuses the grader's own packages always, and forbidden libraries (e.g. torch) when the assignment
    says so, recording each attempt so the parent can give the function the status ``forbidden``."""

    def __init__(self, blocked: set[str], forbidden: set[str]) -> None:
        self.blocked = blocked
        self.forbidden = forbidden
        self.attempts: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        top = fullname.partition(".")[0]
        if top in self.forbidden:
            self.attempts.append(fullname)
            raise ImportError(f"import of {fullname!r} is not allowed in this assignment (NumPy only)")
        if top in self.blocked:
            raise ImportError(f"No module named {fullname!r}")
        return None


def load_modules(request: dict[str, Any], gate: ImportGate) -> tuple[dict[str, Any], dict[str, Any]]:
    """Import each student module by its dotted name, with the submission's folders on sys.path."""
    for entry in reversed(request["sys_path"]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    loaded: dict[str, Any] = {}
    report: dict[str, Any] = {}
    HIDDEN_PREFIXES[:] = list(request.get("relative_to", []))
    for key, dotted in request["modules"].items():
        start = time.perf_counter()
        attempts_before = len(gate.attempts)
        try:
            module = importlib.import_module(dotted)
        except BaseException as exc:  # SystemExit at import time is the student's error, not ours
            report[key] = {"ok": False, "error": student_traceback(exc), "type": type(exc).__name__,
                           "forbidden": gate.attempts[attempts_before:]}
            continue
        loaded[key] = module
        names = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None)))
        report[key] = {"ok": True, "names": names, "seconds": time.perf_counter() - start,
                       "forbidden": gate.attempts[attempts_before:]}
    return loaded, report


# ------------------------------------------------------------------ protocol
def read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> tuple[dict[str, Any], list[bytes]]:
    (length,) = HEADER.unpack(read_exact(fd, HEADER.size))
    header = json.loads(read_exact(fd, length))
    blobs = [read_exact(fd, n) for n in header.get("blob_sizes", [])]
    return header, blobs


def send(fd: int, header: dict[str, Any], blobs: list[bytes]) -> None:
    header = dict(header, blob_sizes=[len(b) for b in blobs])
    data = json.dumps(header).encode()
    os.write(fd, HEADER.pack(len(data)))
    for part in (data, *blobs):
        view = memoryview(part)
        while view:
            written = os.write(fd, view)
            view = view[written:]


def serve(in_fd: int, out_fd: int) -> None:
    modules: dict[str, Any] = {}
    gate = ImportGate(blocked={"reference", "graders"}, forbidden=set())
    sys.meta_path.insert(0, gate)
    while True:
        try:
            request, blobs = receive(in_fd)
        except EOFError:
            return
        op = request["op"]
        if op == "bye":
            send(out_fd, {"ok": True}, [])
            return
        if op == "hello":
            send(out_fd, {"ok": True, "python": sys.version.split()[0], "numpy": np.__version__}, [])
        elif op == "load":
            gate.forbidden = set(request.get("forbidden", []))
            for prefix in request.get("hide_paths", []):
                sys.path[:] = [p for p in sys.path if not os.path.abspath(p or ".").startswith(prefix)]
            modules, report = load_modules(request, gate)
            send(out_fd, {"ok": True, "modules": report, "forbidden": gate.attempts}, [])
        elif op == "run":
            handle_run(out_fd, request, blobs, modules, gate)
        else:
            send(out_fd, {"ok": False, "error": f"unknown op {op!r}"}, [])


def handle_run(out_fd: int, request: dict[str, Any], blobs: list[bytes], modules: dict[str, Any], gate: ImportGate) -> None:
    inputs = {name: decode(node, blobs) for name, node in request["inputs"].items()}
    interpreter = Interpreter(modules)
    attempts_before = len(gate.attempts)
    encoder = Encoder()
    reply: dict[str, Any] = {"ok": True, "error": None}
    try:
        outputs = interpreter.run(request["program"], inputs)
        reply["outputs"] = encoder.encode(outputs)["__dict__"]
    except StepError as exc:
        reply["error"] = {"step": exc.step, "type": type(exc.error).__name__, "message": str(exc.error)[:2000],
                          "traceback": exc.where}
        reply["outputs"] = encoder.encode(exc.partial)["__dict__"]
    except OutputError as exc:  # e.g. the student returned None where the hand-out says (out, cache)
        reply["error"] = {"step": "outputs", "type": "OutputError", "message": str(exc)[:2000], "traceback": ""}
    except Exception as exc:  # an Assign step failing, for instance
        reply["error"] = {"step": "program", "type": type(exc).__name__, "message": str(exc)[:2000],
                          "traceback": student_traceback(exc)}
    if request.get("return_inputs"):
        reply["inputs_after"] = encoder.encode({k: inputs[k] for k in request["return_inputs"] if k in inputs})
    reply["student_s"] = interpreter.student_s
    reply["forbidden"] = gate.attempts[attempts_before:]
    send(out_fd, reply, encoder.blobs)


def main() -> None:
    in_fd, out_fd = int(sys.argv[1]), int(sys.argv[2])
    serve(in_fd, out_fd)


if __name__ == "__main__":
    main()
