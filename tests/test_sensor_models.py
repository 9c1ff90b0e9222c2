"""Estimated CPU and RAM energy (cpu_model, ram_model), the TDP table and CPU temperature."""
from __future__ import annotations

import re
import statistics
import subprocess
from pathlib import Path
import sys
import time
from collections import namedtuple

import pytest

from eco_magic.sensors import cpu_model, ram_model, temperature
from eco_magic.sensors.base import Sensor
from eco_magic.sensors.cpu_model import CpuInfo

GiB = 1024**3


def cpuinfo_text(model: str | None, sockets: int = 1, threads_per_socket: int = 2, extra: str = "") -> str:
    """/proc/cpuinfo as Linux prints it (only the fields we read, plus noise)."""
    blocks = []
    n = 0
    for sock in range(sockets):
        for _ in range(threads_per_socket):
            lines = [f"processor\t: {n}", "vendor_id\t: Test"]
            if model is not None:
                lines.append(f"model name\t: {model}")
            lines += [f"physical id\t: {sock}", "flags\t\t: fpu vme", extra]
            blocks.append("\n".join(line for line in lines if line))
            n += 1
    return "\n\n".join(blocks) + "\n"


def sequence(*values):
    it = iter(values)
    return lambda: next(it)


# ------------------------------------------------------------------------------------------ names and table
@pytest.mark.parametrize(
    "brand, normalised",
    [
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "intel xeon platinum 8375c"),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "intel xeon e5-2686 v4"),
        ("AMD EPYC 7B13 64-Core Processor", "amd epyc 7b13"),
        ("12th Gen Intel(R) Core(TM) i7-12700H", "intel core i7-12700h"),
        ("AMD Ryzen 7 5800H with Radeon Graphics", "amd ryzen 7 5800h"),
        ("AMD Ryzen Threadripper PRO 5995WX 64-Cores", "amd ryzen threadripper pro 5995wx"),
        ("Intel(R) Xeon(R) Platinum 8480+", "intel xeon platinum 8480+"),
    ],
)
def test_normalise_cpu_name(brand, normalised):
    assert cpu_model.normalise_cpu_name(brand) == normalised


@pytest.mark.parametrize(
    "brand, row, tdp_w",
    [
        ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "Intel Xeon Gold 6148", 150),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4", 145),
        ("Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+", 350),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280),
        ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654", 360),
        ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "Intel Core i7-10700K", 125),
        ("12th Gen Intel(R) Core(TM) i7-12700H", "Intel Core i7-12700H", 45),
        ("Apple M2 Pro", "Apple M2 Pro", 35),
    ],
)
def test_lookup_exact(brand, row, tdp_w):
    match = cpu_model.lookup_tdp(brand)
    assert match is not None and match.how == "exact"
    assert (match.row.name, match.row.tdp_w) == (row, tdp_w)


def test_lookup_by_tokens_allows_extra_or_missing_words():
    # PRO variant with integrated-graphics suffix: the plain row's tokens are all in the brand
    m = cpu_model.lookup_tdp("AMD Ryzen 7 PRO 7840U w/ Radeon 780M Graphics")
    assert m is not None and m.how == "tokens" and m.row.name == "AMD Ryzen 7 7840U"
    # a brand that drops the tier word still finds the only row containing its words
    m = cpu_model.lookup_tdp("Intel Xeon 8375C")
    assert m is not None and m.row.name == "Intel Xeon Platinum 8375C"


@pytest.mark.parametrize(
    "brand",
    ["AMD EPYC", "Intel(R) Xeon(R) CPU @ 2.20GHz", "QEMU Virtual CPU version 2.5+", "Intel Core i7", ""],
)
def test_lookup_unknown_or_generic_is_none(brand):
    assert cpu_model.lookup_tdp(brand) is None


def test_tdp_table_is_sane():
    rows = cpu_model.load_tdp_table()
    assert 300 <= len(rows) <= 2000
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys)), "names must stay unique after normalisation"
    for r in rows:
        assert 5 <= r.tdp_w <= 600, r
        assert r.source, r
        if r.cores and r.threads:
            assert r.cores <= r.threads <= 2 * r.cores, r
    families = ["intel xeon gold", "intel xeon e5-", "intel core i3", "intel core i9", "amd epyc 7",
                "amd epyc 9", "amd ryzen", "threadripper", "apple m4", "graviton4"]
    for family in families:
        assert any(family in k for k in keys), family
    header = cpu_model.TABLE_PATH.read_text(encoding="utf-8").split("\nname,")[0]
    assert "Intel ARK" in header and "AMD" in header and "CodeCarbon" in header and "MIT" in header


def test_read_tdp_table_skips_comments_and_bad_rows():
    rows = cpu_model.read_tdp_table(
        ["# comment", "name,tdp_w,cores,threads,source", "Chip A,100,8,16,ark", "Chip B,n/a,,,x", "", "Chip C,50,,,x"]
    )
    assert [(r.name, r.tdp_w, r.threads) for r in rows] == [("Chip A", 100.0, 16), ("Chip C", 50.0, None)]


# ------------------------------------------------------------------------------------------ CPU identity
def test_parse_cpuinfo_counts_sockets_and_threads():
    info = cpu_model.parse_cpuinfo(cpuinfo_text("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", 2, 40))
    assert (info.brand, info.sockets, info.logical_cpus) == ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", 2, 80)


def test_parse_cpuinfo_names_arm_neoverse_cores():
    text = cpuinfo_text(None, 1, 4, extra="CPU implementer\t: 0x41\nCPU part\t: 0xd0c")
    info = cpu_model.parse_cpuinfo(text)
    assert info.brand == "Neoverse-N1" and info.logical_cpus == 4
    assert cpu_model.lookup_tdp(info.brand).row.name == "AWS Graviton2 (Neoverse-N1)"


# ------------------------------------------------------------------------------------------ power budget
def test_budget_two_socket_server():
    cpu = CpuInfo("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", sockets=2, logical_cpus=80)
    b = cpu_model.power_budget(cpu)
    assert b.tdp_machine_w == 300.0 and b.w_per_thread == 3.75
    assert b.details["vm_slice"] is False
    assert "Intel Xeon Gold 6148: 150 W × 2 sockets" in b.basis and "cpu_tdp.csv" in b.basis


def test_budget_vm_slice_gets_its_share_of_the_socket():
    cpu = CpuInfo("AMD EPYC 7B12", sockets=1, logical_cpus=2)  # Colab-like 2-vCPU VM on a 64-core EPYC
    b = cpu_model.power_budget(cpu)
    assert b.w_per_thread == pytest.approx(225 / 128)
    assert b.tdp_machine_w == pytest.approx(2 * 225 / 128)
    assert b.details["vm_slice"] is True and "2 visible" in b.basis


def test_budget_unknown_cpu_uses_labelled_default():
    b = cpu_model.power_budget(CpuInfo("AMD EPYC", sockets=1, logical_cpus=2))
    assert (b.tdp_machine_w, b.w_per_thread) == (8.0, 4.0)
    assert "unknown CPU" in b.basis and "4 W/thread default" in b.basis


def test_budget_user_tdp_is_for_the_whole_machine():
    b = cpu_model.power_budget(CpuInfo("AMD EPYC 7763", sockets=2, logical_cpus=256), tdp_w=100)
    assert (b.tdp_machine_w, b.w_per_thread) == (100.0, 100 / 256)
    assert b.basis == "user-given TDP 100 W"


def test_load_curve():
    assert cpu_model.load_curve_power_w(100, 0.0) == pytest.approx(10.0)
    assert cpu_model.load_curve_power_w(100, 0.5) == pytest.approx(21.25)  # 0.1 + 0.9 × 0.125
    assert cpu_model.load_curve_power_w(100, 1.0) == pytest.approx(100.0)
    assert cpu_model.load_curve_power_w(100, 1.7) == pytest.approx(100.0)  # clamped


def test_busy_total_follows_psutil_definition():
    T = namedtuple("scputimes", "user nice system idle iowait irq softirq steal guest guest_nice")
    busy, total = cpu_model.busy_total_s(T(10, 1, 5, 80, 4, 0, 0, 0, 3, 1))
    assert (busy, total) == (16.0, 100.0)  # guest (3+1) is already inside user/nice


# ------------------------------------------------------------------------------------------ CPU sensors
THIS_MACHINE = cpuinfo_text("AMD EPYC", 1, 2)  # what this CI machine reports


def test_process_scope_hand_computed():
    found = cpu_model.discover(
        "process", proc_info=THIS_MACHINE, cpu_seconds_fn=sequence(5.0, 10.0, 10.5, 12.0), temp_fn=lambda: 40.0
    )
    (s,) = found.sensors
    assert isinstance(s, Sensor)
    assert (s.info.key, s.info.kind, s.info.method, s.info.scope) == ("cpu:model", "cpu", "estimated", "process")
    assert s.info.source == "CPU time × TDP per thread (unknown CPU 'AMD EPYC': 4 W/thread default)"
    first = s.read(100.0)
    assert (first.energy_j, first.power_w, first.temp_c) == (0.0, None, 40.0)
    a = s.read(101.0)  # 0.5 CPU-s × 4 W/thread
    assert (a.energy_j, a.power_w, a.util_pct) == (2.0, 2.0, 25.0)
    b = s.read(103.0)  # +1.5 CPU-s over 2 s on 2 threads
    assert (b.energy_j, b.power_w, b.util_pct) == (8.0, 3.0, 37.5)


def test_process_scope_never_goes_backwards():
    (s,) = cpu_model.discover("process", proc_info=THIS_MACHINE, cpu_seconds_fn=sequence(0, 3.0, 2.0, 2.5),
                              temp_fn=lambda: None).sensors
    s.read(0.0)  # discovery consumed 0 (its probe call); 3.0 is the baseline
    assert s.read(1.0).energy_j == 0.0  # a re-parented child vanished: clamp, never negative
    assert s.read(2.0).energy_j == 2.0  # +0.5 CPU-s × 4 W


def test_process_scope_with_table_cpu_uses_per_thread_share():
    text = cpuinfo_text("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", 2, 40)
    (s,) = cpu_model.discover("process", proc_info=text, cpu_seconds_fn=sequence(0, 0.0, 2.0),
                              temp_fn=lambda: None).sensors
    assert "Intel Xeon Gold 6148: 150 W × 2 sockets" in s.info.source
    s.read(0.0)
    assert s.read(1.0).energy_j == pytest.approx(7.5)  # 2 CPU-s × 300 W / 80 threads


def test_machine_scope_u_cubed_hand_computed():
    times = sequence((0.0, 0.0), (0.0, 0.0), (50.0, 100.0), (100.0, 200.0), (300.0, 400.0))
    found = cpu_model.discover("machine", proc_info=THIS_MACHINE, cpu_times_fn=times, temp_fn=lambda: None)
    (s,) = found.sensors
    assert s.info.scope == "machine" and "0.9·u³" in s.info.source and "4 W/thread default" in s.info.source
    assert s.read(0.0).energy_j == 0.0
    a = s.read(1.0)  # u = 0.5 → P = 8 W × (0.1 + 0.9/8) = 1.7 W
    assert a.util_pct == 50.0 and a.power_w == pytest.approx(1.7) and a.energy_j == pytest.approx(1.7)
    b = s.read(3.0)  # u = 0.5 for 2 s
    assert b.energy_j == pytest.approx(1.7 + 3.4)
    c = s.read(4.0)  # u = 1 → 8 W for 1 s
    assert c.util_pct == 100.0 and c.power_w == pytest.approx(8.0) and c.energy_j == pytest.approx(13.1)


def test_machine_scope_with_real_psutil_stays_in_range():
    (s,) = cpu_model.discover("machine", proc_info=THIS_MACHINE, temp_fn=lambda: None).sensors
    s.read(0.0)
    x = s.read(0.05)
    assert 0.8 - 1e-9 <= x.power_w <= 8.0 + 1e-9  # between idle (10 %) and full TDP of 8 W


def _burn_cpu_s(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        sum(i * i for i in range(1000))


def test_process_scope_real_short_burst_is_not_zero():
    (s,) = cpu_model.discover("process", proc_info=THIS_MACHINE, temp_fn=lambda: None).sensors
    s.read(0.0)
    _burn_cpu_s(0.03)  # a few clock ticks of CPU time
    assert s.read(1.0).energy_j > 0.0


def test_process_tree_includes_reaped_children():
    before = cpu_model.process_tree_cpu_seconds()
    code = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.05: pass"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert cpu_model.process_tree_cpu_seconds() - before >= 0.05


_DESCENDANTS_CHECK = """
import subprocess, sys, time
import psutil
import pytest
from eco_magic.sensors import cpu_model, ram_model
code = "import subprocess,sys\\nc=subprocess.Popen(['sleep','30'])\\nsys.stdin.read()\\nc.kill()\\nc.wait()"
child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
try:
    me = psutil.Process()
    deadline = time.monotonic() + 10
    while len(me.children(recursive=True)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    expected = sorted(c.pid for c in me.children(recursive=True))
    assert len(expected) == 2 and sorted(cpu_model.descendant_pids()) == expected, expected
    live = sum(c.cpu_times().user + c.cpu_times().system for c in me.children(recursive=True))
    t = me.cpu_times()
    by_psutil = t.user + t.system + t.children_user + t.children_system + live
    assert cpu_model.process_tree_cpu_seconds() == pytest.approx(by_psutil, abs=0.05)
    rss = sum(p.memory_info().rss for p in [me, *me.children(recursive=True)])
    assert ram_model.process_tree_rss_bytes() == pytest.approx(rss, rel=0.05)
finally:
    child.stdin.close()
    child.wait(timeout=10)
print("ok")
"""


def test_live_descendants_are_found_and_counted():
    # in a fresh interpreter: the test process itself has other children (kernels, servers) in a full run
    out = subprocess.run([sys.executable, "-c", _DESCENDANTS_CHECK], capture_output=True, text=True, timeout=60,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_machine_meter_carries_the_interval_until_the_counters_tick():
    meter = cpu_model.MachineLoadMeter(sequence((0.0, 0.0), (0.0, 0.0), (30.0, 40.0)))
    assert meter.update() is None  # baseline
    assert meter.update() is None  # no tick yet: baseline kept
    assert meter.update() == 0.75  # 30 of 40 s since the baseline


def test_discover_never_raises():
    def broken():
        raise RuntimeError("boom")

    found = cpu_model.discover("process", proc_info=THIS_MACHINE, cpu_seconds_fn=broken)
    assert found.sensors == [] and "boom" in found.notes[0].message
    found = cpu_model.discover("galaxy")
    assert found.sensors == [] and "scope" in found.notes[0].message


# ------------------------------------------------------------------------------------------ RAM model
@pytest.mark.parametrize("total_gb, watts", [(8, 10.0), (32, 20.0), (64, 20.0), (128, 38.0), (1024, 38.0), (2, 10.0)])
def test_ram_power_codecarbon_examples_x86(total_gb, watts):
    assert ram_model.ram_power_w(total_gb, "x86_64") == pytest.approx(watts)


def test_ram_power_large_servers_and_arm():
    assert ram_model.estimate_dimm_count(2048) == 16
    assert ram_model.ram_power_w(2048) == pytest.approx(4 * 5 + 4 * 4.5 + 8 * 4)  # 70 W
    assert ram_model.estimate_dimm_count(4096) == 32
    assert ram_model.ram_power_w(4096) == pytest.approx(20 + 18 + 32 + 16 * 3.5)  # 126 W
    assert ram_model.ram_power_w(8, "aarch64") == pytest.approx(3.0)
    assert ram_model.ram_power_w(128, "arm64") == pytest.approx(4 * 1.5 + 4 * 1.35)


def test_ram_machine_scope_integrates_constant_power():
    (s,) = ram_model.discover("machine", total_bytes=32 * GiB, arch="x86_64").sensors
    assert (s.info.key, s.info.kind, s.info.method, s.info.scope) == ("ram:model", "ram", "estimated", "machine")
    assert "CodeCarbon v3 DIMM model" in s.info.source and "4 DIMMs" in s.info.source
    assert s.read(10.0).energy_j == 0.0
    x = s.read(12.5)
    assert (x.power_w, x.energy_j) == (20.0, 50.0)


def test_ram_process_scope_is_rss_share_with_trapezoid():
    rss = sequence(8 * GiB, 8 * GiB, 16 * GiB)
    (s,) = ram_model.discover("process", total_bytes=32 * GiB, rss_fn=rss, arch="x86_64").sensors
    assert s.info.scope == "process" and "RSS share" in s.info.source
    first = s.read(0.0)
    assert (first.power_w, first.util_pct, first.energy_j) == (5.0, 25.0, 0.0)
    x = s.read(2.0)  # 5 W → 10 W over 2 s
    assert (x.power_w, x.util_pct, x.energy_j) == (10.0, 50.0, 15.0)


def test_ram_power_override_and_real_rss():
    (s,) = ram_model.discover("process", total_bytes=64 * GiB, power_w=7.0).sensors
    assert "user-given 7 W" in s.info.source and s.info.details["dimms"] is None
    assert 0.0 < s.read(0.0).util_pct < 100.0  # this test process has some RSS


# ------------------------------------------------------------------------------------------ temperature
Temp = namedtuple("shwtemp", "label current high critical")


def test_pick_prefers_intel_package_sensors():
    temps = {"coretemp": [Temp("Package id 0", 60, 80, 100), Temp("Core 0", 70, 80, 100),
                          Temp("Package id 1", 65, 80, 100)], "acpitz": [Temp("", 90, None, None)]}
    assert temperature.pick_cpu_temp_c(temps) == 65


def test_pick_amd_prefers_tdie_then_tctl():
    assert temperature.pick_cpu_temp_c({"k10temp": [Temp("Tctl", 75, None, None), Temp("Tdie", 48, None, None)]}) == 48
    assert temperature.pick_cpu_temp_c({"k10temp": [Temp("Tctl", 51, None, None), Temp("Tccd1", 49, None, None)]}) == 51


def test_pick_other_cpu_like_sensors_and_none():
    assert temperature.pick_cpu_temp_c({"cpu_thermal": [Temp("", 44.5, None, None)],
                                        "nvme": [Temp("Composite", 60, None, None)]}) == 44.5
    board_and_disk = {"acpitz": [Temp("", 30, None, None)], "nvme": [Temp("", 40, None, None)]}
    assert temperature.pick_cpu_temp_c(board_and_disk) is None
    assert temperature.pick_cpu_temp_c({"coretemp": [Temp("Package id 0", 0.0, None, None)]}) is None  # glitch


def test_absent_temperature_gives_none_and_a_note():
    th = temperature.CpuThermometer(sensors_fn=dict)  # containers: empty dict
    assert th.read() is None
    assert "no temperature sensors" in th.note().message
    th = temperature.CpuThermometer(sensors_fn=lambda: {"acpitz": [Temp("", 30, None, None)]})
    assert th.read() is None and "acpitz" in th.note().message
    th = temperature.CpuThermometer(sensors_fn=lambda: {"k10temp": [Temp("Tctl", 50, None, None)]})
    assert th.read() == 50 and th.note() is None


def test_platform_without_sensors_temperatures(monkeypatch):
    import psutil

    monkeypatch.delattr(psutil, "sensors_temperatures", raising=False)  # macOS / Windows
    monkeypatch.setattr(temperature.sys, "platform", "darwin")
    th = temperature.CpuThermometer()
    assert th.read() is None
    assert "on Linux and, through psutil, FreeBSD only" in th.note().message


def test_linux_reads_hwmon_directly_like_psutil(tmp_path):
    def hwmon(n, name, temps):
        d = tmp_path / "hwmon" / f"hwmon{n}"
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        for i, (label, milli) in enumerate(temps, start=1):
            (d / f"temp{i}_input").write_text(f"{milli}\n")
            if label is not None:
                (d / f"temp{i}_label").write_text(label + "\n")

    hwmon(0, "acpitz", [(None, 27800)])
    hwmon(1, "coretemp", [("Package id 0", 61000), ("Core 0", 58000)])
    hwmon(2, "nvme", [("Composite", 44850)])
    found = temperature.linux_sensors_temperatures(str(tmp_path))
    assert found["coretemp"] == [temperature.Reading("Package id 0", 61.0), temperature.Reading("Core 0", 58.0)]
    assert found["acpitz"] == [temperature.Reading("", 27.8)]
    assert temperature.pick_cpu_temp_c(found) == 61.0
    th = temperature.CpuThermometer(sensors_fn=lambda: temperature.linux_sensors_temperatures(str(tmp_path)))
    assert th.read() == 61.0 and th.note() is None


def test_linux_falls_back_to_thermal_zones(tmp_path):
    zone = tmp_path / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("x86_pkg_temp\n")
    (zone / "temp").write_text("55000\n")
    found = temperature.linux_sensors_temperatures(str(tmp_path))
    assert found == {"x86_pkg_temp": [temperature.Reading("", 55.0)]}
    assert temperature.pick_cpu_temp_c(found) == 55.0
    assert temperature.linux_sensors_temperatures(str(tmp_path / "none")) == {}


def test_slow_sensor_calls_are_cached_for_a_second():
    now = [0.0]
    calls = [0]

    def slow():  # each call "takes" 5 ms on the fake clock
        calls[0] += 1
        now[0] += 0.005
        return {"coretemp": [Temp("Package id 0", 50 + calls[0], None, None)]}

    th = temperature.CpuThermometer(sensors_fn=slow, clock=lambda: now[0])
    assert th.read() == 51 and th.read() == 51
    assert calls[0] == 1  # second read served from the cache
    now[0] += 1.0
    assert th.read() == 52 and calls[0] == 2  # expired: one more real call


def test_fast_sensor_calls_are_reused_only_briefly():
    calls = [0]
    now = [0.0]

    def fast():
        calls[0] += 1
        return {"coretemp": [Temp("Package id 0", 50, None, None)]}

    th = temperature.CpuThermometer(sensors_fn=fast, clock=lambda: now[0])
    for _ in range(3):
        th.read()
    assert calls[0] == 1                       # within MIN_TTL_S: reused (50 Hz ticks need no 50 reads a second)
    now[0] += temperature.MIN_TTL_S + 0.01
    th.read()
    assert calls[0] == 2                       # then read again


def test_no_sensors_at_all_is_believed_for_a_while():
    calls = [0]
    now = [0.0]

    def empty():  # a VM: psutil finds no hwmon at all
        calls[0] += 1
        return {}

    th = temperature.CpuThermometer(sensors_fn=empty, clock=lambda: now[0])
    assert th.read() is None
    now[0] += temperature.MIN_TTL_S + 1.0
    assert th.read() is None and calls[0] == 1   # not asked again at every tick
    now[0] += temperature.EMPTY_TTL_S
    th.read()
    assert calls[0] == 2


def test_failing_sensor_call_is_none_not_an_exception():
    def broken():
        raise OSError("hwmon went away")

    assert temperature.CpuThermometer(sensors_fn=broken).read() is None


# ------------------------------------------------------------------------ CPU identity in VMs (issue 14.4)
from eco_magic.sensors import cpu_identity  # noqa: E402


def vm_cpuinfo(model_name: str, vendor: str, family: int, model: int, stepping: int, *, vm: bool = True,
               threads: int = 2) -> str:
    """/proc/cpuinfo of a cloud VM: a generic model name, the CPUID numbers, the hypervisor flag."""
    flags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr" + (" hypervisor" if vm else "") + " lahf_lm"
    blocks = [f"processor\t: {i}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
              f"model name\t: {model_name}\nstepping\t: {stepping}\nphysical id\t: 0\nflags\t\t: {flags}"
              for i in range(threads)]
    return "\n\n".join(blocks) + "\n"


def test_generic_epyc_in_a_vm_is_narrowed_by_family_and_model():
    cpu = cpu_model.read_cpu_info(vm_cpuinfo("AMD EPYC", "AuthenticAMD", 25, 1, 1))
    cpu = CpuInfo(cpu.brand, cpu.sockets, cpu.logical_cpus, cpu.arch, cpu.cpuid, dmi="Google / Google Compute Engine")
    b = cpu_model.power_budget(cpu)
    rows = [r for r in cpu_model.load_tdp_table() if re.search(r"^AMD EPYC 7[0-9A-Z][0-9A-Z]3[PX]?$", r.name)]
    dense = [r.tdp_w / r.threads for r in rows if r.threads >= max(x.threads for x in rows) / 2]
    assert b.w_per_thread == pytest.approx(statistics.median(dense))
    assert b.tdp_machine_w == pytest.approx(2 * b.w_per_thread)
    assert 1.5 < b.w_per_thread < 3.0                      # a 64-core Milan part, not the 4 W/thread default
    assert b.basis.startswith("'AMD EPYC' not in the table; CPUID family 0x19 model 0x1 stepping 1 → "
                              "Zen 3 (EPYC 7003 'Milan'), in a VM (hypervisor flag; DMI: Google / Google Compute "
                              "Engine): median ")
    assert b.details["tdp_from"] == "cpuid" and b.details["generation_rows"] == len(dense)


@pytest.mark.parametrize("name,vendor,family,model,stepping,generation", [
    ("Intel Xeon Processor (Skylake, IBRS)", "GenuineIntel", 6, 85, 4, "Skylake-SP"),
    ("Intel(R) Xeon(R) CPU @ 2.20GHz", "GenuineIntel", 6, 85, 7, "Cascade Lake"),
    ("Intel(R) Xeon(R) Processor", "GenuineIntel", 6, 106, 6, "Ice Lake-SP"),
    ("Intel(R) Xeon(R) Platinum", "GenuineIntel", 6, 143, 8, "Sapphire Rapids"),
    ("AMD EPYC Processor", "AuthenticAMD", 23, 49, 0, "Zen 2 (EPYC 7002 'Rome')"),
    ("AMD EPYC Processor (with IBPB)", "AuthenticAMD", 25, 17, 1, "Zen 4 (EPYC 9004 'Genoa')"),
    ("Common KVM processor", "AuthenticAMD", 26, 2, 0, "Zen 5"),
])
def test_each_generation_found_from_cpuid(name, vendor, family, model, stepping, generation):
    b = cpu_model.power_budget(cpu_model.read_cpu_info(vm_cpuinfo(name, vendor, family, model, stepping)))
    assert b.details["tdp_from"] == "cpuid" and b.details["generation"].startswith(generation)
    assert f"family {family:#x} model {model:#x}" in b.basis and "in a VM (hypervisor flag)" in b.basis
    assert 0.5 < b.w_per_thread < 8.0


def test_bare_metal_uses_every_part_of_the_generation():
    vm = cpu_model.power_budget(cpu_model.read_cpu_info(vm_cpuinfo("AMD EPYC", "AuthenticAMD", 25, 1, 1)))
    metal = cpu_model.power_budget(cpu_model.read_cpu_info(vm_cpuinfo("AMD EPYC", "AuthenticAMD", 25, 1, 1,
                                                                      vm=False)))
    assert "bare metal" in metal.basis and "dense" not in metal.basis
    assert metal.w_per_thread > vm.w_per_thread               # small parts have more W per thread


def test_masked_or_unknown_numbers_keep_the_default_and_say_why():
    b = cpu_model.power_budget(cpu_model.read_cpu_info(vm_cpuinfo("Intel(R) Xeon(R) Processor", "GenuineIntel",
                                                                  6, 167, 1)))
    assert b.w_per_thread == 4.0 and b.details["tdp_from"] == "default"
    assert b.basis == ("unknown CPU 'Intel(R) Xeon(R) Processor': 4 W/thread default (CPUID family 0x6 model 0xa7 "
                       "names no server generation eco_magic knows, in a VM)")


def test_a_known_brand_still_comes_from_the_table():
    b = cpu_model.power_budget(cpu_model.read_cpu_info(vm_cpuinfo("AMD EPYC 7B13 64-Core Processor",
                                                                  "AuthenticAMD", 25, 1, 1)))
    assert b.details["tdp_from"] == "table" and b.details["table_row"] == "AMD EPYC 7B13"


def test_cpuid_parsing_and_dmi_hint(tmp_path):
    c = cpu_identity.parse_cpuid(vm_cpuinfo("AMD EPYC", "AuthenticAMD", 25, 1, 2))
    assert c == cpu_identity.CpuId("AuthenticAMD", 25, 1, 2, True)
    assert cpu_identity.parse_cpuid("processor : 0\nCPU implementer : 0x41\n") == cpu_identity.CpuId()
    (tmp_path / "sys_vendor").write_text("Amazon EC2\n")
    (tmp_path / "product_name").write_text("m6a.large\n")
    assert cpu_identity.dmi_hint(tmp_path) == "Amazon EC2 / m6a.large"
    assert cpu_identity.dmi_hint(tmp_path / "absent") is None
