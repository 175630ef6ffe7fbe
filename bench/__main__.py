"""Benchmarks, measured as ratios against a baseline in the same run (``python -m bench [names...]``).

  conv      reference fast conv forward+backward vs torch CPU, x (32,3,32,32), w (16,3,3,3), stride 1, pad 1
  pool      reference fast 2x2/2 max-pool forward+backward vs torch CPU on the conv's output shape
  naive     reference naive (loops) vs fast conv and pool on a smaller input
  mnist     loading all 70,000 MNIST images and labels from the gzip IDX files
  sandbox   worker start time, and one round trip of a trivial call through the sandbox
  sandbox-layers  the same with the isolation layers added one at a time (layer 0, Landlock, seccomp, uid, bwrap)
  grade     grading a complete correct cs231n-a2 submission: wall time, time inside student calls, overhead
  throughput  ``nngrade batch`` on a generated class of 40 submissions (quick profile) with 1 and 2 local
            workers: submissions per minute and the parallel efficiency (t1 / t2) / 2

Timings are the best of several repeats (``time.perf_counter``); the ratios are what to compare across machines.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console()


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def conv_and_pool() -> list[tuple[str, str]]:
    import torch
    import torch.nn.functional as F

    from reference import cs231n as R

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 32, 32))
    w = rng.standard_normal((16, 3, 3, 3))
    b = rng.standard_normal(16)
    param = {"stride": 1, "pad": 1}
    dout = rng.standard_normal((32, 16, 32, 32))

    def ours_conv() -> None:
        _, cache = R.conv_forward_fast(x, w, b, param)
        R.conv_backward_fast(dout, cache)

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdout = torch.tensor(dout)

    def torch_conv() -> None:
        out = F.conv2d(tx, tw, tb, stride=1, padding=1)
        out.backward(tdout)

    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    px = rng.standard_normal((32, 16, 32, 32))
    pdout = rng.standard_normal((32, 16, 16, 16))

    def ours_pool() -> None:
        _, cache = R.max_pool_forward_fast(px, pool_param)
        R.max_pool_backward_fast(pdout, cache)

    tpx = torch.tensor(px, requires_grad=True)
    tpdout = torch.tensor(pdout)

    def torch_pool() -> None:
        F.max_pool2d(tpx, 2, 2).backward(tpdout)

    conv_ours, conv_torch = best_of(ours_conv), best_of(torch_conv)
    pool_ours, pool_torch = best_of(ours_pool), best_of(torch_pool)
    return [
        (
            "conv fwd+bwd: reference fast / torch (float64, 1 thread)",
            f"{conv_ours * 1e3:.1f} ms / {conv_torch * 1e3:.1f} ms = {conv_ours / conv_torch:.2f}x",
        ),
        (
            "max-pool fwd+bwd: reference fast / torch",
            f"{pool_ours * 1e3:.1f} ms / {pool_torch * 1e3:.1f} ms = {pool_ours / pool_torch:.2f}x",
        ),
    ]


def naive_vs_fast() -> list[tuple[str, str]]:
    from reference import cs231n as R

    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 16, 16))
    w = rng.standard_normal((8, 3, 3, 3))
    b = rng.standard_normal(8)
    param = {"stride": 1, "pad": 1}
    dout = rng.standard_normal((4, 8, 16, 16))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pdout = rng.standard_normal((4, 3, 8, 8))

    def run(forward: Callable, backward: Callable, *args: object, grad: np.ndarray) -> Callable[[], None]:
        def go() -> None:
            _, cache = forward(*args)
            backward(grad, cache)

        return go

    conv_naive = best_of(
        run(R.conv_forward_naive, R.conv_backward_naive, x, w, b, param, grad=dout), repeat=3
    )
    conv_fast = best_of(run(R.conv_forward_fast, R.conv_backward_fast, x, w, b, param, grad=dout), repeat=3)
    pool_naive = best_of(
        run(R.max_pool_forward_naive, R.max_pool_backward_naive, x, pool_param, grad=pdout), repeat=3
    )
    pool_fast = best_of(
        run(R.max_pool_forward_fast, R.max_pool_backward_fast, x, pool_param, grad=pdout), repeat=3
    )
    return [
        (
            "conv fwd+bwd naive / fast, x (4,3,16,16), w (8,3,3,3)",
            f"{conv_naive * 1e3:.1f} ms / {conv_fast * 1e3:.2f} ms = {conv_naive / conv_fast:.0f}x",
        ),
        (
            "max-pool fwd+bwd naive / fast, 2x2 stride 2",
            f"{pool_naive * 1e3:.1f} ms / {pool_fast * 1e3:.2f} ms = {pool_naive / pool_fast:.0f}x",
        ),
    ]


def mnist() -> list[tuple[str, str]]:
    from reference.data.mnist import load_mnist

    data_dir = ROOT.parent / "shared" / "mnist"
    if not data_dir.exists():
        return [("MNIST load", f"skipped: {data_dir} not found")]
    raw = best_of(lambda: load_mnist(normalize=False, data_dir=data_dir), repeat=3)
    normalized = best_of(lambda: load_mnist(normalize=True, one_hot_label=True, data_dir=data_dir), repeat=3)
    return [
        ("MNIST load, 70,000 images (gzip IDX), uint8", f"{raw * 1e3:.0f} ms"),
        ("MNIST load, normalize + one-hot", f"{normalized * 1e3:.0f} ms"),
    ]


def sandbox() -> list[tuple[str, str]]:
    import tempfile

    from graders.sandbox.process import Worker
    from graders.sandbox.wire import encode_value
    from graders.specs.program import Const, Program, Result, call, to_json

    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o711)  # reachable by the worker's own uid (layer 2)
        (workdir / "submission").mkdir()
        (workdir / "submission" / "tiny.py").write_text("def f(x):\n    return x\n")
        starts = []
        for _ in range(5):
            worker = Worker(workdir)
            start = time.perf_counter()
            worker.start()
            starts.append(time.perf_counter() - start)
            worker.stop()
        worker = Worker(workdir)
        worker.start()
        worker.request(
            {"op": "load", "sys_path": [str(workdir / "submission")], "modules": {"m": "tiny"}}, []
        )
        program = to_json(Program(steps=(call("s", "m", "f", Const(1)),), outputs={"y": Result("s")}))
        blobs: list[bytes] = []
        inputs = encode_value({"x": np.zeros((4, 4))}, blobs)["__dict__"]

        def round_trip() -> None:
            worker.request({"op": "run", "program": program, "inputs": inputs}, blobs)

        per_call = best_of(round_trip, repeat=5, number=200)
        worker.stop()
    return [
        ("sandbox worker start (python -I + numpy import)", f"{min(starts) * 1e3:.0f} ms (best of 5)"),
        ("sandbox round trip of a trivial call", f"{per_call * 1e3:.2f} ms"),
    ]


def sandbox_layers() -> list[tuple[str, str]]:
    """Worker start and round trip with the isolation layers added one at a time (graders/sandbox/layers.py)."""
    import dataclasses
    import os
    import tempfile

    from graders.sandbox import layers
    from graders.sandbox.process import Worker
    from graders.sandbox.wire import encode_value
    from graders.specs.program import Const, Program, Result, call, to_json

    full = layers.plan()
    bare = dataclasses.replace(full, landlock=False, seccomp=False, uid=False, bwrap=None)
    steps = [("layer 0 only", bare)]
    if full.landlock:
        steps.append(("+ landlock", dataclasses.replace(bare, landlock=True)))
    if full.seccomp:
        steps.append(("+ seccomp", dataclasses.replace(steps[-1][1], seccomp=True)))
    if full.uid:
        steps.append(("+ own uid", dataclasses.replace(steps[-1][1], uid=True)))
    if full.bwrap:
        steps.append(("+ bwrap (all layers)", full))
    program = to_json(Program(steps=(call("s", "m", "f", Const(1)),), outputs={"y": Result("s")}))
    blobs: list[bytes] = []
    inputs = encode_value({"x": np.zeros((4, 4))}, blobs)["__dict__"]
    rows = [("worker interpreter for these figures", f"{full.python} (NumPy {full.numpy})")]
    for label, plan in steps:
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            workdir = Path(tmp)
            os.chmod(workdir, 0o711)
            (workdir / "submission").mkdir()
            (workdir / "submission" / "tiny.py").write_text("def f(x):\n    return x\n")
            starts = []
            for _ in range(5):
                worker = Worker(workdir, plan=plan)
                start = time.perf_counter()
                worker.start()
                starts.append(time.perf_counter() - start)
                worker.stop()
            worker = Worker(workdir, plan=plan)
            worker.start()
            worker.request({"op": "load", "sys_path": [str(workdir / "submission")], "modules": {"m": "tiny"}}, [])

            def round_trip(worker: Worker = worker) -> None:
                worker.request({"op": "run", "program": program, "inputs": inputs}, blobs)

            per_call = best_of(round_trip, repeat=5, number=200)
            worker.stop()
        rows.append((f"sandbox {label}: worker start / round trip",
                     f"{min(starts) * 1e3:.0f} ms / {per_call * 1e3:.2f} ms"))
    return rows


#: Warm grading runs per lane count and profile (the best is shown).
WARM_REPEATS = 4


def grade_example() -> list[tuple[str, str]]:
    """One complete cs231n-a2 submission per profile, with the case bank cold (built during the run, in a fresh
    folder) and warm (replayed): wall time, time inside the student's calls, and the harness's overhead as a
    ratio of the student's time. Both example submissions: the looped one spends real time in its own code.

    Warm runs are timed with the default lanes (two functions graded at once on a machine with two cores) and
    with one lane, alternating, the best of WARM_REPEATS each (the machine's load moves). The student's time is
    taken from the best one-lane run: with two lanes the student's calls wait for a core now and then, which
    would inflate their time and flatter the ratio."""
    import tempfile

    from graders import assignment
    from graders.examples import discover
    from graders.grade import PROFILES, GradeOptions, grade, resolved_lanes

    cs231n = assignment.load("cs231n-a2")
    lanes = resolved_lanes(None)
    rows: list[tuple[str, str]] = [("lanes (functions graded at once) by default on this machine", str(lanes))]
    for name in ("cs231n-correct-loops", "cs231n-correct-vectorised"):
        example = next((e for e in discover() if e.name == name), None)
        if example is None:
            rows.append((f"grade {name}", "skipped: no such example"))
            continue
        for profile in PROFILES:
            with tempfile.TemporaryDirectory(prefix="nngrade-bench-bank-") as scratch:
                # inside the folder removed afterwards, with hypothesis's own folder that goes beside it
                os.environ["NNGRADE_CASE_BANK"] = os.path.join(scratch, "bank")
                runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
                for label, lane_count in (("cold", lanes), *[("warm", lanes), ("warm", 1)] * WARM_REPEATS):
                    report = grade(example.submission, cs231n,
                                   GradeOptions(seed=0, profile=profile, lanes=lane_count))
                    runs.setdefault((label, lane_count), []).append(
                        (report["duration_s"], sum(f["student_s"] for f in report["functions"])))
                os.environ.pop("NNGRADE_CASE_BANK")
            cold = runs["cold", lanes][0]
            warm = min(runs["warm", lanes])
            alone = min(runs["warm", 1])
            student = alone[1]
            rows.append((f"grade {name}, {profile}: wall cold / warm bank / warm, one lane",
                         f"{cold[0]:.2f} s / {warm[0]:.2f} s / {alone[0]:.2f} s"))
            rows.append(("  inside student calls (one lane) / overhead ratio (wall warm - student) / student",
                         f"{student:.2f} s / {(warm[0] - student) / max(student, 1e-9):.1f}"))
    return rows


THROUGHPUT_CLASS_SIZE = 40


def make_class(root: Path, size: int) -> Path:
    """A class of ``size`` submissions: the example submissions in turn, each folder copy with its sources
    varied by a comment naming the student, so every entry has its own content hash."""
    from graders.examples import discover

    examples = [e for e in discover() if e.assignment == "cs231n-a2"]
    class_dir = root / "class"
    class_dir.mkdir()
    for index in range(size):
        example = examples[index % len(examples)]
        name = f"student{index:03d}-{example.name}"
        if example.submission.is_dir():
            target = class_dir / name
            shutil.copytree(example.submission, target)
            for source in sorted(target.rglob("*.py")):
                source.write_text(source.read_text() + f"\n# handed in by student {index}\n")
        else:
            shutil.copyfile(example.submission, class_dir / (name + example.submission.suffix))
    return class_dir


def _busy_cpu_s() -> float:
    """CPU seconds every process on the machine has used since boot (Linux /proc/stat), 0 elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def throughput() -> list[tuple[str, str]]:
    """Wall time of ``nngrade batch`` with 1 and 2 local workers, and what explains it: the time per entry
    (grows when the two workers slow each other down), how busy the workers were kept (sum of per-entry task
    times / (jobs x wall): what startup, the last entry's tail and the class summary cost), and how busy the
    whole machine was. On a shared machine other users' jobs take cores from the 2-job run and the efficiency
    says nothing about nngrade: run ``nice -n -15 python -m bench throughput`` (as root) there."""
    import tempfile

    from graders.batch import BatchOptions, LocalExecutor, run_batch
    from graders.batch.progress import make_progress
    from graders.batch.store import OutputStore

    rows = []
    with tempfile.TemporaryDirectory(prefix="nngrade-bench-") as tmp:
        class_dir = make_class(Path(tmp), THROUGHPUT_CLASS_SIZE)
        walls = {}
        for bank_state in ("cold", "warm"):
            if bank_state == "cold":
                os.environ["NNGRADE_CASE_BANK"] = str(Path(tmp) / "bank")
            for jobs in (1, 2):
                out = Path(tmp) / f"out-{bank_state}-{jobs}"
                if bank_state == "cold":
                    shutil.rmtree(Path(tmp) / "bank", ignore_errors=True)
                options = BatchOptions(profile="quick", jobs=jobs)
                machine_before = _busy_cpu_s()
                start = time.perf_counter()
                with LocalExecutor(jobs) as executor:
                    result = run_batch(class_dir, out, options, executor=executor,
                                       progress=make_progress(quiet=True))
                walls[bank_state, jobs] = wall = time.perf_counter() - start
                machine = (_busy_cpu_s() - machine_before) / wall
                if result.failed:
                    raise SystemExit(f"throughput: entries failed: {result.failed}")
                tasks = [float((OutputStore(out).manifest(o.entry) or {}).get("duration_s", 0.0))
                         for o in result.outcomes]
                rows += [
                    (
                        f"batch of {THROUGHPUT_CLASS_SIZE} submissions (quick), --jobs {jobs}, bank {bank_state}",
                        f"{wall:.1f} s = {THROUGHPUT_CLASS_SIZE / wall * 60:.1f} submissions/min",
                    ),
                    (
                        "  per entry (task time) / workers kept busy / machine cores in use",
                        f"{sum(tasks) / len(tasks):.2f} s / {sum(tasks) / (jobs * wall):.0%} / {machine:.2f} of "
                        f"{os.cpu_count()}",
                    ),
                ]
        os.environ.pop("NNGRADE_CASE_BANK", None)
        books = {key: (Path(tmp) / f"out-{key[0]}-{key[1]}" / "gradebook.csv").read_text(encoding="utf-8-sig")
                 for key in walls}
        same = len(set(books.values())) == 1
        rows.append(("parallel efficiency on 2 jobs, warm bank, (t1 / t2) / 2",
                     f"{walls['warm', 1] / walls['warm', 2] / 2:.0%}"))
        rows.append(("gradebook identical for --jobs 1 and 2, bank cold and warm", "yes" if same else "NO"))
    return rows


BENCHES: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "conv": conv_and_pool,
    "naive": naive_vs_fast,
    "mnist": mnist,
    "sandbox": sandbox,
    "sandbox-layers": sandbox_layers,
    "grade": grade_example,
    "throughput": throughput,
}


def main(argv: list[str]) -> None:
    chosen = argv or list(BENCHES)
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")
    table = Table("measurement", "result", title="nngrade benchmarks")
    for name in chosen:
        for label, value in BENCHES[name]():
            table.add_row(label, value)
    console.print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
