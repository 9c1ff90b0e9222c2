"""Dask cluster measurement (eco_magic.cluster): worker side, attribution, accounting, display and a real LocalCluster.

The LocalCluster tests start real worker processes whose RAPL sensor reads a FakePowercap tree (passed to the
workers through the nanny's environment, as a job script or pod spec would), advance the fake counters by known
joules, and check that the cell's total counts them exactly once per host.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from eco_magic import accounting as acc
from eco_magic import cluster as ec
from eco_magic import regions
from eco_magic.assemble import Settings, build_result
from eco_magic.display.workers import workers_html, workers_text
from eco_magic.result import WorkerReading
from eco_magic.sampler import Sampler
from eco_magic.sensors import discover_all
from fake_powercap import ENV_ROOT, FakePowercap
from helpers import make_result

HOST_A = {"host": "node-a", "host_id": "boot:aaa", "pid": 100, "proc": [100, 1.0], "ancestors": [[1, 0.5]]}
HOST_B = {"host": "node-b", "host_id": "boot:bbb", "pid": 200, "proc": [200, 2.0], "ancestors": [[1, 0.7]]}


@pytest.fixture(autouse=True)
def fresh_worker_registry():
    """Every test starts with no cached discovery and no running worker measurement in this process."""
    ec._DISCOVERIES.clear()
    yield
    for mid in list(ec._RUNS):
        ec.worker_stop(mid)
    for found in ec._DISCOVERIES.values():
        ec._close_sensors(found.sensors)
    ec._DISCOVERIES.clear()


def chan(key, kind, energy_j, scope="machine", method="counter", **kw):
    out = {"key": key, "kind": kind, "name": kw.pop("name", key), "method": method, "source": f"{key} source",
           "scope": scope, "energy_j": energy_j, "mean_power_w": None, "peak_power_w": None, "peak_temp_c": None,
           "slowdown_temp_c": None, "mean_util_pct": None, "throttle_events": [], "notes": [], "uuid": None,
           "datacenter": False, "resolution_j": 0.0}
    out.update(kw)
    return out


def worker(address, host, pid, channels, ancestors=(), status="measured", env=None, **kw):
    summary = {**host, "pid": pid, "proc": [pid, float(pid)], "ancestors": [list(a) for a in ancestors],
               "status": "measured", "duration_s": 1.0, "channels": channels, "notes": [],
               "env": env or {"region": None, "pue": None}, **kw}
    return {"address": address, "status": status, "summary": summary, "reason": None}


def by_address(readings):
    return {w.address: w for w in readings}


# ------------------------------------------------------------------------------------------- worker side
def test_worker_start_stop_measures_this_process(tmp_path, monkeypatch):
    fake = FakePowercap(tmp_path / "pc", packages=2)
    fake.install(monkeypatch)
    reply = ec.worker_start("m1", {"scope": "process", "rate_hz": 50})
    assert reply["status"] == "started"
    assert "cpu:rapl" in reply["channels"] and reply["pid"] == os.getpid()
    assert reply["host_id"] == ec.host_id() and reply["proc"][0] == os.getpid()
    assert all(" — " in n for n in reply["notes"])  # only actionable probe notes travel in the summary
    assert len(reply["probe_notes"]) >= len(reply["notes"])
    fake.advance(3.0)
    summary = ec.worker_stop("m1")
    assert summary["status"] == "measured"
    chans = {c["key"]: c for c in summary["channels"]}
    assert chans["cpu:rapl"]["energy_j"] == pytest.approx(6.0)  # two packages × 3 J
    assert chans["cpu:rapl"]["scope"] == "machine" and chans["cpu:rapl"]["method"] == "counter"
    assert chans["ram:model"]["scope"] == "process"
    assert summary["duration_s"] > 0
    json.dumps(summary)  # plain data, travels through any serialiser
    assert ec.worker_stop("m1")["status"] == "not started"
    again = ec.worker_start("m2", {"scope": "process", "rate_hz": 50})  # cached discovery: hints said once
    assert again["notes"] == [] and again["probe_notes"] == reply["probe_notes"]
    ec.worker_stop("m2")


def test_hints_travel_with_the_first_summary_of_a_worker_process(monkeypatch):
    from eco_magic.sensors.base import Discovery, ProbeNote

    found = Discovery(notes=[ProbeNote("NVIDIA", "nvidia-ml-py not installed", "pip install nvidia-ml-py"),
                             ProbeNote("RAPL", "no RAPL powercap interface")])
    monkeypatch.setattr("eco_magic.sensors.discover_all", lambda **kw: found)
    first = ec.worker_start("h1", {})
    assert first["notes"] == ["NVIDIA: nvidia-ml-py not installed — pip install nvidia-ml-py"]
    assert ec.worker_stop("h1")["notes"] == first["notes"]
    ec.worker_start("h2", {})
    assert ec.worker_stop("h2")["notes"] == []


def test_concurrent_measurements_get_their_own_sensors_and_both_count(tmp_path, monkeypatch):
    fake = FakePowercap(tmp_path / "pc", packages=1, core=False)
    fake.install(monkeypatch)
    assert ec.worker_start("a", {"rate_hz": 50})["status"] == "started"
    assert ec.worker_start("b", {"rate_hz": 50})["status"] == "started"
    assert ec._RUNS["b"].private and not ec._RUNS["a"].private
    fake.advance(2.0)
    a, b = ec.worker_stop("a"), ec.worker_stop("b")
    for s in (a, b):
        assert {c["key"]: c["energy_j"] for c in s["channels"]}["cpu:rapl"] == pytest.approx(2.0)


def test_oldest_measurement_is_stopped_beyond_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(ec, "MAX_RUNS_PER_WORKER", 1)
    assert ec.worker_start("old", {})["status"] == "started"
    assert ec.worker_start("new", {})["status"] == "started"
    assert list(ec._RUNS) == ["new"]
    assert ec.worker_stop("old")["status"] == "not started"


def test_worker_start_reports_failure_instead_of_raising():
    reply = ec.worker_start("bad", {"scope": "galaxy"})
    assert reply["status"] == "failed" and "scope" in reply["error"]
    assert "bad" not in ec._RUNS


def test_worker_reports_its_region_and_pue_from_its_environment(monkeypatch):
    monkeypatch.setenv(ec.ENV_REGION, "PL")
    monkeypatch.setenv(ec.ENV_PUE, "1.3")
    reply = ec.worker_start("env", {})
    assert reply["env"] == {"region": "PL", "pue": "1.3"}


# ------------------------------------------------------------------------------------------- attribution
def test_machine_counters_count_once_per_host_and_gpus_by_uuid():
    kernel = HOST_A
    cm = ec.ClusterMeasurement(kernel=kernel, workers=(
        worker("tcp://a:1", HOST_A, 11, [chan("cpu:rapl", "cpu", 10.0), chan("gpu:0", "gpu", 50.0, "device",
                                                                              uuid="GPU-1")]),
        worker("tcp://a:2", HOST_A, 12, [chan("cpu:rapl", "cpu", 10.2), chan("gpu:0", "gpu", 70.0, "device",
                                                                              uuid="GPU-2")]),
        worker("tcp://b:1", HOST_B, 21, [chan("cpu:rapl", "cpu", 30.0), chan("gpu:0", "gpu", 90.0, "device",
                                                                              uuid="GPU-3")]),
        worker("tcp://b:2", HOST_B, 22, [chan("cpu:rapl", "cpu", 30.5), chan("gpu:0", "gpu", 91.0, "device",
                                                                              uuid="GPU-3")]),
    ))
    readings, notes = ec.attribute(cm, [chan("cpu:rapl", "cpu", 9.9)])
    w = by_address(readings)
    # host A: the kernel counts its CPU counter; each worker's GPU is a different device (different UUID)
    assert dict(w["tcp://a:1"].counted_j) == {"gpu:0": 50.0}
    assert dict(w["tcp://a:2"].counted_j) == {"gpu:0": 70.0}
    # host B: CPU counted once (smallest address), the shared GPU-3 once
    assert dict(w["tcp://b:1"].counted_j) == {"cpu:rapl": 30.0, "gpu:0": 90.0}
    assert dict(w["tcp://b:2"].counted_j) == {}
    assert w["tcp://b:2"].energy_j == 0.0 and w["tcp://b:2"].read_j == pytest.approx(121.5)
    assert any("counted once, by tcp://b:1" in n for n in w["tcp://b:2"].notes)
    assert any("counted once, by notebook kernel" in n for n in w["tcp://a:1"].notes)
    assert sum(x.energy_j for x in readings) == pytest.approx(50 + 70 + 30 + 90)
    assert notes == ()


def test_cluster_only_view_counts_every_host_once():
    cm = ec.ClusterMeasurement(kernel=HOST_A, workers=(
        worker("tcp://a:1", HOST_A, 11, [chan("cpu:rapl", "cpu", 10.0)]),
        worker("tcp://a:2", HOST_A, 12, [chan("cpu:rapl", "cpu", 10.0)]),
    ))
    readings, _ = ec.attribute(cm, [chan("cpu:rapl", "cpu", 10.0)], include_kernel=False)
    assert sum(w.energy_j for w in readings) == pytest.approx(10.0)


def test_a_counter_beats_an_estimate_for_the_same_host():
    cm = ec.ClusterMeasurement(kernel=HOST_B, workers=(
        worker("tcp://a:1", HOST_A, 11, [chan("cpu:model", "cpu", 8.0, method="estimated")]),
        worker("tcp://a:2", HOST_A, 12, [chan("cpu:rapl", "cpu", 10.0)]),
    ))
    w = by_address(ec.attribute(cm)[0])
    assert dict(w["tcp://a:2"].counted_j) == {"cpu:rapl": 10.0}
    assert dict(w["tcp://a:1"].counted_j) == {}


def test_process_estimates_are_per_worker_unless_already_inside_another_tree():
    kernel = HOST_A
    k_proc = kernel["proc"]
    cm = ec.ClusterMeasurement(kernel=kernel, workers=(
        # spawned by the kernel (LocalCluster): inside the kernel's process-tree estimate
        worker("tcp://a:1", HOST_A, 11, [chan("cpu:model", "cpu", 3.0, "process", "estimated")],
               ancestors=[k_proc, [1, 0.5]]),
        # started separately on the same host (dask worker CLI): a different process tree
        worker("tcp://a:2", HOST_A, 12, [chan("cpu:model", "cpu", 4.0, "process", "estimated")],
               ancestors=[[7, 7.0], [1, 0.5]]),
        # a child of worker a:2 (e.g. a process pool it started): inside a:2's estimate
        worker("tcp://a:3", HOST_A, 13, [chan("cpu:model", "cpu", 1.0, "process", "estimated")],
               ancestors=[[12, 12.0], [7, 7.0], [1, 0.5]]),
        # another host: its own process
        worker("tcp://b:1", HOST_B, 21, [chan("cpu:model", "cpu", 5.0, "process", "estimated")]),
    ))
    w = by_address(ec.attribute(cm, [chan("cpu:model", "cpu", 2.0, "process", "estimated")])[0])
    assert w["tcp://a:1"].energy_j == 0.0
    assert any("notebook kernel's process-tree estimate" in n for n in w["tcp://a:1"].notes)
    assert w["tcp://a:2"].energy_j == 4.0
    assert w["tcp://a:3"].energy_j == 0.0
    assert any("worker tcp://a:2" in n for n in w["tcp://a:3"].notes)
    assert w["tcp://b:1"].energy_j == 5.0


def test_in_process_workers_are_the_kernel_itself():
    same = {**HOST_A}
    cm = ec.ClusterMeasurement(kernel=HOST_A, workers=(
        {"address": "inproc://a/1", "status": "measured", "reason": None,
         "summary": {**same, "duration_s": 1.0, "notes": [],
                     "channels": [chan("cpu:model", "cpu", 2.0, "process", "estimated")]}},
    ))
    (w,), _ = ec.attribute(cm, [chan("cpu:model", "cpu", 2.0, "process", "estimated")])
    assert w.energy_j == 0.0


def test_process_estimates_inside_a_host_counter_are_not_added_and_the_kernel_share_is_subtracted():
    cm = ec.ClusterMeasurement(kernel=HOST_A, workers=(
        worker("tcp://a:1", HOST_A, 11, [chan("cpu:rapl", "cpu", 10.0),
                                          chan("ram:model", "ram", 0.5, "process", "estimated")]),
        worker("tcp://a:2", HOST_A, 12, [chan("cpu:model", "cpu", 4.0, "process", "estimated")]),
    ))
    # the kernel could only estimate its own process; worker a:1 reads the host counter, which contains it
    w = by_address(ec.attribute(cm, [chan("cpu:model", "cpu", 2.5, "process", "estimated")])[0])
    assert dict(w["tcp://a:1"].counted_j) == {"cpu:rapl": pytest.approx(7.5), "ram:model": 0.5}
    assert dict(w["tcp://a:2"].counted_j) == {}
    assert any("inside the host's cpu:rapl" in n for n in w["tcp://a:2"].notes)


def test_left_joined_and_failed_workers_are_reported_not_counted():
    cm = ec.ClusterMeasurement(kernel=HOST_A, workers=(
        worker("tcp://a:1", HOST_A, 11, [chan("cpu:rapl", "cpu", 10.0)]),
        {"address": "tcp://a:2", "status": "left", "reason": "CommClosedError: Stream is closed",
         "summary": {**HOST_A, "pid": 12}},
        {"address": "tcp://c:1", "status": "joined", "reason": "joined during the cell",
         "summary": {"host": "node-c", "host_id": "boot:ccc", "pid": 31}},
        {"address": "tcp://d:1", "status": "failed", "reason": "eco_magic is not installed there", "summary": None},
    ), notes=("cluster note",))
    readings, notes = ec.attribute(cm)
    w = by_address(readings)
    assert [x.status for x in readings] == ["measured", "left", "joined", "failed"]
    assert w["tcp://a:2"].energy_j is None and w["tcp://c:1"].energy_j is None
    assert notes[0] == "cluster note"
    left = next(n for n in notes if "tcp://a:2" in n)
    assert "left or died" in left and "missing" in left and "still read by another participant" in left
    joined = next(n for n in notes if "tcp://c:1" in n)
    assert "joined during the cell" in joined and "unknown" in joined
    assert any("tcp://d:1" in n and "not installed" in n for n in notes)


# ------------------------------------------------------------------------------------------- accounting
def kernel_measurement(tmp_path, monkeypatch, joules=1.0):
    fake = FakePowercap(tmp_path / "kernel-pc", packages=1, core=False)
    fake.install(monkeypatch)
    found = discover_all(scope="process")
    s = Sampler([x for x in found.sensors if x.info.key == "cpu:rapl"], rate_hz=50)
    s.start()
    fake.advance(joules)
    return s.stop()


def test_build_result_adds_worker_energy_with_each_hosts_factors(tmp_path, monkeypatch):
    m = kernel_measurement(tmp_path, monkeypatch, joules=1.0)
    kernel = {**HOST_A, "host_id": ec.host_id()}
    gpu = chan("gpu:0", "gpu", 3.6e6, "device", uuid="GPU-9", datacenter=True, resolution_j=0.2)
    cm = ec.ClusterMeasurement(kernel=kernel, workers=(
        worker("tcp://b:1", HOST_B, 21, [gpu], env={"region": "PL", "pue": None}),
        worker("tcp://c:1", {**HOST_B, "host": "node-c", "host_id": "boot:ccc"}, 31,
               [chan("cpu:rapl", "cpu", 3.6e6, resolution_j=0.1)], env={"region": "Atlantis", "pue": "1.25"}),
        worker("tcp://10.0.0.9:1", {**HOST_B, "host": "node-d", "host_id": "boot:ddd"}, 41,
               [chan("cpu:rapl", "cpu", 3.6e6)], env={"region": "PL", "pue": "9"}),
    ), hosts={"10.0.0.9": {"region": "FR"}})
    fr = regions.lookup("FR")
    r = build_result(m, fr, Settings(), cluster=cm)
    w = by_address(r.workers)
    pl = regions.lookup("PL")
    assert w["tcp://b:1"].region == "PL" and w["tcp://b:1"].region_source == "ECO_MAGIC_REGION on the worker"
    assert w["tcp://b:1"].pue == acc.PUE_TIERS["datacenter_gpu"]  # its own hardware tier
    assert w["tcp://b:1"].co2_g == pytest.approx(pl.carbon_intensity_g_per_kwh * 1.4)
    assert w["tcp://c:1"].pue == 1.25 and w["tcp://c:1"].region == "FR"  # unknown region: the notebook's
    assert any("'Atlantis'" in n and "unknown" in n for n in r.notes)
    assert w["tcp://10.0.0.9:1"].region == "FR" and w["tcp://10.0.0.9:1"].region_source.startswith("hosts")
    assert any("PUE '9'" in n for n in r.notes)
    assert any("at their own carbon intensity and PUE" in n for n in r.notes)
    kernel_j = r.devices[0].energy_j
    assert kernel_j == pytest.approx(1.0)
    assert r.energy_j == pytest.approx(kernel_j + 3 * 3.6e6)
    assert r.cluster_energy_j == pytest.approx(3 * 3.6e6)
    kernel_co2 = acc.co2_g(kernel_j, fr.carbon_intensity_g_per_kwh, r.pue)
    assert r.co2_g == pytest.approx(kernel_co2 + sum(x.co2_g for x in r.workers))
    assert r.water_l == pytest.approx(r.water_onsite_l + r.water_offsite_l)
    assert r.water_l > sum(x.water_l for x in r.workers) > 0
    assert r.energy_resolution_j >= 0.3
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert [x["address"] for x in d["workers"]] == ["tcp://b:1", "tcp://c:1", "tcp://10.0.0.9:1"]
    assert d["workers"][0]["counted_j"] == {"gpu:0": 3.6e6}


def test_worker_temperatures_raise_thermal_flags(tmp_path, monkeypatch):
    m = kernel_measurement(tmp_path, monkeypatch)
    cm = ec.ClusterMeasurement(kernel=HOST_A, workers=(
        worker("tcp://b:1", HOST_B, 21, [chan("gpu:0", "gpu", 5.0, "device", peak_temp_c=91.0,
                                               throttle_events=["hw_thermal_slowdown"])]),))
    r = build_result(m, regions.lookup("FR"), Settings(), cluster=cm)
    assert any("tcp://b:1 gpu:0" in f and "91" in f for f in r.thermal_flags)
    assert any("throttled" in f for f in r.thermal_flags)
    assert r.workers[0].peak_temp_c == 91.0


def test_worker_energy_drops_net_of_idle_and_without_cluster_nothing_changes(tmp_path, monkeypatch):
    m = kernel_measurement(tmp_path, monkeypatch)
    idle = {"cpu:rapl": 0.0}
    plain = build_result(m, regions.lookup("FR"), Settings(), idle_power_w=idle)
    assert plain.workers == () and plain.cluster_energy_j is None and plain.energy_net_j is not None
    cm = ec.ClusterMeasurement(kernel=HOST_A,
                               workers=(worker("tcp://b:1", HOST_B, 21, [chan("cpu:rapl", "cpu", 2.0)]),))
    r = build_result(m, regions.lookup("FR"), Settings(), idle_power_w=idle, cluster=cm)
    assert r.energy_net_j is None and any("no idle baseline" in n for n in r.notes)
    assert not any("their own carbon intensity" in n for n in r.notes)  # same factors as the notebook
    assert r.energy_j == pytest.approx(plain.energy_j + 2.0)


# ------------------------------------------------------------------------------------------- kernel side
class ScriptedClient:
    """Stands in for distributed.Client: answers start/stop from scripts, records the calls."""

    status = "running"
    asynchronous = False

    def __init__(self, start=None, stop=None, raise_on=None):
        self.replies = {"worker_start": start or {}, "worker_stop": stop or {}}
        self.raise_on = raise_on
        self.calls = []

    def run(self, fn, *args, workers=None, on_error="raise"):
        assert on_error == "return"
        if fn is exec:
            self.calls.append(("ship", workers))
            return {a: None for a in workers}
        name = args[1]["fn"]
        self.calls.append((name, workers))
        if name == self.raise_on:
            raise OSError("scheduler unreachable")
        replies = self.replies[name]
        return {a: v for a, v in replies.items() if workers is None or a in workers}


def started(address, **kw):
    return {**HOST_B, "status": "started", "channels": ["cpu:rapl"], "notes": [], **kw}


def test_start_and_stop_report_left_joined_failed_and_restarted_workers():
    measured = {**HOST_B, "status": "measured", "duration_s": 1.0, "channels": [chan("cpu:rapl", "cpu", 1.0)],
                "notes": [], "version": "0.0.1"}
    client = ScriptedClient(
        start={"tcp://w:1": started("tcp://w:1"), "tcp://w:2": started("tcp://w:2"),
               "tcp://w:3": started("tcp://w:3"), "tcp://w:4": {"status": "failed", "error": "ValueError: x"},
               "tcp://w:5": Exception("ModuleNotFoundError: y")},
        stop={"tcp://w:1": measured, "tcp://w:3": {**HOST_B, "status": "not started"},
              "tcp://w:6": {**HOST_B, "status": "not started"}})
    run = ec.start_cell(True, client=client)
    assert sorted(run.started) == ["tcp://w:1", "tcp://w:2", "tcp://w:3"]
    assert run.failed == {"tcp://w:4": "ValueError: x", "tcp://w:5": "ModuleNotFoundError: y"}
    cm = ec.stop_cell(run)
    status = {w["address"]: (w["status"], w["reason"]) for w in cm.workers}
    assert status["tcp://w:1"] == ("measured", None)
    assert status["tcp://w:2"] == ("left", "no answer at the end of the cell")
    assert status["tcp://w:3"] == ("left", "it restarted during the cell")
    assert status["tcp://w:4"][0] == status["tcp://w:5"][0] == "failed"
    assert status["tcp://w:6"][0] == "joined"
    assert any("workers run eco_magic 0.0.1" in n for n in cm.notes)
    assert ec.stop_cell(run) is None  # idempotent


def test_workers_without_eco_magic_get_it_shipped_then_start():
    client = ScriptedClient(start={"tcp://w:1": {"status": ec._MISSING}})
    original = client.run

    def run(fn, *args, **kw):
        out = original(fn, *args, **kw)
        if fn is exec:  # after shipping, the worker can start
            client.replies["worker_start"] = {"tcp://w:1": started("tcp://w:1")}
        return out

    client.run = run
    r = ec.start_cell("auto", client=client)
    assert [c[0] for c in client.calls] == ["worker_start", "ship", "worker_start"]
    assert client.calls[1][1] == ["tcp://w:1"] and "tcp://w:1" in r.started
    assert any("copied to their temporary directory" in n for n in r.notes)
    ec.stop_cell(r)


def test_package_zip_holds_the_sources_and_data_tables():
    import io
    import zipfile

    data, digest = ec.package_zip()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "eco_magic/cluster.py" in names and "eco_magic/sensors/rapl.py" in names
    assert "eco_magic/data/cpu_tdp.csv" in names
    assert not any("__pycache__" in n for n in names)
    assert len(digest) == 16


def test_failures_of_the_client_become_notes_not_exceptions():
    run = ec.start_cell(True, client=ScriptedClient(raise_on="worker_start"))
    assert any("could not start measuring the workers" in n for n in run.notes)
    client = ScriptedClient(start={"tcp://w:1": started("tcp://w:1")}, raise_on="worker_stop")
    cm = ec.stop_cell(ec.start_cell(True, client=client))
    assert any("could not collect" in n for n in cm.notes)
    assert cm.workers[0]["status"] == "left"


def test_a_hung_cluster_times_out_with_a_note():
    release = threading.Event()

    class Hung(ScriptedClient):
        def run(self, *a, **k):
            release.wait(5.0)
            return {}

    run = ec.start_cell(True, client=Hung(), timeout_s=0.01)
    release.set()  # the abandoned call returns; the thread-leak check joins it
    assert any("did not answer within" in n for n in run.notes)


def test_modes_and_missing_client(monkeypatch):
    monkeypatch.delitem(sys.modules, "distributed", raising=False)
    assert ec.active_client() is None
    assert "distributed" not in sys.modules  # looking for a client never imports Dask
    assert ec.start_cell("auto") is None
    assert ec.start_cell(False) is None and ec.start_cell("off") is None
    run = ec.start_cell(True)
    cm = ec.stop_cell(run)
    assert cm.workers == () and "no distributed.Client is active" in cm.notes[0]


def test_importing_eco_magic_cluster_stays_light():
    code = ("import sys, eco_magic.cluster, eco_magic.assemble, eco_magic.display.workers; "
            "bad = [m for m in ('dask', 'distributed', 'IPython', 'pandas', 'matplotlib', 'pynvml') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------- display
def test_workers_section_text_and_html():
    dev_note = "cpu:rapl: host counter counted once, by notebook kernel"
    from eco_magic.result import DeviceReading

    w1 = WorkerReading(address="tcp://10.0.0.1:1", host="<node>", status="measured", energy_j=2.0, read_j=12.0,
                       pid=42, host_id="boot:x", duration_s=1.5, region="FR", region_source="the notebook's region",
                       carbon_intensity_g_per_kwh=56.0, pue=1.1, pue_source="the notebook's PUE", co2_g=0.01,
                       water_l=0.001,
                       devices=(DeviceReading("cpu:rapl", "cpu", "CPU", 10.0, "counter", "RAPL", "machine"),
                                DeviceReading("ram:model", "ram", "RAM", 2.0, "estimated", "RSS share", "process")),
                       counted_j=(("ram:model", 2.0),), notes=(dev_note, "RAPL: a discovery note"))
    w2 = WorkerReading(address="tcp://10.0.0.2:1", host="node-2", status="left", energy_j=None,
                       notes=("worker tcp://10.0.0.2:1 left or died during the cell",))
    r = make_result(workers=(w1, w2))
    text = workers_text(r)
    assert "1 Dask worker(s) on 1 host(s)" in text and "1 not measured" in text
    assert "tcp://10.0.0.1:1 on <node>, pid 42: +2.00 J counted of 12.0 J read" in text
    assert "host counter counted once, by notebook kernel" in text
    assert "RAPL: a discovery note" in text and "left or died" in text
    html = workers_html(r)
    assert 'class="eco-workers"' in html and "&lt;node&gt;" in html and "<node>" not in html
    assert "counter" in html and "estimated" in html and "left" in html
    assert workers_text(make_result()) == "" and workers_html(make_result()) == ""


# ------------------------------------------------------------------------------------------- a real LocalCluster
@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory):
    distributed = pytest.importorskip("distributed")
    fake = FakePowercap(tmp_path_factory.mktemp("cluster-powercap"), packages=2)
    # the workers' environment, as a job script (dask-jobqueue) or pod spec (Kubernetes) would set it
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       env={ENV_ROOT: str(fake.root)}, silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    pids = set(client.run(os.getpid).values())
    yield fake, cluster, client, pids
    pids |= set(client.run(os.getpid).values())
    client.close()
    cluster.close()
    import psutil

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in pids):
        time.sleep(0.05)
    assert not any(psutil.pid_exists(p) for p in pids), "worker processes outlived the cluster"


def test_local_cluster_energy_equals_what_the_fake_delivered(local_cluster, monkeypatch, tmp_path):
    fake, cluster, client, _ = local_cluster
    monkeypatch.setenv(ENV_ROOT, str(fake.root))  # the kernel reads the same host's counters
    assert ec.active_client() is client
    sampler = Sampler(discover_all(scope="process").sensors, rate_hz=20)
    run = ec.start_cell("auto", scope="process", rate_hz=20)
    assert sorted(run.started) == sorted(client.scheduler_info()["workers"])
    sampler.start()
    total = client.submit(sum, range(10_000)).result()
    fake.advance(5.0)  # 2 packages × 5 J = 10 J delivered to the host
    m = sampler.stop()
    cm = ec.stop_cell(run)
    assert total == sum(range(10_000))

    assert [w["status"] for w in cm.workers] == ["measured", "measured"]
    # every worker read the whole 10 J on the shared host counter ...
    for w in cm.workers:
        rapl = {c["key"]: c for c in w["summary"]["channels"]}["cpu:rapl"]
        assert rapl["energy_j"] == pytest.approx(10.0)
        assert w["summary"]["host_id"] == cm.kernel["host_id"]
        assert w["summary"]["pid"] != os.getpid()
    # ... and the cell counts it once: the kernel on the same host owns the host counter
    r = build_result(m, regions.lookup("FR"), Settings(label="dask"), cluster=cm)
    cpu_total = sum(d.energy_j for d in r.devices if d.kind == "cpu") + sum(
        j for w in r.workers for k, j in w.counted_j if k.startswith("cpu"))
    assert cpu_total == pytest.approx(10.0)
    # per-worker process-scope estimates exist for each worker (shown; inside the kernel's process tree)
    for w in r.workers:
        ram = {d.key: d for d in w.devices}["ram:model"]
        assert ram.scope == "process" and ram.energy_j is not None and ram.energy_j >= 0
        assert w.pid is not None and w.host == ec.host_identity()["host"]
    assert len({w.pid for w in r.workers}) == 2
    # the cluster-only view: the fake delivered 10 J, counted once for the host
    readings, _ = ec.attribute(cm, include_kernel=False)
    cluster_cpu = sum(j for w in readings for k, j in w.counted_j if k.startswith("cpu"))
    assert cluster_cpu == pytest.approx(10.0)
    # the breakdown reaches the ledger (on disk) and the card
    from eco_magic.session_ledger import Ledger

    led = Ledger(tmp_path / "ledger.sqlite")
    led.append(r)
    rows = led.records(all_sessions=True)
    assert sorted(w["address"] for w in rows[0]["workers"]) == sorted(w["address"] for w in cm.workers)
    led.close()
    assert all(w.address in workers_text(r) and w.address in workers_html(r) for w in r.workers)


@pytest.mark.slow
def test_a_worker_killed_during_the_cell_is_reported_not_fatal(local_cluster, monkeypatch):
    fake, cluster, client, pids = local_cluster
    run = ec.start_cell(True, rate_hz=20)
    assert len(run.started) == 2
    victim, info = sorted(run.started.items())[0]
    os.kill(info["pid"], signal.SIGKILL)
    fake.advance(1.0)
    cm = ec.stop_cell(run)
    status = {w["address"]: w["status"] for w in cm.workers}
    assert status[victim] == "left"
    assert list(status.values()).count("measured") == 1
    readings, notes = ec.attribute(cm, include_kernel=False)
    assert any(victim in n and "left or died" in n for n in notes)
    survivor = next(w for w in readings if w.status == "measured")
    assert dict(survivor.counted_j)["cpu:rapl"] == pytest.approx(2.0)
    deadline = time.monotonic() + 20  # the nanny restarts it; the next cell measures it again
    while time.monotonic() < deadline:
        workers = client.scheduler_info()["workers"]
        if victim not in workers and len(workers) == 2:
            break
        time.sleep(0.05)
    run = ec.start_cell(True, rate_hz=20)
    assert len(run.started) == 2
    cm = ec.stop_cell(run)
    assert [w["status"] for w in cm.workers] == ["measured", "measured"]


@pytest.mark.slow
def test_eco_magic_is_shipped_to_a_worker_that_lacks_it(local_cluster, tmp_path):
    fake, cluster, client, pids = local_cluster
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(TMPDIR=str(tmp_path), **{ENV_ROOT: str(fake.root)})
    before = set(client.scheduler_info()["workers"])
    # a worker that cannot import eco_magic, even where eco_magic is installed (e.g. editable) in this venv
    hide = ("import os, runpy, sys; "
            "sys.path[:] = [p for p in sys.path if not os.path.isfile(os.path.join(p or '.', 'eco_magic', "
            "'__init__.py'))]; sys.argv[0] = 'dask-worker'; "
            "runpy.run_module('distributed.cli.dask_worker', run_name='__main__', alter_sys=True)")
    proc = subprocess.Popen([sys.executable, "-c", hide, cluster.scheduler_address,
                             "--nthreads", "1", "--no-dashboard", "--no-nanny"],
                            cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(len(before) + 1, timeout=30)
        (outsider,) = set(client.scheduler_info()["workers"]) - before
        assert client.run(os.getpid, workers=[outsider])[outsider] == proc.pid
        probe = "__import__('importlib.util').util.find_spec('eco_magic') is None"
        assert client.run(eval, probe, workers=[outsider])[outsider] is True
        run = ec.start_cell(True, rate_hz=20)
        assert outsider in run.started, run.failed
        assert any("copied to their temporary directory" in n for n in run.notes)
        fake.advance(1.0)
        cm = ec.stop_cell(run)
        entry = next(w for w in cm.workers if w["address"] == outsider)
        assert entry["status"] == "measured"
        rapl = {c["key"]: c for c in entry["summary"]["channels"]}["cpu:rapl"]
        assert rapl["energy_j"] == pytest.approx(2.0)
        assert any(p.name.startswith("eco_magic-shipped-") for p in tmp_path.iterdir())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(client.scheduler_info()["workers"]) > len(before):
            time.sleep(0.05)


def test_magic_dask_flag_puts_workers_in_the_card_and_the_ledger(local_cluster, ip, monkeypatch):
    from eco_magic import options

    if "--dask" not in options.SWITCH_FLAGS:
        pytest.skip("%%ecolyze --dask is not wired into the magic yet")
    import eco_magic
    from IPython.utils.capture import capture_output

    fake, cluster, client, _ = local_cluster
    monkeypatch.setenv(ENV_ROOT, str(fake.root))
    ip.user_ns["dask_client"] = client
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze --dask -l dask --var r\ndask_client.submit(sum, range(100)).result()")
    assert res.success, res.error_in_exec
    r = ip.user_ns.pop("r")
    assert sorted(w.address for w in r.workers) == sorted(client.scheduler_info()["workers"])
    assert all(w.status == "measured" and w.devices for w in r.workers)
    assert "Dask worker(s)" in cap.stdout + "".join(o.data.get("text/plain", "") for o in cap.outputs)
    record = eco_magic.ledger().records()[-1]
    assert len(record["workers"]) == 2
    ip.user_ns.pop("dask_client", None)
