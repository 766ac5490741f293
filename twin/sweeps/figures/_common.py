"""What every figure module shares: the result type, ensemble statistics, slope fits, plotting.

Statistics are over realizations (one row of a results frame each): medians with the 25-75 %
quantiles, never a single run, because single runs in the sensitive regime (lambda ~ 1e-5..1e-4)
branch on rounding. Plots are matplotlib :class:`~matplotlib.figure.Figure` objects on an Agg
canvas (no pyplot state), as in :mod:`twin.plots`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..spec import SweepSpec

__all__ = [
    "DRAWING",
    "QUANTILES",
    "FigureResult",
    "Slope",
    "band",
    "crossing",
    "done_rows",
    "fit_loglog_slope",
    "fmt",
    "grouped",
    "interp_loglog",
    "lambda_sweep",
    "log_grid",
    "measured_table",
    "new_figure",
    "no_data",
    "paired",
    "save_figure",
]

#: Quantiles drawn as a band around each median (the inter-quartile range).
QUANTILES = (0.25, 0.75)
#: False while a figure's numbers are recomputed on resamples (:mod:`.spread`): nothing is drawn.
DRAWING: ContextVar[bool] = ContextVar("DRAWING", default=True)


@attrs.frozen(kw_only=True)
class FigureResult:
    """A rendered figure.

    Attributes
    ----------
    png
        The PNG file written.
    markdown
        The figure's section of the report (title, image, conventions, measured vs published).
    measured
        The numbers measured here, by name (the same names as ``published`` where comparable).
    published
        The seed paper's values as quoted text, by name.
    """

    png: Path
    markdown: str
    measured: Mapping[str, float] = attrs.field(factory=dict)
    published: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Slope:
    """A fitted power law ``y ~ x^slope``: slope, its standard error and the points used."""

    slope: float
    stderr: float
    n_points: int
    x_range: tuple[float, float]


def fit_loglog_slope(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    x_min: float = 0.0,
    x_max: float = math.inf,
) -> Slope:
    """Least-squares slope of ``log10 y`` against ``log10 x`` over ``x_min <= x <= x_max``.

    Points with ``x <= 0``, ``y <= 0`` or non-finite values are left out. With fewer than two
    points the slope is NaN; with two its standard error is NaN.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0) & (xa >= x_min) & (xa <= x_max)
    lx, ly = np.log10(xa[ok]), np.log10(ya[ok])
    n = int(lx.size)
    if n < 2 or np.ptp(lx) == 0:
        return Slope(slope=math.nan, stderr=math.nan, n_points=n, x_range=(math.nan, math.nan))
    slope, intercept = np.polyfit(lx, ly, 1)
    stderr = math.nan
    if n > 2:
        resid = ly - (slope * lx + intercept)
        stderr = float(np.sqrt(np.sum(resid**2) / (n - 2) / np.sum((lx - lx.mean()) ** 2)))
    return Slope(
        slope=float(slope),
        stderr=stderr,
        n_points=n,
        x_range=(float(xa[ok].min()), float(xa[ok].max())),
    )


def grouped(
    frame: pd.DataFrame,
    by: str,
    value: str | Callable[[pd.DataFrame], pd.Series],
) -> pd.DataFrame:
    """Median, quantiles and count of ``value`` per value of column ``by`` (sorted by ``by``).

    ``value`` is a column name or a function of the frame returning one value per row. Rows of
    cells not done (NaN metrics) are left out; ``n`` counts the finite values.
    """
    import pandas as pd

    series = frame[value] if isinstance(value, str) else value(frame)
    data = pd.DataFrame({"x": frame[by].to_numpy(), "y": np.asarray(series, dtype=float)})
    data = data[np.isfinite(data["y"])]
    low, high = QUANTILES
    out = data.groupby("x")["y"].agg(
        median="median",
        q_low=lambda s: s.quantile(low),
        q_high=lambda s: s.quantile(high),
        n="count",
    )
    return out.reset_index().sort_values("x")


def done_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of done cells, with every metric of the frame's kind (of every kind, when the
    frame has no ``kind`` column) as a column (NaN where not computed; a frame without
    ``status`` is taken as all done).

    A sweep none of whose cells is done yet has no metric columns at all; figures render from
    whatever is done, so they read the metrics through this.
    """
    from ..metrics import METRICS

    out = frame[frame["status"] == "done"].copy() if "status" in frame.columns else frame.copy()
    kinds = set(frame["kind"]) if "kind" in frame.columns else set(METRICS)
    names = [m for k in sorted(kinds) for m in METRICS.get(k, ())]
    for name in (*names, "accuracy_train", "accuracy_test"):
        if name not in out.columns:
            out[name] = np.nan
    return out


def no_data(frames: dict[str, pd.DataFrame], path: Path, *, title: str) -> tuple[Path, str]:
    """A placeholder PNG and Markdown for a figure none of whose cells is done yet."""
    fig, (ax,) = new_figure(1, title=title)
    ax.set_axis_off()
    ax.text(0.5, 0.5, "no finished cells yet", transform=ax.transAxes, ha="center", va="center")
    png = save_figure(fig, path)
    names = ", ".join(f"`{n}`" for n in sorted(frames))
    return png, f"No finished cells yet in {names}: every measured value is n/a.\n"


def paired(frame: pd.DataFrame, by: str, metric: str, ref: Any) -> pd.Series:
    """Per row, ``metric`` divided by the same realization's ``metric`` in the row ``by == ref``.

    Realizations share their network and task across the cells of a sweep
    (:func:`twin.sweeps.cells.realization_seeds`), so the ratio compares like with like.
    """
    base = frame[frame[by] == ref].set_index("realization")[metric]
    return frame[metric] / frame["realization"].map(base).to_numpy()


def crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First ``x`` where ``y`` reaches ``level`` going up, interpolated in log-log (NaN: never)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    for i in range(1, xa.size):
        if ya[i - 1] < level <= ya[i] and xa[i - 1] > 0 and ya[i - 1] > 0:
            f = (math.log10(level) - math.log10(ya[i - 1])) / (
                math.log10(ya[i]) - math.log10(ya[i - 1])
            )
            return float(
                10 ** (math.log10(xa[i - 1]) + f * (math.log10(xa[i]) - math.log10(xa[i - 1])))
            )
    return math.nan


def interp_loglog(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """``y`` at ``x = at`` interpolated linearly in log-log (NaN outside the range)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = (xa > 0) & (ya > 0) & np.isfinite(ya)
    if not math.isfinite(at) or ok.sum() < 2 or not (xa[ok].min() <= at <= xa[ok].max()):
        return math.nan
    return float(10 ** np.interp(math.log10(at), np.log10(xa[ok]), np.log10(ya[ok])))


def band(ax: Axes, stats: pd.DataFrame, *, label: str, color: str | None = None, **kw: Any) -> None:
    """Median line with markers and the quantile band of :func:`grouped` output."""
    line = ax.plot(stats["x"], stats["median"], marker="o", ms=3, label=label, color=color, **kw)
    ax.fill_between(
        stats["x"], stats["q_low"], stats["q_high"], alpha=0.2, color=line[0].get_color(), lw=0
    )


class _NotDrawn:
    """Stands for a figure or axes while :data:`DRAWING` is false (the bootstrap's resamples):
    every attribute, call and item is itself, so a render's plotting calls cost nothing. Nothing
    a figure measures may be read back from its plot (the numbers come from the frames)."""

    def __getattr__(self, name: str) -> _NotDrawn:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _NotDrawn:
        return self

    def __getitem__(self, key: Any) -> _NotDrawn:
        return self


def new_figure(n_panels: int, *, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``n_panels`` side by side on an Agg canvas (no pyplot).

    While :data:`DRAWING` is false, a stand-in that draws nothing (:func:`save_figure` writes
    nothing then either): resampled renders skip matplotlib altogether.
    """
    if not DRAWING.get():
        skipped: Any = _NotDrawn()
        return skipped, [skipped] * n_panels
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * n_panels, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    fig.suptitle(title, fontsize=10)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    return fig, list(axes)


def save_figure(fig: Figure, path: Path) -> Path:
    """Write the figure as PNG (folders made as needed).

    A panel left without any finite positive value on a log axis (e.g. no realization reached a
    tolerance in a short run) is switched to linear and says "no data" instead of failing.
    Nothing is written while :data:`DRAWING` is false.
    """
    if not DRAWING.get():
        return path
    for ax in fig.axes:
        values = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
        offsets = [np.asarray(c.get_offsets(), dtype=float) for c in ax.collections]
        values += [o[:, 1] for o in offsets if o.ndim == 2 and o.shape[0]]
        positive = any(np.any(np.isfinite(v) & (v > 0)) for v in values)
        if not positive:
            ax.set_yscale("linear")
            ax.set_xscale("linear")
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=110)
    except ValueError:  # a log axis with nothing positive on it (reference lines only)
        for ax in fig.axes:
            ax.set_xscale("linear")
            ax.set_yscale("linear")
        fig.savefig(path, dpi=110)
    return path


def fmt(value: float, digits: int = 3) -> str:
    """A number for the report (``n/a`` for NaN)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def measured_table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    """A Markdown table: quantity | measured | published | departure."""
    out = ["| quantity | measured here | published (seed) | departure |", "|---|---|---|---|"]
    out += [f"| {q} | {m} | {p} | {d} |" for q, m, p, d in rows]
    return "\n".join(out)


def log_grid(lo_exp: float, hi_exp: float, n: int) -> list[float]:
    """``n`` values from ``10**lo_exp`` to ``10**hi_exp``, evenly spaced in log, rounded to 12
    significant digits.

    Sweep axes feed the cell ids (a hash of every parameter), so they must not depend on the
    machine: ``numpy.logspace`` computes its powers in numpy's AVX-512 loops where the CPU has them
    and with the C library elsewhere, and the two differ in the last bit (``1e-05`` on one machine,
    ``9.999999999999999e-06`` on another). Rounding removes that bit.
    """
    return [float(f"{v:.12g}") for v in np.logspace(lo_exp, hi_exp, n)]


def lambda_sweep(
    name: str,
    *,
    lams: Sequence[float],
    realizations: int,
    description: str,
    base: Mapping[str, Any],
) -> SweepSpec:
    """A trainer sweep over lambda (one axis, root seed 0): the spec of figures 2, 5 and 8."""
    from ..spec import spec_from_dict

    return spec_from_dict(
        {
            "name": name,
            "kind": "trainer",
            "realizations": realizations,
            "seed": 0,
            "description": description,
            "base": dict(base),
            "axes": {"lam": list(lams)},
        }
    )
