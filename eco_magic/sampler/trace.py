"""The bounded power trace: at most ``max_points`` points whatever the cell length; full → adjacent pairs merge."""
from __future__ import annotations

from typing import Sequence

from .results import Trace


class _TraceBuffer:
    """Power timeline holding at most ``max_points`` points; when full, adjacent pairs merge.

    Points keep per-channel sums and counts, so merged averages are exact averages of the raw ticks.
    """

    def __init__(self, keys: Sequence[str], max_points: int) -> None:
        self.keys = tuple(keys)
        self.max_points = max_points
        self.decimation = 1
        self.t: list[float] = []
        self.sums: list[list[float]] = [[] for _ in self.keys]
        self.counts: list[list[int]] = [[] for _ in self.keys]
        self._bucket_t = 0.0
        self._bucket_ticks = 0
        self._bucket_sum = [0.0] * len(self.keys)
        self._bucket_n = [0] * len(self.keys)

    def add(self, t: float, powers: Sequence[float | None]) -> None:
        if self._bucket_ticks == 0:
            self._bucket_t = t
        self._bucket_ticks += 1
        for i, p in enumerate(powers):
            if p is not None:
                self._bucket_sum[i] += p
                self._bucket_n[i] += 1
        if self._bucket_ticks >= self.decimation:
            self._flush()
            if len(self.t) >= self.max_points:
                self._halve()

    def _flush(self) -> None:
        if not self._bucket_ticks:
            return
        self.t.append(self._bucket_t)
        for i in range(len(self.keys)):
            self.sums[i].append(self._bucket_sum[i])
            self.counts[i].append(self._bucket_n[i])
            self._bucket_sum[i] = 0.0
            self._bucket_n[i] = 0
        self._bucket_ticks = 0

    def _halve(self) -> None:
        self.t = self.t[::2]
        for i in range(len(self.keys)):
            s, n = self.sums[i], self.counts[i]
            self.sums[i] = [sum(s[j:j + 2]) for j in range(0, len(s), 2)]
            self.counts[i] = [sum(n[j:j + 2]) for j in range(0, len(n), 2)]
        self.decimation *= 2

    def finish(self) -> Trace:
        """Flush the partial bucket (room is always left for it) and freeze."""
        self._flush()
        power = {
            key: tuple(s / n if n else None for s, n in zip(self.sums[i], self.counts[i]))
            for i, key in enumerate(self.keys)
        }
        return Trace(t_s=tuple(self.t), power_w=power, decimation=self.decimation)

