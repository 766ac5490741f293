"""A calibration on disk (``twin.calibration/1``): written by ``twin calibrate --save``, read by
``twin shadow`` and ``twin steer --calibration FILE``.

A board reached over the wire can only be calibrated from its own frames, and the shadow or
steerer that uses the calibration may run hours later in another process: the file carries the
fitted per-edge values (bit for bit: floats are written with ``repr``), the fit's standard
errors, the calibrated twin's fault-free residual spread and the held-out report, and names the
board it belongs to, so a file fitted to another board or network is refused before anything
runs.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from twin.board.contract import Board
from twin.board.errors import BridgeConfigError
from twin.documents import code_version
from twin.physics.file_checks import check_document, read_json
from twin.shadow.calibrate import CalibrationResult
from twin.shadow.detector import SpreadModel
from twin.shadow.drive_margin import GAIN_COV_KEYS, gain_covariance
from twin.simulation.edge import EdgeParams, TransistorDevice, board_edge_params

__all__ = [
    "CALIBRATION_SCHEMA",
    "EDGE_FIELDS",
    "SavedCalibration",
    "calibration_document",
    "load_calibration",
    "save_calibration",
]

CALIBRATION_SCHEMA = "twin.calibration/1"
#: The per-edge circuit values a calibration fits (the rest of the edge stays nominal);
#: ``bias_v_per_s`` is optional on reading (files from before it: no bias).
EDGE_FIELDS = ("v_t_v", "a_free_per_v", "a_clamp_per_v", "tau_leak_s", "v_rest_v", "bias_v_per_s")
_FIT_FIELDS = (
    "a_free_se_per_v",
    "a_clamp_se_per_v",
    "a_free_clamp_cov_per_v2",
    "drift_v_per_s",
    "drift_se_v_per_s",
    "leak_per_s_se",
    "bias_se_v_per_s",
)


@attrs.frozen(kw_only=True, eq=False)
class SavedCalibration:
    """A calibration read back: the twin's ``edges`` and ``spread``, the board it was fitted to
    (``board_id``, ``n_edges``), how it was obtained (``source``) and its held-out ``report``."""

    edges: EdgeParams
    spread: SpreadModel
    board_id: str
    n_edges: int
    source: Mapping[str, Any]
    report: Mapping[str, Any]
    path: str = ""

    def check_board(self, board_id: str, n_edges: int) -> None:
        """Refuse (one line) a board other than the one calibrated, or another network."""
        where = self.path or "calibration"
        if board_id != self.board_id:
            raise BridgeConfigError(
                f"{where}: board_id: fitted to board {self.board_id!r}, this board is "
                f"{board_id!r} (calibrate this board: twin calibrate --connect ... --save)"
            )
        if n_edges != self.n_edges:
            raise BridgeConfigError(
                f"{where}: n_edges: fitted to a network of {self.n_edges} edges, the board's task "
                f"has {n_edges}"
            )

    def check_snapshot(self, board: Board, timeout_s: float = 5.0) -> None:
        """:meth:`check_board` against ``board``'s snapshot (its id and its gates' count)."""
        snapshot = board.snapshot(timeout_s)
        self.check_board(snapshot.config.board_id, len(snapshot.state.gate_v))

    def summary(self) -> dict[str, Any]:
        """What a run's summary says about the calibration it used."""
        pred = self.report.get("prediction", {}) if isinstance(self.report, Mapping) else {}
        out: dict[str, Any] = {"file": self.path, "board_id": self.board_id, **self.source}
        calibrated = pred.get("calibrated") if isinstance(pred, Mapping) else None
        if isinstance(calibrated, Mapping) and "gate_rms_v" in calibrated:
            out["held_out_gate_rms_v"] = calibrated["gate_rms_v"]
        out["gain_covariance"] = (
            "stored"
            if self.spread.gain_cov is not None
            else "absent (a file written before it): the detector's gross-drive margin stays "
            "flat; recalibrate for the fitted margin"
        )
        return out


def _plain(value: Any) -> Any:
    """``value`` as JSON data: arrays as lists, numbers that are not finite as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def calibration_document(
    result: CalibrationResult,
    report: Mapping[str, Any],
    *,
    board_id: str,
    source: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``twin.calibration/1`` document of ``result`` (``source``: its provenance, see the
    schema; a seed is written as a string of digits)."""
    if result.spread is None:
        raise BridgeConfigError("calibration: the result carries no residual spread to save")
    fit = result.fitted
    n = int(np.asarray(fit["v_t_v"]).size)
    src = {k: (str(v) if k == "seed" and v is not None else v) for k, v in source.items()}
    return {
        "schema": CALIBRATION_SCHEMA,
        "board_id": board_id,
        "n_edges": n,
        "created_unix": time.time(),
        "code_version": code_version()[:64],
        "source": _plain(src),
        "edges": {k: _plain(np.asarray(fit[k], dtype=float)) for k in EDGE_FIELDS if k in fit},
        "fit": {
            "dynamics_fitted": _plain(np.asarray(fit["dynamics_fitted"], dtype=bool)),
            **{k: _plain(np.asarray(fit[k], dtype=float)) for k in _FIT_FIELDS if k in fit},
        },
        "spread": {
            "floor_v": _plain(result.spread.floor_v),
            "slope_v_per_s": _plain(result.spread.slope_v_per_s),
            "rel": _plain(result.spread.rel),
            "source": result.spread.source[:64],
        },
        "report": _plain(dict(report)),
    }


def save_calibration(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    import json

    check_document(document, CALIBRATION_SCHEMA, BridgeConfigError, source=str(path))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(document, allow_nan=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _column(doc: Mapping[str, Any], group: str, name: str, n: int, source: str) -> np.ndarray:
    values = doc[group][name]
    if len(values) != n:
        raise BridgeConfigError(
            f"{source}: {group}.{name}: expected {n} values (n_edges), got {len(values)}"
        )
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def load_calibration(path: str | Path) -> SavedCalibration:
    """Read and check a ``twin.calibration/1`` file; errors name the file and the field."""
    path = Path(path)
    source = str(path)
    doc = read_json(path, BridgeConfigError, what="calibration")
    check_document(doc, CALIBRATION_SCHEMA, BridgeConfigError, source=source)
    n = int(doc["n_edges"])
    cols = {k: _column(doc, "edges", k, n, source) for k in EDGE_FIELDS if k in doc["edges"]}
    cols.setdefault("bias_v_per_s", np.zeros(n))
    if np.isnan(cols["v_t_v"]).any() or np.isnan(cols["v_rest_v"]).any():
        raise BridgeConfigError(f"{source}: edges: v_t_v and v_rest_v expected numbers, got null")
    spread = {k: _column(doc, "spread", k, n, source) for k in ("floor_v", "slope_v_per_s", "rel")}
    fit = doc.get("fit", {})
    gain_cov = None  # files from before it: the detector keeps its flat gross-drive margin
    if all(k in fit for k in GAIN_COV_KEYS):
        gain_cov = gain_covariance(*(_column(doc, "fit", k, n, source) for k in GAIN_COV_KEYS))
    base = board_edge_params("transistor")
    assert isinstance(base.device, TransistorDevice)
    edges = base.evolve(
        device=attrs.evolve(base.device, v_t_v=cols["v_t_v"]),
        a_free_per_v=cols["a_free_per_v"],
        a_clamp_per_v=cols["a_clamp_per_v"],
        tau_leak_s=np.where(np.isnan(cols["tau_leak_s"]), np.inf, cols["tau_leak_s"]),
        v_rest_v=cols["v_rest_v"],
        bias_v_per_s=cols["bias_v_per_s"],
    )
    src = dict(doc["source"])
    if src.get("seed") is not None:
        if not (src["seed"].isascii() and src["seed"].isdigit()):
            raise BridgeConfigError(
                f"{source}: source.seed: expected a seed as a string of digits, got {src['seed']!r}"
            )
        src["seed"] = int(src["seed"])
    return SavedCalibration(
        edges=edges,
        spread=SpreadModel(
            source=doc["spread"].get("source", "calibration"), gain_cov=gain_cov, **spread
        ),
        board_id=doc["board_id"],
        n_edges=n,
        source=src,
        report=doc.get("report", {}),
        path=source,
    )
