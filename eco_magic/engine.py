"""The measuring engine of one kernel: discovered sensors, the idle baseline and samplers. No IPython here.

Sensor discovery and the idle baseline run in one background thread started at ``%load_ext`` (so loading stays
fast); the first measured cell waits for discovery if it is not finished yet. The idle baseline must see an idle
machine, so a cell that starts while it runs cancels it, and it is retried after the cell.
"""
from __future__ import annotations

import threading
from typing import Callable, Mapping

from .sensors import discover_all, sync_devices
from .sensors.base import Discovery


class Engine:
    def __init__(self, *, scope: str = "process", env: Mapping[str, str] | None = None,
                 cpu_tdp_w: float | None = None, idle_duration_s: float = 3.0,
                 discover: Callable[..., Discovery] | None = None) -> None:
        self.scope = scope
        self.env = env
        self.cpu_tdp_w = cpu_tdp_w
        self.idle_duration_s = idle_duration_s
        self._discover = discover or discover_all
        self._discovery: Discovery | None = None
        self._discovery_lock = threading.Lock()
        self._warmup: threading.Thread | None = None
        self._idle = None            # IdleBaseline in flight or finished
        self._idle_power_w: dict[str, float] | None = None
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

    def warm_up(self) -> None:
        """Discover sensors and measure the idle baseline in a background daemon thread."""
        if self._warmup is not None and self._warmup.is_alive():
            return
        self._warmup = threading.Thread(target=self._warm, name="eco_magic-warmup", daemon=True)
        self._warmup.start()

    def _warm(self) -> None:
        try:
            self.discovery()
            if self.idle_duration_s > 0 and not self._closed:
                self.start_idle_baseline()
        except Exception:  # noqa: BLE001 - a background helper must never raise into the kernel
            pass

    # --- idle baseline -------------------------------------------------------------------------------------------
    def start_idle_baseline(self, duration_s: float | None = None) -> None:
        """(Re)measure the idle power of every channel in the background (``%ecolyze_idle`` does this on demand)."""
        from .sampler import IdleBaseline

        if self._closed:
            return
        self.cancel_idle_baseline()
        self._idle = IdleBaseline(self.sensors, duration_s=duration_s or self.idle_duration_s)
        self._idle.start()

    def cancel_idle_baseline(self) -> None:
        idle = self._idle
        if idle is not None and idle.running:
            idle.cancel()
            self._idle = None

    def measure_idle_now(self, duration_s: float) -> dict[str, float]:
        """Measure the idle baseline in the foreground (``%ecolyze_idle``); replaces any earlier baseline."""
        from .sampler import IdleBaseline

        for t in threading.enumerate():  # the warm-ups (discovery, matplotlib import) would count as "idle"
            if t.name in ("eco_magic-warmup", "eco_magic-plotwarm") and t is not threading.current_thread():
                t.join()
        self.cancel_idle_baseline()
        idle = IdleBaseline(self.sensors, duration_s=duration_s)
        idle.start()
        try:
            result = idle.result(timeout=None)
        finally:
            idle.cancel()
        self._idle = idle
        self._idle_power_w = result or {}
        return self._idle_power_w

    def idle_power_w(self) -> dict[str, float] | None:
        """Idle power per channel key, once measured."""
        if self._idle_power_w is None and self._idle is not None and not self._idle.running:
            self._idle_power_w = self._idle.result(timeout=0)
        return self._idle_power_w

    # --- cells -----------------------------------------------------------------------------------------------------
    def before_cell(self) -> None:
        """Make sure discovery is done and no idle measurement overlaps the cell."""
        if self._warmup is not None and self._warmup.is_alive():
            self._warmup.join()  # discovery, then it only *starts* the idle thread: short
        self.idle_power_w()  # harvest a finished baseline before it could be cancelled
        if self._idle is not None and self._idle.running:
            self.cancel_idle_baseline()

    def pause_for_cell(self) -> None:
        """Any cell is about to run (measured or not): an idle measurement in flight would see its load."""
        self.idle_power_w()
        if self._idle is not None and self._idle.running:
            self.cancel_idle_baseline()

    def after_cell(self) -> None:
        """Retry the idle baseline if a cell interrupted it."""
        if self._idle_power_w is None and self._idle is None and self.idle_duration_s > 0 and not self._closed:
            self.start_idle_baseline()

    def sampler(self, rate_hz: float | None = None):
        from .sampler import Sampler

        return Sampler(self.sensors, rate_hz=rate_hz, sync=sync_devices)

    def close(self) -> None:
        """Stop background work and release sensors. Idempotent."""
        self._closed = True
        self.cancel_idle_baseline()
        if self._warmup is not None:
            self._warmup.join(timeout=5.0)
            self.cancel_idle_baseline()  # the warm-up may have started one just before it saw _closed
        if self._discovery is not None:
            for s in self._discovery.sensors:
                try:
                    s.close()
                except Exception:  # noqa: BLE001
                    pass
