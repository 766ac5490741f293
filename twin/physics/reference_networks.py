"""The paper authors' jammed networks (PHYSICS.md section 7) by size and index: ``ref:N[:i=K]``.

The authors published 50 jammed-packing networks per size (N = 64, 128, 256) as text files
``data_N{N:05d}_Lp0.0100_r{R}.txt``. The spec ``ref:N`` names them without a path: realization
``r`` of a task gets file number ``r mod count`` (files sorted by their ``R``), so 50 realizations
of ``--network ref:64`` train on the 50 reference networks, each once; ``ref:N:i=K`` is file ``K``
(0-based) for every realization.

The folder is ``$TWIN_REFERENCE_DIR`` when set (the folder of the ``data_N*.txt`` files, or a
folder holding ``jammed/``), else the copy shipped as package data, ``twin/data/reference/jammed``
(provenance and licence in ``twin/data/reference/README.md``). Networks read this way carry the
project's default conductance bounds (``[1e-3, 10]`` S, the seed text's), not the authors' code's
``[1e-4, 1e6]``: pass the bounds explicitly (``--kmin``/``--kmax``) to use those.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from ..errors import NetworkError

__all__ = ["REFERENCE_ENV", "packaged_reference_dir", "reference_dir", "reference_files"]

#: Environment variable naming the folder of the authors' network files.
REFERENCE_ENV = "TWIN_REFERENCE_DIR"
_FILE_RE = re.compile(r"^data_N(\d+)_Lp[0-9.]+_r(\d+)\.txt$")


def packaged_reference_dir() -> Path:
    """The reference data shipped with the package: ``jammed/`` (networks) and ``tasks/``.

    The package is installed as files (a wheel or an editable checkout), never zipped, so the
    resource is a folder on disk.
    """
    return Path(str(resources.files("twin").joinpath("data", "reference")))


def _default_dir() -> Path:
    return packaged_reference_dir() / "jammed"


def reference_dir() -> Path:
    """The folder holding the authors' ``data_N*.txt`` files.

    Raises
    ------
    NetworkError
        ``$TWIN_REFERENCE_DIR`` is set but not a folder, or the package data is missing.
    """
    env = os.environ.get(REFERENCE_ENV, "").strip()
    if env:
        path = Path(env)
        if (path / "jammed").is_dir():
            path = path / "jammed"
        if not path.is_dir():
            raise NetworkError(f"network: ${REFERENCE_ENV}={env!r} is not a folder")
        return path
    path = _default_dir()
    if not path.is_dir():  # an installation without its package data
        raise NetworkError(
            f"network: ref: needs the authors' network files, missing from the package at {path}; "
            f"reinstall it or set ${REFERENCE_ENV} to their folder"
        )
    return path


def reference_files(n: int) -> list[Path]:
    """The authors' files of ``n``-disk packings, sorted by their realization number.

    Raises
    ------
    NetworkError
        No file of that size in :func:`reference_dir`.
    """
    folder = reference_dir()
    found: list[tuple[int, Path]] = []
    for path in folder.iterdir():
        m = _FILE_RE.match(path.name)
        if m and int(m.group(1)) == n:
            found.append((int(m.group(2)), path))
    if not found:
        sizes = sorted({int(m.group(1)) for p in folder.iterdir() if (m := _FILE_RE.match(p.name))})
        raise NetworkError(
            f"network: no reference network of N={n} in {folder}; sizes there: "
            f"{', '.join(map(str, sizes)) or 'none'}"
        )
    return [path for _r, path in sorted(found)]
