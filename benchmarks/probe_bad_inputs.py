"""Probe the CLI with bad inputs: how many end in a clean one-line error (exit 2)?

Run by hand against a tree (its ``twin`` first on ``PYTHONPATH``)::

    PYTHONPATH=$PWD python benchmarks/probe_bad_inputs.py [--mutations 300] [--timeout-s 20]

Each case runs in a forked child of a warmed-up parent (so a hang is killed after
``--timeout-s`` and a crash cannot take the probe down). A case is *clean* when the command exits
with code 2 and prints exactly one line on stderr without a traceback; *accepted* when it exits
0 (a bad input taken silently), *crash* when an exception escapes, *hang* when it times out.
Hand-written cases are all bad inputs; randomly mutated task files may still be valid, so they
are reported apart: crashes among them, and accepted ones that break ``schemas/task.schema.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

COMMON = ["--no-db", "--json"]


def _write(folder: Path, name: str, content: bytes | str) -> str:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def _valid_files(folder: Path) -> dict[str, Any]:
    import numpy as np

    from twin.physics.network import lattice
    from twin.physics.network_io import network_to_dict, write_authors_txt
    from twin.physics.task import task_to_dict
    from twin.physics.task_generators import allostery_task

    net = lattice(4, 4, periodic=True)
    task = task_to_dict(allostery_task(net, rng=np.random.default_rng(2)))
    write_authors_txt(net, folder / "authors.txt")
    return {"task": task, "network": network_to_dict(net), "authors": (folder / "authors.txt")}


def _file_cases(folder: Path, base: dict[str, Any]) -> list[tuple[str, list[str]]]:
    task, net = base["task"], base["network"]
    authors = base["authors"].read_text().splitlines()
    deep = "[" * 100_000 + "]" * 100_000
    bad_tasks: dict[str, Any] = {
        "binary": bytes(range(256)) * 4,
        "latin1": '{"schema": "twin.task/1", "kind": "caf\xe9"}'.encode("latin-1"),
        "empty": b"",
        "toplist": "[1, 2, 3]",
        "string": '"hello"',
        "deep": deep,
        "deep_inputs": {
            **task,
            "train": {"inputs": json.loads("[" * 500 + "]" * 500), "outputs": [[0.1, 0.2]]},
        },
        "hugeint_ground": json.dumps({**task, "ground": [0]}).replace(
            "[0]", "[" + "9" * 5000 + "]", 1
        ),
        "ground_1e12": {**task, "ground": [10**12]},
        "ground_neg": {**task, "ground": [-1]},
        "ground_float": {**task, "ground": [0.5]},
        "ground_nested": {**task, "ground": [[0]]},
        "ground_str": {**task, "ground": "0"},
        "inputs_str": {**task, "train": {"inputs": [["abc"]], "outputs": [[0.1, 0.2]]}},
        "inputs_nan": json.dumps(
            {**task, "train": {"inputs": [[0.45]], "outputs": [[0.1, 0.2]]}}
        ).replace("0.45", "NaN"),
        "inputs_1e400": json.dumps(
            {**task, "train": {"inputs": [[0.45]], "outputs": [[0.1, 0.2]]}}
        ).replace("0.45", "1e400"),
        "outputs_obj": {**task, "train": {"inputs": [[0.45]], "outputs": {"a": 1}}},
        "extra_list": {**task, "extra": [1, 2]},
        "extra_str": {**task, "extra": {"x": "y"}},
        "test_null_inputs": {**task, "test": {"inputs": None, "outputs": None}},
        "labels_str": {**task, "train": {**task["train"], "labels": ["a"]}},
        "kind_num": {**task, "kind": 3},
        "desc_obj": {**task, "description": {"a": 1}},
        "sources_both": {**task, "sources": {"nodes": [1], "edges": [2]}},
        "sources_list": {**task, "sources": [1]},
        "network_num": {**task, "network": 5},
        "network_list": {**task, "network": [1, 2]},
        "network_empty": {**task, "network": ""},
        "network_passwd": {**task, "network": "file:/etc/passwd"},
        "network_passwd_bare": {**task, "network": "/etc/passwd"},
        "network_self": {**task, "network": "file:."},
        "network_nodes_1e12": {**task, "network": {**net, "nodes": 10**12}},
        "network_nodes_str": {**task, "network": {**net, "nodes": "16"}},
        "network_kmin_str": {**task, "network": {**net, "k_min": "abc"}},
        "network_kmin_list": {**task, "network": {**net, "k_min": [1]}},
        "network_kmin_neg": {**task, "network": {**net, "k_min": -1}},
        "network_kmax_inf": json.dumps({**task, "network": {**net, "k_max": 1e300}}).replace(
            "1e+300", "1e999"
        ),
        "network_edges_flat": {**task, "network": {**net, "edges": [0, 1, 2]}},
        "network_edges_big": {**task, "network": {**net, "edges": [[0, 10**15]]}},
        "network_pos_str": {**task, "network": {**net, "positions": "abc"}},
        "network_cond_str": {**task, "network": {**net, "conductance": ["x"] * 32}},
        "network_box_list": {**task, "network": {**net, "box": [1]}},
        "network_lattice_huge": {**task, "network": "lattice:99999999999999999999x2"},
        "schema_wrong": {**task, "schema": "twin.task/9"},
        "truncated": json.dumps(task)[:200],
    }
    bad_nets: dict[str, Any] = {
        "binary": bytes(range(256)) * 4,
        "toplist": "[[0, 1]]",
        "nodes_1e12": {**net, "nodes": 10**12},
        "nodes_hugeint": json.dumps(net).replace('"nodes": 16', '"nodes": ' + "9" * 5000),
        "nodes_float": {**net, "nodes": 16.5},
        "edges_str": {**net, "edges": "abc"},
        "edges_deep": json.dumps({**net, "edges": None}).replace("null", "[" * 5000 + "]" * 5000),
        "kmin_str": {**net, "k_min": "abc"},
        "kmin_list": {**net, "k_min": [1]},
        "name_obj": {**net, "name": {"a": 1}},
        "positions_bad": {**net, "positions": [[1]]},
        "conductance_neg": {**net, "conductance": [-1.0] * 32},
        "authors_passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/sh\n",
        "authors_nn_huge": "\n".join(["999999999999 32 4", *authors[1:]]),
        "authors_ne_huge": "\n".join(["16 999999999999 4", *authors[1:]]),
        "authors_short": "\n".join(authors[:5]),
        "authors_bad_edge": "\n".join([*authors[:-1], "0 x"]),
        "authors_edge_range": "\n".join([*authors[:-1], "0 99"]),
        "authors_nan": "\n".join([authors[0], "nan nan", *authors[2:]]),
        "authors_hugeint": "\n".join(["9" * 5000 + " 32 4", *authors[1:]]),
    }
    cases: list[tuple[str, list[str]]] = []
    for name, content in bad_tasks.items():
        data = content if isinstance(content, (bytes, str)) else json.dumps(content)
        path = _write(folder, f"task_{name}.json", data)
        cases.append((f"task:{name}", ["train", "--task", f"file:{path}", "--steps", "1"]))
    for name, content in bad_nets.items():
        data = content if isinstance(content, (bytes, str)) else json.dumps(content)
        path = _write(folder, f"net_{name}.json", data)
        cases.append(
            (
                f"net:{name}",
                ["train", "--network", f"file:{path}", "--task", "allostery", "--steps", "1"],
            )
        )
    return cases


def _arg_cases(folder: Path) -> list[tuple[str, list[str]]]:
    big = "99999999999999999999999"
    train = [
        ["--steps", big],
        ["--steps", "-1"],
        ["--seed", "-1"],
        ["--seed", big],
        ["--network", "lattice:1x2"],
        ["--network", "lattice:99999999999999999999x2"],
        ["--network", "lattice:0x5"],
        ["--network", "jammed:99999999999999"],
        ["--network", "jammed:3"],
        ["--network", ""],
        ["--network", "bogus"],
        ["--network", "file:/nonexistent"],
        ["--network", "file:/etc"],
        ["--task", ""],
        ["--task", "file:"],
        ["--task", "file:/etc/passwd"],
        ["--alpha", "1e308"],
        ["--alpha", "nan"],
        ["--alpha", "-1"],
        ["--kappa", "1e308"],
        ["--kappa", "inf"],
        ["--kmax", "1e308"],
        ["--kmin", "1e308"],
        ["--lam", "1e308"],
        ["--lam", "-1"],
        ["--lam", "nan"],
        ["--eta", "1e308"],
        ["--eta", "0"],
        ["--eta", "nan"],
        ["--step-s", "1e308"],
        ["--step-s", "0"],
        ["--stop-tol", "nan"],
        ["--control-tol", "-1"],
        ["--realizations", big],
        ["--realizations", "0"],
        ["--steps", "1000000000000", "--network", "lattice:3x3:periodic"],
        ["--out", ""],
        ["--out", str(folder / "missing" / "o.jsonl")],
        ["--out", str(folder)],
        ["--save", ""],
        ["--save", str(folder / "missing" / "s.json")],
        ["--plot", str(folder / "x.xyz")],
        ["--plot", str(folder / "missing" / "p.png")],
    ]
    simulate = [
        ["--clock", "sync:1e308"],
        ["--duration", "1e308"],
        ["--duration", "nan"],
        ["--clock", "poisson:1e308"],
        ["--clock", "sync:nan"],
        ["--clock", "sync:-5"],
        ["--clock", "bogus"],
        ["--clock", ""],
        ["--eta", "1e308"],
        ["--eta", "5"],
        ["--lam", "1e308"],
        ["--noise", "1e308"],
        ["--meas-noise", "1e308"],
        ["--offsets", "1e308"],
        ["--leak", "1e-308"],
        ["--seed", "-1"],
        ["--tau-feedback", "1e308"],
        ["--sample-s", "1e-300"],
        ["--batch-s", "1e308"],
        ["--network", ""],
        ["--network", "lattice:1x2"],
        ["--task", "iris"],
        ["--model", "bogus"],
        ["--duration", "1e9", "--clock", "sync:1e9"],
        ["--out", ""],
        ["--save", str(folder / "missing" / "s.json")],
        ["--plot", str(folder / "x.xyz")],
    ]
    infer = [
        ["--network", ""],
        ["--network", "file:/etc/passwd"],
        ["--network", "lattice:4x4"],
        ["--hold-s", "1e308"],
        ["--hold-s", "nan"],
        ["--seed", "-1"],
        ["--network", f"file:{folder / 'nothing.json'}"],
    ]
    cases = [
        (
            f"train {' '.join(a)[:60]}",
            ["train", *a, "--steps", "1"] if "--steps" not in a else ["train", *a],
        )
        for a in train
    ]
    cases += [
        (
            f"simulate {' '.join(a)[:60]}",
            ["simulate", *a, "--duration", "0.001"] if "--duration" not in a else ["simulate", *a],
        )
        for a in simulate
    ]
    cases += [(f"infer {' '.join(a)[:60]}", ["infer", *a]) for a in infer]
    return cases


def _mutate(doc: Any, rnd: random.Random) -> Any:
    """One random structural mutation of a JSON value (a copy)."""
    doc = json.loads(json.dumps(doc))
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            paths.append((node, key))
            if isinstance(value, (dict, list)) and len(paths) < 5000:
                walk(value)

    walk(doc)
    parent, key = rnd.choice(paths)
    choice = rnd.randrange(10)
    replacements = [
        "abc",
        [1],
        {"a": 1},
        None,
        -1,
        10**12,
        1.5,
        True,
        [],
        10**30,
        1e300,
        [[[0]]],
    ]
    if choice < 6:
        parent[key] = rnd.choice(replacements)
    elif choice < 8 and isinstance(parent, dict):
        del parent[key]
    elif choice < 9 and isinstance(parent[key], list):
        parent[key] = parent[key] * rnd.choice([0, 2, 3])
    elif isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = -parent[key] if rnd.random() < 0.5 else parent[key] * 1000 + 7
    return doc


def _mutated_cases(folder: Path, base: dict[str, Any], n: int) -> list[tuple[str, list[str]]]:
    rnd = random.Random(13)
    cases = []
    for i in range(n):
        doc = base["task"]
        for _ in range(rnd.choice([1, 1, 2, 3])):
            doc = _mutate(doc, rnd)
        path = _write(folder, f"mut_{i}.json", json.dumps(doc))
        cases.append((f"mutated:{i}", ["train", "--task", f"file:{path}", "--steps", "1"]))
    return cases


def _run_child(args: list[str], conn_w: int) -> None:
    from twin.cli import main

    err = io.StringIO()
    status = "crash"
    code: int | None = None
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                main([*args, *COMMON] if args[0] != "infer" else [*args, "--no-db"])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        err.write(traceback.format_exc())
        code = None
    text = err.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if code == 2 and len(lines) == 1 and "Traceback" not in text:
        status = "clean"
    elif code == 0:
        status = "accepted"
    elif code is None or "Traceback" in text:
        status = "crash"
    else:
        status = f"exit{code}"
    os.write(conn_w, json.dumps({"status": status, "err": text[-300:]}).encode())
    os._exit(0)


def _run(args: list[str], timeout_s: float) -> dict[str, Any]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _run_child(args, w)
    os.close(w)

    def on_alarm(*_: Any) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.waitpid(pid, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return {"status": "hang", "err": ""}
    finally:
        os.close(r)
    return json.loads(data) if data else {"status": "crash", "err": "child died"}


def _schema_ok(path: str) -> bool:
    import jsonschema
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    here = Path(__file__).parents[1] / "schemas"
    specs = [json.loads((here / f"{n}.schema.json").read_text()) for n in ("network", "task")]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], DRAFT202012.create_resource(s)) for s in specs
    )
    try:
        doc = json.loads(Path(path).read_text())
        jsonschema.Draft202012Validator(specs[1], registry=registry).validate(doc)
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=300)
    parser.add_argument("--timeout-s", type=float, default=20.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    opts = parser.parse_args()
    import twin.cli
    import twin.learning.trainer
    import twin.simulation.twin  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chdir(folder)
        base = _valid_files(folder)
        hand = _file_cases(folder, base) + _arg_cases(folder)
        counts: Counter[str] = Counter()
        for name, args in hand:
            res = _run(args, opts.timeout_s)
            counts[res["status"]] += 1
            if opts.verbose and res["status"] != "clean":
                print(f"{res['status']:9s} {name}: {res['err'].strip().splitlines()[-1:]}")
        mut = _mutated_cases(folder, base, opts.mutations)
        mcounts: Counter[str] = Counter()
        off_schema = 0
        for name, args in mut:
            res = _run(args, opts.timeout_s)
            mcounts[res["status"]] += 1
            if res["status"] == "accepted" and not _schema_ok(args[2][5:]):
                off_schema += 1
            if opts.verbose and res["status"] in ("crash", "hang"):
                print(f"{res['status']:9s} {name}: {res['err'].strip().splitlines()[-1:]}")
    print(
        f"hand-written bad inputs: {len(hand)}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    print(
        f"mutated task files: {len(mut)}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(mcounts.items()))
        + f"; accepted but breaking task.schema.json: {off_schema}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
