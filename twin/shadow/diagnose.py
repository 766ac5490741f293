"""What an alarmed edge's residual looks like: a gain error, a drift, or a stuck gate.

While the detector watches, :class:`RecentTravel` keeps the samples of the current and the
previous resync interval (bounded: :data:`MAX_SAMPLES` each): the time since the resync, the
board's gate travel since then and the shadow's predicted travel (volts). When an alarm is
raised, :func:`diagnose_edge` fits the board's travel ``b`` against the prediction's ``u`` (from the
last sample where they agreed to within the detector's margin, the onset: a fault that starts
mid-interval is fitted from where it started) by the two one-parameter models a fault of the
board's hidden circuit produces within an interval,

- a *gain* error, ``b = g u`` (the gate learns ``g`` times as fast as the twin says: both
  amplifier gains scaled), and
- a *drift*, ``b = u + d tau`` (an extra constant rate ``d``, V/s: a leak toward its rest
  voltage, which over one interval is a constant pull, a comparator offset, or a free-channel
  gain change while the free drop holds still),

and a *stuck* gate (the board's gate held within a few ADC steps while the prediction moved).
The model that explains most of the residual ``b - u`` names the signature; when neither explains
at least :data:`EXPLAINED` of it the residual is *unexplained*. Which fault classes produce which
signature is measured, not assumed: ``benchmarks/bench_detection.py`` tabulates it. A signature
is not a cause: the text says which causes give it (a scale of the drive, a balance between the
two gains, a leak or offset, a stuck or dead gate) and that one interval cannot tell them apart.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = [
    "EXPLAINED",
    "MAX_SAMPLES",
    "STUCK_V",
    "Diagnosis",
    "RecentTravel",
    "diagnose_edge",
    "kind_of",
]

#: Samples kept per resync interval (the detector samples every 10 ms; 0.25 s intervals).
MAX_SAMPLES = 64
#: A board gate that moved less than this while the prediction moved :data:`MOVED_V` is held, V
#: (three steps of the 12-bit gate ADC over 5.5 V).
STUCK_V = 4e-3
#: The prediction moved at least this for a held board gate to count as stuck, V.
MOVED_V = 15e-3
#: Fraction of the residual's sum of squares a one-parameter model must explain to name it.
EXPLAINED = 0.8
#: Fewest samples a diagnosis is made from.
MIN_SAMPLES = 4


@attrs.frozen(kw_only=True)
class Diagnosis:
    """The residual signature of one alarmed edge.

    ``kind`` is ``gain``, ``drift``, ``stuck``, ``unexplained`` or ``unknown`` (too few samples);
    ``gain`` the fitted travel ratio, ``drift_v_per_s`` the fitted extra rate (V/s), ``gate_v``
    the board's gate (V), ``explained`` the fraction of the residual's sum of squares the named
    model explains, ``samples`` how many samples it was fitted on.
    """

    edge: int
    kind: str
    gain: float = 1.0
    drift_v_per_s: float = 0.0
    gate_v: float = float("nan")
    explained: float = 0.0
    samples: int = 0

    def text(self) -> str:
        """One line naming the signature and the faults that produce it (:func:`kind_of`
        reads the signature back)."""
        e = self.edge
        if self.kind == "stuck":
            held = f"gate held at {self.gate_v:.3f} V while the twin's moved"
            causes = f"{_SAYS['stuck']}, a dead one, or its two drive terms in balance"
            return f"edge {e}: {held} ({causes}; {_WHICH})"
        if self.kind == "gain":
            return (
                f"edge {e}: learns x{self.gain:.2f} {_SAYS['gain']} (a scale of its drive: both "
                f"gains, or their balance or a leak acting in step with it; {_WHICH})"
            )
        if self.kind == "drift":
            d = self.drift_v_per_s
            return (
                f"edge {e}: {_SAYS['drift']} {d:+.2f} V/s (a balance between its free and "
                f"clamped gains, a leak or an offset; {_WHICH})"
            )
        if self.kind == "unexplained":
            return f"edge {e}: rate error {_SAYS['unexplained']}"
        return f"edge {e}: {_SAYS['unknown']}"


#: What every signature's text adds: within one resync interval a signature does not name its
#: fault. Near a fixed point the two drive terms nearly cancel, so a free-gain rise and a
#: clamped-gain fall give the same residual, and a leak pulls at a nearly constant rate
#: (measured, ``bench_detection.py``, seeds 200-215, the faulty edge's live alarms: free gain
#: x1.5 read as drift 5, scale 2, unexplained 1, stuck 1; clamped gain x1.5 as stuck 5, drift 4,
#: unexplained 2, scale 2; leak tau 1 s as scale 9, unexplained 3, drift 1).
_WHICH = "one interval cannot tell which"
#: The words of :meth:`Diagnosis.text` that name each signature.
_SAYS = {
    "stuck": "stuck gate",
    "gain": "as fast as the twin",
    "drift": "extra drift",
    "unexplained": "neither a gain nor a drift",
    "unknown": "too few samples to say",
}


def kind_of(text: str) -> str:
    """The signature (``kind``) a line of :meth:`Diagnosis.text` names (``unknown`` if none)."""
    return next((kind for kind, words in _SAYS.items() if words in text), "unknown")


#: One detector sample: (tau_s, board travel, predicted travel, board gates, margin), V per edge.
Sample = tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class RecentTravel:
    """The detector's samples of the current and the previous resync interval (bounded)."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self.max_samples = int(max_samples)
        self._current: list[Sample] = []
        self._previous: list[Sample] = []

    def add(
        self,
        tau_s: float,
        board_travel_v: np.ndarray,
        pred_travel_v: np.ndarray,
        gate_v: np.ndarray,
        margin_v: np.ndarray | float,
    ) -> None:
        """One detector sample: time since the resync (s), the board's and the prediction's
        travel since then, the board's gates and the detector's margin (V, per edge)."""
        if len(self._current) < self.max_samples:
            margin = np.broadcast_to(np.asarray(margin_v, dtype=float), board_travel_v.shape)
            self._current.append(
                (
                    float(tau_s),
                    board_travel_v.copy(),
                    pred_travel_v.copy(),
                    gate_v.copy(),
                    margin.copy(),
                )
            )

    def new_interval(self) -> None:
        """A resync: the current interval becomes the previous one."""
        self._previous, self._current = self._current, []

    def samples(self) -> list[Sample]:
        """The current interval's samples, or the previous one's if it has too few."""
        return self._current if len(self._current) >= MIN_SAMPLES else self._previous

    def diagnose(self, edges: tuple[int, ...]) -> list[Diagnosis]:
        rows = self.samples()
        if not rows:
            return [Diagnosis(edge=e, kind="unknown") for e in edges]
        tau = np.array([r[0] for r in rows])
        board = np.array([r[1] for r in rows])
        pred = np.array([r[2] for r in rows])
        gate = np.array([r[3] for r in rows])
        margin = np.array([r[4] for r in rows])
        return [
            diagnose_edge(e, tau, board[:, e], pred[:, e], float(gate[-1, e]), margin[:, e])
            if e < board.shape[1]
            else Diagnosis(edge=e, kind="unknown")
            for e in edges
        ]


def diagnose_edge(
    edge: int,
    tau_s: np.ndarray,
    board_v: np.ndarray,
    pred_v: np.ndarray,
    gate_v: float,
    margin_v: np.ndarray | float = 0.0,
) -> Diagnosis:
    """The signature of one edge's residual over one interval (see the module docstring).

    ``tau_s`` time since the resync (s), ``board_v`` and ``pred_v`` the board's and the
    prediction's gate travel since then (V), ``gate_v`` the board's gate now (V), ``margin_v``
    the residual the detector tolerated at each sample (V): the fit starts at the last sample
    within it (if at least :data:`MIN_SAMPLES` follow), on travels counted from there.
    """
    tau, b, u = (np.asarray(a, dtype=float) for a in (tau_s, board_v, pred_v))
    within = np.flatnonzero(np.abs(b - u) <= np.broadcast_to(margin_v, b.shape))
    if within.size and within[-1] <= tau.size - MIN_SAMPLES:
        k = int(within[-1])  # the onset: travels from there
        tau, b, u = tau[k:] - tau[k], b[k:] - b[k], u[k:] - u[k]
    n = int(tau.size)
    if n < MIN_SAMPLES:
        return Diagnosis(edge=edge, kind="unknown", gate_v=gate_v, samples=n)
    if np.max(np.abs(b)) < STUCK_V and np.max(np.abs(u)) >= MOVED_V:
        return Diagnosis(edge=edge, kind="stuck", gain=0.0, gate_v=gate_v, explained=1.0, samples=n)
    r = b - u
    total = float(r @ r)
    uu, tt = float(u @ u), float(tau @ tau)
    g = float(b @ u) / uu if uu > 0 else 1.0
    d = float(r @ tau) / tt if tt > 0 else 0.0
    if total <= 0.0:
        return Diagnosis(edge=edge, kind="unexplained", gate_v=gate_v, samples=n)
    rss_gain = float(np.sum((b - g * u) ** 2))
    rss_drift = float(np.sum((r - d * tau) ** 2))
    ex_gain, ex_drift = 1.0 - rss_gain / total, 1.0 - rss_drift / total
    kind, explained = ("gain", ex_gain) if ex_gain >= ex_drift else ("drift", ex_drift)
    if explained < EXPLAINED:
        kind = "unexplained"
    return Diagnosis(
        edge=edge,
        kind=kind,
        gain=g,
        drift_v_per_s=d,
        gate_v=gate_v,
        explained=max(explained, 0.0),
        samples=n,
    )
