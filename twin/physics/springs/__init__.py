"""Harmonic spring networks (seed App. D, PHYSICS.md section 11) behind the Physics contract.

:mod:`.network` (geometry, rigidity, floppy modes, pruning), :mod:`.mechanics` (energy, forces,
Hessian, the exact nonlinear equilibrium), :mod:`.linear` (the linear-response fast path),
:mod:`.task` (allostery-strain tasks) and :mod:`.physics` (:class:`~.physics.SpringPhysics`).

Units: lengths in metres (a generated network's unit length, the mean disk diameter, is 1 m),
stiffnesses in N/m, energies in joules, strains dimensionless.
"""

__all__: list[str] = []
