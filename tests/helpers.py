"""Small builders shared by tests."""
from __future__ import annotations

from eco_magic.result import DeviceReading, EcoResult


def make_result(label: str = "r", energy_j: float = 100.0, status: str = "ok", **kw) -> EcoResult:
    co2 = energy_j / 3.6e6 * 56.0 * 1.1
    base = dict(label=label, status=status, duration_s=2.0, energy_j=energy_j, co2_g=co2, water_l=0.001,
                ess=None, effective_params_m=None, precision=None, pue=1.1, carbon_intensity_g_per_kwh=56.0,
                region="FR", region_name="France", carbon_source="Ember/OWID", carbon_year=2023,
                devices=(DeviceReading("cpu:model", "cpu", "Test CPU", energy_j, "estimated", "CPU time × TDP",
                                       "process"),),
                sampling="adaptive 5→2→1 Hz", n_samples=11, started_at="2026-11-22T10:00:00+00:00")
    base.update(kw)
    return EcoResult(**base)


def load_fresh(shell, ledger_path, idle_baseline_s: float = 0) -> None:
    """(Re)load eco_magic on ``shell`` with its ledger at ``ledger_path`` and the given idle baseline."""
    if "eco_magic" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "eco_magic")
    shell.run_line_magic("config", f"EcoMagics.idle_baseline_s = {idle_baseline_s!r}")
    shell.run_line_magic("config", f"EcoMagics.ledger_path = {str(ledger_path)!r}")
    shell.run_line_magic("load_ext", "eco_magic")


def make_measurement(energy_j: float = 3.6e6, *, kind: str = "cpu", datacenter: bool = False,
                     started_at: float = 1.7e9, duration_s: float = 60.0):
    """A sampler Measurement, duck-typed (what :func:`eco_magic.assemble.build_result` reads): one channel
    whose counter gave ``energy_j``; ``kind="gpu"`` with ``datacenter`` picks the PUE tier."""
    from types import SimpleNamespace

    info = SimpleNamespace(key=f"{kind}:0", kind=kind, name=f"Test {kind.upper()}", source="test counter",
                           scope="device", details={"datacenter": datacenter, "counter_update_s": 0.1},
                           method="counter")
    ch = SimpleNamespace(info=info, energy_j=energy_j, method="counter", mean_power_w=energy_j / duration_s,
                         peak_power_w=None, peak_temp_c=None, mean_util_pct=None, throttle_events=(), n_samples=5,
                         n_errors=0, notes=())
    return SimpleNamespace(duration_s=duration_s, channels=(ch,), trace=None, n_ticks=5, rate="fixed 1 Hz",
                           notes=(), started_at=started_at)
