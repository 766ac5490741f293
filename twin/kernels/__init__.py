"""The compiled (numba) core, below every other layer: it imports nothing from ``twin`` but
:mod:`twin.errors`.

:mod:`._jit` (the decorator and its package-wide cache), :mod:`.ordering` (symbolic set-up of
the sparse Cholesky), :mod:`.cholesky` (its numeric sparse + dense-block factorization and the
constraint basis; general right-hand sides in :mod:`.triangular`), :mod:`.small` (small dense
solves), :mod:`.status` (kernel status codes -> :class:`twin.errors.SolverError`),
:mod:`.train_step` / :mod:`.train_run` (the synchronous trainer's compiled steps and their
driver; the run's arrays in :mod:`.train_arrays`; realizations of one circuit in lanes in
:mod:`.train_lanes`, :mod:`.lanes` and :mod:`.lane_rule`, whose rows of lanes are operated on by
the vector instructions of :mod:`.simd`) and :mod:`.events` (the twin's event loop).
Nothing is imported here, so a command loads only the kernels it uses.
"""

__all__: list[str] = []
