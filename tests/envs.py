"""The release artefacts and ONE fresh virtualenv built from them, shared by every test that needs eco_magic installed.

Building an environment costs minutes, so the suite builds one per run (session-scoped fixtures in
``tests/conftest.py`` call the functions here):

``release_dists``  ``python -m build`` of this checkout: ``Dists(wheel, sdist)`` in a temporary folder.
``release_env``    a new virtualenv (no PYTHONPATH, nothing from this checkout on its path) holding
                   * the built **wheel** with its ``lab`` extra (JupyterLab, ipykernel and every notebook's own
                     imports: the ``notebooks`` extra), and the CPU ``torch`` pin of binder/requirements.txt (the
                     Makefile's TORCH) — exactly what ``make lab`` installs, from the wheel instead of the checkout,
                     so that tests/test_lab_env.py can show that this alone runs every notebook;
                   * ``nbclient``, ``nbformat`` and ``pytest``, so that tests/test_notebooks.py runs inside it.

Reuse ``release_env`` for any test of an installed eco_magic (the wheel's quickstart, the notebooks, the lab
install) rather than building another environment. ``ReleaseEnv.run`` runs a command in it with a clean
environment; ``ReleaseEnv.pytest`` runs one of this repository's test files inside it and returns the counts.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Installed next to the wheel so that the repository's notebook tests can run in the environment.
TEST_TOOLS = ("nbclient", "nbformat", "pytest")


def clean_env(**extra: str) -> dict[str, str]:
    """``os.environ`` without anything that would put this checkout or another environment on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def run(cmd, *, cwd=ROOT, env=None, timeout=600, what=None) -> subprocess.CompletedProcess:
    """Run ``cmd``; on a non-zero exit raise AssertionError with the tail of its output."""
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env or clean_env(), capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{what or cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


@dataclass
class Dists:
    wheel: Path
    sdist: Path


def build_dists(outdir: Path) -> Dists:
    """Build the sdist and wheel of this checkout with ``python -m build`` (isolated, as a release is built)."""
    run([sys.executable, "-m", "build", "--outdir", outdir, ROOT], timeout=900, what="python -m build")
    wheels, sdists = sorted(outdir.glob("eco_magic-*.whl")), sorted(outdir.glob("eco_magic-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in outdir.iterdir())
    return Dists(wheels[0], sdists[0])


def notebook_requirements(text: str | None = None) -> list[str]:
    """binder/requirements.txt as requirement lines for a CI environment that gets eco_magic from the wheel.

    Dropped: the ``.`` line (eco_magic itself) and the PyTorch CPU index (CI reaches PyPI only). ``torch==X+cpu``
    becomes ``torch==X``: no ``+cpu`` build is on PyPI, but the CPU wheel of ``torch==X`` is on CI's disk
    (see the Makefile's TORCH).
    """
    text = (ROOT / "binder" / "requirements.txt").read_text() if text is None else text
    out = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line or line in (".", "-e .") or (line.startswith("--extra-index-url") and TORCH_CPU_INDEX in line):
            continue
        m = re.fullmatch(r"torch\s*==\s*([0-9][0-9.]*)\+cpu", line)
        out.append(f"torch=={m.group(1)}" if m else line)
    return out


@dataclass
class ReleaseEnv:
    """A virtualenv with the built wheel installed (see the module docstring)."""

    venv: Path
    dists: Dists
    env: dict[str, str] = field(default_factory=clean_env)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, args, *, cwd=ROOT, timeout=600, what=None, **extra_env: str) -> subprocess.CompletedProcess:
        """``python ARGS`` in this environment (clean environment plus ``extra_env``)."""
        return run([self.python, *args], cwd=cwd, env={**self.env, **extra_env}, timeout=timeout, what=what)

    def pytest(self, test_file: str, report: Path, *args: str, timeout=2400, **extra_env: str) -> dict[str, int]:
        """Run ``tests/<test_file>`` inside this environment; return its junit counts (tests, failures, …)."""
        self.run(["-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{test_file}", f"--junitxml={report}",
                  *args], timeout=timeout, what=f"tests/{test_file} in the release environment", **extra_env)
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def build_release_env(workdir: Path, dists: Dists) -> ReleaseEnv:
    """A fresh virtualenv in ``workdir`` with ``<wheel>[lab]``, CPU torch and the test tools (what ``make lab``
    installs, plus the test tools)."""
    env = ReleaseEnv(workdir / "venv", dists)
    run([sys.executable, "-m", "venv", env.venv], cwd=workdir, env=env.env, timeout=300, what="python -m venv")
    requirements = workdir / "requirements.txt"
    torch = [line for line in notebook_requirements() if line.startswith("torch==")]
    requirements.write_text("\n".join([f"eco_magic[lab] @ {dists.wheel.as_uri()}", *torch, *TEST_TOOLS]) + "\n")
    # pip's cache stays on: a CI re-run reuses the wheels it already fetched
    env.run(["-m", "pip", "install", "-r", requirements], cwd=workdir, timeout=2400,
            what="pip install <wheel>[lab] + notebook requirements")
    env.run(["-m", "pip", "check"], cwd=workdir, timeout=300, what="pip check")
    return env
