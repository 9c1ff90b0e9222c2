"""The documentation site builds with ``mkdocs build --strict`` (any warning fails: a broken link, a missing README
section, a docstring mkdocstrings cannot render), and its pages carry what they promise."""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")


def _text(path: Path) -> str:
    """The visible text of a built page (tags stripped, entities decoded, whitespace collapsed)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    body = re.sub(r"</?(span|code|a|em|strong)\b[^>]*>", "", body)  # inline tags (highlighted code): no gap
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-4000:]
    return out


def test_every_page_of_the_nav_is_built(site):
    for page in ("index.html", "numbers/index.html", "guarantees/index.html", "dask/index.html",
                 "trackers/index.html", "model-cards/index.html", "training/index.html", "comparing/index.html",
                 "plan/index.html", "api/index.html", "changelog/index.html"):
        assert (site / page).is_file(), page


def test_readme_sections_are_included_without_their_markers(site):
    """The pages take their prose from README.md (pymdownx.snippets): the same sentences, no marker left over."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page, section, phrase in (("guarantees", "guarantees", "Your cell comes first."),
                                  ("dask", "dask", "Each joule is counted once."),
                                  ("numbers", "numbers", "Energy is IT energy"),
                                  ("numbers", "data-sources", "Our World in Data"),
                                  ("", "options", "lists them all"),
                                  ("", "ledger", "Every measured cell is kept.")):
        assert f"--8<-- [start:{section}]" in readme and f"--8<-- [end:{section}]" in readme
        text = _text(site / page / "index.html")
        assert phrase in text, (page, phrase)
        assert "--8<--" not in text and "8&lt;" not in text


#: README sections the site does not include, and why (a new README section must be added to a page or here).
NOT_ON_THE_SITE = {
    "Set-up: two commands": "repository development (make lab / make test); the site's Install section covers users",
    "Log to your tracker": "a short summary of the site's own trackers, model cards and training pages",
    "Notebooks": "the repository's notebooks/ folder and Binder",
    "Speed and accuracy": "benchmarks/ in the repository",
    "Development": "contributors' notes",
}


def test_every_readme_section_is_on_the_site_or_deliberately_left_out():
    """A README section with a snippet marker is included by a docs page; every other one is listed above. Without
    this, a new README section that other sections link to breaks the strict build with an anchor warning."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    included = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    for i, line in enumerate(readme):
        if not line.startswith("## "):
            continue
        heading = line[3:].strip()
        marker = readme[i + 1] if i + 1 < len(readme) else ""
        m = re.search(r"--8<-- \[start:([\w-]+)\]", marker)
        if m:
            assert f'--8<-- "README.md:{m.group(1)}"' in included, f"no docs page includes README's {heading!r}"
        else:
            assert heading in NOT_ON_THE_SITE, (f"README section {heading!r} is neither on the site (add markers "
                                                "and include it in a docs page) nor in NOT_ON_THE_SITE")


def test_readme_links_point_at_the_sites_pages(site):
    """README's in-page link to a section that lives on another docs page is rewritten (tools/mkdocs_hooks.py)."""
    assert "](#comparing-variants)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r'<a href="comparing/">Comparing variants</a>', (site / "index.html").read_text())


def test_getting_started_documents_auto_load(site):
    text = _text(site / "index.html")
    assert 'c.InteractiveShellApp.extensions = ["eco_magic"]' in text
    assert "pip install eco_magic" in text


def test_api_reference_is_generated_from_the_docstrings(site):
    text = _text(site / "api" / "index.html")
    for name in ("EcoResult", "energy_j", "carbon_source", "Ledger", "to_dataframe", "log_result", "model_card",
                 "co2_eq_emissions", "provenance", "measure", "EcoCallback", "every_n_steps"):
        assert name in text, name
    # a docstring sentence, rendered: proves the text comes from the code, not from a hand-written page
    assert "never raises: every target that cannot be logged to yields one line" in text


def test_site_loads_nothing_from_other_hosts(site):
    """No web fonts or scripts from a CDN: the built pages reference only their own assets."""
    for page in site.rglob("*.html"):
        for url in re.findall(r'(?:src|href)="(https?://[^"]+)"', page.read_text(encoding="utf-8")):
            assert not re.search(r"fonts\.(googleapis|gstatic)\.com|cdn\.|unpkg\.com|jsdelivr", url), (page, url)
