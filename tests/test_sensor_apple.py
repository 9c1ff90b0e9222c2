"""Apple Silicon through zeus-apple-silicon's documented API (tests/fake_apple.py), on any machine."""
from __future__ import annotations

import sys

import pytest

from eco_magic.sampler import Sampler
from eco_magic.sensors import apple, discover_all
from eco_magic.sensors.base import SensorError
from tests.fake_apple import FakeChip, install


def by_key(found):
    return {s.info.key: s for s in found.sensors}


def test_each_domain_is_a_named_counter(monkeypatch):
    fake = install(monkeypatch)
    sensors = by_key(apple.discover())
    assert list(sensors) == ["apple:cpu", "apple:gpu", "apple:ane", "apple:dram"]
    assert [(s.info.kind, s.info.name) for s in sensors.values()] == [
        ("cpu", "Apple M3 Pro CPU"), ("gpu", "Apple M3 Pro GPU"), ("npu", "Apple M3 Pro Neural Engine"),
        ("ram", "Apple M3 Pro DRAM")]
    for s in sensors.values():
        assert s.info.method == "counter" and "model-based estimate" in s.info.source
        assert s.info.details["resolution_j"] == 0.001
    assert sensors["apple:gpu"].info.source.startswith("IOReport energy-model counter via zeus-apple-silicon (gpu_mj;")
    first = {k: s.read(0.0) for k, s in sensors.items()}
    assert all(x.energy_j == 0.0 and x.power_w is None for x in first.values())
    fake.manual_time[0] += 2.0
    second = {k: s.read(2.0) for k, s in sensors.items()}
    assert second["apple:cpu"].energy_j == pytest.approx(12.0, abs=0.002)
    assert second["apple:gpu"].energy_j == pytest.approx(18.0, abs=0.002)
    assert second["apple:ane"].energy_j == pytest.approx(1.0, abs=0.002)
    assert second["apple:dram"].energy_j == pytest.approx(3.0, abs=0.002)
    assert second["apple:gpu"].power_w == pytest.approx(9.0, abs=0.002)
    assert fake.chip.reads == 1 + 2          # discovery, then one IOReport sample per tick for all four domains


def test_gpu_sram_is_added_where_reported_and_missing_domains_are_absent(monkeypatch):
    install(monkeypatch, FakeChip(gpu_sram_w=1.0, ane_w=None, dram_w=None), chip_name="Apple M1 Max")
    sensors = by_key(apple.discover())
    assert list(sensors) == ["apple:cpu", "apple:gpu"]
    assert "gpu_mj + gpu_sram_mj" in sensors["apple:gpu"].info.source


def test_without_gpus_only_cpu_and_dram(monkeypatch):
    install(monkeypatch)
    assert list(by_key(apple.discover(include_gpu=False))) == ["apple:cpu", "apple:dram"]


def test_sampler_reports_each_domain(monkeypatch):
    import time

    install(monkeypatch, FakeChip(cpu_w=lambda t: 4.0 + 4.0 * (t > 0.1)), clock=time.perf_counter)
    sensors = apple.discover().sensors
    with Sampler(sensors, rate_hz=50) as sampler:
        time.sleep(0.3)
    m = sampler.measurement
    ch = {c.info.key: c for c in m.channels}
    assert set(ch) == {"apple:cpu", "apple:gpu", "apple:ane", "apple:dram"}
    assert all(c.method == "counter" and c.notes == () for c in ch.values())
    assert ch["apple:gpu"].energy_j == pytest.approx(9.0 * m.duration_s, rel=0.05, abs=0.003)


def test_not_a_mac_imports_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "zeus_apple_silicon", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    found = apple.discover()
    assert found.sensors == [] and [n.message for n in found.notes] == ["not macOS"]
    assert "zeus_apple_silicon" not in sys.modules


def test_missing_library_is_a_one_line_hint(monkeypatch):
    monkeypatch.delitem(sys.modules, "zeus_apple_silicon", raising=False)
    monkeypatch.setattr(apple, "platform_absence", lambda: None)
    monkeypatch.setattr(apple.importlib.util, "find_spec", lambda name: None)
    (note,) = apple.discover().notes
    assert str(note) == ("apple: zeus-apple-silicon not installed: CPU and RAM estimated, GPU and Neural Engine "
                         "not measured — pip install 'eco_magic[apple]'")


def test_ioreport_failure_is_a_note(monkeypatch):
    install(monkeypatch, FakeChip(init_error="IOReport: could not create subscription"))
    found = apple.discover()
    assert found.sensors == [] and "could not read IOReport (RuntimeError" in found.notes[0].message


def test_failing_read_is_a_sensor_error(monkeypatch):
    fake = install(monkeypatch)
    s = apple.discover().sensors[0]
    fake.chip.fail_reads_after = fake.chip.reads
    with pytest.raises(SensorError) as caught:
        s.read(1.0)
    assert "apple:cpu" in str(caught.value) and "\n" not in str(caught.value)


def test_the_fake_keeps_the_documented_window_api(monkeypatch):
    fake = install(monkeypatch)
    monitor = sys.modules["zeus_apple_silicon"].AppleEnergyMonitor()
    monitor.begin_window("cell")
    with pytest.raises(RuntimeError):
        monitor.begin_window("cell")
    fake.manual_time[0] += 1.0
    window = monitor.end_window("cell")
    assert window.gpu_mj == 9000 and window.gpu_sram_mj is None
    with pytest.raises(RuntimeError):
        monitor.end_window("cell")


def test_discover_all_on_a_mac_uses_the_counters_instead_of_the_models(monkeypatch):
    install(monkeypatch)
    monkeypatch.setattr(sys, "platform", "darwin")
    found = discover_all(env={})
    keys = [s.info.key for s in found.sensors]
    assert "apple:cpu" in keys and "apple:dram" in keys
    assert "cpu:model" not in keys and "ram:model" not in keys
