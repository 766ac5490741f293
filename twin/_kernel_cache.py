"""Is the compiled-kernel cache warm? Lets a command warn before a first-run compilation.

numba compiles a kernel on its first call and keeps the machine code in an on-disk cache (an
index file ``*.nbi`` per function, stamped with its source, plus data files). A kernel module
is *cold* when none of its compiled functions has a fresh index: the first call will compile
(tens of seconds) instead of loading (a fraction of a second). The check reads only the index
files, through the locator numba itself uses for each function (so it follows
``NUMBA_CACHE_DIR`` and any custom locator of the kernel package); it compiles nothing.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["cold_kernel_modules"]

log = logging.getLogger("twin.kernels")


def _fresh(dispatcher: Any) -> bool:
    """True when the dispatcher's cache index exists and matches its source stamp."""
    cache = getattr(dispatcher, "_cache", None)
    index = getattr(cache, "_cache_file", None)
    if index is None:  # caching disabled: nothing to warm
        return True
    try:
        return bool(index._load_index())
    except Exception as exc:  # an unreadable index: numba recompiles, so do we say
        log.debug("cache index of %s unreadable: %s", dispatcher, exc)
        return False


def cold_kernel_modules(prefix: str = "twin.kernels") -> list[str]:
    """Names of the imported kernel modules (below ``prefix``) whose cache is cold.

    Only modules already imported are looked at, so a command asks about exactly the kernels it
    loaded. A module counts as warm when at least one of its compiled functions has a fresh cache
    index.
    """
    if "numba" not in sys.modules:
        return []
    from numba.core.dispatcher import Dispatcher

    cold = []
    for name, module in sorted(sys.modules.items()):
        if module is None or not (name == prefix or name.startswith(prefix + ".")):
            continue
        jitted = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == name
        ]
        if jitted and not any(_fresh(d) for d in jitted):
            cold.append(name)
    return cold
