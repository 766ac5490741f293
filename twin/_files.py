"""Reading files at the boundary: only regular files, so a FIFO, a device or a directory given as
an input is refused before it is opened (opening a FIFO waits for a writer; ``/dev/zero`` never
ends)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import TwinError

__all__ = ["NotARegularFileError", "regular_file"]


class NotARegularFileError(TwinError, ValueError):
    """An input path names a directory, FIFO, device or socket, or cannot be examined."""


def regular_file(path: str | Path) -> os.stat_result | None:
    """The ``stat`` of ``path`` if it exists (None if not), refusing what is not a regular file.

    Raises
    ------
    NotARegularFileError
        With the reason only (``"a directory"``, ``"not a regular file"`` or the OS error);
        callers name the file and what they expected.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotARegularFileError(f"cannot examine it ({exc.strerror})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise NotARegularFileError("a directory")
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFileError("not a regular file")
    return st
