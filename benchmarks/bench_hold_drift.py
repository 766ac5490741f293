"""How far a held board drifts while the twin plans (issue 22): a board that runs in real time is
held idle (training stopped, gates held) while the predictive planner plans, and its clock runs
on. For each seed, an in-process emulated board (``--variation``) trains 0.3 s at eta 0.88 from
boot (a mid-run state near a tolerance of 1e-3 x e0), is stopped, and is then read for 1, 5 and
10 s of board time idle: the largest gate move (V) and the error (V^2, the steerer's 10-frame
meter) against the error when the hold began. Run by hand::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_hold_drift.py --seeds 10

``--twin-prediction`` also asks what drives the drift and whether a twin predicts it: the rms
over the edges of the gate move less the move predicted by the idle (zero-drive) gate dynamics
of the board's own hidden circuit (leak and comparator offsets), of the twin calibrated as
``twin steer --calibrate`` does (no idle holds), and of one calibrated with ``--idle-s``
holds (``--idle-s``, default 0.2 s).
"""

from __future__ import annotations

import argparse

import numpy as np

from twin.board.contract import BoardState, Command
from twin.physics.task import task_from_dict
from twin.shadow.session import EmulationSpec, open_board
from twin.simulation.edge import board_edge_params, gate_voltage
from twin.steer.meter import BoardMeter

HOLDS_S = (1.0, 5.0, 10.0)


def one(
    seed: int, variation: str, gates: list[np.ndarray] | None = None
) -> tuple[float, list[tuple[float, float, float]]]:
    """(error when the hold began, [(hold s, largest gate move V, error V^2)]); the gates (V)
    when the hold began and after each hold appended to ``gates``."""
    board = open_board(emulate=EmulationSpec(seed=seed, variation=variation))
    try:
        snap = board.snapshot(5.0)
        meter = BoardMeter(task_from_dict(snap.config.task), board_edge_params("transistor"))

        def run(dt_s: float) -> BoardState:
            t_end = None
            while True:
                states = [u for u in board.poll(0.01) if isinstance(u, BoardState)]
                meter.add(states)
                if states:
                    t_end = states[0].t_s + dt_s if t_end is None else t_end
                    if states[-1].t_s >= t_end:
                        return states[-1]

        board.command(Command(name="set_params", key=f"d{seed}-eta", args={"eta": 0.88}), 5.0)
        run(0.3)
        board.command(Command(name="stop_training", key=f"d{seed}-stop"), 5.0)
        held = run(0.05)
        e0, g0 = meter.error(), np.asarray(held.gate_v)
        out, done = [], 0.0
        if gates is not None:
            gates.append(g0)
        for hold in HOLDS_S:
            state = run(hold - done)
            done = hold
            if gates is not None:
                gates.append(np.asarray(state.gate_v))
            out.append((hold, float(np.max(np.abs(np.asarray(state.gate_v) - g0))), meter.error()))
        return e0, out
    finally:
        board.close()


def predictions(seed: int, variation: str, idle_s: float, gates: list[np.ndarray]) -> str:
    """Per hold, the rms gate move and the rms residual of each twin's idle prediction, mV."""
    from twin.shadow.session import calibrate_emulator, make_emulator

    spec = EmulationSpec(seed=seed, variation=variation)
    twins = {"hidden": make_emulator(spec).edges}
    twins["calibrated"] = calibrate_emulator(make_emulator(spec), seed=seed)[0].edges
    with_idle, _ = calibrate_emulator(make_emulator(spec), seed=seed, idle_s=idle_s)
    twins[f"idle {idle_s:g} s"] = with_idle.edges
    g0, n, parts = gates[0], gates[0].size, []
    for hold, g in zip(HOLDS_S, gates[1:], strict=True):
        rms = [f"{hold:g} s: move {1e3 * np.sqrt(np.mean((g - g0) ** 2)):.0f}"]
        for name, edges in twins.items():
            pred = gate_voltage(edges, g0, np.full(n, hold), np.zeros(n))
            rms.append(f"{name} {1e3 * np.sqrt(np.mean((g - pred) ** 2)):.0f}")
        parts.append(", ".join(rms))
    return "rms mV " + "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--variation", default="typical")
    ap.add_argument("--twin-prediction", action="store_true")
    ap.add_argument("--idle-s", type=float, default=0.2)
    args = ap.parse_args()
    ratios: dict[float, list[float]] = {h: [] for h in HOLDS_S}
    moves: dict[float, list[float]] = {h: [] for h in HOLDS_S}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        gates: list[np.ndarray] = []
        e0, rows = one(seed, args.variation, gates)
        for hold, move, err in rows:
            ratios[hold].append(err / e0)
            moves[hold].append(move)
        text = ", ".join(f"{h:g} s: {m:.2f} V, x{e / e0:.2f}" for h, m, e in rows)
        print(f"seed {seed}: error {e0:.3g} V^2 when held; {text}", flush=True)
        if args.twin_prediction:
            print(f"  {predictions(seed, args.variation, args.idle_s, gates)}", flush=True)
    for hold in HOLDS_S:
        r, m = ratios[hold], moves[hold]
        print(
            f"held {hold:g} s: error x{np.median(r):.2f} median [{min(r):.2f}, {max(r):.2f}], "
            f"largest gate move {np.median(m):.2f} V median [{min(m):.2f}, {max(m):.2f}]"
        )


if __name__ == "__main__":
    main()
