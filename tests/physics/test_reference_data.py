"""The reference data ships with the package: a clone needs nothing beside it (issue 18)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from twin.errors import NetworkError
from twin.physics.network_io import network_from_spec
from twin.physics.reference_networks import (
    REFERENCE_ENV,
    packaged_reference_dir,
    reference_dir,
    reference_files,
)
from twin.physics.task import load_task

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_data_is_package_data_with_its_provenance() -> None:
    folder = packaged_reference_dir()
    assert folder == ROOT / "twin" / "data" / "reference"
    assert len(list((folder / "jammed").glob("data_N*.txt"))) == 150
    assert "figshare.24923685" in (folder / "README.md").read_text()
    task = load_task(folder / "tasks" / "regression_n64_r1.json")
    assert task.network.n_nodes == 64


def test_every_data_file_is_matched_by_a_package_data_pattern() -> None:
    # setuptools installs only what [tool.setuptools.package-data] names: a file it misses is
    # absent from a wheel (and from a non-editable install) although the tests pass in a clone
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["twin"]
    data = [p.relative_to(ROOT / "twin").as_posix() for p in (ROOT / "twin" / "data").rglob("*")]
    missed = [
        p
        for p in data
        if "." in p.rsplit("/", 1)[-1]
        and not any(
            fnmatch.fnmatchcase(p, pat) and p.count("/") == pat.count("/") for pat in patterns
        )
    ]
    assert not missed


def test_ref_networks_default_to_the_package_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REFERENCE_ENV, raising=False)
    assert reference_dir() == packaged_reference_dir() / "jammed"
    assert len(reference_files(128)) == 50
    assert network_from_spec("ref:256:i=3").n_nodes > 250


def test_the_environment_variable_still_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = packaged_reference_dir() / "jammed" / "data_N00064_Lp0.0100_r7.txt"
    (tmp_path / "jammed").mkdir()
    (tmp_path / "jammed" / source.name).write_bytes(source.read_bytes())
    monkeypatch.setenv(REFERENCE_ENV, str(tmp_path))
    assert reference_files(64) == [tmp_path / "jammed" / source.name]
    monkeypatch.setenv(REFERENCE_ENV, str(tmp_path / "nothing"))
    with pytest.raises(NetworkError, match="is not a folder"):
        reference_dir()


_SHARED = re.compile(
    r"\.\./shared|parents\[\d\]\s*/\s*[\"']shared[\"']|[\"']shared[\"']\s*/\s*[\"']reference"
)


def test_nothing_reads_a_shared_folder_beside_the_checkout() -> None:
    sources = [
        p
        for folder in ("twin", "hw_bridge", "tests", "benchmarks", "schemas", "examples", "docs")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in {".py", ".md", ".toml", ".json", ".yml"} and p != Path(__file__)
    ]
    sources += [ROOT / "README.md", ROOT / "Makefile", ROOT / "Dockerfile"]
    hits = [str(p.relative_to(ROOT)) for p in sources if _SHARED.search(p.read_text())]
    assert not hits
