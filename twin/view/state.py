"""What the live page shows, kept in bounded memory and shared between two threads.

:class:`LiveState` is written by the run (a document subscriber plus status updates from the
shadow or the simulation) and read by the page server's thread. Everything it holds is bounded:

- per source (``board``, ``twin``) a rolling window of the last ``window`` samples (run time,
  error, free power, and for the twin of a shadow the gate residual and divergence score);
- the latest gate voltage of every edge per source (one value per edge), and its conductance
  under the device model given by :meth:`LiveState.set_conductance` (the nominal model);
- energy so far per source and component (a handful of sums);
- for a network that is not a circuit (mode ``xy``: an XY network trained by equilibrium
  propagation), the latest value of every node and every edge (:meth:`LiveState.set_values`:
  phases in radians and couplings, one value each);
- the last ``max_events`` events (resyncs, restarts, alarms, run start and stop) and the last
  ``max_alarms`` alarms;
- a status mapping (connection state, counters, lag, time of the last frame);
- when steering (mode ``steer``), the last ``max_events`` commands sent (name, arguments, status,
  attempts) and the count per status. The twin's series is then the plan being followed: the
  samples of a twin run of role ``plan`` replace the previous plan's from the time it was made
  (a re-plan), and the twin's lambda = 0 baseline (role ``baseline``) is not plotted.

Each sample gets a sequence number, so a reader asks for what is new since its cursor
(:meth:`LiveState.delta`) and a late-joining page gets the whole state (:meth:`LiveState.snapshot`).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["SOURCES", "LiveState", "Point"]

#: The series the page plots.
SOURCES = ("board", "twin")

#: One sample on the page: ``[seq, t_s, error, free_power_w, gate_residual_rms_v, score]``.
Point = list[float | None]

_GATE = re.compile(r"^gate_v_(\d+)$")


def _first(data: Mapping[str, Any], key: str) -> float | None:
    """The first realization of a reading (documents hold a list per key), or None."""
    value = data.get(key)
    if not value:
        return None
    x = float(value[0])
    return x if math.isfinite(x) else None


def _plain(value: Any) -> Any:
    """A JSON-safe status value: numbers as float or int (non-finite: None), text as is."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return x if math.isfinite(x) else None


class LiveState:
    """The bounded, thread-safe state behind the live page.

    Parameters
    ----------
    window
        Samples kept per source (the rolling window of the time plots).
    max_events, max_alarms
        Events and alarms kept (older ones are dropped; their counts are kept).
    mode
        ``shadow``, ``simulate``, ``steer`` or ``xy`` (what the page labels and which panels it
        shows).
    """

    def __init__(
        self, *, window: int = 600, max_events: int = 40, max_alarms: int = 20, mode: str = "shadow"
    ) -> None:
        if window < 2 or max_events < 1 or max_alarms < 1:
            raise ConfigError("window: expected >= 2; max_events, max_alarms: expected >= 1")
        self.window = int(window)
        self.mode = mode
        self._lock = threading.Lock()
        self._seq = 0
        self._version = 0
        self._series: dict[str, deque[Point]] = {s: deque(maxlen=self.window) for s in SOURCES}
        self._runs: dict[str, str] = {}
        self._gates: dict[str, list[float | None]] = {}
        self._conductance: dict[str, list[float | None]] = {}
        self._to_conductance: Callable[[np.ndarray], np.ndarray] | None = None
        self._energy: dict[str, dict[str, float]] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._alarms: deque[dict[str, Any]] = deque(maxlen=max_alarms)
        self._n_events = 0
        self._n_alarms = 0
        self._commands: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._predictions: deque[str] = deque(maxlen=16)  # uids of plan and baseline runs
        self._command_counts: dict[str, int] = {}
        self._status: dict[str, Any] = {"mode": mode, "run": "waiting"}
        self._values: dict[str, list[float | None]] = {"nodes": [], "edges": []}
        self._layout: dict[str, Any] | None = None
        self._layout_version = 0
        self.documents = 0

    # ------------------------------------------------------------------ writing (the run)

    def __call__(self, doc: Mapping[str, Any]) -> None:
        """Take one run document (a :data:`twin.documents.Subscriber`)."""
        kind = doc.get("doc")
        with self._lock:
            self.documents += 1
            if kind == "start":
                self._on_start(doc)
            elif kind == "sample":
                self._on_sample(doc)
            elif kind == "energy":
                self._on_energy(doc)
            elif kind == "stop":
                self._on_stop(doc)
            elif kind == "command":
                self._on_command(doc)
            self._version += 1

    def _on_start(self, doc: Mapping[str, Any]) -> None:
        source = "board" if doc.get("source") == "board" else "twin"
        params = doc.get("params") or {}
        role = params.get("role") if isinstance(params, Mapping) else None
        if role in ("plan", "baseline"):  # predictions: their stop does not end the run
            self._predictions.append(str(doc["uid"]))
        if role == "baseline":  # beside the run, not a series of the page
            self._runs[str(doc["uid"])] = ""
            return
        self._runs[str(doc["uid"])] = source
        if role == "plan":  # a re-plan replaces the old plan from the time it was made
            t0 = float(params.get("t0_s", 0.0))
            kept = [p for p in self._series["twin"] if p[1] is not None and p[1] < t0]
            self._series["twin"].clear()
            self._series["twin"].extend(kept)
            self._event_locked(t0, "plan", f"plan {str(doc['uid'])[:8]} from t = {t0:.3g} s")
            return
        while len(self._runs) > 8:  # runs of this process only; keep the map bounded anyway
            del self._runs[next(iter(self._runs))]
        self._status["run"] = "running"
        if doc.get("board"):
            self._status["board"] = doc["board"]
        self._event_locked(None, "start", f"{source} run {str(doc['uid'])[:8]} started")

    def _on_sample(self, doc: Mapping[str, Any]) -> None:
        source = self._runs.get(str(doc.get("run")), "twin")
        if source not in self._series:
            return
        data = doc.get("data", {})
        t_s = float(doc["t_s"])
        self._seq += 1
        residual = _first(data, "gate_residual_rms_v")
        point: Point = [
            self._seq,
            t_s,
            _first(data, "error") if "error" in data else _first(data, "loss"),
            _first(data, "free_power_w"),
            residual,
            _first(data, "divergence_score"),
        ]
        self._series[source].append(point)
        gates = {int(m.group(1)): _first(data, k) for k in data if (m := _GATE.match(k))}
        if gates:
            row: list[float | None] = [None] * (max(gates) + 1)
            for i, v in gates.items():
                row[i] = v
            self._gates[source] = row
            self._conductance[source] = self._conductances(row)
        self._status["t_s"] = max(t_s, float(self._status.get("t_s", 0.0)))
        lag = _first(data, "lag_s")
        if lag is not None:
            self._status["lag_s"] = lag

    def _conductances(self, gates: list[float | None]) -> list[float | None]:
        """Conductance (S) of each edge at its gate voltage (all None unless every gate is known:
        a device model may have per-edge parameters)."""
        fn = self._to_conductance
        if fn is None or any(v is None for v in gates):
            return [None] * len(gates)
        k = np.asarray(fn(np.array(gates, dtype=float)), dtype=float)
        return [float(x) if math.isfinite(x) else None for x in k]

    def _on_energy(self, doc: Mapping[str, Any]) -> None:
        if str(doc.get("run")) in self._predictions:  # predicted, not spent
            return
        source = str(doc.get("source", "twin"))
        book = self._energy.setdefault(source, {})
        component = str(doc.get("component", "?"))
        book[component] = book.get(component, 0.0) + float(doc.get("energy_j", 0.0))

    def _on_command(self, doc: Mapping[str, Any]) -> None:
        status = str(doc.get("status", "?"))
        self._command_counts[status] = self._command_counts.get(status, 0) + 1
        args = doc.get("args") or {}
        self._commands.append(
            {
                "seq": _plain(doc.get("seq")),
                "t_s": _plain(doc.get("t_s")),
                "name": str(doc.get("name", "?")),
                "args": {str(k): _plain(v) for k, v in args.items() if not isinstance(v, list)},
                "status": status,
                "attempts": _plain(doc.get("attempts")),
            }
        )

    def _on_stop(self, doc: Mapping[str, Any]) -> None:
        if str(doc.get("run")) in self._predictions:
            return
        status = str(doc.get("status", "complete"))
        self._status["run"] = status
        self._event_locked(None, "stop", f"run {str(doc.get('run'))[:8]} {status}")

    def _event_locked(self, t_s: float | None, kind: str, text: str) -> None:
        self._n_events += 1
        self._events.append({"n": self._n_events, "t_s": t_s, "kind": kind, "text": text})

    def event(self, kind: str, text: str, t_s: float | None = None) -> None:
        """Record an event (``resync``, ``restart``, ``alarm``, ...) at run time ``t_s``."""
        with self._lock:
            self._event_locked(t_s, kind, text)
            self._version += 1

    def alarm(self, alarm: Mapping[str, Any]) -> None:
        """Record an alarm when raised (``end_s`` None) and update it when it ends."""
        entry = dict(alarm)
        key = (entry.get("epoch"), entry.get("start_s"))
        with self._lock:
            for i, old in enumerate(self._alarms):
                if (old.get("epoch"), old.get("start_s")) == key:
                    self._alarms[i] = entry
                    break
            else:
                self._n_alarms += 1
                self._alarms.append(entry)
                edges = [str(e) for e in entry.get("edges", [])]
                shown = ", ".join(edges[:6]) + (f" … (+{len(edges) - 6})" if len(edges) > 6 else "")
                self._event_locked(entry.get("raised_s"), "alarm", f"alarm: edges {shown or '-'}")
            self._version += 1

    def set_status(self, **fields: Any) -> None:
        """Merge ``fields`` into the status (connection state, counters, lag, last frame)."""
        clean = {k: _plain(v) for k, v in fields.items()}
        with self._lock:
            self._status.update(clean)
            self._version += 1

    def set_layout(self, layout: Mapping[str, Any]) -> None:
        """The network drawing (:func:`~twin.view.layout.network_layout`)."""
        with self._lock:
            self._layout = dict(layout)
            self._layout_version += 1
            self._version += 1

    def set_values(self, *, nodes: Any, edges: Any) -> None:
        """The latest value of every node and edge (an XY network: phases in radians and
        couplings, model units); one value each, so bounded by the network's size."""
        clean = {
            name: [_plain(float(x)) for x in np.asarray(values, dtype=float).reshape(-1)]
            for name, values in (("nodes", nodes), ("edges", edges))
        }
        with self._lock:
            self._values = clean
            self._version += 1

    def set_conductance(self, fn: Callable[[np.ndarray], np.ndarray] | None) -> None:
        """How gate voltages (V) become conductances (S) on the page (None: not shown).

        Called in the writer's thread with the gate voltages of the edges a sample reports.
        """
        with self._lock:
            self._to_conductance = fn
            self._version += 1

    @property
    def has_layout(self) -> bool:
        return self._layout is not None

    # ------------------------------------------------------------------ reading (the server)

    def _latest_locked(self) -> dict[str, Any]:
        status = dict(self._status)
        last = status.get("last_frame_unix")
        status["frame_age_s"] = time.time() - float(last) if last is not None else None
        return {
            "status": status,
            "gates": {k: list(v) for k, v in self._gates.items()},
            "conductance_siemens": {k: list(v) for k, v in self._conductance.items()},
            "energy_j": {k: dict(v) for k, v in self._energy.items()},
            "node_values": list(self._values["nodes"]),
            "edge_values": list(self._values["edges"]),
            "events": list(self._events),
            "alarms": list(self._alarms),
            "n_alarms": self._n_alarms,
            "n_events": self._n_events,
            "commands": list(self._commands),
            "command_counts": dict(self._command_counts),
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything, for a page that just connected (``cursor``: the last sample's number)."""
        with self._lock:
            return {
                "type": "snapshot",
                "mode": self.mode,
                "window": self.window,
                "cursor": self._seq,
                "version": self._version,
                "layout": self._layout,
                "layout_version": self._layout_version,
                "series": {s: [list(p) for p in d] for s, d in self._series.items()},
                "latest": self._latest_locked(),
            }

    def delta(self, cursor: int, version: int, layout_version: int) -> dict[str, Any]:
        """What is new since ``cursor`` (samples), ``version`` (state) and ``layout_version``.

        ``latest`` is None when nothing but the clock changed; ``age`` (seconds since the last
        board frame, or None) is always current so that a stalled stream shows at once.
        """
        with self._lock:
            series: dict[str, list[Point]] = {}
            for source, points in self._series.items():
                new: list[Point] = []
                for p in reversed(points):  # newest first: stop at the cursor
                    if int(p[0] or 0) <= cursor:
                        break
                    new.append(list(p))
                series[source] = new[::-1]
            last = self._status.get("last_frame_unix")
            out: dict[str, Any] = {
                "type": "update",
                "cursor": self._seq,
                "version": self._version,
                "series": series,
                "latest": self._latest_locked() if version != self._version else None,
                "age_s": time.time() - float(last) if last is not None else None,
                "layout": None,
                "layout_version": self._layout_version,
            }
            if layout_version != self._layout_version:
                out["layout"] = self._layout
            return out

    def sizes(self) -> dict[str, int]:
        """How many items each bounded buffer holds (for tests and the memory check)."""
        with self._lock:
            return {
                **{f"series_{s}": len(d) for s, d in self._series.items()},
                "events": len(self._events),
                "alarms": len(self._alarms),
                "commands": len(self._commands),
                "gates": sum(len(g) for g in self._gates.values()),
                "conductance": sum(len(g) for g in self._conductance.values()),
                "energy": sum(len(e) for e in self._energy.values()),
                "values": sum(len(v) for v in self._values.values()),
            }
