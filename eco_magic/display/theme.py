"""Colours and shared CSS for every HTML view (card, live readout, tables, charts): light and dark, one place.

Colours come from JupyterLab's CSS variables (``--jp-ui-font-color1``, ``--jp-layout-color0``,
``--jp-border-color2``, …) with light fallbacks, so an output follows JupyterLab's light, dark and high-contrast
themes and still reads right where no such variable exists (nbconvert HTML, a browser). The few text colours
JupyterLab has no variable for (good / bad / warning) get a light and a dark value; the dark ones apply under
``body[data-jp-theme-light="false"]`` (set by JupyterLab) and VS Code's ``body.vscode-dark``. Text colours keep a
contrast of at least 4.5:1 on the view's background in both themes. Chart series use the colour-blind-safe
Okabe–Ito colours without black, which stand out on light and dark backgrounds alike.

Use from another view (the comparison table, the ledger table)::

    from eco_magic.display import theme
    html = f'<div class="eco my-view">{theme.style(".my-view th{color:var(--eco-muted)}")}…</div>'

The root element carries class ``eco`` (it gets the ``--eco-*`` variables, the text colour and the background);
``theme.style(rules)`` returns one ``<style>`` element with the palette and ``rules``. Scope every rule under your
own class: a ``<style>`` in an output applies to the whole page. Variables: ``--eco-fg`` (text), ``--eco-strong``
(headline figures), ``--eco-muted`` (secondary text), ``--eco-bg``, ``--eco-panel`` (tiles), ``--eco-line``
(borders), ``--eco-grid`` (chart grid), ``--eco-good`` / ``--eco-bad`` / ``--eco-warn`` (text). Charts: stroke with
``SERIES[i]`` (:func:`series_colour`) and draw axes and labels with ``var(--eco-muted)``; see :mod:`.svg`.
Where ``<style>`` is stripped (untrusted notebooks, GitHub) the markup must still read as plain HTML: tables for
tabular data, no meaning carried by colour alone.
"""
from __future__ import annotations

#: Colour-blind-safe chart series (Okabe–Ito, black left out): readable on light and dark backgrounds.
SERIES = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")

#: How a figure was obtained → colour of its marker dot (never text colour: the word is written beside it).
METHOD_COLOURS = {"counter": "#2da44e", "integrated": "#4b8fe2", "estimated": "#b08968"}

LIGHT = {
    "fg": "var(--jp-ui-font-color1,#1f2328)",
    "strong": "var(--jp-ui-font-color0,#000)",
    "muted": "var(--jp-ui-font-color2,#57606a)",
    "bg": "var(--jp-layout-color0,#fff)",
    "panel": "var(--jp-layout-color1,#fff)",
    "line": "var(--jp-border-color2,#d0d7de)",
    "grid": "var(--jp-border-color3,#eaeef2)",
    "good": "#1a7f37", "bad": "#cf222e", "warn": "#9a6700",
}
DARK = {"good": "#3fb950", "bad": "#ff7b72", "warn": "#d29922"}
#: VS Code's dark themes define no JupyterLab variables: its own, with dark fallbacks.
VSCODE_DARK = {"fg": "var(--vscode-editor-foreground,#ccc)", "strong": "var(--vscode-editor-foreground,#eee)",
               "muted": "var(--vscode-descriptionForeground,#9da5b4)",
               "bg": "var(--vscode-editor-background,#1e1e1e)", "panel": "transparent", "line": "#454545",
               "grid": "#333"}


def _vars(values: dict[str, str]) -> str:
    return ";".join(f"--eco-{k}:{v}" for k, v in values.items())


PALETTE_CSS = (f".eco{{{_vars(LIGHT)};color:var(--eco-fg);background:var(--eco-bg)}}"
               f'body[data-jp-theme-light="false"] .eco,body.vscode-dark .eco{{{_vars(DARK)}}}'
               f"body.vscode-dark .eco{{{_vars(VSCODE_DARK)}}}")


def style(rules: str = "") -> str:
    """One ``<style>`` element: the palette, then ``rules`` (scope them under your view's class)."""
    return f"<style>{PALETTE_CSS}{rules}</style>"


def series_colour(i: int) -> str:
    """The colour of the ``i``-th chart series (cycling through :data:`SERIES`)."""
    return SERIES[i % len(SERIES)]
