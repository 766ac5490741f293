"""How far a held board drifts while the twin plans (issue 22): a board that runs in real time is
held idle (training stopped, gates held) while the predictive planner plans, and its clock runs
on. For each seed, an in-process emulated board (``--variation``) trains 0.3 s at eta 0.88 from
boot (a mid-run state near a tolerance of 1e-3 x e0), is stopped, and is then read for 1, 5 and
10 s of board time idle: the largest gate move (V) and the error (V^2, the steerer's 10-frame
meter) against the error when the hold began. Run by hand::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_hold_drift.py --seeds 10
"""

from __future__ import annotations

import argparse

import numpy as np

from twin.board.contract import BoardState, Command
from twin.physics.task import task_from_dict
from twin.shadow.session import EmulationSpec, open_board
from twin.simulation.edge import board_edge_params
from twin.steer.meter import BoardMeter

HOLDS_S = (1.0, 5.0, 10.0)


def one(seed: int, variation: str) -> tuple[float, list[tuple[float, float, float]]]:
    """(error when the hold began, [(hold s, largest gate move V, error V^2)])."""
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
        for hold in HOLDS_S:
            state = run(hold - done)
            done = hold
            out.append((hold, float(np.max(np.abs(np.asarray(state.gate_v) - g0))), meter.error()))
        return e0, out
    finally:
        board.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--variation", default="typical")
    args = ap.parse_args()
    ratios: dict[float, list[float]] = {h: [] for h in HOLDS_S}
    moves: dict[float, list[float]] = {h: [] for h in HOLDS_S}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        e0, rows = one(seed, args.variation)
        for hold, move, err in rows:
            ratios[hold].append(err / e0)
            moves[hold].append(move)
        text = ", ".join(f"{h:g} s: {m:.2f} V, x{e / e0:.2f}" for h, m, e in rows)
        print(f"seed {seed}: error {e0:.3g} V^2 when held; {text}", flush=True)
    for hold in HOLDS_S:
        r, m = ratios[hold], moves[hold]
        print(
            f"held {hold:g} s: error x{np.median(r):.2f} median [{min(r):.2f}, {max(r):.2f}], "
            f"largest gate move {np.median(m):.2f} V median [{min(m):.2f}, {max(m):.2f}]"
        )


if __name__ == "__main__":
    main()
