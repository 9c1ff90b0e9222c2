"""The measuring engine of one kernel (or one plain Python process): discovered sensors and the idle baseline.

Sensor discovery runs in one background thread started at ``%load_ext`` (so loading stays fast); the first
measurement waits for it if it is not finished yet. The idle baseline comes from the real idle time between cells
(:class:`eco_magic.idle.IdleMeter`: two sensor reads per gap, no thread), or from ``%ecolyze_idle``. No IPython here.
"""
from __future__ import annotations

import threading
from typing import Callable, Mapping

from .idle import IdleMeter
from .sensors import discover_all, sync_devices
from .sensors.base import Discovery


class Engine:
    """Sensors, discovered once, and the idle baseline.

    idle_duration_s   seconds of recent idle time the baseline keeps (0: no idle baseline, net of idle not shown)
    """

    def __init__(self, *, scope: str = "process", env: Mapping[str, str] | None = None,
                 cpu_tdp_w: float | None = None, idle_duration_s: float = 120.0,
                 discover: Callable[..., Discovery] | None = None) -> None:
        self.scope = scope
        self.env = env
        self.cpu_tdp_w = cpu_tdp_w
        self.idle_duration_s = idle_duration_s
        self._discover = discover or discover_all
        self._discovery: Discovery | None = None
        self._discovery_lock = threading.Lock()
        self._idle_lock = threading.Lock()
        self._meter: IdleMeter | None = None
        self._warmup: threading.Thread | None = None
        self._hints_given = False
        self._closed = False

    # --- discovery ---------------------------------------------------------------------------------------------
    def discovery(self) -> Discovery:
        """Sensors and notes, discovered once (thread-safe)."""
        with self._discovery_lock:
            if self._discovery is None:
                self._discovery = self._discover(scope=self.scope, env=self.env, cpu_tdp_w=self.cpu_tdp_w)
            return self._discovery

    @property
    def sensors(self) -> list:
        return list(self.discovery().sensors)

    def hints_once(self) -> list[str]:
        """Discovery's one-line hints (how to get a better reading), given to the first result only."""
        if self._hints_given:
            return []
        self._hints_given = True
        return [str(n) for n in self.discovery().notes if n.hint]

    def warm_up(self) -> None:
        """Discover sensors in a background daemon thread, then open the first idle gap."""
        if self._warmup is not None and self._warmup.is_alive():
            return
        self._warmup = threading.Thread(target=self._warm, name="eco_magic-warmup", daemon=True)
        self._warmup.start()

    def _warm(self) -> None:
        try:
            self.discovery()
            self.gap_opens()
        except Exception:  # noqa: BLE001 - a background helper must never raise into the kernel
            pass

    # --- idle baseline -------------------------------------------------------------------------------------------
    def _idle_meter(self) -> IdleMeter | None:
        """The meter, created once discovery is done (``None`` while disabled or closed)."""
        if self._closed or self.idle_duration_s <= 0 or self._discovery is None:
            return None
        if self._meter is None:
            self._meter = IdleMeter(self._discovery.sensors, window_s=self.idle_duration_s)
        return self._meter

    def gap_opens(self) -> None:
        """A cell ended (or the extension loaded): idle time starts."""
        with self._idle_lock:
            meter = self._idle_meter()
            if meter is not None:
                meter.open()

    def gap_closes(self) -> None:
        """A cell is about to run (measured or not): the idle time so far is added to the baseline."""
        with self._idle_lock:
            if self._meter is not None:
                self._meter.close()

    def set_idle_window(self, seconds: float) -> None:
        with self._idle_lock:
            self.idle_duration_s = max(0.0, float(seconds or 0.0))
            if self.idle_duration_s == 0:
                self._meter = None
            elif self._meter is not None:
                self._meter._window_s = self.idle_duration_s

    def measure_idle_now(self, duration_s: float) -> dict[str, float]:
        """Measure idle power in the foreground (``%ecolyze_idle``); it replaces the baseline so far."""
        from .sampler import IdleBaseline

        if self._warmup is not None and self._warmup.is_alive() and self._warmup is not threading.current_thread():
            self._warmup.join()
        idle = IdleBaseline(self.sensors, duration_s=duration_s)
        idle.start()
        try:
            result = idle.result(timeout=None) or {}
        finally:
            idle.cancel()
        with self._idle_lock:
            if self._meter is None and not self._closed:
                self._meter = IdleMeter(self.sensors, window_s=max(self.idle_duration_s, duration_s))
            if self._meter is not None:
                self._meter.replace(duration_s, result, f"%ecolyze_idle over {duration_s:g} s")
        return result

    def idle_power_w(self) -> dict[str, float] | None:
        """Idle power per channel key, once some idle time was seen."""
        with self._idle_lock:
            return self._meter.power_w() if self._meter is not None else None

    def idle_seconds(self) -> float | None:
        with self._idle_lock:
            return self._meter.seconds if self._meter is not None else None

    def idle_source(self) -> str:
        with self._idle_lock:
            return self._meter.source if self._meter is not None else ""

    # --- measurements ----------------------------------------------------------------------------------------------
    def before_cell(self) -> None:
        """Make sure discovery is done and the idle gap is closed before a measurement starts."""
        if self._warmup is not None and self._warmup.is_alive() and self._warmup is not threading.current_thread():
            self._warmup.join()
        self.gap_closes()

    def sampler(self, rate_hz: float | None = None):
        from .sampler import Sampler

        return Sampler(self.sensors, rate_hz=rate_hz, sync=sync_devices)

    def close(self) -> None:
        """Stop background work and release sensors. Idempotent."""
        self._closed = True
        if self._warmup is not None:
            self._warmup.join(timeout=5.0)
        with self._idle_lock:
            self._meter = None
        if self._discovery is not None:
            for s in self._discovery.sensors:
                try:
                    s.close()
                except Exception:  # noqa: BLE001
                    pass
