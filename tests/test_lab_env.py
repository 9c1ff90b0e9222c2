"""``make lab`` alone gives an environment in which every shipped notebook runs (issue 10), and Binder asks for the
same packages.

``make lab`` installs ``-e ".[lab]"`` and the Makefile's ``TORCH``; the ``lab`` extra is JupyterLab, ipykernel and
the ``notebooks`` extra (what the notebooks import beyond eco_magic). The fast tests pin those facts down and compare
the ``notebooks`` extra with binder/requirements.txt. The slow test takes the suite's one installed environment
(tests/envs.py's ``release_env``: the wheel with its ``lab`` extra and that torch, nothing else but the test tools —
what ``make lab`` installs, from the wheel), asks pip whether binder/requirements.txt would add anything to it, and
runs tests/test_notebooks.py inside it with every notebook required (no skips).
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from test_binder import NOTEBOOKS, _requirements

ROOT = Path(__file__).resolve().parents[1]


def _extras() -> dict[str, list[Requirement]]:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return {name: [Requirement(r) for r in reqs] for name, reqs in extras.items()}


def test_make_lab_installs_the_lab_extra_and_cpu_torch():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab-install:.*\n((?:\t.*\n)+)", makefile, flags=re.M).group(1)
    assert '$(PIP) install -e ".[lab]" "$(TORCH)"' in recipe
    assert re.search(r"^lab: lab-install$", makefile, flags=re.M)
    lab = {canonicalize_name(r.name): r for r in _extras()["lab"]}
    assert {"jupyterlab", "ipykernel", "eco-magic"} <= set(lab)
    assert lab["eco-magic"].extras == {"notebooks"}


def test_binder_asks_for_the_notebooks_extra_and_the_same_torch():
    """binder/requirements.txt = '.' + CPU torch + exactly the ``notebooks`` extra (same names, same versions)."""
    notebooks = {canonicalize_name(r.name): (str(r.specifier), r.extras) for r in _extras()["notebooks"]}
    _, reqs, paths = _requirements()
    binder = {canonicalize_name(r.name): (str(r.specifier), r.extras) for r in reqs if r.name != "torch"}
    assert paths == ["."]
    assert binder == notebooks, "binder/requirements.txt and pyproject's notebooks extra disagree"
    torch = next(r for r in reqs if r.name == "torch")
    version = next(iter(torch.specifier)).version.removesuffix("+cpu")
    assert f"TORCH ?= torch=={version}" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
def test_the_make_lab_install_alone_runs_every_notebook(release_env, tmp_path):
    probe = release_env.run(["-c", "import eco_magic, torch, jupyterlab; print(eco_magic.__file__); "
                                   "print(torch.version.cuda)"], cwd=tmp_path, what="import eco_magic, torch")
    installed_at, cuda = probe.stdout.split()
    assert Path(installed_at).resolve().is_relative_to(release_env.venv.resolve())
    assert cuda == "None", "torch must be a CPU build"

    # Binder installs binder/requirements.txt: on top of the lab install it must need nothing more
    from envs import notebook_requirements

    requirements = tmp_path / "binder-requirements-ci.txt"
    requirements.write_text("\n".join(notebook_requirements()) + "\n")
    report = tmp_path / "binder-dry-run.json"
    release_env.run(["-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report), "-r",
                     str(requirements)], cwd=tmp_path, what="pip install --dry-run -r binder/requirements.txt")
    extra = sorted(canonicalize_name(i["metadata"]["name"]) for i in json.loads(report.read_text())["install"])
    assert extra == [], f"binder/requirements.txt would add {extra} to the make lab install"

    counts = release_env.pytest("test_notebooks.py", tmp_path / "notebooks.xml", ECO_MAGIC_NOTEBOOKS_STRICT="1")
    assert counts["tests"] >= 3 * len(NOTEBOOKS) and counts["failures"] == counts["errors"] == 0, counts
    assert counts["skipped"] == 0, f"every notebook must run in the make lab install: {counts}"
