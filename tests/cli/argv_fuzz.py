"""The argv fuzzer: argument lists for every ``twin`` command, drawn from the click command tree.

Nothing here lists options by hand: :func:`leaf_commands` walks the tree, and each parameter's
values come from its click type (ranges give their bounds, just beyond them, NaN, infinities,
huge and garbage numbers; paths give the files of a sandbox folder, system files, missing
folders and over-long names; endpoints, faults and specs give valid and broken forms). A case is
a command, its safe base arguments (so a valid case reaches its work quickly) and one to four
options or arguments with drawn values.

Work is where a command hands validated input to the library: :data:`WORK_ENTRY_POINTS` are
replaced by a stub raising :class:`Started`, so a case ends either refused (exit 2, one line) or
at the start of its work, in milliseconds. That is the contract under test: every check runs
before any work.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from hypothesis import strategies as st

__all__ = [
    "JAMMED_WORK_NODES",
    "WORK_ENTRY_POINTS",
    "Started",
    "base_args",
    "gate_jammed_generation",
    "import_everything",
    "leaf_commands",
    "make_sandbox",
    "snapshot",
    "values_for",
]

#: Library calls where a command's work starts (module, attribute).
WORK_ENTRY_POINTS = (
    ("twin.learning.trainer", "Trainer"),
    ("twin.cli.simulate", "recorded_dispatch"),
    ("twin.cli._simulate_springs", "recorded_dispatch"),
    ("twin.learning.inference", "infer"),
    ("twin.shadow.run", "run_shadow"),
    ("twin.shadow.session", "calibrate_emulator"),
    ("twin.shadow.session", "calibrate_recording"),
    ("twin.shadow.session", "serve_emulator"),
    ("twin.cli._demo", "run_demo"),
    ("twin.sweeps.figures.report", "make_figures"),
    ("twin.sweeps", "run_sweeps"),
    ("twin.sweeps", "DaskExecutor"),
    ("twin.sweeps", "LocalExecutor"),
    ("hw_bridge.client", "ZmqBoard"),
)


#: A jammed packing of more disks than this is work of its own (jammed:3000 takes minutes, which
#: the command announces with its estimate): generating it ends a case as :class:`Started`;
#: smaller ones (the default jammed:64 of regression and iris) are built, so the case goes on
#: to the checks after them.
JAMMED_WORK_NODES = 500


def gate_jammed_generation(stub: Any) -> Any:
    """``twin.physics.jammed.jammed_network``, calling ``stub`` instead above
    :data:`JAMMED_WORK_NODES` disks (install with ``monkeypatch.setattr``)."""
    from twin.physics import jammed

    generate = jammed.jammed_network

    def gated(n_nodes: int, *args: Any, **kwargs: Any) -> Any:
        if n_nodes > JAMMED_WORK_NODES:
            return stub(n_nodes, *args, **kwargs)
        return generate(n_nodes, *args, **kwargs)

    return gated


class Started(Exception):
    """Raised by a stubbed work entry point: the command validated its input and began work."""


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], click.Command]
]:  # fmt: skip
    """``(path, command)`` of every command below ``group`` (subgroups walked)."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None:
            continue
        if isinstance(cmd, click.Group):
            yield from leaf_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SPEC = 'name = "s"\nkind = "trainer"\nrealizations = 1\n[base]\nsteps = 5\n'


def make_sandbox(folder: Path) -> dict[str, Path]:
    """Files a case may name: a sweep spec, a recording, a JSON document, a text file."""
    files = {
        "spec": folder / "spec.toml",
        "rec": folder / "keep.rec",
        "json": folder / "doc.json",
        "txt": folder / "notes.txt",
    }
    files["spec"].write_text(SPEC)
    files["rec"].write_bytes(b"\x00" * 64)
    files["json"].write_text('{"schema": "twin.task/1"}')
    files["txt"].write_text("hello\n")
    (folder / "sub").mkdir()
    return files


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``folder``."""
    out = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            try:
                out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                out[str(path.relative_to(folder))] = "unreadable"
    return out


NUMBERS = ["nan", "inf", "-inf", "1e308", "-1e308", "1e-300", "0", "-1", "1", "abc", "",
           "1e3", "18446744073709551616", "0x10", " 3 "]  # fmt: skip


def _range_values(kind: click.ParamType) -> list[Any]:
    lo, hi = getattr(kind, "min", None), getattr(kind, "max", None)
    out: list[Any] = list(NUMBERS)
    for bound in (lo, hi):
        if bound is not None:
            out += [str(bound), str(bound * 2 if bound else 1), str(-bound), repr(bound + 1),
                    repr(bound - 1)]  # fmt: skip
    if lo is not None and hi is not None:
        out.append(str((lo + hi) / 2 if isinstance(kind, click.FloatRange) else (lo + hi) // 2))
    return out


def _path_values(folder: Path, files: dict[str, Path]) -> list[str]:
    # No endless inputs (/dev/zero, FIFOs) yet: reading them whole is the bounded-reads half of
    # issue 18 (branch harden18a); add them here once it is merged.
    return [
        str(files["spec"]),
        str(files["rec"]),
        str(files["json"]),
        str(files["txt"]),
        str(folder / "new.jsonl"),
        str(folder / "new.png"),
        str(folder / "sub"),
        str(folder / "missing" / "x.json"),
        str(folder / ("n" * 300)),
        "/proc/version",
        "/etc/passwd",
        "",
        "a\x00b",
    ]


def values_for(param: click.Parameter, folder: Path, files: dict[str, Path]) -> st.SearchStrategy:
    """Values of one parameter, from its click type."""
    from twin.cli._types import Endpoint, FaultSpec, SchedulerAddress

    kind = param.type
    port = closed_port()
    if isinstance(kind, click.Choice):
        return st.sampled_from([*map(str, kind.choices), "", "bogus"])
    if isinstance(kind, click.IntRange | click.FloatRange):
        return st.sampled_from(_range_values(kind))
    if kind in (click.INT, click.FLOAT):
        return st.sampled_from(NUMBERS)
    if isinstance(kind, click.Path):
        return st.sampled_from(_path_values(folder, files))
    if isinstance(kind, Endpoint):
        return st.sampled_from([f"tcp://127.0.0.1:{port}", "tcp://*:0", "tcp://127.0.0.1:0",
                                "garbage", "tcp://127.0.0.1:70000", "tcp://[::1]:0", "",
                                "http://127.0.0.1:80"])  # fmt: skip
    if isinstance(kind, SchedulerAddress):
        return st.sampled_from([f"tcp://127.0.0.1:{port}", "tcp://x", "nonsense", ""])
    if isinstance(kind, FaultSpec):
        faults = ["7:gain=2@1", "7:gain=nan@1", "7:threshold=1e308@0.5", "99:leak=1@0",
                  "7:leak=0@1", "x", "", "7:free_gain=3@inf"]  # fmt: skip
        return st.sampled_from(faults)
    return st.sampled_from(["", "x", "lattice:3x3", "lattice:99999x99999", "jammed:3000",
                            "file:/etc/passwd", "ref:64", "[/]", "a" * 300, "allostery", "iris",
                            "sync:1e12", "7d", "2026-01-01", "-1", "nan", f"file:{files['json']}",
                            "bernoulli:0.5", "\x00"])  # fmt: skip


#: Base arguments that let a valid case reach its work at once (and bind nothing fixed).
BASES: dict[tuple[str, ...], list[str]] = {
    ("shadow",): ["--emulate", "--no-db"],
    ("board",): ["--bind", "tcp://127.0.0.1:0"],
    ("calibrate",): ["--from-emulator"],
    ("train",): ["--steps", "1", "--no-db"],
    ("simulate",): ["--duration", "0.001", "--no-db"],
}


def base_args(path: tuple[str, ...], folder: Path, files: dict[str, Path]) -> list[str]:
    """The base arguments of the command at ``path``."""
    if path == ("record",):
        return ["--connect", f"tcp://127.0.0.1:{closed_port()}", "--out", str(folder / "r.rec")]
    if path == ("replay",):
        return [str(files["rec"])]
    if path[0] == "sweep":
        return [str(files["spec"]), "--db", f"sqlite:///{folder}/sweep.db"]
    if path == ("demo",) or path == ("figures",):
        return ["--out", str(folder / "out")]
    return list(BASES.get(path, []))


def import_everything() -> None:
    """Import every module of the project before any stub is set.

    A module first imported while a work entry point is stubbed would bind the stub for good
    (``from twin.learning.trainer import Trainer``) and break every later test that uses it.
    """
    import importlib
    import pkgutil

    import hw_bridge
    import twin

    for package in (twin, hw_bridge):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" in info.name or info.name.endswith(("__main__", ".examples")):
                continue  # alembic's env.py runs a migration on import; __main__ runs the CLI
            importlib.import_module(info.name)
