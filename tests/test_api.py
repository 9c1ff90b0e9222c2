"""``eco_magic.measure()``: the Python API the magic sits on — plain Python, threads, nesting, decorator, start/stop."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

import eco_magic
from eco_magic import user_values

from kernel_child import child_env

PLAIN = r'''
import json, sys
import eco_magic
with eco_magic.measure(label="plain", items=4, region="FR") as m:
    total = sum(range(200_000))
r = m.result
rows = eco_magic.ledger().records(all_sessions=True)
print(json.dumps({"modules": sorted(k for k in ("IPython", "ipywidgets", "matplotlib") if k in sys.modules),
                  "label": r.label, "items": r.items, "energy_j": r.energy_j, "region": r.region,
                  "keys": sorted(rows[0]), "n": len(rows), "status": rows[0]["status"]}))
'''


def test_api_in_a_plain_python_process_writes_the_same_row_as_the_magic(tmp_path, ip):
    ledger = tmp_path / "plain.sqlite"
    out = subprocess.run([sys.executable, "-c", PLAIN], env=child_env(tmp_path, ECO_MAGIC_LEDGER=str(ledger)),
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["modules"] == []                          # no IPython, widgets or matplotlib in a script
    assert got["label"] == "plain" and got["items"] == 4 and got["region"] == "FR" and got["energy_j"] > 0
    assert got["n"] == 1 and got["status"] == "ok"
    # the magic's row in the same kind of ledger, read back the same way: identical keys
    from IPython.utils.capture import capture_output

    with capture_output():
        ip.run_cell_magic("ecolyze", "-q -l magic -n 4", "sum(range(1000))")
    magic_row = eco_magic.ledger().records(all_sessions=True)[-1]
    assert sorted(magic_row) == got["keys"]


def test_context_manager_records_and_lets_exceptions_through(ip):
    with pytest.raises(KeyError):
        with eco_magic.measure(label="fails") as m:
            raise KeyError("x")
    assert m.result.status == "error" and m.result.error == "KeyError: 'x'"
    assert eco_magic.ledger()[-1] is m.result


def test_magics_config_applies_to_the_api_in_a_notebook(ip):
    with eco_magic.measure() as m:
        pass
    assert m.result.region == "FR"                       # %config EcoMagics.region = 'FR' (the ip fixture)


def test_decorator_measures_every_call(ip):
    @eco_magic.measure(label="step", items=2)
    def step(n):
        return sum(range(n))

    assert step(1000) == sum(range(1000))
    first = step.last_result
    step(2000)
    assert step.last_result is not first
    assert [r.label for r in eco_magic.ledger()] == ["step", "step"]


def test_threads_and_nesting(ip):
    results = []

    def work(i):
        with eco_magic.measure(label=f"t{i}") as m:
            sum(range(50_000))
        results.append(m.result)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.label for r in results) == ["t0", "t1", "t2", "t3"]
    with eco_magic.measure(label="outer") as outer:
        with eco_magic.measure(label="inner") as inner:
            sum(range(50_000))
    assert inner.result.duration_s <= outer.result.duration_s
    assert [r.label for r in eco_magic.ledger()][-2:] == ["inner", "outer"]


def test_start_stop_for_callbacks_and_single_use(ip):
    m = eco_magic.measure(label="epoch 1", items=64)
    m.start()
    sum(range(10_000))
    m.record(accuracy=0.91)
    r = m.stop()
    assert r.label == "epoch 1" and dict(r.recorded) == {"accuracy": 0.91} and r.energy_per_item_j is not None
    assert m.stop() is r                                  # idempotent
    with pytest.raises(RuntimeError):
        m.start()


def test_bad_arguments_raise_value_error_before_anything_runs(ip):
    for kwargs in ({"pue": 0.3}, {"ci_g_per_kwh": -1}, {"items": 0}, {"rate_hz": 1e-9}, {"region": "Atlantis"},
                   {"water_model": "ocean"}, {"precision": "fp7"}, {"dask": "maybe"}):
        with pytest.raises(ValueError):
            eco_magic.measure(**kwargs)


def test_repeat_function(ip):
    calls = []
    r = eco_magic.repeat(lambda: calls.append(1), runs=3, warmup=1, label="rep")
    assert len(calls) == 4 and r.runs == 3 and r.energy_j_ci is not None
    assert [x.run_index for x in eco_magic.ledger()] == [1, 2, 3]


def test_measure_that_cannot_start_runs_the_block_unmeasured(ip, monkeypatch, capsys):
    from eco_magic import engine

    monkeypatch.setattr(engine.Engine, "sampler", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no")))
    ran = []
    with eco_magic.measure() as m:
        ran.append(1)
    assert ran == [1] and m.result is None
    assert "could not measure this block (RuntimeError: no)" in capsys.readouterr().err


def test_describe_exception_survives_hostile_str():
    class Hostile(Exception):
        def __str__(self):
            raise KeyboardInterrupt

    assert user_values.describe_exception(Hostile()).startswith("Hostile: <message unavailable")
