"""The one fresh environment the slow tests share: what ``make lab`` installs, built once per test session.

:func:`build` runs ``make lab-install`` (``pip install -e ".[lab]" torch==2.13.0`` and the ``python3`` kernelspec
into the virtualenv) with this interpreter as ``PYTHON``, in a new virtualenv outside the checkout, and returns it.
Tests that need a clean installed environment (the notebooks, a wheel, the docs) take the session fixture
``lab_env`` from ``conftest.py`` instead of building their own: one multi-minute build per CI run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LabEnv:
    venv: Path
    python: Path
    env: dict  # the environment to run its tools with: no PYTHONPATH, no outer virtualenv

    def run(self, *args: str, cwd: Path = ROOT, timeout: float = 2400, what: str = "") -> subprocess.CompletedProcess:
        proc = subprocess.run([str(a) for a in args], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert proc.returncode == 0, (f"{what or args[0]} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n"
                                      f"{proc.stderr[-6000:]}")
        return proc


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def build(where: Path) -> LabEnv:
    """``make lab-install`` into ``where/venv`` (pip's cache left on: a CI re-run reuses its wheels)."""
    make = shutil.which("make")
    assert make, "make is needed to build the lab environment the way users do"
    venv = where / "venv"
    env = clean_env()
    lab = LabEnv(venv, venv / "bin" / "python", env)
    lab.run(make, "-C", str(ROOT), "lab-install", f"VENV={venv}", f"PYTHON={sys.executable}", what="make lab-install")
    return lab
