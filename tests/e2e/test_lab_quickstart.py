"""The quickstart in a real JupyterLab + Chromium: live readout, final card, comparison chart."""
from __future__ import annotations

import time

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


def open_notebook(page, lab, rel_path):
    page.goto(f"{lab['base']}/lab/tree/{rel_path}?token={lab['token']}&reset")
    page.locator(".jp-NotebookPanel").first.wait_for()
    page.wait_for_function(KERNEL_IDLE_JS)


def test_quickstart_in_jupyterlab(lab_page, lab, artifacts, capsys):
    with capsys.disabled():  # in the CI log even when the test passes
        print(f"\nE2E screenshots: {artifacts}")
    page = lab_page
    open_notebook(page, lab, "notebooks/quickstart.ipynb")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    # while cells run: the live readout must appear and change at least once
    live_texts, deadline, shot = [], time.monotonic() + 300, False
    while time.monotonic() < deadline:
        text = page.evaluate(LIVE_TEXT_JS)
        if text and (not live_texts or live_texts[-1] != text):
            live_texts.append(text)
            if not shot:
                page.locator(".eco-live").first.screenshot(path=str(artifacts / "live-readout.png"))
                shot = True
        if page.evaluate(ALL_EXECUTED_JS):
            break
        time.sleep(0.2)
    page.wait_for_function(ALL_EXECUTED_JS)
    assert len(live_texts) >= 2, f"live readout never changed: {live_texts}"
    assert any("W" in t and ("J" in t or "Wh" in t) for t in live_texts), live_texts

    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, errors.all_inner_texts()
    assert page.locator("text=Error displaying widget").count() == 0

    cards = page.locator(".jp-OutputArea-output .eco-card-root:visible")
    assert cards.count() >= 2
    card = cards.first
    card.scroll_into_view_if_needed()
    text = card.inner_text()
    for needle in ("Energy", "CO₂e", "Water", "Thermal", "ESS"):
        assert needle in text, needle
    assert any(unit in text for unit in (" J", " Wh", " kWh", " mJ"))
    assert any(unit in text for unit in (" mg", " µg", " g", " kg"))
    assert any(unit in text for unit in (" mL", " µL", " L"))
    assert "estimated" in text
    card.screenshot(path=str(artifacts / "result-card.png"))

    plot = page.locator(".eco-card-root:visible img").first
    plot.wait_for()
    assert page.evaluate("el => el.naturalWidth", plot.element_handle()) > 0

    chart = page.locator(".jp-OutputArea-output .eco-compare-view svg.eco-chart").first
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    assert page.evaluate("el => el.getBoundingClientRect().width", chart.element_handle()) > 0
    chart.screenshot(path=str(artifacts / "compare-chart.png"))
    page.screenshot(path=str(artifacts / "quickstart-lab.png"))
