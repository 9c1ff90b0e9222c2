"""No surprises: no network connection at import, load or a default measured cell, and secrets in the
environment never reach the ledger, the outputs or the exports."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from IPython.utils.capture import capture_output

import eco_magic
from kernel_child import child_env
from helpers import load_fresh

TOKEN = "secret-token-123"

BLOCK_SOCKETS = textwrap.dedent('''
    import socket

    ATTEMPTS = []

    def _refuse(name):
        def refuse(*args, **kwargs):
            ATTEMPTS.append(f"{name}{args[1:] if name.startswith('socket.') else args}"[:200])
            raise OSError("network access blocked by the test")
        return refuse

    for _name in ("connect", "connect_ex", "sendto", "sendmsg"):
        setattr(socket.socket, _name, _refuse("socket." + _name))
    for _name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, _name, _refuse(_name))
''')

CHILD = BLOCK_SOCKETS + textwrap.dedent('''
    import sys
    import eco_magic                                      # import: nothing may connect
    assert "IPython" not in sys.modules and "pynvml" not in sys.modules
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=cfg)
    shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0.2")   # the idle baseline runs too
    shell.run_line_magic("load_ext", "eco_magic")           # load: discovery in the background
    with capture_output() as cap:
        res = shell.run_cell("%%ecolyze\\ns = sum(i * i for i in range(100000))")   # a default measured cell
        shell.run_line_magic("ecoledger", "")
    assert res.success, res.error_in_exec
    assert len(cap.outputs) == 2, cap.outputs
    shell.run_line_magic("unload_ext", "eco_magic")
    print("ATTEMPTS", ATTEMPTS)
''')


def test_import_load_and_a_default_cell_open_no_connection_in_a_fresh_process(tmp_path):
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=str(tmp_path), env=child_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "ATTEMPTS []", out.stdout[-3000:]
    assert "network access blocked" not in out.stderr


@pytest.fixture
def attempts(no_network):
    """Every outgoing connection or name lookup this process tries (all refused): see conftest.no_network."""
    return no_network


def test_load_and_default_cells_open_no_connection(shell, tmp_path, attempts):
    """In this process too: loading, the warm-up (discovery), measured cells of every kind, the ledger views
    and exports, unloading."""
    load_fresh(shell, tmp_path / 'ledger.sqlite')
    try:
        with capture_output() as cap:
            cells = [shell.run_cell("%%ecolyze\nx = sum(range(10000))"),       # default region: timezone guess
                     shell.run_cell("%%ecolyze -l fr --region FR -p 7e9 --precision int8\npass"),
                     shell.run_cell("%%ecolyze --region aws:us-east-1 --water-model li\npass"),
                     shell.run_cell("%ecolyze 1 + 1")]
            shell.run_line_magic("ecoledger", "")
            shell.run_line_magic("ecoledger", "compare")
            shell.run_line_magic("ecoledger", f"export {tmp_path / 'out.csv'} --format codecarbon")
        assert all(c.success for c in cells), [c.error_in_exec for c in cells]
        assert len([o for o in cap.outputs if "text/html" in o.data]) == 6
    finally:
        shell.run_line_magic("unload_ext", "eco_magic")
        eco_magic.ledger().clear()
    assert attempts == []


def test_a_token_in_the_environment_never_reaches_ledger_outputs_or_exports(ip, tmp_path, monkeypatch):
    for name in ("ELECTRICITYMAPS_TOKEN", "ELECTRICITYMAPS_API_TOKEN", "ELECTRICITY_MAPS_TOKEN",
                 "CO2SIGNAL_API_TOKEN", "WATTTIME_USERNAME", "WATTTIME_PASSWORD", "WATTTIME_TOKEN", "ECO_MAGIC_TOKEN"):
        monkeypatch.setenv(name, TOKEN)
    monkeypatch.setenv("ECO_MAGIC_REGION", "DE")
    with capture_output() as cap:
        results = [ip.run_cell_magic("ecolyze", "-o -l tokened", "y = 1"),
                   ip.run_cell_magic("ecolyze", "-o --region US-CA -n 4", "y = 2")]
        ip.run_cell("%%ecolyze -l shown\ny = 3")
        ip.run_line_magic("ecolyze_auto", "on")
        ip.run_cell("y = 4", store_history=True)
        ip.run_line_magic("ecolyze_auto", "off")
        ip.run_line_magic("ecoledger", "--all")
        ip.run_line_magic("ecoledger", "compare")
        for name, fmt in (("out.csv", ""), ("out.json", ""), ("cc.csv", " --format codecarbon")):
            ip.run_line_magic("ecoledger", f"export {tmp_path / name}{fmt}")
    assert len(eco_magic.ledger()) == 4
    eco_magic.ledger().to_dataframe().to_csv(tmp_path / "frame.csv")
    texts = [cap.stdout, cap.stderr]
    for out in cap.outputs:
        texts.extend(str(v) for v in out.data.values())
    for r in results:
        texts += [repr(r), str(r.to_dict()), r._repr_mimebundle_()["text/html"]]
    for path in tmp_path.iterdir():                        # the SQLite file, its WAL, and every export
        if path.is_file():
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    assert any("tokened" in t for t in texts)              # the search does look where the rows are
    leaks = [t[:200] for t in texts if TOKEN in t]
    assert leaks == []


def test_live_carbon_is_off_by_default_and_opens_nothing(attempts, tmp_path, monkeypatch):
    """The live path does nothing unless a provider is named; without credentials it does not connect either."""
    import datetime as dt

    from eco_magic import live_carbon, regions

    for name in ("ELECTRICITYMAPS_TOKEN", "ELECTRICITYMAPS_API_TOKEN", "WATTTIME_USERNAME", "WATTTIME_USER",
                 "WATTTIME_PASSWORD", "WATTTIME_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    fr = regions.lookup("FR")
    for off in (None, "", "off"):
        assert live_carbon.for_cell(fr, 1.7e9, 2.0, off) is None
    now = dt.datetime.now(dt.timezone.utc)
    cfg = live_carbon.LiveConfig(cache_dir=tmp_path / "cache")
    for provider in ("electricitymaps", "watttime"):
        live = live_carbon.intensity_for(fr, now, now, provider, config=cfg, zone="FR")
        assert not live.ok and "annual figure" in live.notes[-1]
    assert attempts == []
    assert not (tmp_path / "cache").exists()


def test_live_carbon_credentials_are_never_written(tmp_path):
    """Tokens and passwords go to their provider only: not into the cache, the result, its card or its notes."""
    import datetime as dt
    import json

    from eco_magic import live_carbon, regions
    from eco_magic.assemble import Settings, build_result
    from eco_magic.live_carbon import watttime
    from fake_providers import FakeProviders, Route, em_history, wt_series
    from helpers import make_measurement

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    hour = now.replace(minute=0, second=0)
    with FakeProviders() as fake:
        fake.routes["/em/v3/carbon-intensity/history"] = lambda q: Route(em_history(q["zone"], hour, [80.0] * 24))
        fake.routes["/wt/v3/historical"] = Route(wt_series(now - dt.timedelta(minutes=10), [500.0] * 4))
        fake.routes["/wt/v3/forecast"] = Route(wt_series(now, [450.0] * 24))
        env = fake.env(ECO_MAGIC_LIVE_CARBON_ZONE="")
        secrets = [FakeProviders.EM_TOKEN, FakeProviders.WT_PASSWORD, FakeProviders.WT_TOKEN]
        texts = []
        for provider, zone in (("electricitymaps", None), ("watttime", "CAISO_NORTH")):
            m = make_measurement(started_at=(now - dt.timedelta(minutes=5)).timestamp(), duration_s=60.0)
            live = live_carbon.for_cell(regions.lookup("FR"), m.started_at, m.duration_s, provider, env,
                                        config=live_carbon.LiveConfig(cache_dir=tmp_path / "cache", zone=zone))
            assert live.ok, live.notes
            r = build_result(m, regions.lookup("FR"), Settings(), live=live)
            texts += [repr(live), repr(r), json.dumps(r.to_dict()), r._repr_mimebundle_()["text/html"], str(r)]
        failing = live_carbon.intensity_for(regions.lookup("FR"), now, now, "watttime",
                                            {**env, "WATTTIME_PASSWORD": "wrong-" + FakeProviders.WT_PASSWORD},
                                            zone="CAISO_NORTH", config=live_carbon.LiveConfig(cache_dir=tmp_path))
        texts.append(repr(failing))
        watttime.forget_tokens()
    files = list((tmp_path / "cache").rglob("*"))
    assert files and all(f.stat().st_size > 0 for f in files if f.is_file())
    texts += [f.read_text(encoding="utf-8", errors="replace") for f in files if f.is_file()]
    basic = __import__("base64").b64encode(f"{FakeProviders.WT_USER}:{FakeProviders.WT_PASSWORD}".encode()).decode()
    leaks = [t[:200] for t in texts for secret in (*secrets, basic) if secret in t]
    assert leaks == []
