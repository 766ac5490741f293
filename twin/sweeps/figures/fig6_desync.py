"""Fig. 6: desynchronous learning on the board: error and energy vs update probability P.

Wycoff et al. 2022 (PHYSICS.md section 9): edges that update on their own, with probability P
per global tick or on independent clocks, learn no worse than a global clock in idealised
simulation, and can learn better on discretised hardware (acting like stochastic mini-batches).

The twin of the board (transistor 4 x 4 lattice, allostery, eta = 0.22, rule noise delta =
1e-3 V^2, lambda = 0) on four clock kinds that share one axis, the mean update probability P per
0.1 ms tick (mean rate ``1e4 P`` updates per edge per second): ``sync`` (P = 1), ``bernoulli``
(global ticks, each edge with probability P), ``poisson`` and ``periodic`` (independent per-edge
clocks, periodic with 5 % jitter and frequency spread). Two budgets, reported separately:

equal board time
    every run lasts the same board time ``T`` (3 s; quick 1 s): the physical comparison. On the
    board an edge's capacitor integrates its held drive between updates, so fewer updates do
    not mean less learning per second; they mean staler measurements.
equal updates per edge
    every run makes the same mean number of updates per edge (``1e4 T``), so a run at P lasts
    ``T / P`` of board time: the comparison of discrete-step simulations (one update = one
    step), where desynchronous runs take longer and dissipate more.

Metrics (medians over realizations with 25-75 % quantiles; each desynchronous run is also
paired with the sync run of the same task: ratios per realization): ``error_tail`` (noise floor:
time average of L over the last quarter), ``time_to_tol_s`` (first crossing of 1e-5 V^2),
``training_energy_j`` (free network) and ``total_energy_j`` (free + clamped + gate charging).

Cost (measured 2026-12-01 on the 2-core machine, load ~8): full, 448 CPU-seconds in the workers
(equal updates: runs at P = 0.05 last 60 s of board time); quick, ~5 CPU-seconds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..twin_cells import clock_kind_and_p, clock_spec
from ._common import DRAWING, FigureResult, done_rows, fmt, measured_table, no_data, save_figure
from ._ensemble import quantile_table

if TYPE_CHECKING:
    from ..spec import SweepSpec

__all__ = [
    "BUDGETS",
    "KINDS",
    "NAME",
    "PUBLISHED",
    "TITLE",
    "clocks",
    "measure",
    "render",
    "spec_dicts",
    "specs",
]

NAME = "fig6"
TITLE = "Fig. 6: desynchronous learning on the board, error and energy vs update probability P"
KINDS = ("bernoulli", "poisson", "periodic")
PROBABILITIES = (0.5, 0.2, 0.05)
QUICK_PROBABILITIES = (0.2,)
RATE_HZ = 1e4
TOL_V2 = 1e-5
#: Budget name -> description.
BUDGETS = {
    "time": "equal board time",
    "updates": "equal updates per edge",
}
METRICS = ("error_tail", "time_to_tol_s", "training_energy_j", "total_energy_j")
PUBLISHED = {
    "desync_vs_sync": "desynchronous learning is no worse than synchronous in idealised "
    "simulation (Wycoff et al. 2022)",
    "discretised_hardware": "on discretised hardware desynchronous updates can help (like "
    "stochastic mini-batching)",
}


def clocks(quick: bool) -> list[str]:
    """Clock specs of the figure: sync, then every kind at every P."""
    ps = QUICK_PROBABILITIES if quick else PROBABILITIES
    return [clock_spec("sync", rate_hz=RATE_HZ)] + [
        clock_spec(kind, p, rate_hz=RATE_HZ) for kind in KINDS for p in ps
    ]


def spec_dicts(quick: bool) -> list[dict[str, Any]]:
    """Two twin sweeps over the clocks: equal board time and equal updates per edge."""
    board_s = 1.0 if quick else 3.0
    base = {
        "network": "lattice:4x4:periodic",
        "task": "allostery",
        "model": "transistor",
        "eta": 0.22,
        "lam": 0.0,
        "noise": 1e-3,
        "tol": TOL_V2,
        "batch_s": 0.05,
        "duration": board_s,
    }
    prefix = "fig6-quick" if quick else "fig6"
    realizations = 6 if quick else 50
    budgets = {
        "time": base,
        # duration is not used when updates_per_edge is set
        "updates": base | {"updates_per_edge": board_s * RATE_HZ},
    }
    return [
        {
            "name": f"{prefix}-{budget}",
            "kind": "twin",
            "realizations": realizations,
            "seed": 6,
            "base": b,
            "axes": {"clock": clocks(quick)},
            "description": f"{TITLE}: {BUDGETS[budget]}",
        }
        for budget, b in budgets.items()
    ]


def specs(quick: bool) -> list[SweepSpec]:
    """The figure's sweeps (``quick``: P = 0.2 only, 6 realizations, 1 s)."""
    from ..spec import spec_from_dict

    return [spec_from_dict(d, source=f"{NAME}:{d['name']}") for d in spec_dicts(quick)]


def _budget_frames(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    for budget in BUDGETS:
        match = [done_rows(f) for name, f in frames.items() if name.endswith(f"-{budget}")]
        if match and len(match[0]):
            frame = match[0].copy()
            kp = [clock_kind_and_p(str(c), rate_hz=RATE_HZ) for c in frame["clock"]]
            frame["clock_kind"] = [k for k, _ in kp]
            frame["p"] = [round(p, 12) for _, p in kp]
            out[budget] = frame
    return out


def _pair_key(frame: pd.DataFrame) -> str | None:
    for name in ("seed", "realization"):
        if name in frame.columns:
            return name
    return None


def _paired_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, P): quantiles of the per-realization ratio desync / sync of each metric."""
    key = _pair_key(frame)
    if key is None:
        return pd.DataFrame()
    sync = frame[frame["clock_kind"] == "sync"].set_index(key)
    rows = []
    for (kind, p), group in frame[frame["clock_kind"] != "sync"].groupby(["clock_kind", "p"]):
        g = group.set_index(key)
        row: dict[str, Any] = {"clock_kind": kind, "p": p}
        for m in METRICS:
            ratio = (g[m] / sync[m].reindex(g.index)).replace([np.inf, -np.inf], np.nan).dropna()
            row[f"{m}_ratio"] = float(ratio.median()) if len(ratio) else math.nan
            row[f"{m}_ratio_q25"] = float(ratio.quantile(0.25)) if len(ratio) else math.nan
            row[f"{m}_ratio_q75"] = float(ratio.quantile(0.75)) if len(ratio) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def measure(
    frames: dict[str, pd.DataFrame],
) -> tuple[dict[str, float], dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Measured values, per-budget quantile tables and paired-ratio tables."""
    measured: dict[str, float] = {}
    tables, ratios = {}, {}
    for budget, frame in _budget_frames(frames).items():
        t = quantile_table(
            frame, ["clock_kind", "p"], [*METRICS, "sim_time_s", "mean_updates_per_edge"]
        )
        tables[budget] = t
        ratios[budget] = _paired_ratios(frame)
        sync = t[t["clock_kind"] == "sync"]
        if len(sync):
            for m in METRICS:
                measured[f"{budget}_sync_{m}"] = float(sync[m].iloc[0])
        for _, r in t[t["clock_kind"] != "sync"].iterrows():
            tag = f"{budget}_{r['clock_kind']}_p{r['p']:g}"
            measured[f"{tag}_error_tail_v2"] = float(r["error_tail"])
            measured[f"{tag}_time_to_tol_s"] = float(r["time_to_tol_s"])
            measured[f"{tag}_total_energy_j"] = float(r["total_energy_j"])
        pr = ratios[budget]
        if len(pr):
            for _, r in pr.iterrows():
                tag = f"{budget}_{r['clock_kind']}_p{r['p']:g}"
                measured[f"{tag}_error_ratio"] = float(r["error_tail_ratio"])
                measured[f"{tag}_energy_ratio"] = float(r["total_energy_j_ratio"])
            measured[f"{budget}_worst_error_ratio"] = float(pr["error_tail_ratio"].max())
            measured[f"{budget}_best_error_ratio"] = float(pr["error_tail_ratio"].min())
    return measured, tables, ratios


def _plot(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    if not DRAWING.get():  # a bootstrap resample: nothing is drawn
        return path
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    colors = {"bernoulli": "tab:blue", "poisson": "tab:orange", "periodic": "tab:green"}
    panels = (
        (axes[0, 0], "time", "error_tail", "error floor L (V$^2$), equal board time"),
        (axes[0, 1], "updates", "error_tail", "error floor L (V$^2$), equal updates per edge"),
        (axes[1, 0], "time", "time_to_tol_s", "time to L = 1e-5 V$^2$ (s), equal board time"),
    )
    for ax, budget, metric, title in panels:
        t = tables.get(budget)
        if t is None:
            continue
        _sync_band(ax, t, metric)
        for kind, color in colors.items():
            k = t[t["clock_kind"] == kind].sort_values("p")
            if len(k):
                ax.errorbar(
                    k["p"], k[metric],
                    yerr=[k[metric] - k[f"{metric}_q25"], k[f"{metric}_q75"] - k[metric]],
                    color=color, marker="o", capsize=2, lw=1, label=kind,
                )  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="update probability P per 0.1 ms tick",
               title=title)  # fmt: skip
        ax.legend(fontsize=8)
    ax = axes[1, 1]
    for budget, ls in (("time", "-"), ("updates", "--")):
        t = tables.get(budget)
        if t is None:
            continue
        for kind, color in (("sync", "k"), *colors.items()):
            k = t[t["clock_kind"] == kind].sort_values("p")
            if len(k):
                ax.plot(k["p"], k["total_energy_j"], color=color, ls=ls, marker="o",
                        label=f"{kind}, {BUDGETS[budget]}")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="update probability P per 0.1 ms tick",
           ylabel="total training energy (J)",
           title="total energy; solid: equal time, dashed: equal updates")  # fmt: skip
    ax.legend(fontsize=6)
    for a in axes.ravel():
        a.grid(True, which="both", alpha=0.3)
    fig.suptitle(TITLE)
    return save_figure(fig, path)


def _sync_band(ax: Any, t: pd.DataFrame, metric: str) -> None:
    sync = t[t["clock_kind"] == "sync"]
    if not len(sync):
        return
    r = sync.iloc[0]
    ax.axhspan(r[f"{metric}_q25"], r[f"{metric}_q75"], color="k", alpha=0.1)
    ax.axhline(r[metric], color="k", lw=1.5, label="sync (P = 1), median and IQR")


def _markdown(
    measured: dict[str, float],
    tables: dict[str, pd.DataFrame],
    ratios: dict[str, pd.DataFrame],
    png: Path,
) -> str:
    lines = [f"## {TITLE}", "", f"![{NAME}]({png.name})", ""]
    lines += [
        "Board twin (transistor 4 x 4, allostery, eta = 0.22, lambda = 0, rule noise delta = "
        "1e-3 V^2). P: mean updates per edge per 0.1 ms tick (every clock kind runs at 1e4 P "
        "updates per edge per second). **Equal board time**: every run lasts the same board "
        "time (the physical comparison: a capacitor integrates its held drive between updates). "
        "**Equal updates per edge**: a run at P lasts T / P (the discrete-step comparison). "
        "Error: noise floor (time average over the last quarter of the run). Medians over "
        "realizations [25 %, 75 %]; ratios are per realization against the sync run of the same "
        "task.",
        "",
    ]
    for budget, t in tables.items():
        pr = ratios.get(budget, pd.DataFrame())
        lines += [
            f"### {BUDGETS[budget]}",
            "",
            "| clock | P | n | board time (s) | error floor (V^2) | error / sync | time to 1e-5 "
            "(s) | total energy (J) | energy / sync |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in t.iterrows():
            match = (
                pr[(pr["clock_kind"] == r["clock_kind"]) & (pr["p"] == r["p"])] if len(pr) else pr
            )
            er = en = "1 (reference)" if r["clock_kind"] == "sync" else "n/a"
            if len(match):
                m = match.iloc[0]
                er = (f"{fmt(m['error_tail_ratio'])} [{fmt(m['error_tail_ratio_q25'])}, "
                      f"{fmt(m['error_tail_ratio_q75'])}]")  # fmt: skip
                en = (f"{fmt(m['total_energy_j_ratio'])} [{fmt(m['total_energy_j_ratio_q25'])}, "
                      f"{fmt(m['total_energy_j_ratio_q75'])}]")  # fmt: skip
            lines.append(
                f"| {r['clock_kind']} | {r['p']:g} | {int(r['n'])} | {fmt(r['sim_time_s'])} | "
                f"{fmt(r['error_tail'])} [{fmt(r['error_tail_q25'])}, "
                f"{fmt(r['error_tail_q75'])}] | {er} | {fmt(r['time_to_tol_s'])} "
                f"[{fmt(r['time_to_tol_s_q25'])}, {fmt(r['time_to_tol_s_q75'])}] | "
                f"{fmt(r['total_energy_j'])} | {en} |"
            )
        lines.append("")
    rows = []
    for budget in tables:
        worst = measured.get(f"{budget}_worst_error_ratio", math.nan)
        best = measured.get(f"{budget}_best_error_ratio", math.nan)
        rows.append((
            f"error floor desync / sync, {BUDGETS[budget]} (median paired ratio, range over "
            "clock kinds and P)", f"{fmt(best, 2)} - {fmt(worst, 2)}",
            "no worse than sync (<= 1)",
            "none" if math.isfinite(worst) and worst <= 1 else f"worst x{fmt(worst, 2)}",
        ))  # fmt: skip
    rows.append(("gain on discretised hardware", "not tested (analog gates)",
                 "can help (stochastic mini-batching)", "-"))  # fmt: skip
    lines += [measured_table(rows), "", "Measured vs published:", ""]
    for budget in tables:
        worst = measured.get(f"{budget}_worst_error_ratio", math.nan)
        best = measured.get(f"{budget}_best_error_ratio", math.nan)
        verdict = (
            "no desynchronous clock is worse than sync by more than 1.5x (median paired ratio)"
            if math.isfinite(worst) and worst <= 1.5
            else f"the worst desynchronous clock has a {fmt(worst, 2)}x higher error floor "
            "than sync (median paired ratio)"
        )
        lines.append(
            f"- {BUDGETS[budget]}: error-floor ratio desync / sync between {fmt(best, 2)} and "
            f"{fmt(worst, 2)} over clock kinds and P; {verdict}. Published: "
            f"{PUBLISHED['desync_vs_sync']}."
        )
    lines.append(
        f"- Published: {PUBLISHED['discretised_hardware']}. Not tested here: the twin's gates "
        "are analog (continuous conductances), not the discrete conductance steps of the "
        "earlier digital-potentiometer networks where that gain was seen."
    )
    return "\n".join(lines) + "\n"


def build(frames: dict[str, pd.DataFrame], out_dir: Path) -> tuple[Path, str, dict[str, float]]:
    """PNG, Markdown and measured values of the figure from the sweeps' frames."""
    measured, tables, ratios = measure(frames)
    if not tables:
        png, markdown = no_data(frames, Path(out_dir) / f"{NAME}.png", title=TITLE)
        return png, markdown, measured
    png = _plot(tables, Path(out_dir) / f"{NAME}.png")
    return png, _markdown(measured, tables, ratios, png), measured


def render(frames: dict[str, pd.DataFrame], out_dir: Path) -> FigureResult:
    """The figure from the frames of :func:`specs` (keyed by sweep name)."""
    png, markdown, measured = build(frames, out_dir)
    return FigureResult(png=png, markdown=markdown, measured=measured, published=dict(PUBLISHED))
