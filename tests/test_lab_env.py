"""``make lab`` alone gives an environment in which every shipped notebook runs (issue 10), and Binder asks for the
same packages.

The fast test compares the ``notebooks`` extra of pyproject.toml (what ``make lab`` installs beyond eco_magic and
JupyterLab) with binder/requirements.txt. The slow test takes the session's fresh ``make lab-install`` virtualenv
(the ``lab_env`` fixture: one build per CI run, shared with every other test that needs an installed
environment), checks it, asks pip whether binder/requirements.txt would add anything to it, and runs
tests/test_notebooks.py inside it with every notebook required (no skips).
"""
from __future__ import annotations

import json
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from test_binder import NOTEBOOKS, REQUIREMENTS, _requirements, requirements_for_this_ci

ROOT = Path(__file__).resolve().parents[1]


def _extras() -> dict[str, list[Requirement]]:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return {name: [Requirement(r) for r in reqs] for name, reqs in extras.items()}


def test_lab_extra_holds_jupyterlab_and_every_notebook_dependency():
    extras = _extras()
    lab = {canonicalize_name(r.name): r for r in extras["lab"]}
    assert {"jupyterlab", "ipykernel", "eco-magic"} <= set(lab)
    assert lab["eco-magic"].extras == {"notebooks"}


def test_binder_asks_for_the_notebooks_extra_and_cpu_torch():
    """binder/requirements.txt = '.' + CPU torch + exactly the ``notebooks`` extra (same names, same versions)."""
    notebooks = {canonicalize_name(r.name): (str(r.specifier), r.extras) for r in _extras()["notebooks"]}
    _, reqs, paths = _requirements()
    binder = {canonicalize_name(r.name): (str(r.specifier), r.extras) for r in reqs if r.name != "torch"}
    assert paths == ["."]
    assert binder == notebooks, "binder/requirements.txt and pyproject's notebooks extra disagree"
    makefile = (ROOT / "Makefile").read_text()
    torch = next(r for r in reqs if r.name == "torch")
    assert f"TORCH ?= torch=={next(iter(torch.specifier)).version.removesuffix('+cpu')}" in makefile


@pytest.mark.slow
def test_make_lab_environment_runs_every_notebook(lab_env, tmp_path):
    lab_env.run(lab_env.python, "-m", "pip", "check", what="pip check")
    probe = lab_env.run(lab_env.python, "-c", "import eco_magic, torch, jupyterlab; print(eco_magic.__file__); "
                        "print(torch.version.cuda)", cwd=tmp_path, what="import eco_magic, torch, jupyterlab")
    installed_at, cuda = probe.stdout.split()
    assert Path(installed_at).resolve().is_relative_to(ROOT.resolve()), "make lab installs the checkout (-e .)"
    assert cuda == "None", "torch must be a CPU build"
    spec = json.loads(lab_env.run(lab_env.python, "-m", "jupyter", "kernelspec", "list", "--json",
                                  what="jupyter kernelspec list").stdout)["kernelspecs"]["python3"]
    assert Path(spec["resource_dir"]).resolve().is_relative_to(lab_env.venv.resolve())

    # Binder installs from binder/requirements.txt: on top of this environment it must need nothing new but the
    # repository itself (which it installs non-editable)
    requirements = tmp_path / "binder-requirements-ci.txt"
    requirements.write_text(requirements_for_this_ci(REQUIREMENTS.read_text()))
    report = tmp_path / "binder-dry-run.json"
    lab_env.run(lab_env.python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                "-r", str(requirements), what="pip install --dry-run -r binder/requirements.txt")
    extra = sorted(canonicalize_name(i["metadata"]["name"]) for i in json.loads(report.read_text())["install"])
    assert extra in ([], ["eco-magic"]), f"binder/requirements.txt would add {extra} to the make lab environment"

    # the test harness only (pytest; nbclient and nbformat come with JupyterLab), after the checks above
    lab_env.run(lab_env.python, "-m", "pip", "install", "--quiet", "pytest", what="pip install pytest")
    junit = tmp_path / "notebooks.xml"
    env = dict(lab_env.env, ECO_MAGIC_NOTEBOOKS_STRICT="1")
    proc = subprocess.run(
        [str(lab_env.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_notebooks.py",
         f"--junitxml={junit}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
    assert proc.returncode == 0, f"tests/test_notebooks.py in the make lab environment:\n{proc.stdout[-6000:]}"
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] >= 3 * len(NOTEBOOKS) and counts["failures"] == counts["errors"] == 0, counts
    assert counts["skipped"] == 0, f"every notebook must run in the make lab environment: {counts}"
