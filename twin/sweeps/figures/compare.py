"""Which headline numbers moved between two figure reports (``twin figures --compare OLD NEW``).

A report's numbers are its ``report.json`` (:data:`.report.NUMBERS_NAME`): each figure's headline
numbers with their bootstrap 68 % intervals (:mod:`.spread`). A number *moved* when the two
intervals do not overlap; it *changed* when the values differ but the intervals overlap (within
the spread of the ensembles); otherwise it is the same. Numbers present in one report only are
listed as such. Ledgers are not read: regenerate both reports from them first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs

from ..errors import SweepError

__all__ = ["Change", "compare_reports", "load_numbers", "render_changes"]


@attrs.frozen(kw_only=True)
class Change:
    """One headline number in the two reports."""

    figure: str
    number: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def verdict(self) -> str:
        """``moved``, ``changed``, ``same``, ``only old`` or ``only new``."""
        if self.old is None:
            return "only new"
        if self.new is None:
            return "only old"
        a, b = float(self.old["value"]), float(self.new["value"])
        if (math.isnan(a) and math.isnan(b)) or a == b:
            return "same"
        lo_a, hi_a = float(self.old["low"]), float(self.old["high"])
        lo_b, hi_b = float(self.new["low"]), float(self.new["high"])
        if all(math.isfinite(v) for v in (lo_a, hi_a, lo_b, hi_b)):
            return "moved" if hi_a < lo_b or hi_b < lo_a else "changed"
        return "moved"  # a number appeared or vanished (NaN on one side)


def load_numbers(path: Path) -> dict[str, Any]:
    """The ``report.json`` of a report folder, or that file itself.

    Raises
    ------
    SweepError
        Missing, unreadable or not a figures report (one line naming the file).
    """
    file = path
    try:  # is_dir itself raises for a name the OS refuses (too long)
        file = path / "report.json" if path.is_dir() else path
        doc = json.loads(file.read_text())
    except FileNotFoundError:
        raise SweepError(
            f"--compare: no such report {str(file)!r} (run twin figures first)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SweepError(f"--compare: {str(file)!r} is not a figures report.json: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("numbers"), dict):
        raise SweepError(f"--compare: {str(file)!r}: expected an object with 'numbers'")
    return doc


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every headline number of either report, paired by figure and name."""
    a, b = old["numbers"], new["numbers"]
    out = []
    for fig in sorted(set(a) | set(b)):
        na, nb = a.get(fig, {}), b.get(fig, {})
        for key in sorted(set(na) | set(nb)):
            out.append(Change(figure=fig, number=key, old=na.get(key), new=nb.get(key)))
    return out


def _text(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    value, low, high = (float(entry[k]) for k in ("value", "low", "high"))
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3g} [{low:.3g}, {high:.3g}]"


def render_changes(changes: list[Change], *, all_numbers: bool = False) -> str:
    """A Markdown table of the numbers that moved or changed (every number with ``all_numbers``)."""
    lines = ["| figure | number | old [68 %] | new [68 %] | verdict |", "|---|---|---|---|---|"]
    shown = [c for c in changes if all_numbers or c.verdict != "same"]
    lines += [f"| {c.figure} | `{c.number}` | {_text(c.old)} | {_text(c.new)} | {c.verdict} |"
              for c in shown]  # fmt: skip
    moved = sum(c.verdict == "moved" for c in changes)
    lines.append("")
    changed = sum(c.verdict == "changed" for c in changes)
    lines.append(f"{moved} of {len(changes)} numbers moved beyond their 68 % intervals; "
                 f"{changed} changed within them.")  # fmt: skip
    return "\n".join(lines)
