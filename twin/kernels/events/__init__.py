"""Compiled core of the event-driven twin (:mod:`twin.simulation`), one module per concept.

:mod:`.state` (the named groups of the kernel state), :mod:`.rng` (counter-based random
numbers), :mod:`.devices` (conductance curves), :mod:`.gate` (the gate capacitor),
:mod:`.clocks` (when edges update), :mod:`.circuit` (the electrical state under rank-1 updates
and refactorisations), :mod:`.energy` (energy books) and :mod:`.loop` (the event loop). The
shared sparse Cholesky and small solves live one level up (:mod:`twin.kernels.cholesky`,
:mod:`twin.kernels.small`).
"""

__all__: list[str] = []
