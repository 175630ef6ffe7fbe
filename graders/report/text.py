"""Display text: student-controlled strings made safe to show anywhere, and numbers formatted one way.

WHY one helper: messages, names and repro code can come from a student's exceptions and printouts. A NUL or
an ESC byte makes junit.xml unparseable (XML 1.0 forbids most C0 controls), lets ``cat report.md`` drive
the terminal, and bidi overrides can make a message read differently from what it says. Every writer except
report.json (whose JSON escaping already represents any string exactly) passes text through
:func:`clean_text`, which replaces such characters by a visible ``\\xNN`` / ``\\uNNNN`` escape instead of
silently dropping them, so the reader still sees that something odd was printed.
"""

from __future__ import annotations

import math
import re
from typing import Any

# C0 controls except TAB/LF/CR, DEL and C1 controls, lone surrogates, the XML non-characters U+FFFE/U+FFFF,
# and the bidi embedding/override/isolate controls used for "trojan source" spoofing.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _visible_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(value: Any) -> str:
    """``value`` as a string that is legal XML 1.0 and harmless in a terminal; line breaks become ``\\n``."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub(_visible_escape, text)


def clean_strings(value: Any) -> Any:
    """``value`` (a report: dicts, lists, strings, numbers) with :func:`clean_text` applied to every string and
    key. WHY at the source: the report then carries no control character into any format, the terminal or a
    tool that prints its JSON fields raw, whatever writer or future format reads it."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_strings(v) for v in value)
    return value


def finalize_output(value: Any) -> Any:
    """jinja2 ``finalize`` hook: every string a template prints passes :func:`clean_text` (a second line of
    defence behind :func:`clean_strings`), markup the template marked safe excepted."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return clean_text(value)
    return value


def one_line(value: Any) -> str:
    """:func:`clean_text` with line breaks and tabs folded into single spaces (table cells, attributes)."""
    return " ".join(clean_text(value).split())


def format_number(value: float) -> str:
    """A score for people: at most two decimals, no trailing zeros (2.0 -> "2", 0.3333 -> "0.33");
    non-finite values spelled "nan", "inf", "-inf" as in report.json."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value + 0.0:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_points(score: float, max_score: float) -> str:
    """"2 / 3" style score out of a maximum."""
    return f"{format_number(score)} / {format_number(max_score)}"


def format_seconds(value: float) -> str:
    """A duration with a unit; sub-second values keep two decimals so the harness overhead stays visible."""
    if not math.isfinite(value):
        return format_number(value)
    return f"{value:.2f} s"
