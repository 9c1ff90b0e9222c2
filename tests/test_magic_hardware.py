"""%%ecolyze on fake hardware that speaks the real interfaces: counter figures match what the hardware delivered.

The fakes advance *inside* the measured cell, so the energy the hardware delivered during the cell is known
exactly; the reported energy must be within 1 % of it (it is exact up to float rounding).
"""
from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from fake_nvml import FakeGpu, ManualClock, install
from fake_powercap import FakePowercap
from helpers import load_fresh


@pytest.fixture
def hardware(shell, monkeypatch, tmp_path):
    """Fake RAPL (2 packages + dram) and a fake H100, then eco_magic loaded on top of them."""
    powercap = FakePowercap(tmp_path / "powercap", packages=2, core=True, dram="sub")
    powercap.install(monkeypatch)
    clock = ManualClock()
    nvml = install(monkeypatch, [FakeGpu(name="NVIDIA H100 80GB HBM3", arch="hopper", power_w=300.0, temp_c=84)],
                   clock=clock)
    if "eco_magic" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "eco_magic")
    shell.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
    shell.run_line_magic("config", f"EcoMagics.ledger_path = {str(tmp_path / 'l.sqlite')!r}")
    shell.run_line_magic("config", "EcoMagics.region = 'DE'")
    shell.run_line_magic("load_ext", "eco_magic")
    shell.user_ns.update(powercap=powercap, clock=clock)
    yield powercap, nvml, clock
    shell.run_line_magic("unload_ext", "eco_magic")
    shell.run_line_magic("config", "EcoMagics.region = None")


def test_counter_figures_match_delivered_energy(shell, hardware):
    powercap, nvml, clock = hardware
    cell = ("powercap.advance({'package-0': 40.0, 'package-1': 35.5, 'package-0/core': 20.0, "
            "'package-0/dram': 6.25, 'package-1/dram': 3.75})\n"
            "clock.advance(2.0)\n")
    with capture_output() as cap:
        r = shell.run_cell_magic("ecolyze", "-o -l fake", cell)
    by_kind = {d.kind: d for d in r.devices}
    assert set(by_kind) == {"cpu", "gpu", "ram"}
    assert by_kind["cpu"].method == by_kind["gpu"].method == by_kind["ram"].method == "counter"
    assert by_kind["cpu"].energy_j == pytest.approx(75.5, rel=0.01)     # packages only, core not added
    assert by_kind["ram"].energy_j == pytest.approx(10.0, rel=0.01)
    assert by_kind["gpu"].energy_j == pytest.approx(600.0, rel=0.01)    # 300 W × 2 s of fake time
    assert r.energy_j == pytest.approx(685.5, rel=0.01)
    # a datacenter GPU → PUE tier 1.4; CO₂ follows E × CI × PUE with Germany's table value
    assert r.pue == 1.4 and r.pue_tier == "datacenter_gpu"
    assert r.co2_g == pytest.approx(685.5 / 3.6e6 * r.carbon_intensity_g_per_kwh * 1.4, rel=0.01)
    assert any("84" in f and "80" in f for f in r.thermal_flags)        # 84 °C > 80 °C paper threshold
    assert by_kind["gpu"].peak_temp_c == 84
    assert "NVML total-energy counter" in by_kind["gpu"].source
    assert "RAPL" in by_kind["cpu"].source


def test_rapl_wraparound_inside_a_cell(shell, hardware):
    powercap, nvml, clock = hardware
    label = "package-0"
    max_uj = 262_143_328_850
    powercap.set_energy_uj(label, max_uj - 5_000_000)            # 5 J before the wrap
    cell = "powercap.advance({'package-0': 12.0})\n"
    with capture_output():
        r = shell.run_cell_magic("ecolyze", "-o -q", cell)
    cpu = next(d for d in r.devices if d.kind == "cpu")
    assert cpu.energy_j == pytest.approx(12.0, rel=0.01)


def test_unreadable_rapl_falls_back_to_the_model_with_one_hint(shell, monkeypatch, tmp_path):
    powercap = FakePowercap(tmp_path / "pc", packages=1)
    powercap.install(monkeypatch)
    powercap.make_unreadable(monkeypatch)
    install(monkeypatch, [], clock=ManualClock())
    load_fresh(shell, tmp_path / 'l.sqlite')
    try:
        with capture_output() as cap:
            first = shell.run_cell_magic("ecolyze", "-o", "a = sum(range(10000))")
            second = shell.run_cell_magic("ecolyze", "-o", "a = 1")
        cpu = next(d for d in first.devices if d.kind == "cpu")
        assert cpu.method == "estimated"
        hints = [n for n in first.notes if "powercap" in n.lower() or "rapl" in n.lower()]
        assert len(hints) == 1 and "chmod" in hints[0]
        assert not [n for n in second.notes if "chmod" in n]      # said once per session
        assert "sudo" not in cap.stdout                              # nothing printed besides results
    finally:
        shell.run_line_magic("unload_ext", "eco_magic")
