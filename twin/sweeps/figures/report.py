"""Run or find the figures' sweeps, render them and write ``report.md``."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import resource
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cells import expand
from ..errors import SweepError
from ..provenance import code_version
from ..runner import results_frame, run_sweeps
from . import FIGURES, figure_module
from .spread import Spread, bootstrap

if TYPE_CHECKING:
    import pandas as pd

    from ..executors import Executor
    from ..spec import SweepSpec

__all__ = ["NUMBERS_NAME", "REPORT_NAME", "check_names", "make_figures", "spread_table"]

log = logging.getLogger("twin.figures")

#: File name of the report in the output folder.
REPORT_NAME = "report.md"
#: File name of the headline numbers with their spreads (what ``twin figures --compare`` reads).
NUMBERS_NAME = "report.json"
#: ``progress(label, done, total)``: cells finished of the sweep ``label``.
Progress = Callable[[str, int, int], None]


def cells_cpu_s(specs: Sequence[SweepSpec], db_url: str | None) -> float:
    """CPU seconds the ledger records for the done cells of ``specs`` (summed over cells).

    The workers' own measurement (``sweep_cells.cpu_s``), wherever they ran: a worker pool that
    is still open is not counted by this process's ``getrusage``.
    """
    import sqlalchemy as sa

    from ...ledger.db import open_ledger
    from ...ledger.models import sweep_cells

    ids = list({c.cell_id for spec in specs for c in expand(spec)})
    if not ids:  # a figure computed directly: nothing to read (the ledger may not exist yet)
        return 0.0
    c = sweep_cells.c
    with open_ledger(db_url, read_only=True) as ledger, ledger.engine.connect() as conn:
        query = sa.select(sa.func.sum(c.cpu_s)).where(c.cell_id.in_(ids), c.status == "done")
        total = conn.execute(query).scalar()
    return float(total or 0.0)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _in_background(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Start ``fn()`` in a daemon thread (an interrupted run does not wait for it); the returned
    function waits for its result (re-raising its exception)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="figure-compute", daemon=True)
    thread.start()

    def result() -> Any:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def make_figures(
    names: Sequence[str] | None = None,
    *,
    quick: bool = False,
    out_dir: str | Path = "figures",
    db_url: str | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> Path:
    """Regenerate figures ``names`` (default: all of :data:`FIGURES`); returns the report's path.

    The sweeps of every chosen figure go through one :func:`twin.sweeps.run_sweeps` call (their
    cells pooled, so no worker idles between sweeps; cells already in the ledger at ``db_url``
    are reused), while the figures computed directly (``compute``) run in a thread of this
    process. Then each module renders ``out_dir/<name>.png`` and its section of
    ``out_dir/report.md``. A figure whose cells failed is still rendered from the cells that are
    done; the report lists the failures.

    Raises
    ------
    KeyError
        An unknown figure name.
    """
    chosen = list(FIGURES) if not names else list(dict.fromkeys(names))
    modules = [figure_module(n) for n in chosen]  # unknown names fail before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections: list[str] = []
    numbers: dict[str, dict[str, dict[str, float | bool]]] = {}
    timings: list[tuple[str, float, float, float]] = []
    t_all, cpu_all = time.perf_counter(), _cpu_s()
    specs = {module.NAME: module.specs(quick) for module in modules}
    every = [spec for module in modules for spec in specs[module.NAME]]
    computing = {
        module.NAME: _in_background(functools.partial(module.compute, quick))
        for module in modules
        if getattr(module, "compute", None) is not None
    }
    update = None
    if progress is not None:
        label = f"cells of {len(every)} sweeps"

        def update(done: int, total: int) -> None:
            progress(label, done, total)

    outcomes = {}
    if every:
        done = run_sweeps(every, db_url=db_url, executor=executor, progress=update)
        outcomes = {o.name: o for o in done}
    timings.append(("sweeps of all figures, pooled", time.perf_counter() - t_all,
                    _cpu_s() - cpu_all, cells_cpu_s(every, db_url)))  # fmt: skip
    for module in modules:
        t0, cpu0 = time.perf_counter(), _cpu_s()
        frames, notes = {}, []
        for spec in specs[module.NAME]:
            outcome = outcomes[spec.name]
            frames[spec.name] = results_frame(spec, db_url=db_url)
            failed = f", **{outcome.failed} failed**" if outcome.failed else ""
            notes.append(
                f"`{spec.name}`: {outcome.cells} cells x {spec.realizations} realizations, "
                f"{outcome.already_done} found done, {outcome.computed} computed{failed}"
            )
            for cell_id, error in outcome.failures:
                notes.append(f"failed cell `{cell_id}`: {error}")
        if module.NAME in computing:  # a figure computed directly, not from sweep cells
            frames.update(computing[module.NAME]())
            notes.append("computed directly (no sweep cells), beside the sweeps")
        result = module.render(frames, out)
        spreads = bootstrap(module.render, frames, result, out)
        numbers[module.NAME] = {k: v.as_dict() for k, v in spreads.items()}
        wall_s, cpu_s = time.perf_counter() - t0, _cpu_s() - cpu0
        cells_s = cells_cpu_s(specs[module.NAME], db_url)
        timings.append((module.NAME, wall_s, cpu_s, cells_s))
        sections.append(
            f"{result.markdown.rstrip()}\n\n{spread_table(spreads, result.published)}\n\n"
            f"{floor_line(frames)}*Sweeps:* "
            + "; ".join(notes)
            + f". *Time:* {wall_s:.0f} s wall here (rendering, spreads; its cells ran in the "
            f"pooled sweeps); CPU of its cells as the ledger records it (whichever run computed "
            f"them): {cells_s:.0f} s.\n"
        )
    total_wall, total_cpu = time.perf_counter() - t_all, _cpu_s() - cpu_all
    report = out / REPORT_NAME
    report.write_text(
        _header(chosen, quick, db_url, timings, total_wall, total_cpu) + "\n\n".join(sections)
    )
    meta = {"quick": quick, "code_version": code_version(), "figures": chosen,
            "wall_s": total_wall, "cpu_s": total_cpu}  # fmt: skip
    (out / NUMBERS_NAME).write_text(json.dumps({"meta": meta, "numbers": numbers}, indent=1))
    log.info("figures %s written to %s in %.0f s", ", ".join(chosen), out, total_wall)
    return report


def _ledger_name(db_url: str | None) -> str:
    """The ledger the figures read and wrote, as a URL (password hidden)."""
    import sqlalchemy as sa

    from ...ledger.db import resolve_url

    return sa.make_url(resolve_url(db_url)).render_as_string(hide_password=True)


def floor_line(frames: Mapping[str, pd.DataFrame]) -> str:
    """The training energy against the Landauer floor of the updates, over every trainer row."""
    import numpy as np

    ratios = [
        (f["training_energy_j"] / f["energy_floor_j"]).to_numpy(dtype=float)
        for f in frames.values()
        if {"training_energy_j", "energy_floor_j"} <= set(f.columns)
    ]
    vals = np.concatenate(ratios) if ratios else np.array([])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if not vals.size:
        return ""
    q25, med, q75 = np.quantile(vals, [0.25, 0.5, 0.75])
    return (
        f"*Energy floor:* training energy / Landauer floor of writing its conductance updates "
        f"(k_B T ln 2 per bit at 300 K, `energy_floor_j`: twin.physics.energy_floor; that and "
        f"nothing more): median {med:.3g} (25-75 %: {q25:.3g}..{q75:.3g}) over {vals.size} "
        "runs.\n\n"
    )


def spread_table(spreads: dict[str, Spread], published: Mapping[str, str]) -> str:
    """The headline numbers with their bootstrap intervals, and which are too uncertain."""
    pub = published
    lines = [
        "**Headline numbers with their spread** (value [16-84 % over bootstrap resamples of the "
        "realizations]; *too uncertain* = the interval spans more than a factor 3 or +-25 %, or "
        "a fifth of the resamples give no number: not to be compared with the seed):",
        "",
        "| number | value [68 % interval] | published (seed) | comparable? |",
        "|---|---|---|---|",
    ]
    for key, sp in spreads.items():
        verdict = "**too uncertain**" if sp.too_uncertain() else "yes"
        lines.append(f"| `{key}` | {sp.text()} | {pub.get(key, '')} | {verdict} |")
    return "\n".join(lines)


def _header(
    names: list[str],
    quick: bool,
    db_url: str | None,
    timings: list[tuple[str, float, float, float]],
    wall_s: float,
    cpu_s: float,
) -> str:
    load = os.getloadavg()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# The seed paper's figures, regenerated",
        "",
        f"{stamp}; code version `{code_version()}`; mode **{'quick' if quick else 'full'}**"
        + (" (6-8 realizations: see each number's spread before comparing it)" if quick else "")
        + f"; figures {', '.join(names)}; ledger `{_ledger_name(db_url)}`.",
        f"Total {wall_s:.0f} s wall, {cpu_s:.0f} s CPU (this process and the worker processes "
        "it has reaped: a worker pool still open is not yet counted); "
        f"load average at the end {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.",
        "",
        "| figure | wall here (s) | CPU here (s) | CPU of its cells, ledger (s) |",
        "|---|---|---|---|",
        *(f"| {n} | {w:.0f} | {c:.0f} | {k:.0f} |" for n, w, c, k in timings),
        "",
        "",
    ]
    return "\n".join(lines)


def check_names(names: Sequence[str]) -> None:
    """Raise :class:`SweepError` naming the first unknown figure."""
    for name in names:
        if name not in FIGURES:
            raise SweepError(
                f"--only: unknown figure {name!r}; expected one of {', '.join(FIGURES)}"
            )
