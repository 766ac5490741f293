"""Kernel status codes and the one place they become :class:`twin.errors.SolverError`.

Compiled code cannot raise the project's exception classes, so kernels report failures as
status codes (the small solvers of :mod:`.small` and :func:`.cholesky.sparse_basis` return
``False``; the drivers store a code) and Python raises after the kernel has returned.
"""

from __future__ import annotations

from ..errors import SolverError

__all__ = ["OK", "SINGULAR", "raise_for_status"]

#: No failure.
OK = 0
#: A Laplacian or a Schur complement was not positive definite (or a pivot vanished).
SINGULAR = 1


def raise_for_status(code: int, where: str) -> None:
    """Raise :class:`SolverError` for a non-zero kernel status; ``where`` names the circuit."""
    if code == OK:
        return
    raise SolverError(
        f"conductance: the circuit equations of {where} are singular (the Laplacian is not "
        "positive definite: zero, negative or non-finite conductances?)"
    )
