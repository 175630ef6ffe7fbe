"""report.html: self-contained, escaped, heat maps exactly where a check carries a where-map."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from graders.report import write_reports
from graders.report.heatmap import heatmap_png
from graders.report.html import render_html
from graders.report.samples import (
    hostile_function,
    make_report,
    missing_function,
    partial_function_with_where,
    passed_function,
    sample_report,
)
from graders.report.view import build_view

DATA_PNG = '<img src="data:image/png;base64,'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def html_of(report: dict) -> str:
    return render_html(build_view(report))


def test_written_html_is_self_contained(tmp_path: Path) -> None:
    html = write_reports(sample_report(), tmp_path)["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert "@import" not in html and "url(" not in html
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', html))
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    assert "Content-Security-Policy" in html


def test_student_text_is_escaped() -> None:
    html = html_of(make_report([hostile_function()]))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x00" not in html and "\x1b" not in html and "\u202e" not in html
    assert "\\x1b[31mred" in html
    assert "naïve ∑ 日本" in html


def test_heat_map_only_where_a_where_map_was_given() -> None:
    with_map = html_of(make_report([passed_function(), partial_function_with_where()]))
    assert with_map.count(DATA_PNG) == 1
    assert "max |dx - expected| over N, C" in with_map
    without_map = html_of(make_report([passed_function(), hostile_function(), missing_function()]))
    assert DATA_PNG not in without_map and "<img" not in without_map


def test_embedded_heat_map_is_a_small_valid_png() -> None:
    html = html_of(make_report([partial_function_with_where()]))
    encoded = html.split(DATA_PNG, 1)[1].split('"', 1)[0]
    png = base64.b64decode(encoded, validate=True)
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (240, 240)
        assert "Software" not in image.info


def test_heat_map_bytes_are_reproducible() -> None:
    values = np.array([[0.0, 1.0, np.nan], [np.inf, 0.5, 0.0]])
    assert heatmap_png(values, "label $x$ 日本") == heatmap_png(values.copy(), "label $x$ 日本")
    assert heatmap_png(values, "a") != heatmap_png(values * 2 + 1, "a")


@pytest.mark.parametrize(
    ("values", "has_map"),
    [
        ([0.0, 0.1, 0.2], True),  # 1-D: drawn as one row
        ([[float("nan")] * 2] * 2, True),  # all NaN still draws (cells in the "bad" colour)
        ([[1.0, 2.0], [3.0]], False),  # ragged
        ([], False),
        ([[[1.0]]], False),  # 3-D
        ("not numbers", False),
    ],
)
def test_unusable_where_maps_are_skipped_not_fatal(values: object, has_map: bool) -> None:
    function = partial_function_with_where()
    function["checks"][0]["where"] = {"label": "m", "values": values}
    assert (DATA_PNG in html_of(make_report([function]))) is has_map


def test_heatmap_rejects_non_2d_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        heatmap_png(np.zeros((2, 2, 2)))


def test_status_badges_are_coloured_by_status() -> None:
    html = html_of(sample_report())
    for status in ("passed", "partial", "missing", "timeout", "failed"):
        assert f'class="badge status-{status}"' in html
    odd = dict(passed_function(), status='"><b>x')
    html = html_of(make_report([odd]))
    assert 'class="badge status-unknown"' in html and "<b>x" not in html
