"""Imperfection: the small network's error floor and cycle span against the period (2505.22887).

The lab's two-transistor network, trained on two tasks alternating every ``tau / 2``, settles
into a limit cycle driven by its learning bias: the span ``D`` grows in proportion to ``tau``
and the error floor is flat at short periods and rises above ~30 ms (forgetting). Three series
per experiment (exp1, exp2):

``measured``
    The lab's points (package data ``twin/data/clln``).
``emulated``
    The board emulator configured as that network (:func:`twin.board.clln.small_network_board`:
    the measured bias on the learning edges, the linear device ``S (G - V_T)``, a fixed 500 Ohm
    edge, eta chosen so the board's rule has the model's curvature), trained on the schedule
    until its cycle is steady (:func:`twin.board.clln.emulated_cycle`). Deterministic: no noise
    in this configuration, so one run per period is the measurement.
``model``
    The linearised model (:mod:`twin.learning.limit_cycle`), without rails: its span keeps
    growing as ``tau^2`` where the gates of the board and the lab hit their rails.

This figure computes its data directly (``compute(quick)``), not through sweeps: each period is
one deterministic emulation. Besides its PNG it writes ``imperfection_small.csv`` (one row per
measured point; emulated values empty at periods a quick run skips). Error: mean squared error
of the Output (V^2) averaged over both tasks at the cycle's two switch points (the paper's
model's definition); ``D^2 = |G(tau/2) - G(0)|^2`` over the two learning gates (V^2).

Cost (measured 2026-12-06 on the 2-core machine): quick (4 periods per experiment) ~25 s; full
(every measured period up to 2 s, 38 emulations) a few minutes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ...board.clln import compare_small_network
from ._common import FigureResult, fmt, new_figure, no_data, save_figure

if TYPE_CHECKING:
    from ..spec import SweepSpec

__all__ = ["CSV_NAME", "NAME", "TITLE", "compute", "render", "specs"]

NAME = "imperfection"
TITLE = "arXiv 2505.22887 Fig. 2: error floor and cycle span D^2 vs period, small network"
#: The table written beside the PNG.
CSV_NAME = "imperfection_small.csv"
#: Frame name of the computed table.
FRAME = "imperfection-small"
EXPERIMENTS = ("exp1", "exp2")
QUICK_TAUS = (0.002, 0.02, 0.2, 2.0)
CSV_COLUMNS = [
    "experiment", "tau_s", "measured_mse_v2", "emulated_mse_v2", "measured_d2_v2",
    "emulated_d2_v2",
]  # fmt: skip
#: The paper's statements this figure checks.
PUBLISHED = {
    "floor_short": "flat at short tau: 4.5e-5 (exp1), 1e-5 (exp2) V^2",
    "span": "D^2 grows ~ tau^2: exp1 2.4e-5 V^2 at 0.6 ms, 0.018 at 20 ms, ~5 V^2 from 0.3 s",
    "target": "emulated within a factor of 2 of the measured points",
}


def specs(quick: bool) -> list[SweepSpec]:
    """No sweeps: the data come from :func:`compute`."""
    return []


def compute(quick: bool) -> dict[str, pd.DataFrame]:
    """Measured, emulated and model values at every measured period (quick: 4 periods)."""
    rows = []
    for exp in EXPERIMENTS:
        rows += compare_small_network(exp, QUICK_TAUS if quick else None)
    return {FRAME: pd.DataFrame(rows)}


def _ratios(frame: pd.DataFrame, column: str) -> pd.Series:
    emulated = frame[f"emulated_{column}"]
    return (emulated / frame[f"measured_{column}"]).dropna()


def render(frames: dict[str, pd.DataFrame], out_dir: Path) -> FigureResult:
    """PNG (floor and D^2 vs tau) and ``imperfection_small.csv`` beside it."""
    png = out_dir / f"{NAME}.png"
    frame = frames.get(FRAME)
    if frame is None or frame.empty or "emulated_mse_v2" not in frame:
        path, text = no_data(frames or {FRAME: pd.DataFrame()}, png, title=TITLE)
        return FigureResult(png=path, markdown=f"## {TITLE}\n\n{text}", published=PUBLISHED)
    frame[CSV_COLUMNS].to_csv(out_dir / CSV_NAME, index=False)
    fig, (ax_mse, ax_d2) = new_figure(2, title=TITLE)
    colors = {"exp1": "tab:blue", "exp2": "tab:orange"}
    for exp, rows in frame.groupby("experiment"):
        c = colors.get(str(exp), "k")
        for ax, q in ((ax_mse, "mse_v2"), (ax_d2, "d2_v2")):
            ax.plot(rows["tau_s"], rows[f"measured_{q}"], "o", color=c, mfc="none",
                    label=f"{exp} measured")  # fmt: skip
            em = rows.dropna(subset=[f"emulated_{q}"])
            ax.plot(em["tau_s"], em[f"emulated_{q}"], "s-", color=c, label=f"{exp} emulated")
            ax.plot(rows["tau_s"], rows[f"model_{q}"], ":", color=c, label=f"{exp} model")
    for ax, label in ((ax_mse, "error floor (V^2)"), (ax_d2, "D^2 (V^2)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("period tau (s)")
        ax.set_ylabel(label)
    ax_d2.set_ylim(top=100.0)
    ax_mse.legend(fontsize=6)
    save_figure(fig, png)
    ratio_mse, ratio_d2 = _ratios(frame, "mse_v2"), _ratios(frame, "d2_v2")
    both = pd.concat([ratio_mse, ratio_d2])
    worst = float(max(both.max(), 1 / both.min())) if len(both) else math.nan
    measured = {"worst_factor": worst, "points": float(len(ratio_mse))}
    lines = [
        f"## {TITLE}",
        "",
        f"![{NAME}]({NAME}.png)",
        "",
        "Emulated / measured per point (`imperfection_small.csv` has the values):",
        "",
        "| experiment | tau (s) | floor ratio | D^2 ratio |",
        "|---|---|---|---|",
    ]
    for _, r in frame.dropna(subset=["emulated_mse_v2"]).iterrows():
        lines.append(
            f"| {r['experiment']} | {r['tau_s']:g} | "
            f"{fmt(r['emulated_mse_v2'] / r['measured_mse_v2'])} | "
            f"{fmt(r['emulated_d2_v2'] / r['measured_d2_v2'])} |"
        )
    lines += [
        "",
        f"Worst factor between emulated and measured: **{fmt(worst)}** over "
        f"{len(ratio_mse)} periods (target: 2). Published: {PUBLISHED['floor_short']}; "
        f"{PUBLISHED['span']}.",
    ]
    return FigureResult(png=png, markdown="\n".join(lines) + "\n", measured=measured,
                        published=PUBLISHED)  # fmt: skip
