"""RAPL powercap sensor against a fake sysfs tree (tests/fake_powercap.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from eco_magic.sensors import rapl
from eco_magic.sensors.base import Sensor, SensorError
from tests.fake_powercap import FakePowercap


def _discover(fake: FakePowercap, **kw):
    kw.setdefault("temp_fn", lambda: None)
    kw.setdefault("util_fn", lambda: None)
    kw.setdefault("cpu_name", "Test CPU")
    return rapl.discover(env=fake.env, **kw)


def _by_key(found):
    return {s.info.key: s for s in found.sensors}


def test_packages_are_summed_into_one_cpu_sensor(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=2, core=True)
    found = _discover(fake)
    assert [s.info.key for s in found.sensors] == ["cpu:rapl"]
    cpu = found.sensors[0]
    assert isinstance(cpu, Sensor)
    assert (cpu.info.kind, cpu.info.method, cpu.info.scope) == ("cpu", "counter", "machine")
    assert cpu.info.source == "RAPL package-0 + package-1 (powercap)"
    assert cpu.info.name == "Test CPU"
    assert [z["name"] for z in cpu.info.details["zones"]] == ["package-0", "package-1"]
    assert found.notes == []

    first = cpu.read(10.0)
    assert first.energy_j == 0.0 and first.power_w is None
    fake.advance({"package-0": 3.0, "package-1": 5.0, "package-0/core": 100.0, "package-1/core": 50.0})
    s = cpu.read(12.0)
    assert s.energy_j == pytest.approx(8.0, abs=1e-9)  # core lies inside the package: never added
    assert s.power_w == pytest.approx(4.0)  # 8 J over 2 s


def test_energy_counts_from_opening_not_from_first_read(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1)
    cpu = _by_key(_discover(fake))["cpu:rapl"]
    fake.advance(1.5)  # between discovery and the first read
    assert cpu.read(1.0).energy_j == pytest.approx(1.5)


def test_dram_is_a_separate_ram_sensor(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=2, dram="sub")
    sensors = _by_key(_discover(fake))
    assert set(sensors) == {"cpu:rapl", "ram:rapl"}
    ram = sensors["ram:rapl"]
    assert (ram.info.kind, ram.info.method) == ("ram", "counter")
    assert ram.info.source == "RAPL dram of package-0 + package-1 (powercap)"
    ram.read(0.0)
    sensors["cpu:rapl"].read(0.0)
    fake.advance({"package-0": 10.0, "package-1": 10.0, "package-0/dram": 2.0, "package-1/dram": 1.0})
    assert ram.read(1.0).energy_j == pytest.approx(3.0)
    assert sensors["cpu:rapl"].read(1.0).energy_j == pytest.approx(20.0)  # dram not in the CPU figure


def test_top_level_dram_zone(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1, dram="top")
    sensors = _by_key(_discover(fake))
    assert sensors["ram:rapl"].info.source == "RAPL dram (powercap)"
    fake.advance({"dram": 0.75})
    assert sensors["ram:rapl"].read(1.0).energy_j == pytest.approx(0.75)


def test_psys_is_ignored_when_packages_exist(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1, psys=True)
    cpu = _by_key(_discover(fake))["cpu:rapl"]
    assert "psys" not in cpu.info.source
    fake.advance({"package-0": 1.0, "psys": 9.0})
    assert cpu.read(1.0).energy_j == pytest.approx(1.0)


def test_psys_is_the_labelled_last_resort(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=0, psys=True)
    found = _discover(fake)
    cpu = _by_key(found)["cpu:rapl"]
    assert "psys" in cpu.info.source and "platform" in cpu.info.source
    assert cpu.info.details["domain"] == "psys"
    assert any("psys" in str(n) for n in found.notes)
    fake.advance({"psys": 4.0})
    assert cpu.read(1.0).energy_j == pytest.approx(4.0)


def test_multi_die_packages_are_all_summed(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1, dies=2, core=False)
    cpu = _by_key(_discover(fake))["cpu:rapl"]
    assert cpu.info.source == "RAPL package-0-die-0 + package-0-die-1 (powercap)"
    fake.advance(2.0)
    assert cpu.read(1.0).energy_j == pytest.approx(4.0)


def test_mmio_duplicate_is_counted_once_and_preferred(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1, mmio=True)
    cpu = _by_key(_discover(fake))["cpu:rapl"]
    (zone,) = cpu.info.details["zones"]
    assert zone["zone"] == "intel-rapl-mmio:0" and zone["mmio"] is True
    fake.advance({"package-0": 5.0, "mmio/package-0": 2.0})
    assert cpu.read(1.0).energy_j == pytest.approx(2.0)


def test_wraparound_is_exact(tmp_path):
    wrap = 1_000_000  # 1 J wrap value keeps the arithmetic visible
    fake = FakePowercap(tmp_path / "pc", packages=1, core=False, max_energy_range_uj=wrap, start_uj=900_000)
    cpu = _by_key(_discover(fake))["cpu:rapl"]
    cpu.read(0.0)
    fake.advance(0.25)  # 900 000 → 1 150 000 ≡ 150 000: one wrap
    assert fake.energy_uj("package-0") == 150_000
    assert cpu.read(1.0).energy_j == 0.25
    total_uj = 250_000
    for step_uj in (999_999, 1, 400_000, 650_001, 123_457):  # wraps on several of these steps
        fake.advance(step_uj / 1e6)
        total_uj += step_uj
        assert cpu.read(2.0).energy_j == total_uj / 1e6


def test_permission_error_gives_one_line_hint_and_no_sensor(tmp_path, monkeypatch):
    fake = FakePowercap(tmp_path / "pc", packages=2, dram="sub")
    fake.make_unreadable(monkeypatch)
    found = _discover(fake)
    assert found.sensors == []
    (note,) = found.notes
    assert "not readable" in note.message
    assert note.hint is not None and "\n" not in note.hint
    assert "chmod" in note.hint and "ECO_MAGIC_POWERCAP_ROOT" in note.hint and "sudo" in note.hint
    assert "\n" not in str(note)


def test_permission_emulation_reaches_the_real_except_branch(tmp_path, monkeypatch):
    fake = FakePowercap(tmp_path / "pc", packages=1)
    fake.make_unreadable(monkeypatch, ["package-0"])
    with pytest.raises(PermissionError):
        rapl._read_text(fake.zones["package-0"] / "energy_uj")
    assert rapl._read_text(fake.zones["package-0"] / "name").strip() == "package-0"  # other files still read


def test_env_root_override_and_default():
    assert rapl.powercap_root({}) == Path("/sys/class/powercap")
    assert rapl.powercap_root({"ECO_MAGIC_POWERCAP_ROOT": ""}) == Path("/sys/class/powercap")
    assert rapl.powercap_root({"ECO_MAGIC_POWERCAP_ROOT": "/srv/pc"}) == Path("/srv/pc")


def test_env_root_from_process_environment(tmp_path, monkeypatch):
    fake = FakePowercap(tmp_path / "pc", packages=1)
    fake.install(monkeypatch)
    assert rapl.powercap_root() == fake.root
    found = rapl.discover(temp_fn=lambda: None, util_fn=lambda: None, cpu_name="x")
    assert [s.info.key for s in found.sensors] == ["cpu:rapl"]


def test_missing_directory_is_a_short_note(tmp_path):
    found = rapl.discover(env={"ECO_MAGIC_POWERCAP_ROOT": str(tmp_path / "absent")})
    assert found.sensors == []
    assert [n.message for n in found.notes] == ["no RAPL powercap interface"]


def test_empty_powercap_directory_has_no_zones(tmp_path):
    (tmp_path / "pc").mkdir()
    found = rapl.discover(env={"ECO_MAGIC_POWERCAP_ROOT": str(tmp_path / "pc")})
    assert found.sensors == [] and "no RAPL package" in found.notes[0].message


def test_later_read_failure_raises_sensor_error(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=2)
    cpu = _by_key(_discover(fake))["cpu:rapl"]
    cpu.read(0.0)
    fake.remove_counter("package-1")
    with pytest.raises(SensorError, match="intel-rapl:1"):
        cpu.read(1.0)


def test_garbage_counter_is_a_note_not_an_exception(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1)
    (fake.zones["package-0"] / "energy_uj").write_text("not a number\n")
    found = _discover(fake)
    assert found.sensors == []
    assert "unreadable" in found.notes[0].message and found.notes[0].hint is None


def test_samples_carry_temperature_and_utilisation(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1)
    cpu = _by_key(_discover(fake, temp_fn=lambda: 61.5, util_fn=lambda: 0.25))["cpu:rapl"]
    s = cpu.read(0.0)
    assert s.temp_c == 61.5 and s.util_pct == 25.0
    cpu.close()
    cpu.close()  # idempotent


def test_default_temperature_and_utilisation_sources_do_not_break_reads(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=1)
    cpu = rapl.discover(env=fake.env).sensors[0]
    assert cpu.info.name  # brand string from /proc/cpuinfo, or "CPU"
    cpu.read(0.0)
    s = cpu.read(0.1)
    assert s.energy_j == 0.0
    assert s.util_pct is None or 0.0 <= s.util_pct <= 100.0


def test_list_zones_reads_flat_links_and_nested_layouts(tmp_path):
    fake = FakePowercap(tmp_path / "pc", packages=2, core=True, dram="sub", psys=True)
    expected = sorted(fake.labels)
    assert sorted(z.label for z in rapl.list_zones(fake.root)) == expected
    for link in fake.root.glob("intel-rapl:*"):  # a /sys/devices/virtual/powercap mount has no flat links
        link.unlink()
    assert sorted(z.label for z in rapl.list_zones(fake.root)) == expected
    assert sorted(z.label for z in rapl.list_zones(fake.root / "intel-rapl")) == expected
