"""The compare explorer: controls redraw the static snapshot in place; the next cell freezes it."""
from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")

from eco_magic.display import explorer as ex  # noqa: E402
from helpers import make_result  # noqa: E402

WIDGET = ex.WIDGET_MIME


class Outputs:
    """Stands in for IPython's display / update_display: one entry per display id, updates replace it."""

    def __init__(self):
        self.shown: dict[str, dict] = {}
        self.order: list[str] = []
        self.updates = 0

    def display(self, data):
        display_id = f"d{len(self.order)}"
        self.shown[display_id] = dict(data)
        self.order.append(display_id)
        return display_id

    def update(self, data, display_id):
        assert display_id in self.shown
        self.shown[display_id] = dict(data)
        self.updates += 1


def records(all_sessions=False):
    recs = []
    for label, energies, acc in (("fp32", (10.0, 10.2, 9.8), 0.90), ("int8", (4.0, 4.1, 3.9), 0.88)):
        for e in energies:
            recs.append(dict(make_result(label, e, precision=label, duration_s=e / 5,
                                         recorded=(("acc", acc),)).to_dict(), session_id="now"))
    if all_sessions:
        recs += [dict(make_result("old", 7.0).to_dict(), session_id="then")] * 2
    return recs


@pytest.fixture
def explorer():
    out = Outputs()
    e = ex.Explorer(records, metric="energy", baseline="fp32", display=out.display, update=out.update)
    e.show()
    yield e, out
    e.freeze()


def test_show_publishes_controls_and_a_static_snapshot(explorer):
    e, out = explorer
    controls, snapshot = (out.shown[i] for i in out.order)
    assert WIDGET in controls and controls["text/plain"].startswith("compare explorer: energy by label")
    assert WIDGET not in snapshot and set(snapshot) == {"text/plain", "text/html"}
    assert "int8 uses 2" not in snapshot["text/plain"]  # 0.4×: the times form
    assert "int8 uses 0.400× the energy of fp32" in snapshot["text/plain"]
    assert "<svg class='eco-chart'" in snapshot["text/html"]
    assert [o for o in e.metric.options] == [("Energy", "energy"), ("CO₂e", "co2"), ("Water", "water"),
                                             ("Duration", "duration")]
    assert list(e.quality.options) == [ex.NO_QUALITY, "acc"]


def test_each_control_redraws_the_snapshot_in_place(explorer):
    e, out = explorer
    snap = out.order[1]
    e.metric.value = "duration"
    assert "Duration by label" in out.shown[snap]["text/plain"] and out.updates == 1
    e.baseline.value = "int8"
    assert "baseline int8" in out.shown[snap]["text/plain"]
    e.quality.value = "acc"
    assert "class='eco-pareto'" in out.shown[snap]["text/html"]
    assert "fp32 keeps 102.3 % of int8's acc" in out.shown[snap]["text/plain"]
    e.by.value = "precision"  # regrouping resets the baseline to the first group
    assert e.baseline.value == "fp32" and "Duration by precision" in out.shown[snap]["text/plain"]
    e.all_sessions.value = True
    assert e.by.value == "precision" and e.baseline.value == "fp32"  # kept across the reload
    assert "(none)" in e.baseline.options and "(none)" in out.shown[snap]["text/plain"]  # old rows: no precision
    assert len(out.order) == 2  # never a new output: always the same two


def test_a_bad_choice_is_shown_in_the_status_not_raised(explorer):
    e, out = explorer
    before = dict(out.shown[out.order[1]])
    e.quality.options = [ex.NO_QUALITY, "acc", "missing"]
    e.quality.value = "missing"
    assert "no cell recorded a number for 'missing'" in e.status.value and e.error
    assert out.shown[out.order[1]] == before  # the last good view stays


def test_freeze_closes_widgets_and_leaves_static_outputs(explorer):
    e, out = explorer
    e.metric.value = "co2"
    e.freeze()
    controls, snapshot = (out.shown[i] for i in out.order)
    assert WIDGET not in controls and "compare explorer: co2 by label, baseline fp32" in controls["text/plain"]
    assert "eco-explorer-frozen" in controls["text/html"]
    assert "CO₂e by label" in snapshot["text/plain"]
    assert e.box.comm is None and e.metric.comm is None  # closed
    e.freeze()  # idempotent


def test_the_next_cell_freezes_the_explorer(ip):
    out = Outputs()
    e = ex.Explorer(records, display=out.display, update=out.update)
    e.show(ip)
    assert e.live
    ip.run_cell("1 + 1")
    assert not e.live and WIDGET not in out.shown[out.order[0]]
    assert e._on_next_cell not in ip.events.callbacks["pre_run_cell"]


def test_invalid_settings_fail_before_anything_is_shown():
    out = Outputs()
    with pytest.raises(ValueError, match="no group 'bf16'"):
        ex.Explorer(records, baseline="bf16", display=out.display, update=out.update)
    assert out.order == []


def test_compare_magic_in_a_kernel_shows_the_explorer_and_the_next_cell_freezes_it(ip, monkeypatch):
    import eco_magic
    from eco_magic import ledger_magics
    from IPython.utils.capture import capture_output

    ledger_magics.register(ip)
    try:
        for r in records():
            eco_magic.ledger().append(make_result(r["label"], r["energy_j"], recorded=tuple(r["recorded"].items())))
        monkeypatch.setattr("eco_magic.display.card.in_kernel", lambda: True)
        with capture_output() as cap:
            ip.run_line_magic("ecoledger", "compare --baseline fp32 --quality acc")
        controls, snapshot = (o.data for o in cap.outputs)
        assert WIDGET in controls and WIDGET not in snapshot
        assert "eco-compare-view" in snapshot["text/html"] and "int8 keeps" in snapshot["text/plain"]
        with capture_output() as cap:
            ip.run_cell("1 + 1")
        frozen = [o.data for o in cap.outputs if "eco-explorer-frozen" in o.data.get("text/html", "")]
        assert frozen and WIDGET not in frozen[0]
        with capture_output() as cap:
            ip.run_line_magic("ecoledger", "compare --static")
        assert [WIDGET in o.data for o in cap.outputs] == [False]
    finally:
        ledger_magics.unregister(ip)
