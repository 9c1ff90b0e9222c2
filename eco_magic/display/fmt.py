"""Auto-scaled, unit-carrying number formatting shared by every renderer.

Every figure gets an SI prefix that keeps it between 1 and 999 (``92.0 mJ``, ``1.19 kWh``), three significant
figures and thousands separators; scientific notation never appears. A figure above the top of its ladder keeps
growing digits (``12,300 t``); one below the bottom gets decimals (``0.000420 ng``).
"""
from __future__ import annotations

import math

#: Most decimals a figure below the bottom of its unit ladder gets before it reads "≈ 0".
_MAX_DECIMALS = 9


def _scaled(value: float, steps: list[tuple[float, str]], digits: int = 3) -> str:
    """``value`` in the first unit of ``steps`` (largest first) it reaches; 0 in the unit of factor 1."""
    if value == 0:
        unit = next((u for f, u in steps if f == 1.0), steps[-1][1])
        return f"0 {unit}"
    for factor, unit in steps:
        if abs(value) >= factor:
            return f"{_sig(value / factor, digits)} {unit}"
    factor, unit = steps[-1]
    return f"{_sig(value / factor, digits)} {unit}"


def _sig(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant figures in fixed notation with thousands separators (never ``1e+03``).

    Rounding that carries into a new decade keeps ``digits`` figures (``999.7`` → ``1,000``, not ``1,000.0``).
    """
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    if decimals > _MAX_DECIMALS:
        return "≈ 0"
    rounded = round(x, decimals)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > mag:  # 9.996 → 10.0, not 10.00
        decimals = max(0, decimals - 1)
    return f"{x:,.{decimals}f}"


ENERGY_UNITS = [(3.6e12, "GWh"), (3.6e9, "MWh"), (3.6e6, "kWh"), (3600.0, "Wh"), (1.0, "J"), (1e-3, "mJ"),
                (1e-6, "µJ"), (1e-9, "nJ")]
MASS_UNITS = [(1e6, "t"), (1000.0, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg"), (1e-9, "ng")]
VOLUME_UNITS = [(1000.0, "m³"), (1.0, "L"), (1e-3, "mL"), (1e-6, "µL"), (1e-9, "nL")]
POWER_UNITS = [(1e6, "MW"), (1000.0, "kW"), (1.0, "W"), (1e-3, "mW"), (1e-6, "µW")]


def energy(energy_j: float | None) -> str:
    """J below 3.6 kJ, then Wh, kWh, MWh, GWh (and mJ, µJ, nJ for tiny values)."""
    if energy_j is None:
        return "n/a"
    return _scaled(energy_j, ENERGY_UNITS)


def mass_g(mass_g_: float | None) -> str:
    """CO₂e mass: t, kg, g, mg, µg, ng."""
    if mass_g_ is None:
        return "n/a"
    return _scaled(mass_g_, MASS_UNITS)


def volume_l(volume_l_: float | None) -> str:
    """Water: m³, L, mL, µL, nL."""
    if volume_l_ is None:
        return "n/a"
    return _scaled(volume_l_, VOLUME_UNITS)


def power(power_w: float | None) -> str:
    if power_w is None:
        return "n/a"
    return _scaled(power_w, POWER_UNITS)


def duration(duration_s: float | None) -> str:
    if duration_s is None:
        return "n/a"
    if duration_s < 1:
        ms = duration_s * 1000
        return f"{_sig(ms, 2)} ms" if ms < 10 else f"{ms:.0f} ms"
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
        return f"{_sig(value_m / 1000, 3)} B"
    return f"{_sig(value_m, 3)} M"


def count(n: float | None) -> str:
    """A parameter count such as 7e9 → '7 B', 1_048_576 → '1.05 M'."""
    if n is None:
        return "n/a"
    for factor, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n:.0f}"


def number(x: float | None, digits: int = 3) -> str:
    """A dimensionless figure: ``1,190``, ``0.934``, ``12.3 million``, ``4.56 billion`` (never ``1.19e+03``)."""
    if x is None:
        return "n/a"
    for factor, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(x) >= factor:
            return f"{_sig(x / factor, digits)} {word}"
    return _sig(x, digits)


def trim(text: str) -> str:
    """Trailing zeros of a decimal fraction dropped: '56.00' → '56', '661.90' → '661.9' (the unit stays)."""
    number, sep, unit = text.partition(" ")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number + sep + unit


def integer(n: int | float | None) -> str:
    """A count with thousands separators: ``2,048``."""
    return "n/a" if n is None else f"{round(n):,}"


def pct(fraction: float | None) -> str:
    """A share as a percentage that never rounds to a misleading round figure: 0.996 → ``99.6 %``, not ``100 %``."""
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    p = fraction * 100
    for decimals in (0, 1, 2, 3):
        text = f"{p:.{decimals}f}"
        exact = float(text) == p
        edge = float(text) in (0.0, 100.0, -100.0) and not exact
        if not edge and (decimals > 0 or abs(p) >= 10 or exact):
            return f"{text} %"
    return f"{p:.3f} %"


def ess(value: float | None, note: str = "") -> str:
    if value is None:
        return f"n/a ({note})" if note else "n/a"
    return f"{number(value)} M params/g CO₂e"
