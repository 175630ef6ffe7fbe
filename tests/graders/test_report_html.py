"""report.html: self-contained, escaped, heat maps exactly where a check carries a where-map."""

from __future__ import annotations

import base64
import html as html_lib
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
    IN_PLACE_WARNING,
    STAND_IN_WARNING,
    hostile_function,
    make_report,
    missing_function,
    module_problem_report,
    partial_function_with_values,
    partial_function_with_where,
    passed_function,
    passed_function_with_warning,
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


def test_warnings_of_passing_functions_and_of_the_submission_are_listed() -> None:
    html = html_of(make_report([passed_function_with_warning(), passed_function()], warnings=[STAND_IN_WARNING]))
    section = html.split('<h2 id="warnings">Warnings</h2>', 1)[1].split("</ul>", 1)[0]
    items = re.findall(r"<li[^>]*>(.*?)</li>", section, re.S)
    assert len(items) == 2
    assert html_lib.unescape(items[0]) == STAND_IN_WARNING
    expected = f'<code>relu_backward</code> (passed): <span class="message">{IN_PLACE_WARNING}</span>'
    assert html_lib.unescape(items[1]) == expected


def test_every_function_has_one_anchor_named_after_it() -> None:
    report = sample_report()
    html = html_of(report)
    for function in report["functions"]:
        assert html.count(f'id="fn-{function["name"]}"') == (0 if "|" in function["name"] else 1)
    ids = re.findall(r'id="([^"]*)"', html)
    assert len(ids) == len(set(ids)) and "fn-affine_forward" in ids  # a passed function: its table row
    for href in re.findall(r'href="#([^"]*)"', html):
        assert href in ids


def test_a_small_failing_array_is_a_table_of_numbers_and_a_big_one_a_heat_map() -> None:
    html = html_of(make_report([partial_function_with_values(), partial_function_with_where()]))
    small, big = html.split('<section id="fn-max_pool_backward_naive">', 1)[1].split('<section id="fn-conv_backward', 1)
    assert DATA_PNG not in small and DATA_PNG in big  # the 4x4 map keeps its heat map
    rows = re.findall(r"<tr( class=\"differs\")?><td>([^<]*)</td><td class=\"num\">([^<]*)</td>"
                      r"<td class=\"num\">([^<]*)</td><td class=\"num\">([^<]*)</td>", small)
    assert rows == [("", "(0, 0)", "0", "0", "0"), (' class="differs"', "(0, 1)", "0.12573", "-0", "-0.12573"),
                    ("", "(0, 2)", "-0.132105", "-0.132105", "0")]


def test_inconsistent_values_are_ignored_not_fatal() -> None:
    function = partial_function_with_values()
    function["checks"][0]["values"]["got"] = [1.0]  # not the shape's size
    html = html_of(make_report([function]))
    assert 'class="values"' not in html and DATA_PNG in html  # back to the heat map


# ------------------------------------------------------------------ the first screen: total, then what lost points
def lost_points_items(html: str) -> list[str]:
    section = html.split('<section id="lost-points">', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<li>(.*?)</li>", section, re.S)


def test_the_page_opens_with_the_total_then_one_line_per_function_that_lost_points() -> None:
    html = html_of(sample_report())
    body = html.split("<body>", 1)[1]
    assert re.match(r"\s*<h1>[^<]*</h1>\s*<p class=\"total\">Score: <strong>3 / 8</strong>", body)
    assert body.index('class="total"') < body.index('id="lost-points"') < body.index("<table>")
    assert body.index('id="lost-points"') < body.index('<section id="fn-')  # before every detail section
    lines = [html_lib.unescape(re.sub(r"<[^>]+>", "", item)) for item in lost_points_items(html)]
    assert lines[:3] == [
        "conv_backward_naive 2 / 3: The error sits only on the padded border: dx is probably taken from the "
        "padded array without cropping the padding.",
        "spatial_groupnorm_backward 0 / 2: The function was not found in the submission.",  # no check, no diagnosis
        "max_pool_forward_naive 0 / 1: The call did not return within 10 s.",
    ]
    assert lines[3].startswith("relu_forward nan / 1: <script>alert(1)</script>")  # shown as text, escaped
    assert len(lines) == 4 and not any(line.startswith("affine_forward") for line in lines)  # it passed


def test_every_lost_points_line_links_to_the_section_of_its_function() -> None:
    html = html_of(sample_report())
    targets = [re.search(r'href="#([^"]+)"', item) for item in lost_points_items(html)]
    assert [t.group(1) for t in targets if t] == ["fn-conv_backward_naive", "fn-spatial_groupnorm_backward",
                                                  "fn-max_pool_forward_naive", "fn-relu_forward"]
    for target in targets:
        assert target and html.count(f'<section id="{target.group(1)}">') == 1


def test_a_line_without_diagnosis_gives_the_first_failing_check_message() -> None:
    function = dict(partial_function_with_values(), diagnosis=[])
    (line,) = lost_points_items(html_of(make_report([passed_function(), function])))
    assert html_lib.unescape(line).endswith(
        '<span class="summary">dx differs at index (0, 1): expected 0.12573, got -0 (atol 1e-09, rtol 1e-07); '
        "1 of 3 entries differ</span>")


def test_functions_a_module_problem_kept_from_grading_share_one_line_after_the_problems() -> None:
    html = html_of(module_problem_report())
    assert html.index('<section id="problems"') < html.index('<section id="lost-points">')
    first, second = lost_points_items(html)
    assert re.sub(r"<[^>]+>", "", first) == ("Not graded because cs231n/layers.py did not import 0 / 4:\n"
                                             "affine_forward, affine_backward")
    assert re.findall(r'href="#([^"]*)"', first + second) == ["problems", "problems"]
    assert html.count('id="problems"') == 1


def test_no_lost_points_section_when_everything_passed() -> None:
    html = html_of(make_report([passed_function(), passed_function_with_warning()]))
    assert 'id="lost-points"' not in html and "Score: <strong>2 / 2</strong>" in html
