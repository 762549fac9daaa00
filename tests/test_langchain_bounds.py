"""The `langchain` extra's range at its lower bound: LangChain's standard retriever suite
(tests/test_langchain_standard.py) and the retriever's own tests, run against the lowest
langchain-core the extra allows.

The upper end is the main run: the same modules against the langchain-core that constraints.txt
pins, the newest release inside the range when the lock was last updated. Here a throwaway venv
sees this one's packages (a .pth file) and pip installs only what the lower bound needs on top:
that langchain-core and the langchain-tests release that goes with it (a few MB from PyPI,
cached by pip after the first run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

# The first langchain-tests release with the retriever suite; it asks for langchain-core>=0.3.21,
# which is therefore the extra's lower bound.
LANGCHAIN_TESTS = "langchain-tests>=0.3.5,<1"
MODULES = ["tests/test_langchain_standard.py", "tests/test_langchain.py"]
PIP = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
PLUGINS = ["-p", "pytest_asyncio.plugin", "-p", "pytest_timeout"]


def lowest_allowed(package: str, extra: str) -> str:
    """The `>=` bound of `package` in riverbed's `extra`, as the installed metadata states it."""
    for line in requires("riverbed") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if requirement.name == package and marker and marker.evaluate({"extra": extra}):
            (lowest,) = (spec.version for spec in requirement.specifier if spec.operator == ">=")
            return lowest
    raise AssertionError(f"riverbed[{extra}] does not require {package}")


def overlay_venv(path: Path) -> Path:
    """A venv whose own packages come first and which sees everything of the running one."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = printed(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "riverbed-overlay.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def printed(python: Path, code: str) -> str:
    run = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return run.stdout.strip()


@pytest.mark.timeout(400)
def test_the_standard_suite_passes_at_the_lowest_langchain_core(tmp_path: Path) -> None:
    lowest = lowest_allowed("langchain-core", extra="langchain")
    python = overlay_venv(tmp_path / "venv")
    install = subprocess.run(
        [*PIP, "--python", str(python), "install", f"langchain-core=={lowest}", LANGCHAIN_TESTS],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, f"pip could not install the lower bound:\n{install.stderr}"
    assert printed(python, "import langchain_core; print(langchain_core.__version__)") == lowest

    # Only the plugins the suite needs: the running venv's own plugins (langsmith's, say) are
    # made for its newer packages, not for the ones installed on top.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGINS, *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout
