"""MkDocs hook: README links made right for the documentation site.

The docs pages take their prose from README.md sections (pymdownx.snippets, markers ``--8<-- [start:NAME]``). A README
section may link to another section of the README (``[Comparing variants](#comparing-variants)``) or to a file
under ``docs/`` (``docs/trackers.md``). On the site those targets are other pages, so a Markdown preprocessor that
runs right after pymdownx.snippets has put the sections in rewrites:

* ``](#slug)`` whose slug is the heading of a README section that a docs page includes becomes ``](page.md)``;
* ``](docs/page.md)`` becomes ``](page.md)``, and an image ``](docs/img/card.png)`` becomes ``](img/card.png)``.

Anything else is left alone, so ``mkdocs build --strict`` still reports a link that leads nowhere.
"""
from __future__ import annotations

import re
from pathlib import Path

from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parents[1]


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc (and GitHub) gives a heading: lower case, punctuation dropped, spaces → -."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[-\s]+", "-", text).strip("-")


def readme_anchor_pages(docs_dir: Path) -> dict[str, str]:
    """README heading slug → the docs page that includes that section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    section_heading = {}
    for i, line in enumerate(readme):
        m = re.search(r"--8<-- \[start:([\w-]+)\]", line)
        if m and i and readme[i - 1].startswith("#"):
            section_heading[m.group(1)] = readme[i - 1].lstrip("#").strip()
    pages = {}
    for page in sorted(docs_dir.glob("*.md")):
        for name in re.findall(r'--8<-- "README\.md:([\w-]+)"', page.read_text(encoding="utf-8")):
            if name in section_heading:
                pages.setdefault(_slug(section_heading[name]), page.name)
    return pages


class _Links(Preprocessor):
    """Runs after pymdownx.snippets (priority 32) has put the README sections in, before anything is rendered."""

    def __init__(self, md, pages: dict[str, str]) -> None:
        super().__init__(md)
        self.pages = pages
        self.current = ""

    def run(self, lines: list[str]) -> list[str]:
        def anchor(m: re.Match) -> str:
            target = self.pages.get(m.group(1))
            return f"]({target})" if target and target != self.current else m.group(0)

        text = re.sub(r"\]\(#([\w-]+)\)", anchor, "\n".join(lines))
        return re.sub(r"\]\(docs/([\w./-]+\.(?:md|png|svg)(?:#[\w-]+)?)\)", r"](\1)", text).split("\n")


class _LinksExtension(Extension):
    def __init__(self, pages: dict[str, str]) -> None:
        super().__init__()
        self.pages = pages
        self.processor: _Links | None = None

    def extendMarkdown(self, md) -> None:  # noqa: N802 - Python-Markdown's name
        self.processor = _Links(md, self.pages)
        md.preprocessors.register(self.processor, "eco_magic_readme_links", 31)


_EXTENSION: _LinksExtension | None = None


def on_config(config):
    global _EXTENSION
    _EXTENSION = _LinksExtension(readme_anchor_pages(Path(config["docs_dir"])))
    config["markdown_extensions"].append(_EXTENSION)
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    if _EXTENSION is not None and _EXTENSION.processor is not None:
        _EXTENSION.processor.current = Path(page.file.src_path).name
    return markdown
