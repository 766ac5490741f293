"""The compiled (numba) core, below every other layer: it imports nothing from ``twin`` but
:mod:`twin.errors`. Nothing is imported here, so a command loads only the kernels it uses.
"""

__all__: list[str] = []
