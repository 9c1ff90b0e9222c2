"""Auto-scaled, unit-carrying number formatting shared by every renderer."""
from __future__ import annotations

import math


def _scaled(value: float, steps: list[tuple[float, str]], digits: int = 3) -> str:
    for factor, unit in steps:
        if abs(value) >= factor:
            return f"{_sig(value / factor, digits)} {unit}"
    factor, unit = steps[-1]
    return f"{_sig(value / factor, digits)} {unit}"


def _sig(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant figures, no exponent for everyday magnitudes."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:,.{decimals}f}"


def energy(energy_j: float | None) -> str:
    """J below 3.6 kJ, then Wh, then kWh (and mJ for tiny values)."""
    if energy_j is None:
        return "n/a"
    return _scaled(energy_j, [(3.6e6, "kWh"), (3600.0, "Wh"), (1.0, "J"), (1e-3, "mJ")])


def mass_g(mass_g_: float | None) -> str:
    """CO₂e mass: kg, g, mg, µg."""
    if mass_g_ is None:
        return "n/a"
    return _scaled(mass_g_, [(1000.0, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg")])


def volume_l(volume_l_: float | None) -> str:
    """Water: L, mL, µL."""
    if volume_l_ is None:
        return "n/a"
    return _scaled(volume_l_, [(1.0, "L"), (1e-3, "mL"), (1e-6, "µL")])


def power(power_w: float | None) -> str:
    if power_w is None:
        return "n/a"
    return _scaled(power_w, [(1000.0, "kW"), (1.0, "W"), (1e-3, "mW")])


def duration(duration_s: float | None) -> str:
    if duration_s is None:
        return "n/a"
    if duration_s < 1:
        return f"{duration_s * 1000:.0f} ms"
    if duration_s < 60:
        return f"{duration_s:.2f} s"
    minutes, seconds = divmod(duration_s, 60)
    if minutes < 60:
        return f"{int(minutes)} min {seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def temp(temp_c: float | None) -> str:
    return "n/a" if temp_c is None else f"{temp_c:.0f} °C"


def params_m(value_m: float | None) -> str:
    """Effective parameters, given in millions."""
    if value_m is None:
        return "n/a"
    if value_m >= 1000:
        return f"{value_m / 1000:,.3g} B"
    return f"{_sig(value_m, 4)} M"


def count(n: float | None) -> str:
    """A parameter count such as 7e9 → '7.00 B'."""
    if n is None:
        return "n/a"
    for factor, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n:.0f}"


def ess(value: float | None, note: str = "") -> str:
    if value is None:
        return f"n/a ({note})" if note else "n/a"
    return f"{_sig(value, 3)} M params/g CO₂e"
