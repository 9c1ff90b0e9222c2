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
