"""The displayed path in a real Jupyter kernel (ipykernel through jupyter_client, every message over ZeroMQ): what
a measured cell sends, and that 1,000 displayed cells leave memory and file descriptors flat (issue 10)."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from kernel_child import Kernel, setup_lines  # noqa: E402

# Open file descriptors, IPython's own history database left out: its saving thread keeps a SQLite journal open
# for a while after writing every few cells (0 or 1 descriptor, nothing to do with the display).
PROBE = """
import gc as _gc, os as _os, json as _json, threading as _th, psutil as _ps
def _eco_fds():
    out = []
    for f in _os.listdir('/proc/self/fd'):
        try:
            out.append(_os.readlink('/proc/self/fd/' + f))
        except OSError:  # the descriptor listdir itself used, or one closed meanwhile
            pass
    return sorted(p for p in out if 'history.sqlite' not in p)
_gc.collect()
_fd = _eco_fds()
print('PROBE', _json.dumps({'rss': _ps.Process().memory_info().rss, 'fds': len(_fd), 'fdt': _fd,
                            'live': [t.name for t in _th.enumerate() if t.name == 'eco_magic-live']}))
"""


def _probe(k: Kernel, times: int = 5) -> dict:
    """RSS, open file descriptors (the fewest of ``times`` reads 0.1 s apart: IPython's history thread and SQLite
    open journal files for a moment) and live-readout threads of the kernel."""
    probes = []
    for _ in range(times):
        reply, msgs = k.run(PROBE + "\nimport time as _t\n_t.sleep(0.1)")
        assert reply["status"] == "ok", reply
        text = "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
        probes.append(json.loads(text.split("PROBE", 1)[1]))
    return min(probes, key=lambda p: p["fds"])


@pytest.fixture
def kernel(tmp_path):
    k = Kernel(tmp_path)
    try:
        reply, _ = k.run("\n".join(setup_lines(tmp_path / "ledger.sqlite")))
        assert reply["status"] == "ok", reply
        yield k
    finally:
        k.shutdown()


def _outputs(msgs: list[dict]) -> list[dict]:
    return [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data", "execute_result")]


def test_a_short_cell_sends_one_plain_bundle_and_no_comm(kernel):
    reply, msgs = kernel.run("%%ecolyze -l short\nx = 1")
    assert reply["status"] == "ok"
    (card,) = _outputs(msgs)
    assert card["msg_type"] == "display_data"
    assert set(card["content"]["data"]) == {"text/plain", "text/html"}
    assert card["content"]["data"]["text/plain"].startswith("ecolyze: short")
    assert not [m for m in msgs if m["msg_type"].startswith("comm_")]          # no widget, no comm


def test_a_long_cell_shows_the_readout_then_the_card_in_its_place(kernel):
    reply, msgs = kernel.run("%%ecolyze -l long\nimport time\nt = time.time()\nwhile time.time() - t < 1.6: pass")
    assert reply["status"] == "ok"
    first, *rest = _outputs(msgs)
    assert first["msg_type"] == "display_data" and 'class="eco eco-live"' in first["content"]["data"]["text/html"]
    display_id = first["content"]["transient"]["display_id"]
    assert len(rest) >= 3 and all(m["msg_type"] == "update_display_data" for m in rest)   # refreshes, then card
    refreshed = {m["content"]["data"]["text/plain"] for m in rest[:-1]}
    assert len(refreshed | {first["content"]["data"]["text/plain"]}) >= 2                  # the readout changed
    assert {m["content"]["transient"]["display_id"] for m in rest} == {display_id}
    card = rest[-1]["content"]["data"]
    assert set(card) == {"text/plain", "text/html"} and card["text/plain"].startswith("ecolyze: long")
    assert "<svg" in card["text/html"]                                        # the trace, inside the card
    assert not [m for m in msgs if m["msg_type"].startswith("comm_")]


@pytest.mark.slow
def test_a_thousand_displayed_cells_keep_memory_and_file_descriptors_flat(kernel):
    """RSS (after gc) and open file descriptors of the kernel after 50 warm-up cells and after 1,000 more, every
    one of them displaying its card."""
    for i in range(50):
        kernel.run(f"%%ecolyze -l warm-{i}\nx = {i}")
    before = _probe(kernel)
    shown = 0
    for i in range(1000):
        reply, msgs = kernel.run(f"%%ecolyze -l c-{i}\nx = {i}")
        assert reply["status"] == "ok", reply
        shown += sum(1 for m in _outputs(msgs) if "text/html" in m["content"]["data"])
    after = _probe(kernel)
    assert shown == 1000                                                       # every cell showed its card
    growth_mb = (after["rss"] - before["rss"]) / 1e6
    assert growth_mb < 10.0, f"RSS grew {growth_mb:.1f} MB over 1,000 displayed cells"
    extra = sorted(set(after["fdt"]) - set(before["fdt"]))
    assert after["fds"] <= before["fds"], (extra, before["fds"], after["fds"])
    assert after["live"] == []
