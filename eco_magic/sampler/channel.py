"""One channel's energy accounting: running accumulators (O(1) memory) and the rules that turn them into joules."""
from __future__ import annotations

import math

from ..sensors.base import METHODS, DeviceInfo, SensorError
from .results import ChannelResult

STUCK_COUNTER_WINDOW_S = 0.5
"""Below this window a counter that did not move is trusted less than power × duration (measurement.md §1.6)."""

_MAX_DISTINCT_ERRORS = 4  # distinct error messages remembered per channel; further ones are only counted
_MAX_THROTTLE_REASONS = 32
_MAX_MESSAGE_CHARS = 120


def _message(exc: BaseException) -> str:
    """One short line for a failed read."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, SensorError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"


def _value(x: object, *, non_negative: bool = False) -> tuple[float | None, bool]:
    """``(float or None, was_invalid)``: non-numeric and non-finite values (and negatives if asked) are dropped."""
    if x is None:
        return None, False
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, True
    if not math.isfinite(v) or (non_negative and v < 0.0):
        return None, True
    return v, False


def _extract(sample: object) -> tuple:
    """Pull the numbers out of a :class:`Sample` (done outside the lock; raises on a malformed sample)."""
    energy, bad_e = _value(sample.energy_j)  # type: ignore[attr-defined]
    power, bad_p = _value(sample.power_w, non_negative=True)  # type: ignore[attr-defined]
    temp, bad_t = _value(sample.temp_c)  # type: ignore[attr-defined]
    util, bad_u = _value(sample.util_pct, non_negative=True)  # type: ignore[attr-defined]
    throttle = tuple(str(r) for r in (sample.throttle or ()))  # type: ignore[attr-defined]
    return energy, power, temp, util, throttle, bad_e + bad_p + bad_t + bad_u


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100.0 else f"{seconds:.0f} s"


def _fmt_part(span: float, duration: float) -> str:
    """``"0.20 of 5.00 s"``."""
    return f"{_fmt_s(span)[:-2]} of {_fmt_s(duration)}"


class _Channel:
    """Running accumulators for one channel: O(1) memory whatever the cell length."""

    def __init__(self, info: DeviceInfo) -> None:
        self.info = info
        self.key = info.key
        self.n_samples = 0
        self.n_errors = 0
        self.errors: dict[str, int] = {}  # first message of each distinct error → count
        self.n_other_errors = 0
        self.n_invalid = 0
        self.latest_power_w: float | None = None
        # cumulative energy (counter or model)
        self.e_n = 0
        self.e_first_t = self.e_last_t = 0.0
        self.e_last = 0.0
        self.e_sum = 0.0
        self.e_backwards = 0
        # power samples
        self.p_n = 0
        self.p_first_t = self.p_last_t = 0.0
        self.p_last = 0.0
        self.p_trap = 0.0
        self.p_sum = 0.0
        self.p_peak: float | None = None
        # other statistics
        self.temp_peak: float | None = None
        self.util_sum = 0.0
        self.util_n = 0
        self.throttle: list[str] = []

    def add(self, t: float, values: tuple) -> None:
        energy, power, temp, util, throttle, n_invalid = values
        self.n_samples += 1
        self.n_invalid += n_invalid
        self.latest_power_w = power
        if energy is not None:
            if self.e_n == 0:
                self.e_first_t = t
            else:
                delta = energy - self.e_last
                if delta >= 0.0:
                    self.e_sum += delta
                else:
                    self.e_backwards += 1
            self.e_last, self.e_last_t = energy, t
            self.e_n += 1
        if power is not None:
            if self.p_n == 0:
                self.p_first_t = t
            else:
                self.p_trap += 0.5 * (power + self.p_last) * (t - self.p_last_t)
            self.p_last, self.p_last_t = power, t
            self.p_sum += power
            self.p_n += 1
            if self.p_peak is None or power > self.p_peak:
                self.p_peak = power
        if temp is not None and (self.temp_peak is None or temp > self.temp_peak):
            self.temp_peak = temp
        if util is not None:
            self.util_sum += util
            self.util_n += 1
        for reason in throttle:
            if reason not in self.throttle and len(self.throttle) < _MAX_THROTTLE_REASONS:
                self.throttle.append(reason)

    def fail(self, message: str) -> None:
        self.n_errors += 1
        self.latest_power_w = None
        if message in self.errors:
            self.errors[message] += 1
        elif len(self.errors) < _MAX_DISTINCT_ERRORS:
            self.errors[message] = 1
        else:
            self.n_other_errors += 1

    def energy(self, t_start: float, t_end: float) -> tuple[float | None, str, float, float, str | None]:
        """``(energy_j, method, first_t, last_t, basis)`` by the rules in the module docstring.

        ``basis`` is ``"counter"``, ``"power"``, ``"stuck-short"``, ``"stuck-long"`` or ``None`` (unknown).
        """
        duration = t_end - t_start
        if self.e_n >= 2:
            method = self.info.method if self.info.method in ("counter", "estimated") else "counter"
            if self.e_sum == 0.0 and method == "counter" and self.p_sum > 0.0:
                if duration < STUCK_COUNTER_WINDOW_S:
                    return self.p_sum / self.p_n * duration, "integrated", t_start, t_end, "stuck-short"
                if self.p_n >= 2:
                    return self.p_trap, "integrated", self.p_first_t, self.p_last_t, "stuck-long"
            return self.e_sum, method, self.e_first_t, self.e_last_t, "counter"
        if self.p_n >= 2:
            return self.p_trap, "integrated", self.p_first_t, self.p_last_t, "power"
        return None, self.info.method if self.info.method in METHODS else "integrated", t_start, t_start, None

    def result(self, t_start: float, t_end: float, aligned: tuple | None = None,
               edge_note: str | None = None) -> ChannelResult:
        """The channel's result. ``aligned``: ``(energy_j, method, note)`` from the counter-aligned boundaries
        (:mod:`.edges`), which replaces the plain counter rules; ``edge_note``: why they could not be used."""
        energy, method, first_t, last_t, basis = self.energy(t_start, t_end)
        if aligned is not None:
            energy, method = aligned[0], aligned[1]
            first_t, last_t, basis = t_start, t_end, "aligned"
        duration = t_end - t_start
        span = last_t - first_t
        key = self.key
        notes: list[str] = []
        if aligned is not None and aligned[2]:
            notes.append(f"{key}: {aligned[2]}")
        elif edge_note:
            notes.append(f"{key}: {edge_note}")

        # what the energy figure covers, said once, attached to the failure note when there is one
        tol = 1e-9 * max(1.0, abs(t_end))
        head_lost = energy is not None and first_t > t_start + tol
        tail_lost = energy is not None and last_t < t_end - tol
        if energy is None:
            coverage = "energy unknown"
        elif tail_lost and not head_lost:
            coverage = f"energy from readings before the failure ({_fmt_part(span, duration)})"
        elif head_lost and not tail_lost:
            coverage = f"energy from readings after the failure ({_fmt_part(span, duration)})"
        elif head_lost and tail_lost:
            coverage = f"energy from {_fmt_part(span, duration)} of readings"
        else:
            coverage = ""

        if self.n_errors:
            parts = [m if len(self.errors) == 1 and not self.n_other_errors else f"{m} ×{c}"
                     for m, c in self.errors.items()]
            if self.n_other_errors:
                parts.append(f"{self.n_other_errors} other")
            if not coverage:
                coverage = ("energy unaffected (the counter spans the gaps)" if basis in ("counter", "aligned")
                            else "power interpolated across the gaps")
            notes.append(f"{key}: read failed {self.n_errors}× ({'; '.join(parts)}); {coverage}")
        elif energy is not None and (head_lost or tail_lost):
            notes.append(f"{key}: energy covers {_fmt_part(span, duration)} "
                         "(the other readings carried no usable energy or power)")

        expects_energy = self.info.method in ("counter", "estimated")
        if basis == "stuck-short":
            notes.append(f"{key}: counter did not advance in {_fmt_s(duration)} (update period ~100 ms); "
                         "energy = power × duration")
        elif basis == "stuck-long":
            notes.append(f"{key}: counter did not advance in {_fmt_s(duration)} although power read "
                         f"{self.p_sum / self.p_n:.3g} W on average; energy integrated from power samples")
        elif basis == "power" and expects_energy:
            why = "no reading carried" if self.e_n == 0 else "only one reading carried"
            notes.append(f"{key}: {why} a cumulative energy value; energy integrated from power samples")
        elif basis is None and not self.n_errors:
            what = "no readings" if self.n_samples == 0 else "fewer than two readings with energy or power"
            notes.append(f"{key}: {what}; energy unknown")
        if self.e_backwards:
            notes.append(f"{key}: energy counter went backwards {self.e_backwards}× (reset or wrap); "
                         "those intervals are left out")
        if self.n_invalid:
            notes.append(f"{key}: {self.n_invalid} non-numeric, non-finite or negative values ignored")

        if energy is not None and span > 0.0:
            mean_power = energy / span
        else:
            mean_power = self.p_sum / self.p_n if self.p_n else None
        return ChannelResult(
            info=self.info,
            energy_j=energy,
            method=method,
            mean_power_w=mean_power,
            peak_power_w=self.p_peak,
            peak_temp_c=self.temp_peak,
            mean_util_pct=self.util_sum / self.util_n if self.util_n else None,
            throttle_events=tuple(self.throttle),
            n_samples=self.n_samples,
            n_errors=self.n_errors,
            notes=tuple(notes),
        )

