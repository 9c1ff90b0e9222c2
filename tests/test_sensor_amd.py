"""AMD GPUs through the real ``amdsmi`` package (its functions patched by tests/fake_amdsmi.py; no ROCm here)."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from eco_magic.sampler import Sampler
from eco_magic.sensors import amd, discover_all
from eco_magic.sensors.base import SensorError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("amdsmi") is None,
                                reason="amdsmi (test extra) not installed")

from tests.fake_amdsmi import APIS, FakeAmdGpu, install  # noqa: E402


def one_sensor(monkeypatch, gpu=None, api="7.0", env=None):
    fake = install(monkeypatch, [gpu or FakeAmdGpu()], api=api)
    found = amd.discover(env=env or {})
    assert len(found.sensors) == 1, found.notes
    return fake, found.sensors[0]


@pytest.mark.parametrize("api", APIS)
def test_counter_energy_power_temperature_per_rocm_release(monkeypatch, api):
    fake, s = one_sensor(monkeypatch, api=api)
    info = s.info
    assert (info.key, info.kind, info.name, info.method) == ("gpu:amd0", "gpu", "AMD Instinct MI300X", "counter")
    assert info.source == "AMD SMI energy accumulator"
    d = info.details
    assert d["counter_resolution_uj"] == pytest.approx(15.259) and d["resolution_j"] == pytest.approx(15.259e-6)
    assert (d["power_limit_w"], d["slowdown_temp_c"], d["shutdown_temp_c"]) == (750.0, 100.0, 105.0)
    assert d["datacenter"] is True and d["power_field"] == "current_socket_power"   # instant first
    first = s.read(0.0)
    assert first.energy_j == 0.0 and first.power_w == 550.0 and first.temp_c == 61.0 and first.util_pct == 87.0
    fake.manual_time[0] += 2.0
    second = s.read(2.0)
    assert second.energy_j == pytest.approx(1100.0, abs=2 * 15.259e-6)       # 550 W × 2 s, to one count
    s.close()
    assert fake.refcount == 0


def test_average_power_only_and_no_counter_is_integrated(monkeypatch):
    _, s = one_sensor(monkeypatch, FakeAmdGpu(supports_counter=False, current_power=False), api="6.4")
    assert s.info.method == "integrated"
    assert s.info.source == "AMD SMI average socket power, integrated over time"
    assert s.read(0.0).energy_j is None and s.read(0.1).power_w == 550.0


def test_32_bit_wraparound_is_continuous(monkeypatch):
    start = 2**32 - 1000                       # 1000 counts (15 mJ) before a 32-bit hardware count wraps
    fake, s = one_sensor(monkeypatch, FakeAmdGpu(counts_at_start=start, wrap_bits=32, power_w=300.0))
    s.read(0.0)
    fake.manual_time[0] += 1.0
    energy = s.read(1.0).energy_j
    assert fake.counts(fake.devices[0]) < 300 / 15.259e-6            # the raw count did wrap
    assert energy == pytest.approx(300.0, abs=1e-4)


def test_counter_stepping_back_is_left_out_never_subtracted(monkeypatch):
    fake, s = one_sensor(monkeypatch, FakeAmdGpu(power_w=100.0, step_back_at=1.0))
    s.read(0.0)
    fake.manual_time[0] += 1.0
    dip = s.read(1.0)                           # this read is 1000 counts below the one before
    fake.manual_time[0] += 1.0
    after = s.read(2.0)
    assert dip.energy_j == pytest.approx(0.0) and s.info.details["counter_glitches"] == 1
    assert after.energy_j == pytest.approx(200.0, abs=1e-3)          # not counted twice, not lost


@pytest.mark.parametrize("api,violations,bits,expected", [
    ("7.0", {"active_ppt_pwr": True, "active_hbm_thrm": True}, 0, ("power_cap", "hbm_thermal")),
    ("6.4", {}, 0, ()),
    ("6.2", {}, 0x40, ("throttled",)),
    ("6.0", {}, 0x40, ("throttled",)),
    ("6.0", {}, 0, ()),
])
def test_throttle_reasons(monkeypatch, api, violations, bits, expected):
    _, s = one_sensor(monkeypatch, FakeAmdGpu(violations=violations, throttle_bits=bits), api=api)
    assert s.read(0.0).throttle == expected


def test_edge_temperature_when_no_hotspot(monkeypatch):
    _, s = one_sensor(monkeypatch, FakeAmdGpu(hotspot_c=None, critical_c=None, gfx_activity=None))
    sample = s.read(0.0)
    assert s.info.details["temperature_sensor"] == "EDGE" and sample.temp_c == 48.0 and sample.util_pct is None
    assert s.info.details["slowdown_temp_c"] is None


def test_failing_read_is_one_line_sensor_error(monkeypatch):
    fake, s = one_sensor(monkeypatch)
    fake.devices[0].fail_reads_after = fake.devices[0].reads
    with pytest.raises(SensorError) as caught:
        s.read(0.0)
    assert "gpu:amd0" in str(caught.value) and "\n" not in str(caught.value)


def test_visible_devices_select_by_index(monkeypatch):
    install(monkeypatch, [FakeAmdGpu(name="AMD Radeon RX 7900 XTX"), FakeAmdGpu(name="AMD Instinct MI210")])
    found = amd.discover(env={"HIP_VISIBLE_DEVICES": "1,7"})
    assert [s.info.name for s in found.sensors] == ["AMD Instinct MI210"]
    assert "'7' is not a visible AMD GPU" in found.notes[0].message
    assert found.sensors[0].info.details["datacenter"] is True
    found.sensors[0].close()
    radeon = amd.discover(env={"HIP_VISIBLE_DEVICES": "0"}).sensors[0]
    assert radeon.info.details["datacenter"] is False
    radeon.close()


def test_init_failure_is_a_note(monkeypatch):
    fake = install(monkeypatch, init_error=34)   # AMDSMI_STATUS_DRIVER_NOT_LOADED
    found = amd.discover(env={})
    assert found.sensors == [] and found.notes[0].message.startswith("AMD SMI init failed: AMDSMI_STATUS_DRIVER")
    assert fake.refcount == 0


def test_no_amd_gpu_imports_nothing(monkeypatch):
    monkeypatch.setattr(amd, "gpu_absence", lambda: "no AMD GPU (no /dev/kfd, no DRM card of vendor 0x1002)")
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    found = amd.discover(env={})
    assert found.sensors == [] and found.notes[0].hint is None
    assert "amdsmi" not in sys.modules


def test_missing_package_is_a_one_line_hint(monkeypatch):
    monkeypatch.setattr(amd, "gpu_absence", lambda: None)
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    monkeypatch.setattr(amd.importlib.util, "find_spec", lambda name: None)
    (note,) = amd.discover(env={}).notes
    assert str(note) == "amd: amdsmi not installed — pip install 'eco_magic[amd]' (uses ROCm's libamd_smi.so)"


def test_package_without_rocm_library_is_a_note_and_prints_nothing(monkeypatch, capsys):
    """The real amdsmi package on a machine without libamd_smi.so: it prints and raises KeyError on import."""
    monkeypatch.setattr(amd, "gpu_absence", lambda: None)
    for name in [n for n in sys.modules if n == "amdsmi" or n.startswith("amdsmi.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("ROCM_PATH", "/nonexistent/rocm")
    found = amd.discover(env={})
    assert found.sensors == []
    (note,) = found.notes
    assert note.message.startswith("amdsmi could not load libamd_smi.so") and "\n" not in str(note)
    assert note.hint == "install ROCm's amd-smi-lib or set ROCM_PATH"
    assert capsys.readouterr().out == ""
    for name in [n for n in sys.modules if n == "amdsmi" or n.startswith("amdsmi.")]:
        monkeypatch.delitem(sys.modules, name)                       # never keep the half-imported package


def test_sampler_measures_the_amd_gpu(monkeypatch):
    import time

    fake = install(monkeypatch, [FakeAmdGpu(power_w=400.0)], clock=time.perf_counter)
    (s,) = amd.discover(env={}).sensors
    sampler = Sampler([s], rate_hz=50)
    sampler.start()
    time.sleep(0.3)
    m = sampler.stop()
    ch = m.channels[0]
    assert ch.method == "counter" and ch.notes == ()
    assert ch.energy_j == pytest.approx(400.0 * m.duration_s, rel=0.02)
    s.close()
    assert fake.refcount == 0


def test_discover_all_includes_amd_gpus(monkeypatch):
    install(monkeypatch)
    from eco_magic.sensors import nvidia

    monkeypatch.setattr(nvidia, "driver_absence", lambda: "no NVIDIA driver (test)")
    found = discover_all(env={})
    keys = [s.info.key for s in found.sensors]
    assert keys[0] == "gpu:amd0"
    for s in found.sensors:
        s.close()
