"""Release-ready: the metadata a registry shows, a wheel and sdist that ``twine check`` accepts, and a fresh virtualenv
with the wheel installed in which the quickstart notebook runs (the environment is tests/envs.py's ``release_env``,
shared with the other tests of an installed eco_magic)."""
from __future__ import annotations

import re
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import eco_magic
from envs import notebook_requirements, run

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


# --- static: what the registry page and citation tools read -----------------------------------------------------


def test_project_metadata_is_complete():
    project = PYPROJECT["project"]
    classifiers = project["classifiers"]
    assert "Typing :: Typed" in classifiers and "Framework :: Jupyter" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    pythons = sorted(c.rsplit(" ", 1)[1] for c in classifiers
                     if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert pythons and pythons[0] == project["requires-python"].removeprefix(">=")
    assert set(project["urls"]) >= {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    assert all(u.startswith("https://") for u in project["urls"].values())
    extras = project["optional-dependencies"]
    for extra in ("lab", "dask", "mlflow", "wandb", "tensorboard", "huggingface", "docs"):
        assert extras[extra], extra
    assert (ROOT / "eco_magic" / "py.typed").is_file()


def test_changelog_has_a_section_for_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(eco_magic.__version__)}\]", text, flags=re.M), eco_magic.__version__


def test_citation_cites_the_software_and_the_paper():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == eco_magic.__version__ and cff["license"] == "MIT"
    assert cff["authors"] and cff["message"] and cff["title"].startswith("eco_magic")
    assert cff["repository-code"] == PYPROJECT["project"]["urls"]["Repository"]
    (paper,) = [r for r in cff["references"] if "ML-EcoLyzer" in r["title"]]
    assert paper["type"] == "article" and paper["year"] == 2025
    assert [a["family-names"] for a in paper["authors"]] == ["Minoza", "Laylo", "Villarin", "Ibanez"]
    assert {"type": "doi", "value": "10.48550/arXiv.2511.06694"}.items() <= \
        next(i for i in paper["identifiers"] if i["type"] == "doi").items()
    assert paper["url"] == "https://arxiv.org/abs/2511.06694"


def test_notebook_requirements_take_eco_magic_from_the_wheel():
    text = ("# comment\n--extra-index-url https://download.pytorch.org/whl/cpu\ntorch==2.13.0+cpu\n.\n"
            "scikit-learn>=1.3  # classroom\n")
    assert notebook_requirements(text) == ["torch==2.13.0", "scikit-learn>=1.3"]
    assert "." not in notebook_requirements() and any(r.startswith("torch==") for r in notebook_requirements())


# --- the built artefacts ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_wheel_and_sdist_pass_twine_check_and_hold_what_they_should(release_dists):
    out = run([sys.executable, "-m", "twine", "check", "--strict", release_dists.wheel, release_dists.sdist],
              what="twine check")
    assert out.stdout.count("PASSED") == 2, out.stdout
    version = eco_magic.__version__
    assert release_dists.wheel.name == f"eco_magic-{version}-py3-none-any.whl"
    with zipfile.ZipFile(release_dists.wheel) as whl:
        names = set(whl.namelist())
        meta = Parser().parsestr(whl.read(f"eco_magic-{version}.dist-info/METADATA").decode())
    assert {"eco_magic/py.typed", "eco_magic/__init__.py", "eco_magic/integrations/__init__.py",
            "eco_magic/data/carbon_intensity_countries.csv"} <= names
    assert not [n for n in names if n.startswith("tests/")]
    assert meta["Name"] == "eco_magic" and meta["Version"] == version
    assert meta["Description-Content-Type"] == "text/markdown" and "%%ecolyze" in meta.get_payload()
    assert any(u.startswith("Documentation, https://") for u in meta.get_all("Project-URL"))
    assert "Typing :: Typed" in meta.get_all("Classifier")
    with tarfile.open(release_dists.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "CITATION.cff", "mkdocs.yml",
            "docs/index.md", "eco_magic/py.typed", "tests/conftest.py"} <= members


@pytest.mark.slow
def test_fresh_venv_from_the_wheel_runs_the_quickstart(release_env, tmp_path):
    """The wheel, installed into a new virtualenv with nothing from this checkout on its path: eco_magic imports
    from there, its dependencies are consistent (pip check, in envs.py), and the quickstart notebook runs clean."""
    probe = release_env.run(["-c", "import eco_magic, importlib.metadata as m; print(eco_magic.__file__); "
                                   "print(m.version('eco_magic'))"], cwd=tmp_path)
    where, version = probe.stdout.split()
    assert Path(where).resolve().is_relative_to(release_env.venv.resolve())
    assert version == eco_magic.__version__
    script = ("import eco_magic\n"
              "with eco_magic.measure(label='wheel', items=10, region='FR') as m:\n"
              "    sum(i * i for i in range(200_000))\n"
              "rows = eco_magic.ledger().records(all_sessions=True)\n"
              "print('ROWS', [(r['label'], r['region'], r['status'], r['energy_j'] > 0) for r in rows])\n")
    (tmp_path / "no-powercap").mkdir(exist_ok=True)  # conftest.hermetic_env made it already
    out = release_env.run(["-c", script], cwd=tmp_path, ECO_MAGIC_LEDGER=str(tmp_path / "ledger.sqlite"),
                          ECO_MAGIC_POWERCAP_ROOT=str(tmp_path / "no-powercap"))       # plain Python, no IPython
    assert out.stdout.strip().splitlines()[-1] == "ROWS [('wheel', 'FR', 'ok', True)]", out.stdout
    counts = release_env.pytest("test_notebooks.py", tmp_path / "quickstart.xml", "-k", "quickstart",
                                ECO_MAGIC_NOTEBOOKS_STRICT="1")
    assert counts["tests"] >= 2 and counts["failures"] == counts["errors"] == counts["skipped"] == 0, counts
