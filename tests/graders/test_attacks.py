"""The standing attack suite: one hostile function per submission, the others correct (attacks/catalog.py).

Every attack must leave the grader alive; score 0 for the attacking function, with a status and a message that
say what happened; full marks for the others; the canary secret in the grader's environment and the canary
hidden file unread; nothing written outside the worker's own folders; no process of the worker left; and the
report on disk the grader's own, byte for byte.

The suite grades in strict mode where this machine offers every layer (there, strict and default use the same
layers: strict adds the guarantee that none is missing), and in default mode elsewhere;
``NNGRADE_ATTACK_MODE`` forces one. The report records which layers were active.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from graders.assignment import Assignment
from graders.grade import GradeOptions, grade
from graders.report import render_reports, write_reports
from graders.sandbox import layers
from graders.sandbox.process import Limits
from tests.graders.attacks.catalog import ATTACKS, GOOD_UTILS, Attack
from tests.graders.conftest import CORRECT_VECTORISED, by_name, full_marks, with_override, worker_pids, write_tree

REPO = Path(__file__).resolve().parents[2]
CANARY_VARIABLE = "NNGRADE_ATTACK_CANARY"


def attack_mode() -> str:
    forced = os.environ.get("NNGRADE_ATTACK_MODE")
    if forced:
        return forced
    try:
        layers.plan(None, "strict")
    except layers.SandboxUnavailable:
        return "default"
    return "strict"


MODE = attack_mode()
LIMITS = Limits(call_timeout_s=2.5, start_timeout_s=30.0, memory_bytes=512 << 20)


@dataclass
class Scene:
    """What an attacker aims at, and what the test checks afterwards."""

    root: Path
    canary: str
    mark: str
    hidden_file: Path
    out_dir: Path
    grader_tmp: Path
    tcp: socket.socket
    udp: socket.socket

    def fields(self) -> dict[str, str]:
        return {
            "parent_pid": str(os.getpid()), "canary": self.canary, "mark": self.mark,
            "hidden_file": str(self.hidden_file), "hidden_dir": str(self.hidden_file.parent),
            "out_dir": str(self.out_dir), "tmp_root": str(self.root), "repo": str(REPO),
            "reference_file": str(REPO / "reference" / "__init__.py"),
            "tcp_port": str(self.tcp.getsockname()[1]), "udp_port": str(self.udp.getsockname()[1]),
        }

    def files(self) -> dict[str, tuple[int, int]]:
        """Every file under the test's folder (the grader's private temporary folder excluded)."""
        found = {}
        for path in self.root.rglob("*"):
            if path.is_file() and self.grader_tmp not in path.parents:
                info = path.stat()
                found[str(path)] = (info.st_size, info.st_mtime_ns)
        return found


@pytest.fixture()
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    canary = "canary-" + secrets.token_hex(12)
    monkeypatch.setenv(CANARY_VARIABLE, canary)
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    (hidden / "cases.json").write_text(json.dumps({"expected": canary}))
    grader_tmp = tmp_path / "grader-tmp"
    grader_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(grader_tmp))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    try:
        yield Scene(tmp_path, canary, "pwned-" + secrets.token_hex(6), hidden / "cases.json", tmp_path / "out",
                    grader_tmp, tcp, udp)
    finally:
        tcp.close()
        udp.close()


def submission(scene: Scene, attack: Attack) -> Path:
    code = string.Template(attack.code()).substitute(scene.fields())
    if attack.module == "utils":
        files = {"cs231n/layers.py": CORRECT_VECTORISED, "cs231n/utils.py": code}
    else:
        files = {"cs231n/layers.py": with_override(CORRECT_VECTORISED, code), "cs231n/utils.py": GOOD_UTILS}
    return write_tree(scene.root / "sub", files)


def messages(entry: dict[str, Any]) -> str:
    return "\n".join([c["message"] for c in entry["checks"]] + entry["diagnosis"] + entry["warnings"])


#: Bytes that would drive a terminal (ESC, BEL, CSI) or reorder text (bidi overrides) if a report passed them on.
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def assert_nothing_escaped(scene: Scene, report: dict[str, Any], before: dict[str, tuple[int, int]]) -> None:
    text = json.dumps(report)
    assert scene.canary not in text, "the canary secret reached the report"
    assert "LEAK" not in text, "the attack found something it reported"
    assert json.loads(scene.hidden_file.read_text()) == {"expected": scene.canary}, "the hidden file changed"
    assert scene.files() == before, "files outside the worker's folders were written, changed or removed"
    for folder in (Path("/tmp"), Path("/"), REPO, scene.root, scene.out_dir, Path.home()):
        assert not list(folder.glob(f"{scene.mark}*")), f"the attack wrote into {folder}"
    for name in ("report.json", "results.json"):
        assert not (REPO / name).exists() and not (scene.root / name).exists()
    with pytest.raises(BlockingIOError):
        scene.tcp.accept()
    with pytest.raises(BlockingIOError):
        scene.udp.recv(64)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_costs_only_the_attacking_function(scene: Scene, two_module_assignment: Assignment,
                                                  leftover_killer: list[int], attack: Attack) -> None:
    root = submission(scene, attack)
    before = scene.files()
    options = GradeOptions(seed=0, profile="quick", limits=LIMITS, sandbox=MODE)
    report = grade(root, two_module_assignment, options)
    leftover_killer.extend(worker_pids(str(scene.grader_tmp)))
    assert leftover_killer == [], "worker processes outlived grading"
    assert os.getppid() > 0  # the grader (this process) is alive and still has its parent

    functions = by_name(report)
    hit = functions[attack.target]
    if not attack.keeps_points:
        assert hit["score"] == 0.0, (hit["status"], messages(hit))
    assert hit["status"] in attack.statuses, (hit["status"], messages(hit))
    if hit["status"] == attack.statuses[0] and attack.words:
        assert any(w.lower() in messages(hit).lower() for w in attack.words), messages(hit)
    for name, entry in functions.items():
        if name != attack.target:
            assert full_marks(entry), (name, entry["status"], messages(entry))

    assert_nothing_escaped(scene, report, before)
    assert report["sandbox"]["mode"] == MODE
    if {"landlock", "seccomp"} <= set(report["sandbox"]["layers"]):  # the workers were forked by a server
        assert report["sandbox"]["fork_server"] is True
    assert list(scene.grader_tmp.iterdir()) == [], "the grader left temporary folders behind"
    paths = write_reports(report, scene.out_dir)
    assert paths["json"].read_bytes() == render_reports(report)["json"]
    assert json.loads(paths["json"].read_text())["score"] == report["score"]
    for path in paths.values():
        text = path.read_bytes().decode("utf-8")
        assert not any(c in text for c in TERMINAL_CONTROLS), f"a control character reached {path.name}"
