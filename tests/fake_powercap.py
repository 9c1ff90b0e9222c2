"""A fake Linux powercap (RAPL) sysfs tree for tests, shaped like the real one.

Real kernels keep zone directories under ``/sys/devices/virtual/powercap/intel-rapl/`` and put flat
symlinks to every zone and subzone in ``/sys/class/powercap/``. This fake builds the same thing inside a
temporary directory, so code under test sees symlinks *and* nested directories::

    root/intel-rapl/intel-rapl:0/{name,energy_uj,max_energy_range_uj}          package-0
    root/intel-rapl/intel-rapl:0/intel-rapl:0:0/…                              core (subzone)
    root/intel-rapl:0 -> intel-rapl/intel-rapl:0                               flat links
    root/intel-rapl:0:0 -> intel-rapl/intel-rapl:0/intel-rapl:0:0

Typical use::

    fake = FakePowercap(tmp_path, dram="sub")
    found = rapl.discover(env=fake.env)              # or fake.install(monkeypatch) to set the variable
    fake.advance(2.5)                                # every zone +2.5 J (wraps at max_energy_range_uj)
    fake.advance({"package-0": 1.0})                 # one zone, by label

Zone labels: ``package-N``, ``package-N-die-M`` (``dies=2``), ``package-N/core``, ``package-N/dram``,
``dram`` (top-level), ``psys``, and ``mmio/package-0`` for the MMIO duplicate of package-0.

Tests run as root here, and root ignores file modes, so :meth:`FakePowercap.make_unreadable` both
``chmod 000``s the ``energy_uj`` files and makes ``eco_magic.sensors.rapl`` honour those modes the way the
kernel does for a normal user (the same ``PermissionError`` reaches the same ``except`` branch).
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Iterable, Mapping

ENV_ROOT = "ECO_MAGIC_POWERCAP_ROOT"
INTEL_MAX_RANGE_UJ = 262_143_328_850  # a real Intel package value (~262 kJ)


class FakePowercap:
    """Build the tree at construction; every zone starts at ``start_uj`` µJ.

    packages              number of CPU packages (0 allowed, e.g. to test psys as last resort)
    dies                  dies per package; >1 names zones ``package-N-die-M`` as multi-die kernels do
    core                  add a ``core`` subzone to every package
    dram                  ``None``, ``"sub"`` (a subzone per package, as on Intel servers) or ``"top"``
    psys                  add a top-level ``psys`` zone
    mmio                  duplicate package-0 as ``intel-rapl-mmio:0`` (newer Intel parts)
    max_energy_range_uj   wrap value of every zone
    start_uj              initial counter of every zone
    """

    def __init__(
        self,
        root: Path | str,
        *,
        packages: int = 2,
        dies: int = 1,
        core: bool = True,
        dram: str | None = None,
        psys: bool = False,
        mmio: bool = False,
        max_energy_range_uj: int = INTEL_MAX_RANGE_UJ,
        start_uj: int = 1_000_000,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_energy_range_uj = int(max_energy_range_uj)
        self.zones: dict[str, Path] = {}  # label → zone directory (the real one, not the link)
        base = self.root / "intel-rapl"
        base.mkdir(exist_ok=True)
        top = 0
        for pkg in range(packages):
            for die in range(dies):
                name = f"package-{pkg}" if dies == 1 else f"package-{pkg}-die-{die}"
                zone = self._zone(base, f"intel-rapl:{top}", name, name, start_uj)
                sub = 0
                if core:
                    self._zone(zone, f"intel-rapl:{top}:{sub}", "core", f"{name}/core", start_uj)
                    sub += 1
                if dram == "sub":
                    self._zone(zone, f"intel-rapl:{top}:{sub}", "dram", f"{name}/dram", start_uj)
                top += 1
        if dram == "top":
            self._zone(base, f"intel-rapl:{top}", "dram", "dram", start_uj)
            top += 1
        if psys:
            self._zone(base, f"intel-rapl:{top}", "psys", "psys", start_uj)
            top += 1
        if mmio:
            mbase = self.root / "intel-rapl-mmio"
            mbase.mkdir(exist_ok=True)
            self._zone(mbase, "intel-rapl-mmio:0", "package-0", "mmio/package-0", start_uj)

    # ------------------------------------------------------------------ building
    def _zone(self, parent: Path, zone_id: str, name: str, label: str, start_uj: int) -> Path:
        path = parent / zone_id
        path.mkdir()
        (path / "name").write_text(name + "\n")
        (path / "max_energy_range_uj").write_text(f"{self.max_energy_range_uj}\n")
        (path / "energy_uj").write_text(f"{int(start_uj) % self.max_energy_range_uj}\n")
        (self.root / zone_id).symlink_to(path.relative_to(self.root))
        self.zones[label] = path
        return path

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """A mapping to pass as ``discover(env=...)``."""
        return {ENV_ROOT: str(self.root)}

    def install(self, monkeypatch) -> None:
        """Point ``ECO_MAGIC_POWERCAP_ROOT`` at this tree for the rest of the test."""
        monkeypatch.setenv(ENV_ROOT, str(self.root))

    # ------------------------------------------------------------------ counters
    @property
    def labels(self) -> list[str]:
        return list(self.zones)

    def energy_uj(self, label: str) -> int:
        """Current raw counter of one zone, in µJ."""
        return int((self.zones[label] / "energy_uj").read_text())

    def set_energy_uj(self, label: str, value: int) -> None:
        """Write a raw counter value (taken modulo the wrap value)."""
        (self.zones[label] / "energy_uj").write_text(f"{int(value) % self.max_energy_range_uj}\n")

    def advance(self, joules: float | Mapping[str, float]) -> None:
        """Add energy: a number adds that many J to every zone, a mapping adds per label.

        Counters wrap at ``max_energy_range_uj`` like the hardware. Keep one step below the wrap value:
        a reader that reads once per step can only tell one wrap apart.
        """
        per_zone = {label: joules for label in self.zones} if not isinstance(joules, Mapping) else joules
        for label, j in per_zone.items():
            self.set_energy_uj(label, self.energy_uj(label) + round(float(j) * 1_000_000))

    # ------------------------------------------------------------------ failures
    def remove_counter(self, label: str) -> None:
        """Delete one zone's ``energy_uj`` (a later read then fails with FileNotFoundError)."""
        (self.zones[label] / "energy_uj").unlink()

    def make_unreadable(self, monkeypatch, labels: Iterable[str] | None = None) -> None:
        """``chmod 000`` the ``energy_uj`` of ``labels`` (default: all zones), as kernels ≥ 5.10 do for
        non-root users, and make ``eco_magic.sensors.rapl`` raise ``PermissionError`` on such files even
        when the tests run as root (root bypasses file modes)."""
        for label in self.labels if labels is None else labels:
            os.chmod(self.zones[label] / "energy_uj", 0)

        import eco_magic.sensors.rapl as rapl

        real_read = rapl._read_text

        def read_like_a_user(path):
            mode = os.stat(path).st_mode
            if stat.S_ISREG(mode) and not mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_read(path)

        monkeypatch.setattr(rapl, "_read_text", read_like_a_user)
