"""A magic on every cell must never be the reason a notebook breaks.

Faults in the middle of a cell (a sensor failing, RAPL turning unreadable, NVML losing the GPU), cells that raise,
are interrupted or call ``sys.exit``, failures inside eco_magic itself, "Run All" in a real kernel, unloading and
reloading the extension, and a thousand cells in a row. In every case: the cell behaves as without the magic, the
partial result is recorded with its status and a note, and no sampler thread is left running.
"""
from __future__ import annotations

import statistics
import threading
import time

import pytest
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic import engine as engine_mod
from eco_magic.sensors.base import DeviceInfo, Discovery, Sample, SensorError
from fake_nvml import FakeGpu, ManualClock, install
from fake_powercap import FakePowercap
from kernel_child import REPO

WAIT_S = 10.0  # upper bound for a wait that normally ends within a few sampler ticks


# --------------------------------------------------------------------------------------------------- helpers
def live_sampler_threads() -> list[str]:
    """Sampler and live-readout threads still running (checked at once, without joining)."""
    return [t.name for t in threading.enumerate()
            if t.is_alive() and t.name in ("eco_magic-sampler", "eco_magic-live")]


def eco_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith("eco_magic-")]


class ScriptedSensor:
    """A counter channel that gains 1 J per successful read and fails on the reads numbered in ``fail_on``."""

    def __init__(self, key: str = "cpu:scripted", fail_on: tuple[int, ...] = ()) -> None:
        self.info = DeviceInfo(key, "cpu", "Scripted CPU", "counter", "scripted test counter", "device")
        self.fail_on = set(fail_on)
        self.reads = 0
        self.ok_reads = 0
        self._cond = threading.Condition()

    def read(self, t_s: float) -> Sample:
        with self._cond:
            self.reads += 1
            self._cond.notify_all()
            if self.reads in self.fail_on:
                raise SensorError(f"scripted failure on read {self.reads}")
            self.ok_reads += 1
            return Sample(t_s=t_s, energy_j=float(self.ok_reads), power_w=10.0)

    def wait_reads(self, n: int) -> None:
        """Block the (measured) cell until the sampler has read this sensor ``n`` times in all."""
        with self._cond:
            assert self._cond.wait_for(lambda: self.reads >= n, timeout=WAIT_S), self.reads

    def close(self) -> None:
        pass


def wait_until(predicate, timeout: float = WAIT_S, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(step)


def reload_with(shell, tmp_path, region: str = "FR") -> None:
    if "eco_magic" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "eco_magic")
    shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
    shell.run_line_magic("config", f"EcoMagics.ledger_path = {str(tmp_path / 'ledger.sqlite')!r}")
    shell.run_line_magic("config", f"EcoMagics.region = {region!r}")
    shell.run_line_magic("load_ext", "eco_magic")
    eco_magic.ledger().clear()


@pytest.fixture
def scripted(shell, monkeypatch, tmp_path):
    """Load eco_magic on top of the given sensors only (discovery replaced); unload afterwards."""
    def load(*sensors):
        monkeypatch.setattr(engine_mod, "discover_all", lambda **kw: Discovery(sensors=list(sensors)))
        reload_with(shell, tmp_path)
        return shell

    yield load
    if "eco_magic" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "eco_magic")
    eco_magic.ledger().clear()
    for name in ("sensor", "powercap", "gpu", "clock", "rapl_reads", "mp"):
        shell.user_ns.pop(name, None)


# ---------------------------------------------------------------------------------------- faults mid-cell
def test_sensor_failing_on_its_third_read_degrades_with_a_note(scripted):
    sensor = ScriptedSensor(fail_on=(3,))
    ip = scripted(sensor)
    ip.user_ns["sensor"] = sensor
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze --rate 100 -l flaky\nsensor.wait_reads(5)\n'done'")
    assert live_sampler_threads() == []
    assert res.success and res.result == "done", res.error_in_exec
    r = eco_magic.ledger()[-1]
    assert r.label == "flaky" and r.status == "ok"
    dev = r.devices[0]
    assert dev.method == "counter"
    assert dev.energy_j == pytest.approx(sensor.ok_reads - 1)     # the counter spans the failed read
    assert any("read failed 1×" in n and "scripted failure on read 3" in n for n in dev.notes), dev.notes
    assert any(n.startswith("cpu:scripted:") and "read failed" in n for n in r.notes)
    assert len([o for o in cap.outputs if "text/html" in o.data]) == 1
    assert "Traceback" not in cap.stdout + cap.stderr


def test_rapl_turning_unreadable_mid_cell_keeps_what_was_read(scripted, monkeypatch, tmp_path):
    from eco_magic.sensors import rapl

    powercap = FakePowercap(tmp_path / "powercap", packages=1, core=False)
    powercap.install(monkeypatch)
    reads = ScriptedSensor()  # used only as a read counter: every RAPL energy_uj read bumps it
    real_read = rapl._read_text

    def counting_read(path):
        text = real_read(path)
        if str(path).endswith("energy_uj"):
            reads.read(0.0)
        return text

    monkeypatch.setattr(rapl, "_read_text", counting_read)
    found = rapl.discover(env=powercap.env)
    cpu = [s for s in found.sensors if s.info.key == "cpu:rapl"]
    assert cpu, found.notes
    ip = scripted(*cpu)
    ip.user_ns.update(powercap=powercap, rapl_reads=reads, mp=monkeypatch)
    cell = ("powercap.advance({'package-0': 10.0})\n"
            "rapl_reads.wait_reads(rapl_reads.reads + 2)\n"        # the sampler has read the advanced counter
            "powercap.make_unreadable(mp)\n"
            "'still fine'")
    with capture_output() as cap:
        res = ip.run_cell(f"%%ecolyze --rate 100 -l rapl-gone\n{cell}")
    assert live_sampler_threads() == []
    assert res.success and res.result == "still fine", res.error_in_exec
    r = eco_magic.ledger()[-1]
    assert r.status == "ok"
    dev = r.devices[0]
    assert dev.energy_j == pytest.approx(10.0, rel=1e-6)           # everything up to the last good read
    assert any("read failed 1×" in n and "RAPL read failed" in n for n in dev.notes), dev.notes
    assert "Traceback" not in cap.stdout + cap.stderr


def test_nvml_losing_the_gpu_mid_cell_records_the_energy_before_the_loss(shell, monkeypatch, tmp_path):
    clock = ManualClock()
    gpu = FakeGpu(name="NVIDIA A100-SXM4-40GB", arch="ampere", power_w=300.0)
    install(monkeypatch, [gpu], clock=clock)
    reload_with(shell, tmp_path)
    shell.user_ns.update(gpu=gpu, clock=clock, wait_until=wait_until)
    cell = ("clock.advance(1.0)\n"                                   # 300 J delivered
            "seen = gpu.reads\n"
            "wait_until(lambda: gpu.reads >= seen + 2)\n"           # a sampler tick has read the counter
            "gpu.lost_after_reads = gpu.reads\n"                    # NVML_ERROR_GPU_IS_LOST from now on
            "clock.advance(1.0)\n"
            "'ran'")
    try:
        with capture_output() as cap:
            res = shell.run_cell(f"%%ecolyze --rate 100 -l lost\n{cell}")
            after = shell.run_cell("%%ecolyze -l after-loss\n1 + 1")
        assert live_sampler_threads() == []
        assert res.success and res.result == "ran", res.error_in_exec
        assert after.success and after.result == 2
        r = eco_magic.ledger()[0]
        g = next(d for d in r.devices if d.kind == "gpu")
        assert g.energy_j == pytest.approx(300.0, rel=1e-3)
        assert any("GPU is lost" in n for n in g.notes), g.notes
        nxt = next(d for d in eco_magic.ledger()[1].devices if d.kind == "gpu")
        assert nxt.energy_j is None and any("GPU is lost" in n for n in nxt.notes)   # unknown, never 0 J
        assert [x.status for x in eco_magic.ledger()] == ["ok", "ok"]
        assert "Traceback" not in cap.stdout + cap.stderr
    finally:
        shell.run_line_magic("unload_ext", "eco_magic")
        for name in ("gpu", "clock", "wait_until", "seen"):
            shell.user_ns.pop(name, None)


# ------------------------------------------------------------------- the cell behaves as without the magic
CELLS = {
    "raises": ("x = 1\n1/0", ZeroDivisionError, "error", "ZeroDivisionError: division by zero"),
    "interrupted": ("raise KeyboardInterrupt", KeyboardInterrupt, "interrupted", "KeyboardInterrupt"),
    "sys.exit(3)": ("import sys\nsys.exit(3)", SystemExit, "error", "SystemExit(3)"),
    "sys.exit('bye')": ("import sys\nsys.exit('bye')", SystemExit, "error", "SystemExit('bye')"),
    "sys.exit()": ("import sys\nsys.exit()", SystemExit, "error", "SystemExit(None)"),
}


@pytest.mark.parametrize("name", list(CELLS))
def test_failing_cell_behaves_as_without_the_magic(ip, name):
    body, exc_type, status, error = CELLS[name]
    with capture_output() as plain_cap:
        plain = ip.run_cell(body)
    with capture_output() as cap:
        res = ip.run_cell(f"%%ecolyze -l {name.split('(')[0]}\n{body}")
    assert live_sampler_threads() == []
    assert (res.success, type(res.error_in_exec), res.error_before_exec) == \
           (plain.success, type(plain.error_in_exec), plain.error_before_exec) == (False, exc_type, None)
    assert getattr(res.error_in_exec, "code", None) == getattr(plain.error_in_exec, "code", None)
    # one error report, the same last line as without the magic
    last = [line for line in plain_cap.stdout.strip().splitlines() if line.strip()][-1]
    assert cap.stdout.count(last) == plain_cap.stdout.count(last) == 1, cap.stdout
    assert cap.stdout.count("Traceback (most recent call last)") == plain_cap.stdout.count(
        "Traceback (most recent call last)") <= 1
    # the partial result is recorded and shown, with its status
    r = eco_magic.ledger()[-1]
    assert (r.status, r.error) == (status, error)
    assert eco_magic.ledger().records(all_sessions=True)[-1]["status"] == status
    shown = [o.data["text/plain"] for o in cap.outputs if "text/plain" in o.data]
    assert len(shown) == 1 and status in shown[0]


def test_traceback_names_the_cell_like_without_the_magic(ip):
    with capture_output() as plain_cap:
        ip.run_cell("y = 2\n1/0", store_history=True)
    with capture_output() as cap:
        ip.run_cell("%%ecolyze\ny = 2\n1/0", store_history=True)
    n = ip.execution_count - 1
    assert f"Cell In[{n - 1}], line 2" in plain_cap.stdout
    assert f"Cell In[{n}], line 2" in cap.stdout, cap.stdout
    assert "eco_magic" not in cap.stdout and "pending" not in cap.stdout


@pytest.mark.parametrize("where", [
    "accounting",
    "display"])
@pytest.mark.parametrize("cell_raises", [False, True])
def test_a_failure_inside_eco_magic_never_changes_the_cells_outcome(ip, monkeypatch, where, cell_raises):
    def broken(*args, **kwargs):
        raise RuntimeError(f"simulated bug in {where}")

    if where == "accounting":
        monkeypatch.setattr("eco_magic.assemble.build_result", broken)
    else:
        monkeypatch.setattr("eco_magic.display.html.render_html", broken)
    body = "x = 5\n1/0" if cell_raises else "x = 5\nx * 2"
    with capture_output() as cap:
        res = ip.run_cell(f"%%ecolyze\n{body}")
    assert live_sampler_threads() == []
    assert ip.user_ns["x"] == 5
    if cell_raises:
        assert isinstance(res.error_in_exec, ZeroDivisionError)          # the cell's own error, not ours
    else:
        assert res.success and res.result == 10
    said = [line for line in (cap.stdout + cap.stderr).splitlines() if "simulated bug" in line]
    assert len(said) == 1 and not said[0].startswith("RuntimeError"), cap.stdout + cap.stderr  # one line, no traceback


def test_ctrl_c_while_waiting_for_the_gpu_still_records_the_cell(ip, monkeypatch):
    calls = []

    def interrupted_sync():
        calls.append(1)
        raise KeyboardInterrupt  # the user presses Ctrl-C during torch.cuda.synchronize()

    monkeypatch.setattr(engine_mod, "sync_devices", interrupted_sync)
    with capture_output(), pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("ecolyze", "-l waiting", "y = 1")
    assert live_sampler_threads() == []
    assert calls == [1]                                    # the wait is not retried after Ctrl-C
    assert [(r.label, r.status) for r in eco_magic.ledger()] == [("waiting", "interrupted")]
    assert eco_magic.ledger().count(all_sessions=True) == 1


def test_magic_that_cannot_start_measuring_runs_the_cell_unmeasured(ip, monkeypatch):
    def no_sampler(*args, **kwargs):
        raise RuntimeError("no sensors today")

    monkeypatch.setattr(engine_mod.Engine, "sampler", no_sampler)
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze\nz = 3\nz + 1")
    assert res.success and res.result == 4
    assert "could not measure" in cap.stderr and "no sensors today" in cap.stderr
    assert len(cap.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_run_all_stops_at_a_failing_measured_cell(tmp_path, monkeypatch):
    """In a real kernel (nbclient), a raising %%ecolyze cell stops "Run All" with one error, like any cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("PYTHONPATH", str(REPO))
    marker = tmp_path / "marker"
    ledger = tmp_path / "ledger.sqlite"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"%config EcoMagics.idle_baseline_s = 0\n"
                                  f"%config EcoMagics.ledger_path = {str(ledger)!r}\n"
                                  "%config EcoMagics.region = 'FR'\n%load_ext eco_magic"),
        nbformat.v4.new_code_cell("%%ecolyze -l before\ntotal = sum(range(1000))"),
        nbformat.v4.new_code_cell("%%ecolyze -l boom\nx = 1\n1/0"),
        nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')"),
    ]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert "ZeroDivisionError" in str(info.value)
    assert not marker.exists()                                    # Run All stopped at the failing cell
    outputs = nb.cells[2].outputs
    errors = [o for o in outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "ZeroDivisionError"
    cards = [o for o in outputs if o.output_type in ("display_data", "update_display_data")
             and "ecolyze: boom" in o.get("data", {}).get("text/plain", "")]
    assert len(cards) == 1, [o.output_type for o in outputs]      # the partial result, shown once
    assert not any(o.output_type == "error" for o in nb.cells[1].outputs)
    from eco_magic.session_ledger import Ledger

    led = Ledger(ledger)
    try:
        assert [(r["label"], r["status"]) for r in led.records(all_sessions=True)] == [("before", "ok"),
                                                                                     ("boom", "error")]
    finally:
        led.close()


# ------------------------------------------------------------------------------------------ unload / reload
def eco_callbacks(shell) -> list:
    return [cb for cbs in shell.events.callbacks.values() for cb in cbs
            if getattr(getattr(cb, "__self__", None), "__module__", "").startswith("eco_magic")
            or getattr(cb, "__module__", "").startswith("eco_magic")]


def test_reload_and_unload_leave_no_thread_hook_or_magic(shell, tmp_path):
    from eco_magic import magic

    reload_with(shell, tmp_path)
    first = magic._LOADED[id(shell)]
    with capture_output():
        shell.run_line_magic("ecolyze_auto", "on")
        shell.run_cell("a = 1", store_history=True)           # measured by the hooks
    hooks = eco_callbacks(shell)
    assert {cb.__self__ for cb in hooks} == {first}
    assert first._auto is not None and [r.label for r in eco_magic.ledger()][-1].startswith("cell ")
    shell.run_line_magic("reload_ext", "eco_magic")
    second = magic._LOADED[id(shell)]
    assert len(magic._LOADED) == 1 and second is not first
    after = eco_callbacks(shell)
    assert {cb.__self__ for cb in after} <= {second}           # nothing of the old instance is called any more
    assert second._auto is None and first._auto is None       # auto mode went with it
    assert first._transformer not in shell.input_transformers_post
    assert [t for t in shell.input_transformers_post if type(t).__module__.startswith("eco_magic")] == [
        second._transformer]
    with capture_output():
        res = shell.run_cell("%%ecolyze -l after-reload\n2 * 3")
    assert res.success and res.result == 6
    shell.run_line_magic("unload_ext", "eco_magic")
    assert [t for t in eco_threads() if t != "eco_magic-plotwarm"] == []
    assert eco_callbacks(shell) == []
    mm = shell.magics_manager
    for name in ("ecolyze", "ecolyze_auto", "ecolyze_idle", "ecoledger"):
        assert name not in mm.magics["line"] and name not in mm.magics["cell"], name
    assert not any(type(m).__module__.startswith("eco_magic") for m in mm.registry.values())
    assert not magic._LOADED
    assert not [t for t in shell.input_transformers_post if type(t).__module__.startswith("eco_magic")]
    with capture_output():
        res = shell.run_cell("%%ecolyze\npass")
    assert not res.success                                     # the magic is really gone: UsageError


def test_unload_right_after_load_leaves_no_thread(shell, tmp_path):
    reload_with(shell, tmp_path)
    shell.run_line_magic("unload_ext", "eco_magic")
    shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 30")
    shell.run_line_magic("load_ext", "eco_magic")
    try:
        from eco_magic import magic

        engine = magic._LOADED[id(shell)].engine
    finally:
        shell.run_line_magic("unload_ext", "eco_magic")
        shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
    assert [t for t in eco_threads() if t != "eco_magic-plotwarm"] == []
    assert engine._meter is None and engine.idle_power_w() is None


def stale_instances(shell) -> list:
    return [c for c in shell.configurables if type(c).__name__ == "EcoMagics"]


def test_config_after_unload_does_not_wake_the_unloaded_extension(shell, tmp_path):
    reload_with(shell, tmp_path)
    shell.run_line_magic("reload_ext", "eco_magic")
    shell.run_line_magic("unload_ext", "eco_magic")
    try:
        shell.run_line_magic("config", "EcoMagics.scope = 'machine'")
        started = [t for t in eco_threads() if t != "eco_magic-plotwarm"]
        stale = stale_instances(shell)
    finally:
        for c in stale_instances(shell):      # undo what the stale instances started, and drop them
            shell.configurables.remove(c)
            c.engine.close()
        shell.config.EcoMagics.pop("scope", None)
    assert stale == []
    assert started == []


def test_config_given_before_loading_is_used(shell, tmp_path):
    if "eco_magic" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "eco_magic")
    for c in stale_instances(shell):         # instances left by earlier tests would react to %config as well
        shell.configurables.remove(c)
    shell.run_line_magic("config", "EcoMagics.scope = 'machine'")
    shell.run_line_magic("config", "EcoMagics.cpu_tdp_w = 65.0")
    try:
        reload_with(shell, tmp_path)
        from eco_magic import magic

        eng = magic._LOADED[id(shell)].engine
        assert (eng.scope, eng.cpu_tdp_w) == ("machine", 65.0)
        with capture_output():
            r = shell.run_cell_magic("ecolyze", "-o -q", "pass")
        assert {d.scope for d in r.devices} == {"machine"}
    finally:
        if "eco_magic" in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", "eco_magic")
        for c in stale_instances(shell):
            shell.configurables.remove(c)
            if "engine" in vars(c):
                c.engine.close()
        shell.config.EcoMagics.pop("scope", None)
        shell.config.EcoMagics.pop("cpu_tdp_w", None)


def test_unload_during_warm_up_leaves_no_idle_meter():
    entered, release = threading.Event(), threading.Event()

    def slow_discovery(**kw):  # the warm-up is still discovering when the extension is unloaded
        entered.set()
        release.wait(WAIT_S)
        return Discovery(sensors=[ScriptedSensor()])

    eng = engine_mod.Engine(idle_duration_s=30.0, discover=slow_discovery)
    eng.warm_up()
    assert entered.wait(WAIT_S)
    closer = threading.Thread(target=eng.close, name="test-closer")
    closer.start()
    wait_until(lambda: eng._closed)
    release.set()
    closer.join(WAIT_S)
    eng._warmup.join(WAIT_S)
    assert "eco_magic-warmup" not in eco_threads()
    assert eng._meter is None and eng.idle_power_w() is None


# ------------------------------------------------------------------------------------------------ endurance
def run_cells(ip, start: int, stop: int, times: list[float]) -> None:
    for i in range(start, stop):
        t = time.perf_counter()
        with capture_output() as cap:
            res = ip.run_cell(f"%%ecolyze -l c{i}\nx = {i}\nx")
        times.append(time.perf_counter() - t)
        assert res.success and res.result == i, res.error_in_exec
        assert len(cap.outputs) == 1
        if i % 100 == 0:
            assert live_sampler_threads() == []


@pytest.mark.slow
def test_a_thousand_measured_cells(ip):
    times: list[float] = []
    run_cells(ip, 0, 1000, times)
    led = eco_magic.ledger()
    assert len(led) == 1000 and led.count(all_sessions=True) == 1000
    assert [r.label for r in led][::250] == ["c0", "c250", "c500", "c750"]
    assert [r["label"] for r in led.recent(2, all_sessions=True)] == ["c998", "c999"]
    assert live_sampler_threads() == []
    first, last = statistics.median(times[:100]), statistics.median(times[-100:])
    assert last <= 2 * first + 0.005, (first, last)                # overhead does not grow with the ledger


@pytest.mark.slow
def test_a_thousand_measured_cells_grow_rss_by_less_than_5_mb(tmp_path):
    """RSS of a fresh shell (its own process, so that nothing else in the test run blurs the figure) after 50
    warm-up cells, and after 950 more."""
    import subprocess
    import sys

    from kernel_child import HERE, child_env

    out = subprocess.run([sys.executable, str(HERE), "--ledger", str(tmp_path / "l.sqlite"), "--cells", "1000",
                          "--rss-after", "50", "--quiet-progress"], cwd=str(tmp_path), env=child_env(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    before, after = [int(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("rss ")]
    growth_mb = (after - before) / 1e6
    assert growth_mb < 5.0, f"RSS grew {growth_mb:.1f} MB over 950 cells"
