"""The shadow: a twin that mirrors a board, calibrated to it, with residuals, alarms and plots.

On top of the board model (:mod:`twin.board`), the wire (:mod:`hw_bridge`), the twin and the
ledger; nothing below imports it. :mod:`~twin.shadow.shadow` (the shadow loop),
:mod:`~twin.shadow.sync` (building and resyncing the twin), :mod:`~twin.shadow.ingest` (taking
the board's frames), :mod:`~twin.shadow.config`, :mod:`~twin.shadow.state`,
:mod:`~twin.shadow.output`,
:mod:`~twin.shadow.docs` (run documents), :mod:`~twin.shadow.alarms` (divergence monitor),
:mod:`~twin.shadow.probe` (the active probe: a short inference the twin predicts),
:mod:`~twin.shadow.calibrate` (fitting the twin's per-edge parameters to a board),
:mod:`~twin.shadow.calibration_runs` (recording a board's episodes and fitting them),
:mod:`~twin.shadow.session` (the composition root: an emulator, a ZeroMQ link or a replayer) and
:mod:`~twin.shadow.plots`.
"""

__all__: list[str] = []
