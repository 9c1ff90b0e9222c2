"""The quickstart in a real JupyterLab + Chromium, and what stays of it afterwards.

One module-scoped run (:func:`quickstart_run`) does Run All on the quickstart in a fresh page, watches the live
readout, reads every card, measures the text contrast of the cards in the light and the dark theme, takes the
screenshots and saves the notebook. The tests then check, each in a fresh browser context:

* the run itself: live readout, cards, comparison chart, no widget error;
* the dark theme: every text of every card at least 4.5:1 against what is behind it, computed in the browser from
  the elements' own colours;
* the saved notebook reopened with no kernel attached (every kernel request of the page refused): every card shows
  its energy, CO₂e, water, thermal and ESS text;
* the ``jupyter nbconvert --to html`` export opened from ``file://`` with every network request refused: the same.

Screenshots land in ``$ECO_E2E_ARTIFACTS`` (default ``test-artifacts/e2e/``), their folder printed in the log;
with ``ECO_README_IMG=DIR`` (``tools/screenshots.py``) the README's pictures are written to ``DIR`` too.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.connectionStatus === 'connected' && k.status === 'idle');
}"""
ALL_EXECUTED_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = [...w.content.model.cells].filter(c => c.type === 'code');
  return w.sessionContext.session.kernel.status === 'idle' && cells.every(c => c.executionCount !== null);
}"""
LIVE_TEXT_JS = """() => [...document.querySelectorAll('.eco-live')].map(e => e.innerText).join('|')"""

#: Per card: the five tiles' title, value and notes, as the page shows them.
CARDS_JS = """() => [...document.querySelectorAll('.eco-card')].map(card => {
  const tile = cls => { const t = card.querySelector('.' + cls); return t ? t.innerText : null; };
  return {energy: tile('eco-energy'), co2: tile('eco-co2'), water: tile('eco-water'),
          thermal: tile('eco-thermal'), ess: tile('eco-ess'), text: card.innerText,
          width: card.getBoundingClientRect().width};
})"""

#: WCAG contrast of every piece of text inside ``selector``: the text colour (SVG text: its fill), alpha-composited
#: over the backgrounds of its ancestors (the page's canvas is white when nothing paints it).
CONTRAST_JS = """(selector) => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => { const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]); };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = el => { const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor); if (bg && bg[3] > 0) layers.push(bg); }
    let base = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
    return base; };
  const out = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of root.querySelectorAll('*')) {
      const own = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent.trim());
      if (!own.length || el.closest('style')) continue;
      const r = el.getBoundingClientRect(); if (r.width === 0 || r.height === 0) continue;
      const cs = getComputedStyle(el);
      const fg = parse(el instanceof SVGElement ? cs.fill : cs.color); if (!fg) continue;
      const bg = background(el); const text = over(fg, bg);
      const [l1, l2] = [lum(text), lum(bg)].sort((a, b) => b - a);
      out.push({text: own.join(' ').slice(0, 40), ratio: (l1 + 0.05) / (l2 + 0.05), fg: cs.color, bg: bg.join(',')});
    }
  }
  return out;
}"""


def open_notebook(page, lab, rel_path):
    page.goto(f"{lab['base']}/lab/tree/{rel_path}?token={lab['token']}&reset")
    page.locator(".jp-NotebookPanel").first.wait_for()
    page.wait_for_function(KERNEL_IDLE_JS)


def set_theme(page, name: str, light: bool) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {name!r}}})")
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === {str(light).lower()!r}")
    time.sleep(1.0)  # the theme's stylesheet applies after the attribute flips


def shoot(locator, path: Path) -> None:
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))


def low_contrast(page, selector: str = ".eco-card") -> list[dict]:
    found = page.evaluate(CONTRAST_JS, selector)
    assert len(found) > 50, f"too few text elements measured: {found}"
    return [f for f in found if f["ratio"] < 4.5]


def assert_cards_show_five_figures(cards: list[dict]) -> None:
    """Each card's five tiles show their title and value with a unit, or n/a with its reason."""
    assert len(cards) >= 3, cards                       # fp32, fp64 and the one-line measurement
    for card in cards:
        assert re.search(r"ENERGY\s*\n?\s*[0-9.,]+ (nJ|µJ|mJ|J|Wh|kWh)", card["energy"], re.I), card["energy"]
        assert re.search(r"CO₂e\s*\n?\s*[0-9.,]+ (ng|µg|mg|g|kg|t)", card["co2"], re.I), card["co2"]
        assert re.search(r"WATER\s*\n?\s*[0-9.,]+ (nL|µL|mL|L|m³)", card["water"], re.I), card["water"]
        assert re.search(r"THERMAL\s*\n?\s*(peak [0-9]+ °C|n/a\s*\n?\s*no temperature sensor readable)",
                         card["thermal"], re.I), card["thermal"]
        assert re.search(r"ESS\s*\n?\s*([0-9.,]+( million| billion)?\s*\n?\s*M params|n/a\s*\n?\s*\S+)",
                         card["ess"], re.I), card["ess"]
        for tile in ("energy", "co2", "water", "thermal", "ess"):
            assert "e+" not in card[tile] and "e-0" not in card[tile], card[tile]   # never scientific notation
        assert "estimated" in card["text"] and "carbon intensity" in card["text"]


@pytest.fixture(scope="module")
def quickstart_run(lab_browser, lab, artifacts, capsys_module_disabled):
    ctx = lab_browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(180_000)  # 2-core CI
    page = ctx.new_page()
    out: dict = {"notebook": lab["root"] / "notebooks" / "quickstart.ipynb"}
    try:
        open_notebook(page, lab, "notebooks/quickstart.ipynb")
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function(ALL_EXECUTED_JS)
        out["stderr"] = page.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        out["widget_errors"] = page.locator("text=Error displaying widget").count()
        out["cards"] = page.evaluate(CARDS_JS)
        with_trace = page.locator(".jp-OutputArea-output .eco-card:has(.eco-plot)")
        first = (with_trace if with_trace.count() else page.locator(".jp-OutputArea-output .eco-card")).first
        shoot(first, artifacts / "card-light.png")   # the README's picture: a card with its power trace
        chart = page.locator(".jp-OutputArea-output .eco-compare-view").first
        svg = page.locator(".jp-OutputArea-output .eco-compare-view svg.eco-chart").first
        out["chart"] = chart.count() > 0 and svg.count() > 0 and page.evaluate(
            "el => el.getBoundingClientRect().width", svg.element_handle()) > 0
        if out["chart"]:
            shoot(chart, artifacts / "compare-chart.png")
        out["light_low"] = low_contrast(page)
        set_theme(page, "JupyterLab Dark", light=False)
        out["dark_low"] = low_contrast(page)
        out["dark_cards"] = page.evaluate(CARDS_JS)
        shoot(first, artifacts / "card-dark.png")
        if out["chart"]:
            shoot(chart, artifacts / "compare-chart-dark.png")
        set_theme(page, "JupyterLab Light", light=True)
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    except Exception:
        page.screenshot(path=str(artifacts / "failure-run.png"))
        raise
    finally:
        ctx.close()
    readme = os.environ.get("ECO_README_IMG")
    if readme:
        Path(readme).mkdir(parents=True, exist_ok=True)
        for name in ("card-light.png", "card-dark.png", "compare-chart.png"):
            if (artifacts / name).exists():
                shutil.copy(artifacts / name, Path(readme) / name)
    return out


@pytest.fixture(scope="module")
def capsys_module_disabled(pytestconfig, artifacts):
    capman = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print(f"\nE2E screenshots: {artifacts}")  # in the CI log even when the tests pass
    yield


def test_run_all_shows_the_cards(quickstart_run):
    run = quickstart_run
    assert run["stderr"] == [] and run["widget_errors"] == 0
    assert_cards_show_five_figures(run["cards"])
    assert run["chart"], "the comparison chart is missing"


LIVE_CELL = ("%%ecolyze --label live\nimport time\nt = time.time()\n"
             "while time.time() - t < 2.5:  # busy for 2.5 s, whatever the machine\n    pass")


def test_live_readout_appears_changes_and_gives_way_to_the_card(lab_browser, lab, artifacts):
    """A 2.5-s cell: from 0.5 s in, the readout shows power and energy so far and changes as the cell runs; when
    the cell ends the card takes its place (one output, no readout left)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext eco_magic"),
                                         nbformat.v4.new_code_cell(LIVE_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab["root"] / "notebooks" / "live.ipynb")
    ctx = lab_browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(180_000)
    page = ctx.new_page()
    try:
        open_notebook(page, lab, "notebooks/live.ipynb")
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        texts, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline:
            text = page.evaluate(LIVE_TEXT_JS)
            if text and (not texts or texts[-1] != text):
                texts.append(text)
                if len(texts) == 2:
                    try:  # the picture only: the readout may give way to the card meanwhile
                        shoot(page.locator(".eco-live").first, artifacts / "live-readout.png")
                    except Exception:  # noqa: BLE001
                        pass
            if page.evaluate(ALL_EXECUTED_JS):
                break
            time.sleep(0.1)
        page.wait_for_function(ALL_EXECUTED_JS)
        outputs = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
        page.wait_for_function("() => document.querySelectorAll('.eco-live').length === 0")
        n_outputs, card_text = outputs.count(), outputs.first.inner_text()
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    finally:
        ctx.close()
    assert len(texts) >= 2, f"the live readout never changed: {texts}"
    assert all("measuring" in t and " W" in t and re.search(r"\d (mJ|J|Wh)", t) for t in texts), texts
    assert n_outputs == 1 and "ecolyze · live" in card_text and "ENERGY" in card_text.upper()


def test_cards_keep_their_contrast_in_light_and_dark_themes(quickstart_run):
    assert quickstart_run["light_low"] == [], quickstart_run["light_low"]
    assert quickstart_run["dark_low"] == [], quickstart_run["dark_low"]
    assert_cards_show_five_figures(quickstart_run["dark_cards"])


def test_reopened_without_a_kernel_every_card_shows_its_figures(quickstart_run, lab_browser, lab, artifacts):
    """A fresh page opens the saved notebook while every kernel request is refused: nothing but the saved
    outputs can draw the cards."""
    ctx = lab_browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(120_000)
    refused = []

    def no_kernel(route):
        url, method = route.request.url, route.request.method
        if method == "GET" and "/api/kernelspecs" in url:
            return route.fulfill(status=200, content_type="application/json",
                                 body=json.dumps({"default": None, "kernelspecs": {}}))
        if method == "GET" and re.search(r"/api/(kernels|sessions)(\?|$)", url):
            return route.fulfill(status=200, content_type="application/json", body="[]")
        refused.append(f"{method} {url}")
        return route.abort()

    ctx.route(re.compile(r".*/api/(kernels|sessions|kernelspecs).*"), no_kernel)
    page = ctx.new_page()
    try:
        page.goto(f"{lab['base']}/lab/tree/notebooks/quickstart.ipynb?token={lab['token']}&reset")
        page.locator(".jp-NotebookPanel").first.wait_for()
        dialog = page.locator(".jp-Dialog")
        try:
            dialog.wait_for(timeout=20_000)       # "Select Kernel": keep "No Kernel"
            page.keyboard.press("Escape")
        except Exception:  # noqa: BLE001 - no dialog: nothing to dismiss
            pass
        page.locator(".jp-OutputArea-output .eco-card").first.wait_for()
        kernel = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayName")
        cards = page.evaluate(CARDS_JS)
        errors = page.locator("text=Error displaying widget").count()
        shoot(page.locator(".jp-OutputArea-output .eco-card").first, artifacts / "reopened-card.png")
    finally:
        ctx.close()
    assert kernel == "No Kernel"
    assert errors == 0
    assert len(cards) == len(quickstart_run["cards"])
    assert_cards_show_five_figures(cards)


def test_nbconvert_html_opened_offline_shows_every_card(quickstart_run, lab_browser, artifacts, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir",
                           str(tmp_path), str(quickstart_run["notebook"])], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html_path = tmp_path / "quickstart.html"
    assert "application/vnd.jupyter.widget" not in html_path.read_text(encoding="utf-8")
    ctx = lab_browser.new_context(viewport={"width": 1280, "height": 1000}, offline=True)
    blocked = []

    def block(route):
        blocked.append(route.request.url)
        return route.abort()

    ctx.route(re.compile(r"^(?!file:).*"), block)
    page = ctx.new_page()
    try:
        page.goto(html_path.as_uri())
        page.locator(".eco-card").first.wait_for()
        cards = page.evaluate(CARDS_JS)
        shoot(page.locator(".eco-card").first, artifacts / "nbconvert-card.png")
    finally:
        ctx.close()
    assert len(cards) == len(quickstart_run["cards"])
    assert_cards_show_five_figures(cards)
