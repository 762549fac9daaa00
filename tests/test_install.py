"""riverbed installs like a Python package: its metadata says what it is (licence, classifiers,
a torch range rather than a pin), it ships py.typed, and the environment `make install` built
holds exactly the versions constraints.txt locks."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution, metadata, requires, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LOCK = ROOT / "constraints.txt"


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"constraints.txt pins exact versions: {line!r}"
            pins[canonicalize_name(name)] = pinned.strip()
    return pins


def installed_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def test_installed_versions_are_the_locked_ones() -> None:
    drift = {
        name: (pinned, found)
        for name, pinned in locked_versions().items()
        if (found := installed_version(name)) is not None
        and not SpecifierSet(f"=={pinned}").contains(found, prereleases=True)
    }
    assert not drift, f"installed versions differ from constraints.txt (locked, found): {drift}"


def test_every_dependency_is_locked_and_installed() -> None:
    """What riverbed and its dev extra need (the suite's environment) is in the lock and here."""
    locked = locked_versions()
    needed = set()
    for line in requires("riverbed") or []:
        requirement = Requirement(line)
        applies = requirement.marker is None or any(
            requirement.marker.evaluate({"extra": extra}) for extra in ("", "dev")
        )
        if applies:
            needed.add(canonicalize_name(requirement.name))
    assert needed - set(locked) == set(), "not locked"
    assert {name for name in needed if installed_version(name) is None} == set(), "not installed"
    assert "lxml-html-clean" in needed  # trafilatura's HTML reading needs it, always


def test_the_metadata_states_licence_classifiers_and_a_torch_range() -> None:
    meta = metadata("riverbed")
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in classifiers)
    (torch,) = (Requirement(r) for r in requires("riverbed") or [] if re.match(r"torch\b", r))
    assert not any(spec.operator in ("==", "===") for spec in torch.specifier), torch
    assert torch.specifier.contains(version("torch").split("+")[0])  # the CPU build make installs
    assert torch.specifier.contains(locked_versions()["torch"].split("+")[0])


def test_each_package_ships_py_typed() -> None:
    files = {str(path) for path in distribution("riverbed").files or []}
    if any(name.endswith(".pth") for name in files):  # an editable install: look in the tree
        files |= {str(p.relative_to(ROOT)) for p in ROOT.glob("*/py.typed")}
    for package in ("riverbed", "index", "pipeline"):
        assert f"{package}/py.typed" in files
        assert Path(ROOT, package, "py.typed").is_file()
