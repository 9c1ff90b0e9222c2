"""What every framework adapter shares: precision names and QF, the ModelInfo record, dtype tallies, the budget.

The ML-EcoLyzer paper scores a run by *effective parameters* per gram of CO₂:

    M = Σᵢ nᵢ × QF(precisionᵢ) / 10⁶        ESS = M / CO₂[g]

where nᵢ is the number of learned values stored at precision i and QF the paper's quantization factor
(1.0 FP32, 0.5 FP16, 0.25 INT8). Adapters (one module per framework in this package) tally nᵢ; this module turns a
tally into a :class:`ModelInfo`. Pure Python: nothing here imports numpy, torch or any other library.

Units: parameter counts are plain counts; ``effective_params_m`` is in millions of parameters; budgets in seconds.
"""
from __future__ import annotations

import math
import numbers
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["QF", "PRECISIONS", "DOMINANT_SHARE", "ModelInfo", "Counted", "Budget", "DetectionTimeout",
           "normalise_precision", "build_info", "from_user_args", "dtype_precision", "add_count", "bits_precision"]

#: Quantization factor per canonical precision name: the share of a full-precision parameter that one stored
#: value counts for. The paper gives FP32 1.0, FP16 0.5, INT8 0.25; every other entry follows the same rule,
#: QF = bits / 32, capped at 1.0.
QF: Mapping[str, float] = {
    "fp64": 1.0,     # double: capped at 1.0 — QF rewards saving bits below FP32, it never charges a premium
    "int64": 1.0,    # 64-bit integers (scikit-learn tree feature indices): capped like fp64
    "fp32": 1.0,     # paper baseline
    "tf32": 1.0,     # TensorFloat-32 is a matmul mode; the weights are stored as FP32
    "int32": 1.0,    # 32 bits (quantized biases, qint32)
    "fp16": 0.5,     # paper
    "bf16": 0.5,     # 16 bits like FP16 (the paper groups FP16/BF16)
    "int16": 0.5,    # 16 bits
    "fp8": 0.25,     # 8 bits (E4M3 / E5M2)
    "int8": 0.25,    # paper; also torch qint8
    "uint8": 0.25,   # 8 bits; also torch quint8
    "int4": 0.125,   # 4 bits, by the paper's rule (GPTQ/AWQ, torch quint4x2)
    "fp4": 0.125,    # 4-bit floats (E2M1, MXFP4/NVFP4)
    "nf4": 0.125,    # bitsandbytes 4-bit NormalFloat
    "int2": 0.0625,  # 2 bits (torch quint2x4, GPTQ bits=2)
}
PRECISIONS: tuple[str, ...] = tuple(QF)

#: Share of N that one precision must hold for :attr:`ModelInfo.precision` to name it rather than "mixed".
DOMINANT_SHARE = 0.99

# Spelling → canonical name. Keys are lower case with " ", "_", "-" and "." removed (see _squash).
_ALIASES: dict[str, str] = {}
for _canon, _spellings in {
    "fp64": "fp64 float64 double f64 float128 longdouble",
    "int64": "int64 i64 long uint64",
    "fp32": "fp32 float32 float f32 single full",
    "tf32": "tf32 tensorfloat32",
    "int32": "int32 i32 int uint32 qint32",
    "fp16": "fp16 float16 half f16",
    "bf16": "bf16 bfloat16",
    "int16": "int16 i16 short uint16",
    "fp8": "fp8 float8 e4m3 e5m2 float8e4m3fn float8e4m3fnuz float8e5m2 float8e5m2fnuz float8e8m0fnu float8e8m0",
    "int8": "int8 i8 q8 q80 qint8 8bit w8 llmint8",
    "uint8": "uint8 u8 quint8",
    "int4": "int4 i4 q4 q40 q41 q4k q4km q4ks qint4 uint4 quint4x2 4bit w4 gptq awq",
    "fp4": "fp4 float4 e2m1 float4e2m1 float4e2m1fn float4e2m1fnx2 mxfp4 nvfp4",
    "nf4": "nf4",
    "int2": "int2 uint2 quint2x4 2bit w2",
}.items():
    for _s in _spellings.split():
        _ALIASES[_s] = _canon
del _canon, _spellings, _s

_PREFIXES = ("torch.", "numpy.", "np.", "onnx.", "tensorproto.")


def _squash(text: str) -> str:
    t = str(text).strip().lower()
    for prefix in _PREFIXES:
        if t.startswith(prefix):
            t = t[len(prefix):]
    return re.sub(r"[\s_.\-]", "", t)


def normalise_precision(text: str) -> str:
    """Canonical precision name (a key of :data:`QF`) for a user's or a library's spelling.

    ``"FP16"``, ``"float16"``, ``"half"``, ``"torch.float16"`` → ``"fp16"``; ``"q8"``, ``"int8"``, ``"qint8"`` →
    ``"int8"``; ``"4bit"``, ``"q4_K_M"`` → ``"int4"``. Raises ``ValueError`` naming the accepted precisions.
    """
    canon = _ALIASES.get(_squash(text))
    if canon is None:
        raise ValueError(f"unknown precision {str(text)!r}; use one of {', '.join(PRECISIONS)} "
                         "(spellings such as float16, half, bfloat16, qint8, q8, 4bit are accepted too)")
    return canon


def bits_precision(bits: int, kind: str = "int") -> str | None:
    """``int`` precision name for a bit width (8 → "int8", 4 → "int4"); ``None`` for a width QF does not know."""
    name = f"{kind}{int(bits)}"
    return name if name in QF else None


@dataclass(frozen=True)
class ModelInfo:
    """What ESS needs to know about a model, and how it was found out.

    n_params            total parameter count N (stored learned values; tied tensors once)
    precision_mix       precision → parameter count, largest first, e.g. ``{"int8": 7_000_000, "fp32": 1200}``
    effective_params_m  Σ nᵢ·QF(precisionᵢ) / 10⁶. Units: millions of parameters
    precision           the precision holding ≥ 99 % of N, else ``"mixed"``
    qf                  effective parameters / N: the quantization factor actually applied
    source              how N was obtained, e.g. ``"torch nn.Module Sequential (parameters())"``
    variable            the notebook variable it was found under, if any
    precision_source    how the precision was decided: a dtype census, the packed weights' declared dtype,
                        a ``quantization_config``, the user's ``--precision`` …
    """

    n_params: int
    precision_mix: Mapping[str, int]
    effective_params_m: float
    precision: str
    qf: float
    source: str
    variable: str | None = None
    precision_source: str = ""


@dataclass
class Counted:
    """An adapter's answer: precision → count, how N was obtained, how precision was decided, and whether the
    object is a model (``False`` for bare arrays and containers of them, which auto-detection ignores)."""

    counts: dict[str, int]
    source: str
    precision_source: str = "dtype census"
    is_model: bool = True


def build_info(counts: Mapping[str, int], source: str, variable: str | None,
               precision_source: str = "dtype census") -> ModelInfo | None:
    """ModelInfo from a precision → count tally; ``None`` when nothing was counted."""
    mix = {p: int(n) for p, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n > 0}
    total = sum(mix.values())
    if total <= 0:
        return None
    weighted = sum(n * QF[p] for p, n in mix.items())
    # precisions of one width (int8 and uint8/quint8, fp16 and bf16) count together for the label: a model that
    # is 8-bit throughout is "int8", not "mixed"; the label is the largest member of the dominant width
    by_width: dict[float, int] = {}
    for p, n in mix.items():
        by_width[QF[p]] = by_width.get(QF[p], 0) + n
    width, width_n = max(by_width.items(), key=lambda kv: kv[1])
    top = next(p for p in mix if QF[p] == width)
    precision = top if width_n >= DOMINANT_SHARE * total else "mixed"
    return ModelInfo(n_params=total, precision_mix=mix, effective_params_m=weighted / 1e6, precision=precision,
                     qf=weighted / total, source=source, variable=variable, precision_source=precision_source)


def from_user_args(n_params: float, precision: str) -> ModelInfo:
    """ModelInfo from ``--params N --precision P``. ``n_params`` is a count (7e9 for a 7B model).

    Raises ``ValueError`` for a count that is not a positive finite number or an unknown precision.
    """
    if isinstance(n_params, bool) or not isinstance(n_params, numbers.Real) or not math.isfinite(n_params) \
            or n_params < 1:
        raise ValueError(f"the parameter count must be a finite number ≥ 1, got {n_params!r}")
    canon = normalise_precision(precision)
    info = build_info({canon: int(round(n_params))}, "user-supplied (--params, --precision)", None,
                      "user-supplied (--precision)")
    assert info is not None
    return info


# --------------------------------------------------------------------------------------------------------- dtypes
_COMPLEX = {"complex32": "fp16", "chalf": "fp16", "complex64": "fp32", "complex128": "fp64",
            "complex256": "fp64", "cfloat": "fp32", "cdouble": "fp64"}


def dtype_precision(dtype: Any) -> tuple[str, int] | None:
    """(canonical precision, stored values per element) for a numpy/torch/ONNX dtype; ``None`` if not numeric.

    Complex numbers count as two values of their component precision; torch's packed ``float4_e2m1fn_x2``
    holds two FP4 values per element. Booleans, strings, objects and structured dtypes are not parameters.
    """
    name = str(dtype).strip().lower()
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name in _COMPLEX:
        return _COMPLEX[name], 2
    try:
        canon = normalise_precision(name)
    except ValueError:
        return None
    return canon, 2 if name.endswith("_x2") and name.startswith("float4") else 1


def add_count(counts: dict[str, int], dtype: Any, n: int) -> bool:
    """Add ``n`` elements of ``dtype`` to ``counts``; False when the dtype is not a parameter dtype."""
    found = dtype_precision(dtype)
    if found is None:
        return False
    precision, per_element = found
    counts[precision] = counts.get(precision, 0) + int(n) * per_element
    return True


# --------------------------------------------------------------------------------------------------------- budget
class DetectionTimeout(Exception):
    """Raised by :meth:`Budget.tick` when detection has used its time."""


class Budget:
    """A wall-clock allowance for detection, checked every ``every`` ticks so that a tick costs ~nothing.

    Adapters call :meth:`tick` inside every loop whose length depends on the object (parameters, trees,
    initializers, container leaves); past the deadline it raises :class:`DetectionTimeout`.
    """

    clock = staticmethod(time.monotonic)  # injectable in tests

    def __init__(self, seconds: float, every: int = 64):
        self.seconds = float(seconds)
        self.started = self.clock()
        self.deadline = self.started + self.seconds
        self._every = max(1, int(every))
        self._n = 0

    def tick(self, n: int = 1) -> None:
        self._n += n
        if self._n >= self._every:
            self._n = 0
            self.check()

    def check(self) -> None:
        if self.clock() > self.deadline:
            raise DetectionTimeout(f"detection stopped after its {self.seconds:g} s budget")

    def elapsed_s(self) -> float:
        return self.clock() - self.started


#: A budget that never runs out (direct ``describe`` calls on one object).
class _Unlimited(Budget):
    def __init__(self):
        super().__init__(float("inf"))

    def tick(self, n: int = 1) -> None:
        return None

    def check(self) -> None:
        return None


UNLIMITED = _Unlimited()
