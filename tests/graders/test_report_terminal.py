"""The terminal score table."""

from __future__ import annotations

import io

from rich.console import Console

from graders.report import render_terminal_table
from graders.report.samples import make_report, passed_function, sample_report


def rendered(report: dict, *, terminal: bool) -> str:
    buffer = io.StringIO()
    if terminal:
        console = Console(file=buffer, width=120, force_terminal=True, color_system="standard")
    else:
        console = Console(file=buffer, width=120, force_terminal=False, color_system=None)
    render_terminal_table(report, console)
    return buffer.getvalue()


def test_plain_table_lists_functions_and_total() -> None:
    text = rendered(sample_report(), terminal=False)
    assert "\x1b[" not in text
    lines = text.splitlines()
    for name in ("affine_forward", "conv_backward_naive", "spatial_groupnorm_backward", "relu_forward"):
        assert any(name in line for line in lines)
    total = next(line for line in lines if "total" in line)
    assert "1 of 5 passed" in total and " 3 " in total and " 8 " in total
    conv = next(line for line in lines if "conv_backward_naive" in line)
    assert "partial" in conv and "0.40 s" in conv


def test_statuses_are_coloured_on_a_terminal() -> None:
    text = rendered(make_report([passed_function()]), terminal=True)
    assert "\x1b[1;32mpassed" in text


def test_names_are_not_parsed_as_rich_markup() -> None:
    report = make_report([dict(passed_function(), name="[red]f[/red]")])
    text = rendered(report, terminal=False)
    assert "[red]f[/red]" in text
