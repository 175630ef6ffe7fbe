"""write_reports: every file written, byte-for-byte reproducible, atomic, nothing half-written on failure."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import graders.report.write as write_module
from graders.report import REPORT_FILES, render_reports, write_reports
from graders.report.jsonsafe import json_safe
from graders.report.samples import make_report, passed_function, sample_report

EXPECTED_NAMES = {"report.json", "report.md", "report.html", "results.json", "junit.xml"}


def test_every_file_is_written_and_returned(tmp_path: Path) -> None:
    paths = write_reports(sample_report(), tmp_path / "out" / "alice")
    assert set(paths) == {"json", "md", "html", "gradescope", "junit"}
    assert {path.name for path in paths.values()} == EXPECTED_NAMES
    assert {path.name for path in (tmp_path / "out" / "alice").iterdir()} == EXPECTED_NAMES
    for path in paths.values():
        assert path.stat().st_size > 0
        assert path.read_bytes().endswith(b"\n")


def test_writing_twice_gives_identical_bytes_for_every_file(tmp_path: Path) -> None:
    first = write_reports(sample_report(), tmp_path / "a")
    first_bytes = {key: path.read_bytes() for key, path in first.items()}
    second = write_reports(sample_report(), tmp_path / "b")
    again = write_reports(sample_report(), tmp_path / "a")
    for key in first:
        assert second[key].read_bytes() == first_bytes[key], key
        assert again[key].read_bytes() == first_bytes[key], key


def test_report_json_round_trips(tmp_path: Path) -> None:
    report = make_report([passed_function()], warnings=["naïve ∑ 日本", "ctrl \x00\x1b"])
    loaded = json.loads(write_reports(report, tmp_path)["json"].read_text(encoding="utf-8"))
    assert loaded == report


def test_report_json_round_trips_modulo_non_finite_replacement(tmp_path: Path) -> None:
    report = sample_report()
    loaded = json.loads(write_reports(report, tmp_path)["json"].read_text(encoding="utf-8"))
    assert loaded == json_safe(report)
    hostile = loaded["functions"][-1]
    assert hostile["score"] == "nan"
    assert hostile["counterexample"]["inputs"]["x"] == ["inf", "-inf", "nan"]
    assert loaded["functions"][0] == report["functions"][0]


def test_numpy_values_in_the_report_are_accepted(tmp_path: Path) -> None:
    function = passed_function()
    function.update(score=np.float64(1.0), duration_s=np.float32(0.5), checks=[
        {"name": "out", "passed": np.bool_(True), "score": np.float64(1.0), "max_score": 1.0,
         "cases": np.int64(7), "message": "", "where": {"label": "d", "values": np.zeros((2, 3))}},
    ])
    report = make_report([function])
    report["seed"] = np.int64(231)
    loaded = json.loads(write_reports(report, tmp_path)["json"].read_text(encoding="utf-8"))
    assert loaded["seed"] == 231
    assert loaded["functions"][0]["checks"][0]["cases"] == 7
    assert loaded["functions"][0]["checks"][0]["where"]["values"] == [[0.0] * 3] * 2


def test_interrupted_replace_leaves_no_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="simulated"):
        write_reports(sample_report(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_the_previous_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = make_report([passed_function()])
    write_reports(old, tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    real_replace = os.replace

    def refuse_report_json(src: str, dst: str) -> None:
        if Path(dst).name == "report.json":
            raise OSError("killed (simulated)")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse_report_json)
    with pytest.raises(OSError, match="simulated"):
        write_reports(sample_report(), tmp_path)
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert set(after) == EXPECTED_NAMES  # no temporary files left behind
    assert after["report.json"] == before["report.json"]
    assert json.loads(after["report.json"]) == old


def test_a_rendering_failure_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(view: object) -> str:
        raise RuntimeError("template bug (simulated)")

    monkeypatch.setattr(write_module, "render_html", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        write_reports(sample_report(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_report_json_is_written_last() -> None:
    assert list(REPORT_FILES)[-1] == "json"


def test_render_reports_matches_the_written_files(tmp_path: Path) -> None:
    rendered = render_reports(sample_report())
    written = write_reports(sample_report(), tmp_path)
    assert {key: path.read_bytes() for key, path in written.items()} == rendered


def test_reports_are_readable_by_others(tmp_path: Path) -> None:
    for path in write_reports(make_report([passed_function()]), tmp_path).values():
        assert path.stat().st_mode & 0o444 == 0o444


def test_a_non_mapping_report_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mapping"):
        write_reports([1, 2], tmp_path)  # type: ignore[arg-type]


def test_templates_are_compiled_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report format rendered again, Gradescope's per-function Markdown included, compiles nothing again
    (each render compiled its templates anew: 0.27 s of every submission's grading) and gives the same bytes."""
    import jinja2

    from graders.report.gradescope import gradescope_results
    from graders.report.view import build_view

    report = sample_report()
    first = render_reports(report), gradescope_results(build_view(report), output_format="md")
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counting(self: jinja2.Environment, *args: object, **kwargs: object) -> object:
        compiled.append(str(kwargs.get("name") or (args[1] if len(args) > 1 else "?")))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    again = render_reports(report), gradescope_results(build_view(report), output_format="md")
    assert again == first and compiled == []
