"""The version of the installed riverbed package, which the servers report."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed distribution's version ("0+unknown" when run from an uninstalled tree)."""
    try:
        return version("riverbed")
    except PackageNotFoundError:
        return "0+unknown"
