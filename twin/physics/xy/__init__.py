"""XY oscillator networks (seed 003): coupled phase oscillators trained by equilibrium propagation.

:mod:`.graph` (architectures: all-to-all, layered, square and triangular lattices with optional
skip connections, graphs from a file), :mod:`.spec` (network spec strings), :mod:`.energy` (the
energy, forces, nudging cost and parameter derivatives, in numpy: the reference),
:mod:`.relax` (batched relaxation: the compiled kernel and a numpy reference with Newton polish)
and :mod:`.tasks` (XOR, Iris, 8 x 8 digits as phases).

Every energy here is dimensionless (model units): the couplings ``w``, fields ``h`` and the phases
carry no physical unit. Nothing is imported here, so importing one module loads only what it needs.
"""

__all__: list[str] = []
