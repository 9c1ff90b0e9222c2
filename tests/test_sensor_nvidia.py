"""NVIDIA sensor against the real pynvml module with a fake driver behind it (tests/fake_nvml.py)."""
from __future__ import annotations

import builtins
import sys
import types

import pynvml
import pytest

from eco_magic.sensors import nvidia
from eco_magic.sensors.base import Discovery, Sensor, SensorError
from tests.fake_nvml import FakeGpu, ManualClock, install

NO_CVD: dict[str, str] = {}  # an environment without CUDA_VISIBLE_DEVICES


@pytest.fixture
def fake_nvml(monkeypatch):
    """Factory: ``fake_nvml(FakeGpu(...), ...)`` installs the fake driver with those GPUs."""
    return lambda *gpus, **kw: install(monkeypatch, list(gpus) if gpus else None, **kw)


def only_sensor(found: Discovery):
    assert len(found.sensors) == 1, found.notes
    return found.sensors[0]


def note_text(found: Discovery) -> str:
    return " | ".join(str(n) for n in found.notes)


# ------------------------------------------------------------------------------------------ energy / power


def test_counter_path_reports_exact_energy_since_open(fake_nvml):
    fake = fake_nvml(FakeGpu(power_w=250.0, energy_at_start_j=12_345.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert isinstance(sensor, Sensor)
    assert sensor.info.key == "gpu:0" and sensor.info.kind == "gpu" and sensor.info.scope == "device"
    assert sensor.info.method == "counter"
    assert sensor.info.source == "NVML total-energy counter"
    first = sensor.read(0.0)
    assert first.energy_j == 0.0
    fake.advance(2.0)
    second = sensor.read(2.0)
    assert second.energy_j == pytest.approx(500.0, abs=1e-3)  # 250 W × 2 s, counter in whole mJ
    assert second.power_w == pytest.approx(250.0)
    assert second.t_s == 2.0
    sensor.close()


def test_counter_energy_follows_a_varying_power(fake_nvml):
    fake = fake_nvml(FakeGpu(power_w=lambda t: 100.0 if t < 1.0 else 300.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    fake.advance(1.0)
    assert sensor.read(1.0).energy_j == pytest.approx(100.0, abs=0.01)
    fake.advance(1.0)
    sample = sensor.read(2.0)
    assert sample.energy_j == pytest.approx(400.0, abs=0.01)
    assert sample.power_w == pytest.approx(300.0)
    sensor.close()


def test_instant_power_field_is_preferred_and_labelled(fake_nvml):
    fake = fake_nvml(FakeGpu(power_w=123.456))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.info.details["power_field"] == "instant"
    assert sensor.info.details["power_scope"] == "gpu"
    assert sensor.read(0.0).power_w == pytest.approx(123.456, abs=1e-3)  # mW → W
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 0
    sensor.close()


@pytest.mark.parametrize(
    ("name", "arch", "label"),
    [
        ("NVIDIA H100 80GB HBM3", "hopper", "usage_average_1s"),
        ("NVIDIA GeForce RTX 3090", "ampere", "usage_average_1s"),
        ("NVIDIA A100-SXM4-40GB", "ampere", "usage_instant"),  # GA100: still instantaneous
        ("Tesla V100-SXM2-16GB", "volta", "usage_instant"),
        ("Tesla T4", "turing", "usage_instant"),
    ],
)
def test_fallback_to_power_usage_says_whether_it_is_averaged(fake_nvml, name, arch, label):
    fake = fake_nvml(FakeGpu(name=name, arch=arch, supports_instant=False, power_w=80.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.info.details["power_field"] == label
    assert sensor.read(0.0).power_w == pytest.approx(80.0)
    assert fake.calls["nvmlDeviceGetPowerUsage"] >= 2  # probe + read
    sensor.close()


def test_average_field_used_when_only_it_exists(fake_nvml):
    fake_nvml(FakeGpu(supports_instant=False, supports_average_field=True, supports_usage=False, power_w=90.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.info.details["power_field"] == "average_1s"
    assert sensor.read(0.0).power_w == pytest.approx(90.0)
    sensor.close()


def test_module_scope_power_is_a_last_resort_and_labelled(fake_nvml):
    fake_nvml(FakeGpu(name="NVIDIA GH200 480GB", supports_instant=False, supports_usage=False,
                      supports_module_power=True, module_extra_w=50.0, power_w=400.0, supports_counter=False))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.info.details["power_scope"] == "module"
    assert sensor.info.details["power_field"] == "instant"
    assert "module" in sensor.info.source
    assert sensor.read(0.0).power_w == pytest.approx(450.0)  # GPU + Grace CPU
    sensor.close()


def test_pre_volta_gpu_is_integrated_not_zero(fake_nvml):
    fake = fake_nvml(FakeGpu(name="Tesla P100-PCIE-16GB", arch="pascal", supports_counter=False,
                             supports_instant=False, power_w=150.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.info.method == "integrated"
    assert "nvmlDeviceGetPowerUsage (instantaneous)" in sensor.info.source
    fake.advance(1.0)
    sample = sensor.read(1.0)
    assert sample.energy_j is None  # the sampler integrates power
    assert sample.power_w == pytest.approx(150.0)
    sensor.close()


def test_gpu_without_counter_or_power_is_skipped_with_a_note(fake_nvml):
    fake_nvml(FakeGpu(supports_counter=False, supports_instant=False, supports_usage=False))
    found = nvidia.discover(NO_CVD)
    assert found.sensors == []
    assert "neither an energy counter nor power" in note_text(found)


def test_counter_going_backwards_raises(fake_nvml):
    fake = fake_nvml(FakeGpu())
    sensor = only_sensor(nvidia.discover(NO_CVD))
    fake.advance(1.0)
    sensor.read(1.0)
    fake.devices[0].energy_j -= 1000.0  # driver reload
    with pytest.raises(SensorError, match="backwards"):
        sensor.read(2.0)
    sensor.close()


# ------------------------------------------------------------------------------------ optional quantities


def test_temperature_utilisation_and_thresholds(fake_nvml):
    fake = fake_nvml(FakeGpu(temp_c=61.0, util_pct=87, slowdown_temp_c=90, shutdown_temp_c=95,
                             power_limit_w=350.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    sample = sensor.read(0.0)
    assert sample.temp_c == 61.0 and sample.util_pct == 87.0 and sample.throttle == ()
    d = sensor.info.details
    assert (d["slowdown_temp_c"], d["shutdown_temp_c"], d["power_limit_w"]) == (90.0, 95.0, 350.0)
    assert d["architecture"] == "hopper"
    assert fake.calls["nvmlDeviceGetTemperature"] == 0  # the V form answered
    sensor.close()


def test_not_supported_quantities_are_none_and_never_raise(fake_nvml):
    fake = fake_nvml(FakeGpu(temp_c=None, util_pct=None, slowdown_temp_c=None, shutdown_temp_c=None,
                             power_limit_w=None))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    for t in (0.0, 0.2):
        sample = sensor.read(t)
        assert sample.temp_c is None and sample.util_pct is None
        assert sample.energy_j is not None
    d = sensor.info.details
    assert d["slowdown_temp_c"] is None and d["shutdown_temp_c"] is None and d["power_limit_w"] is None
    sensor.close()


def test_quantity_that_becomes_unsupported_is_dropped(fake_nvml):
    fake = fake_nvml(FakeGpu(temp_c=50.0))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.read(0.0).temp_c == 50.0
    fake.devices[0].temp_c = None
    assert sensor.read(0.1).temp_c is None
    asked = fake.calls["nvmlDeviceGetTemperatureV"]
    fake.devices[0].temp_c = 55.0
    assert sensor.read(0.2).temp_c is None  # not asked again after NotSupported
    assert fake.calls["nvmlDeviceGetTemperatureV"] == asked
    sensor.close()


def test_legacy_temperature_when_v_call_is_not_found(fake_nvml):
    fake = fake_nvml(FakeGpu(temp_c=70.0, supports_temperature_v=False))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.read(0.0).temp_c == 70.0
    assert fake.calls["nvmlDeviceGetTemperature"] >= 1
    sensor.close()


def test_legacy_temperature_when_binding_lacks_v_call(fake_nvml, monkeypatch):
    fake = fake_nvml(FakeGpu(temp_c=66.0))
    monkeypatch.delattr(pynvml, "nvmlDeviceGetTemperatureV")  # an old nvidia-ml-py
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.read(0.0).temp_c == 66.0
    assert fake.calls["nvmlDeviceGetTemperature"] >= 1
    sensor.close()


def test_throttle_bitmask_decoding(fake_nvml):
    mask = pynvml.nvmlClocksEventReasonHwThermalSlowdown | pynvml.nvmlClocksEventReasonSwPowerCap
    mask |= pynvml.nvmlClocksEventReasonGpuIdle  # not a slowdown: ignored
    fake_nvml(FakeGpu(throttle_mask=mask))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.read(0.0).throttle == ("sw_power_cap", "hw_thermal_slowdown")
    sensor.close()


def test_throttle_names_cover_every_reported_bit():
    every = 0x04 | 0x08 | 0x20 | 0x40 | 0x80
    assert nvidia.throttle_names(every, pynvml) == (
        "sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown")
    assert nvidia.throttle_names(0x01 | 0x100, pynvml) == ()


def test_throttle_falls_back_to_the_old_name(fake_nvml):
    fake = fake_nvml(FakeGpu(throttle_mask=pynvml.nvmlClocksThrottleReasonHwSlowdown,
                             supports_clocks_event_reasons=False))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.read(0.0).throttle == ("hw_slowdown",)
    assert fake.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] >= 1
    sensor.close()


# -------------------------------------------------------------------------------------------- failures


def test_gpu_lost_raises_sensor_error(fake_nvml):
    fake = fake_nvml(FakeGpu())
    sensor = only_sensor(nvidia.discover(NO_CVD))
    gpu = fake.devices[0]
    sensor.read(0.0)
    gpu.lost_after_reads = gpu.reads
    with pytest.raises(SensorError, match=r"^GPU is lost \(NVML\)$"):
        sensor.read(0.1)
    sensor.close()


def test_lost_gpu_on_an_optional_quantity_still_raises(fake_nvml):
    fake = fake_nvml(FakeGpu(supports_counter=False))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    gpu = fake.devices[0]
    gpu.lost_after_reads = gpu.reads + 1  # the power read succeeds, the temperature read finds it lost
    with pytest.raises(SensorError, match="GPU is lost"):
        sensor.read(0.0)
    sensor.close()


def test_failing_power_read_raises_one_line_sensor_error(fake_nvml):
    fake = fake_nvml(FakeGpu(supports_counter=False))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    gpu = fake.devices[0]
    gpu.fail_after_reads = gpu.reads + 1
    assert sensor.read(0.0).power_w is not None
    with pytest.raises(SensorError) as caught:
        sensor.read(0.1)
    message = str(caught.value)
    assert "gpu:0" in message and "power" in message and "\n" not in message
    sensor.close()


# --------------------------------------------------------------------------------------------- discovery


def test_no_driver_gives_empty_discovery_with_short_note(fake_nvml):
    fake_nvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    found = nvidia.discover(NO_CVD)
    assert found.sensors == []
    assert [n.message for n in found.notes] == ["no NVIDIA driver"]


def _no_pynvml_import(monkeypatch):
    real_import = builtins.__import__

    def guarded(name, *args, **kwargs):
        if name == "pynvml":
            raise AssertionError("pynvml imported although no driver is present")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(builtins, "__import__", guarded)


def test_machine_without_driver_skips_the_pynvml_import(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(nvidia, "_DRIVER_PATHS", ("/nonexistent/driver/nvidia",))
    monkeypatch.setattr(nvidia, "_NVML_LIBRARY", "libnvidia-ml-absent-for-this-test.so.1")
    _no_pynvml_import(monkeypatch)
    found = nvidia.discover(NO_CVD)
    assert found.sensors == []
    (note,) = found.notes
    assert note.message.startswith("no NVIDIA driver (no /nonexistent/driver/nvidia") and note.hint is None
    assert "nvidia-ml-py not imported" in note.message


def test_macos_never_imports_pynvml(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    _no_pynvml_import(monkeypatch)
    assert [n.message for n in nvidia.discover(NO_CVD).notes] == ["no NVIDIA driver on macOS"]


def test_driver_directory_present_lets_nvml_decide(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(nvidia, "_DRIVER_PATHS", (str(tmp_path),))
    assert nvidia.driver_absence() is None


def test_driver_not_loaded_is_also_no_driver(fake_nvml):
    fake_nvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    assert [n.message for n in nvidia.discover(NO_CVD).notes] == ["no NVIDIA driver"]


def test_other_init_error_is_reported(fake_nvml):
    fake_nvml(init_error=pynvml.NVML_ERROR_NO_PERMISSION)
    found = nvidia.discover(NO_CVD)
    assert found.sensors == [] and "Insufficient Permissions" in note_text(found)


def test_driver_without_gpus(monkeypatch):
    fake = install(monkeypatch, [])
    found = nvidia.discover(NO_CVD)
    assert found.sensors == [] and "no usable GPU" in note_text(found)
    assert fake.refcount == 0


def test_missing_binding_gives_a_note(monkeypatch):
    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError("No module named 'pynvml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    monkeypatch.setattr(nvidia, "driver_absence", lambda: None)  # a driver, but no binding
    found = nvidia.discover(NO_CVD)
    assert found.sensors == []
    assert found.notes[0].message == "nvidia-ml-py not installed"
    assert "pip install nvidia-ml-py" in str(found.notes[0])


def test_unofficial_binding_is_refused(monkeypatch):
    impostor = types.ModuleType("pynvml")
    impostor.nvmlInit = lambda: pytest.fail("must not initialise an unofficial binding")
    monkeypatch.setitem(sys.modules, "pynvml", impostor)
    monkeypatch.setattr(nvidia, "driver_absence", lambda: None)
    found = nvidia.discover(NO_CVD)
    assert found.sensors == [] and "unofficial" in note_text(found)


def test_discover_never_raises_on_unexpected_errors(fake_nvml, monkeypatch):
    fake = fake_nvml(FakeGpu())

    def broken(*_):
        raise RuntimeError("boom")

    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", broken)
    found = nvidia.discover(NO_CVD)
    assert found.sensors == [] and "boom" in note_text(found)
    assert fake.refcount == 0  # the enumeration init was released


def test_bytes_names_from_old_bindings_are_decoded(fake_nvml):
    fake_nvml(FakeGpu(name="Tesla V100-SXM2-32GB", arch="volta", uuid="GPU-abc", name_as_bytes=True))
    sensor = only_sensor(nvidia.discover(NO_CVD))
    assert sensor.info.name == "Tesla V100-SXM2-32GB"
    assert sensor.info.details["uuid"] == "GPU-abc"
    sensor.close()


def test_details_are_json_able_and_complete(fake_nvml):
    import json

    fake_nvml(FakeGpu())
    sensor = only_sensor(nvidia.discover(NO_CVD))
    details = json.loads(json.dumps(dict(sensor.info.details)))
    assert {"uuid", "nvml_index", "architecture", "power_field", "power_limit_w", "slowdown_temp_c",
            "shutdown_temp_c", "datacenter", "mig"} <= set(details)
    sensor.close()


# ------------------------------------------------------------------------------------ CUDA_VISIBLE_DEVICES


def three_gpus():
    return [FakeGpu(uuid=f"GPU-{c * 8}-0000", name=f"NVIDIA A100 #{i}", arch="ampere")
            for i, c in enumerate("abc")]


def keys(found: Discovery) -> list[str]:
    return [s.info.key for s in found.sensors]


def close_all(found: Discovery) -> None:
    for sensor in found.sensors:
        sensor.close()


def test_all_gpus_without_cuda_visible_devices(fake_nvml):
    fake_nvml(*three_gpus())
    found = nvidia.discover(NO_CVD)
    assert keys(found) == ["gpu:0", "gpu:1", "gpu:2"]
    assert [s.info.details["nvml_index"] for s in found.sensors] == [0, 1, 2]
    close_all(found)


def test_env_defaults_to_os_environ(fake_nvml, monkeypatch):
    fake_nvml(*three_gpus())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    found = nvidia.discover()
    assert keys(found) == ["gpu:1"]
    close_all(found)


def test_integer_indices_select_and_order(fake_nvml):
    fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "2, 0"})
    assert keys(found) == ["gpu:2", "gpu:0"] and found.notes == []
    close_all(found)


def test_uuid_entries_and_prefixes(fake_nvml):
    fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "GPU-cccccccc-0000,GPU-aaaa"})
    assert keys(found) == ["gpu:2", "gpu:0"]
    close_all(found)


def test_invalid_entry_stops_the_list(fake_nvml):
    fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "1,7,0"})
    assert keys(found) == ["gpu:1"]
    assert "'7'" in note_text(found) and "later entries ignored" in note_text(found)
    close_all(found)


def test_minus_one_hides_every_gpu(fake_nvml):
    fake = fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "-1"})
    assert found.sensors == [] and found.notes
    assert fake.refcount == 0


def test_empty_cuda_visible_devices_means_no_gpu(fake_nvml):
    fake = fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": ""})
    assert found.sensors == [] and "empty" in note_text(found)
    assert fake.calls["nvmlInit"] == 0


def test_mig_entries_select_the_whole_parent_gpu_once(fake_nvml):
    gpus = three_gpus()
    gpus[1].mig_enabled = True
    gpus[1].mig_uuids = ("MIG-11111111-aaaa", "MIG-22222222-bbbb")
    fake_nvml(*gpus)
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "MIG-11111111-aaaa,MIG-22222222-bbbb"})
    sensor = only_sensor(found)
    assert sensor.info.key == "gpu:1" and sensor.info.details["mig"] is True
    assert "MIG slice: whole-device readings" in note_text(found)
    assert sensor.read(0.0).util_pct is None  # NVML gives no utilisation on MIG-enabled GPUs
    sensor.close()


def test_old_style_mig_identifier(fake_nvml):
    fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "MIG-GPU-bbbbbbbb-0000/1/0"})
    assert keys(found) == ["gpu:1"] and found.sensors[0].info.details["mig"] is True
    close_all(found)


def test_unknown_mig_identifier_stops_the_list(fake_nvml):
    fake_nvml(*three_gpus())
    found = nvidia.discover({"CUDA_VISIBLE_DEVICES": "0,MIG-deadbeef,2"})
    assert keys(found) == ["gpu:0"] and "MIG-deadbeef" in note_text(found)
    close_all(found)


# ------------------------------------------------------------------------------------ init / close


def test_each_sensor_holds_one_init_and_close_is_idempotent(fake_nvml):
    fake = fake_nvml(*three_gpus())
    found = nvidia.discover(NO_CVD)
    assert fake.refcount == 3  # the enumeration init was released, one per sensor remains
    for sensor in found.sensors:
        sensor.close()
        sensor.close()
    assert fake.refcount == 0
    assert fake.calls["nvmlShutdown"] == fake.calls["nvmlInit"] == 4
    with pytest.raises(SensorError, match="closed"):
        found.sensors[0].read(1.0)


def test_fake_uses_an_injected_clock(monkeypatch):
    clock = ManualClock(1000.0)
    fake = install(monkeypatch, [FakeGpu(power_w=10.0)], clock=clock)
    sensor = only_sensor(nvidia.discover(NO_CVD))
    clock.advance(3.0)
    assert sensor.read(3.0).energy_j == pytest.approx(30.0, abs=1e-3)
    assert fake.now_s() == 3.0
    sensor.close()


# --------------------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA A100-SXM4-80GB", True), ("NVIDIA H100 80GB HBM3", True), ("NVIDIA H200", True),
        ("NVIDIA L4", True), ("NVIDIA L40S", True), ("NVIDIA A10G", True), ("Tesla T4", True),
        ("Tesla K80", True), ("NVIDIA GH200 480GB", True), ("NVIDIA B200", True), ("NVIDIA A2", True),
        ("NVIDIA GeForce RTX 4090", False), ("NVIDIA RTX A2000", False), ("Quadro RTX 8000", False),
        ("NVIDIA GeForce GTX 1080 Ti", False), ("NVIDIA RTX A6000", False), ("NVIDIA TITAN V", False),
    ],
)
def test_datacenter_by_name(name, expected):
    assert nvidia.is_datacenter_gpu(name) is expected


def test_datacenter_by_brand(fake_nvml):
    fake_nvml(FakeGpu(name="NVIDIA Mystery 9000", brand=pynvml.NVML_BRAND_TESLA),
              FakeGpu(name="NVIDIA Mystery 9000", brand=pynvml.NVML_BRAND_GEFORCE))
    found = nvidia.discover(NO_CVD)
    assert [s.info.details["datacenter"] for s in found.sensors] == [True, False]
    close_all(found)


# ---------------------------------------------------------------------------------------------- sync_cuda


def test_sync_cuda_does_nothing_and_imports_nothing_without_frameworks(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert nvidia.sync_cuda() is None
    assert "torch" not in sys.modules and "cupy" not in sys.modules


def fake_torch(initialised: bool, fail: bool = False):
    calls = []

    def synchronize():
        if fail:
            raise RuntimeError("CUDA error")
        calls.append("sync")

    cuda = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: initialised,
                                 synchronize=synchronize)
    return types.SimpleNamespace(cuda=cuda), calls


def test_sync_cuda_syncs_initialised_torch(monkeypatch):
    torch, calls = fake_torch(initialised=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert nvidia.sync_cuda() == "torch" and calls == ["sync"]


def test_sync_cuda_never_creates_a_context(monkeypatch):
    torch, calls = fake_torch(initialised=False)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert nvidia.sync_cuda() is None and calls == []


def test_sync_cuda_swallows_framework_errors(monkeypatch):
    torch, _ = fake_torch(initialised=True, fail=True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert nvidia.sync_cuda() is None


@pytest.mark.parametrize(("context", "expected"), [(0xBEEF, "cupy"), (0, None)])
def test_sync_cuda_cupy_only_with_a_current_context(monkeypatch, context, expected):
    synced = []
    cuda = types.SimpleNamespace(driver=types.SimpleNamespace(ctxGetCurrent=lambda: context),
                                 runtime=types.SimpleNamespace(deviceSynchronize=lambda: synced.append(1)))
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=cuda))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert nvidia.sync_cuda() == expected
    assert len(synced) == (1 if expected else 0)


def test_module_import_is_light():
    import subprocess
    from pathlib import Path

    code = ("import sys, eco_magic.sensors.nvidia; "
            "print(sorted(m for m in ('pynvml', 'torch', 'cupy', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
