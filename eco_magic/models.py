"""Parameter count and numeric precision of model objects, for the Environmental Sustainability Score.

The ML-EcoLyzer paper scores a run by *effective parameters* per gram of CO₂:

    M = Σᵢ nᵢ × QF(precisionᵢ) / 10⁶        ESS = M / CO₂[g]

where nᵢ is the number of learned values stored at precision i and QF the paper's quantization factor
(1.0 FP32, 0.5 FP16, 0.25 INT8). This module finds N and the precision mix on the objects a notebook holds:

========================  =================================================================================
torch ``nn.Module``       ``parameters()`` (tied parameters once) + weights of quantized modules, which live
                          in packed params rather than in ``parameters()`` + quantized buffers
Hugging Face models       as torch, cross-checked against ``PreTrainedModel.num_parameters()``
scikit-learn estimators   the fitted arrays that prediction uses (rules in :func:`_sklearn_counts`)
ONNX ``ModelProto``       graph initializers, by their ``TensorProto`` data type
arrays and containers     numpy arrays / torch tensors, and dicts, lists, tuples of them (a state dict)
========================  =================================================================================

Anything else gives ``None``: no guess is ever made. torch, scikit-learn, ONNX, transformers and numpy are never
imported here; an object of theirs can only exist when its library is already in ``sys.modules``, so we look there.

Units: parameter counts are plain counts; ``effective_params_m`` is in millions of parameters.
"""
from __future__ import annotations

import ast
import keyword
import math
import numbers
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

__all__ = ["QF", "PRECISIONS", "ModelInfo", "normalise_precision", "describe", "from_user_args",
           "find_in_namespace"]

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
    "int2": 0.0625,  # 2 bits (torch quint2x4)
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
    "int2": "int2 uint2 quint2x4 2bit",
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
    """

    n_params: int
    precision_mix: Mapping[str, int]
    effective_params_m: float
    precision: str
    qf: float
    source: str
    variable: str | None = None


def _build(counts: Mapping[str, int], source: str, variable: str | None) -> ModelInfo | None:
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
                     qf=weighted / total, source=source, variable=variable)


def from_user_args(n_params: float, precision: str) -> ModelInfo:
    """ModelInfo from ``--params N --precision P``. ``n_params`` is a count (7e9 for a 7B model).

    Raises ``ValueError`` for a count that is not a positive finite number or an unknown precision.
    """
    if isinstance(n_params, bool) or not isinstance(n_params, numbers.Real) or not math.isfinite(n_params) \
            or n_params < 1:
        raise ValueError(f"the parameter count must be a finite number ≥ 1, got {n_params!r}")
    canon = normalise_precision(precision)
    info = _build({canon: int(round(n_params))}, "user-supplied (--params, --precision)", None)
    assert info is not None
    return info


# ---------------------------------------------------------------------------------------------------------------
# dtypes


def _dtype_precision(dtype: Any) -> tuple[str, int] | None:
    """(canonical precision, stored values per element) for a numpy/torch/ONNX dtype; ``None`` if not numeric.

    Complex numbers count as two values of their component precision; torch's packed ``float4_e2m1fn_x2``
    holds two FP4 values per element. Booleans, strings, objects and structured dtypes are not parameters.
    """
    name = str(dtype).strip().lower()
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    complex_parts = {"complex32": "fp16", "chalf": "fp16", "complex64": "fp32", "complex128": "fp64",
                     "complex256": "fp64", "cfloat": "fp32", "cdouble": "fp64"}
    if name in complex_parts:
        return complex_parts[name], 2
    try:
        canon = normalise_precision(name)
    except ValueError:
        return None
    return canon, 2 if name.endswith("_x2") and name.startswith("float4") else 1


def _add(counts: dict[str, int], dtype: Any, n: int) -> bool:
    """Add ``n`` elements of ``dtype`` to ``counts``; False when the dtype is not a parameter dtype."""
    found = _dtype_precision(dtype)
    if found is None:
        return False
    precision, per_element = found
    counts[precision] = counts.get(precision, 0) + int(n) * per_element
    return True


# ---------------------------------------------------------------------------------------------------------------
# torch and Hugging Face

_QUANTIZED_MODULES = ("torch.ao.nn.quantized", "torch.nn.quantized")


def _tensor_key(t: Any) -> tuple:
    """Identity of a tensor's memory, so that two Parameter objects over the same storage count once."""
    try:
        ptr = t.data_ptr()
    except Exception:  # tensor subclasses without storage
        ptr = 0
    if not ptr:  # meta tensors, or no storage: fall back to object identity
        return ("id", id(t))
    return (str(t.device), ptr, str(t.dtype), t.numel())


def _packed_weights(module: Any, torch: Any) -> Iterator[tuple[Any, Any]]:
    """(tensor, declared dtype) for the weights and biases a quantized module keeps in packed params.

    ``torch.ao.nn.quantized`` Linear/Conv/Embedding and their dynamic variants expose ``weight()`` (a method, not
    a Parameter) and ``bias()``; dynamic LSTM/GRU expose ``get_weight()``/``get_bias()`` dicts. Unpacking a
    float16 dynamic Linear returns FP32 tensors and a quint4x2 Embedding returns quint8, so the dtype the module
    declares for its packed weights (``_packed_params.dtype`` or ``.dtype``) wins over the unpacked one.
    """
    declared = getattr(getattr(module, "_packed_params", None), "dtype", None)
    if not isinstance(declared, torch.dtype):
        declared = getattr(module, "dtype", None)
    if not isinstance(declared, torch.dtype):
        declared = None
    weight_fn = getattr(type(module), "weight", None)
    if callable(weight_fn):
        yield module.weight(), declared
        if callable(getattr(type(module), "bias", None)):
            bias = module.bias()
            if bias is not None:
                yield bias, None
    elif callable(getattr(type(module), "get_weight", None)):
        for w in module.get_weight().values():
            yield w, declared
        if callable(getattr(type(module), "get_bias", None)):
            for b in module.get_bias().values():
                if b is not None:
                    yield b, None


def _torch_counts(model: Any, torch: Any) -> tuple[dict[str, int], bool]:
    """Precision → count over a module's parameters, quantized packed weights and quantized buffers.

    Returns the tally and whether any packed/quantized weights were found. bitsandbytes ``Params4bit`` stores two
    4-bit values per uint8 byte; its ``quant_state`` knows the logical shape and the 4-bit type (nf4/fp4).
    """
    counts: dict[str, int] = {}
    seen: set[tuple] = set()
    packed = False
    for p in model.parameters():  # parameters() already drops repeats of the same Parameter object
        key = _tensor_key(p)
        if key in seen:
            continue
        seen.add(key)
        state = getattr(p, "quant_state", None)
        if type(p).__name__ == "Params4bit" and state is not None:
            shape = getattr(state, "shape", None)
            n = math.prod(shape) if shape is not None else p.numel() * 2
            if not _add(counts, getattr(state, "quant_type", None) or "int4", n):
                _add(counts, "int4", n)
            packed = True
        else:
            _add(counts, p.dtype, p.numel())
    for m in model.modules():
        if type(m).__module__.startswith(_QUANTIZED_MODULES):
            for t, declared in _packed_weights(m, torch):
                _add(counts, declared if declared is not None else t.dtype, t.numel())
                packed = True
        for b in m.buffers(recurse=False):
            if getattr(b, "is_quantized", False) and _tensor_key(b) not in seen:
                seen.add(_tensor_key(b))
                _add(counts, b.dtype, b.numel())
                packed = True
    return counts, packed


def _describe_torch(obj: Any, torch: Any) -> tuple[dict[str, int], str]:
    counts, packed = _torch_counts(obj, torch)
    what = "parameters() + quantized packed weights" if packed else "parameters()"
    transformers = sys.modules.get("transformers")
    hf_base = getattr(transformers, "PreTrainedModel", None) if transformers is not None else None
    if isinstance(hf_base, type) and isinstance(obj, hf_base):
        total = sum(counts.values())
        try:
            hf_total = int(obj.num_parameters())
        except Exception:
            hf_total = None
        if hf_total is None:
            check = "num_parameters() unavailable"
        elif hf_total == total:
            check = "agrees with num_parameters()"
        else:
            check = f"num_parameters() reports {hf_total:,}"
        return counts, f"Hugging Face PreTrainedModel {type(obj).__name__} (torch {what}; {check})"
    return counts, f"torch nn.Module {type(obj).__name__} ({what})"


# ---------------------------------------------------------------------------------------------------------------
# scikit-learn

#: Fitted attributes that are not parameters: labels, bookkeeping, or per-training-sample data.
_SKLEARN_NOT_PARAMS = frozenset({
    "classes_", "n_iter_", "n_features_in_", "feature_names_in_", "n_samples_seen_", "labels_", "embedding_",
    "support_", "n_support_", "n_outputs_", "n_classes_", "fit_status_", "shape_fit_", "train_score_",
    "validation_score_", "oob_score_", "oob_decision_function_", "oob_prediction_", "vocabulary_", "stop_words_",
    "class_weight_", "n_components_", "n_estimators_", "core_sample_indices_", "inertia_", "n_leaves_",
})


def _array_counts(counts: dict[str, int], arrays: Iterable[Any]) -> None:
    """Add numeric arrays and scalars (Python floats count as fp64, ints as int64) to ``counts``."""
    for a in arrays:
        if a is None or isinstance(a, bool):
            continue
        if isinstance(a, float):
            _add(counts, "float64", 1)
        elif isinstance(a, int):
            _add(counts, "int64", 1)
        elif hasattr(a, "dtype") and hasattr(a, "size"):
            _add(counts, a.dtype, a.size)


def _tree_counts(counts: dict[str, int], tree: Any) -> None:
    """Counting rule for one fitted tree: every node holds a threshold, a feature index and its value entries.

    For ``sklearn.tree._tree.Tree``: node_count × (1 threshold + 1 feature + n_outputs × max_n_classes values),
    each at its array's dtype (float64 thresholds and values, intp feature indices). Child links and sample
    counts are structure and statistics, not parameters.
    """
    n = int(tree.node_count)
    per_node_values = int(math.prod(tree.value.shape[1:]))
    _add(counts, tree.threshold.dtype, n)
    _add(counts, tree.feature.dtype, n)
    _add(counts, tree.value.dtype, n * per_node_values)


def _flatten(items: Any) -> list[Any]:
    if hasattr(items, "ravel") and hasattr(items, "dtype"):  # GradientBoosting keeps a 2-D object array
        return list(items.ravel())
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
    return out


def _sklearn_counts(est: Any, counts: dict[str, int], depth: int = 0) -> str | None:
    """Tally the learned values of a fitted estimator into ``counts``; returns the rule used, or None.

    Rules, first match wins (only instance attributes are read, so no property runs):
    ``best_estimator_`` (search CV) → that estimator; Pipeline ``steps`` → sum of the steps; ``tree_`` → tree
    nodes (:func:`_tree_counts`); ``estimators_`` → sum of the sub-estimators (forests, boosting, bagging, voting,
    stacking with its ``final_estimator_``); HistGradientBoosting → the same per-node rule over its predictors;
    ``support_vectors_`` → support vectors + ``dual_coef_`` + ``intercept_``; ``coefs_`` → MLP ``coefs_`` +
    ``intercepts_``; ``coef_`` → ``coef_`` + ``intercept_``; ``components_`` → ``components_`` + ``mean_``;
    ``cluster_centers_``; otherwise every public numeric array attribute ending in ``_`` except labels and
    bookkeeping (:data:`_SKLEARN_NOT_PARAMS`).
    """
    if depth > 8:
        return None
    attrs = getattr(est, "__dict__", {})
    if attrs.get("best_estimator_") is not None:
        rule = _sklearn_counts(attrs["best_estimator_"], counts, depth + 1)
        return f"best_estimator_ {type(attrs['best_estimator_']).__name__}: {rule}" if rule else None
    if isinstance(attrs.get("steps"), list):
        names = []
        for step in attrs["steps"]:
            sub = step[-1] if isinstance(step, tuple) else step
            if sub is not None and not isinstance(sub, str) and _sklearn_counts(sub, counts, depth + 1):
                names.append(type(sub).__name__)
        return f"steps {' + '.join(names)}" if names else None
    if attrs.get("tree_") is not None:
        _tree_counts(counts, attrs["tree_"])
        return "tree nodes: threshold + feature + values"
    if attrs.get("estimators_") is not None:
        subs = [e for e in _flatten(attrs["estimators_"]) if e is not None]
        if attrs.get("final_estimator_") is not None:
            subs.append(attrs["final_estimator_"])
        rules = {re.sub(r"^\d+ estimators?; ", "", r)
                 for r in (_sklearn_counts(e, counts, depth + 1) for e in subs) if r is not None}
        if not rules:
            return None
        noun = "estimator" if len(subs) == 1 else "estimators"
        return f"{len(subs)} {noun}; " + ("; ".join(sorted(rules)) if len(rules) <= 2 else "mixed rules")
    if attrs.get("_predictors") is not None:  # HistGradientBoosting*: lists of TreePredictor per iteration
        for predictor in _flatten(attrs["_predictors"]):
            nodes = predictor.nodes
            for field in ("num_threshold", "feature_idx", "value"):
                _add(counts, nodes.dtype[field], len(nodes))
        _array_counts(counts, [attrs.get("_baseline_prediction")])
        return "tree nodes: threshold + feature + value"
    for key, extra, rule in (("support_vectors_", ("dual_coef_", "intercept_"),
                              "support vectors + dual_coef_ + intercept_"),
                             ("coefs_", ("intercepts_",), "coefs_ + intercepts_"),
                             ("coef_", ("intercept_",), "coef_ + intercept_"),
                             ("components_", ("mean_",), "components_ + mean_"),
                             ("cluster_centers_", (), "cluster_centers_")):
        if attrs.get(key) is not None:
            values: list[Any] = []
            for name in (key, *extra):
                v = attrs.get(name)
                values.extend(v if isinstance(v, list) else [v])
            _array_counts(counts, values)
            return rule
    generic = [v for k, v in attrs.items()
               if k.endswith("_") and not k.startswith("_") and k not in _SKLEARN_NOT_PARAMS
               and hasattr(v, "dtype") and getattr(v, "ndim", 0) >= 1]
    before = sum(counts.values())
    _array_counts(counts, generic)
    return "fitted array attributes" if sum(counts.values()) > before else None


def _describe_sklearn(obj: Any) -> tuple[dict[str, int], str] | None:
    counts: dict[str, int] = {}
    rule = _sklearn_counts(obj, counts)
    if rule is None:
        return None
    return counts, f"scikit-learn {type(obj).__name__} ({rule})"


# ---------------------------------------------------------------------------------------------------------------
# ONNX

#: ONNX initializer types that hold shapes, indices and masks rather than weights in practice.
_ONNX_NOT_WEIGHTS = frozenset({"INT64", "UINT64", "BOOL", "STRING"})


def _describe_onnx(model: Any, onnx: Any) -> tuple[dict[str, int], str]:
    """Count graph initializers (dense by their dims, sparse by their stored values) by ``TensorProto`` type.

    int64/bool/string initializers are skipped: exporters use them for Reshape targets, Gather indices and masks.
    External-data initializers are counted from their dims; the data itself is not read.
    """
    counts: dict[str, int] = {}
    graph = model.graph
    tensors = [(t.data_type, t.dims) for t in graph.initializer]
    tensors += [(s.values.data_type, s.values.dims) for s in graph.sparse_initializer]
    skipped = 0
    for data_type, dims in tensors:
        name = onnx.TensorProto.DataType.Name(data_type)
        if name in _ONNX_NOT_WEIGHTS or not _add(counts, name, math.prod(dims)):
            skipped += 1
    note = f"; {skipped} int64/bool/other skipped" if skipped else ""
    return counts, f"ONNX ModelProto initializers ({len(tensors) - skipped} tensors{note})"


# ---------------------------------------------------------------------------------------------------------------
# arrays, tensors and containers of them


def _is_array(obj: Any) -> bool:
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    return bool((np is not None and isinstance(obj, np.ndarray))
                or (torch is not None and isinstance(obj, torch.Tensor)))


def _array_leaves(obj: Any, out: list[Any], depth: int = 0) -> bool:
    """Collect array leaves of nested dicts/lists/tuples; False as soon as a leaf is anything else."""
    if _is_array(obj):
        out.append(obj)
        return True
    if depth >= 4:
        return False
    if isinstance(obj, Mapping):
        children: Iterable[Any] = obj.values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    else:
        return False
    return all(_array_leaves(child, out, depth + 1) for child in children)


def _describe_arrays(obj: Any) -> tuple[dict[str, int], str] | None:
    leaves: list[Any] = []
    if not _array_leaves(obj, leaves) or not leaves:
        return None
    counts: dict[str, int] = {}
    for a in leaves:
        n = a.numel() if hasattr(a, "numel") and callable(a.numel) else a.size
        if not _add(counts, a.dtype, n):
            return None  # bool masks, strings, objects: not weights
    if _is_array(obj):
        kind = "torch tensor" if type(obj).__module__.startswith("torch") else "numpy array"
        return counts, f"{kind} {tuple(obj.shape)}"
    noun = "tensors" if any(type(a).__module__.startswith("torch") for a in leaves) else "arrays"
    return counts, f"{type(obj).__name__} of {len(leaves)} {noun}"


# ---------------------------------------------------------------------------------------------------------------
# public entry points


def _inspect(obj: Any) -> tuple[dict[str, int], str, bool] | None:
    """(counts, source, is_model) for a supported object; is_model is False for bare arrays and containers."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return (*_describe_torch(obj, torch), True)
    if type(obj).__module__.startswith("sklearn.") and "sklearn" in sys.modules:
        found = _describe_sklearn(obj)
        return (*found, True) if found else None
    onnx = sys.modules.get("onnx")
    if onnx is not None and isinstance(obj, onnx.ModelProto):
        return (*_describe_onnx(obj, onnx), True)
    found = _describe_arrays(obj)
    return (*found, False) if found else None


def describe(obj: Any, *, variable: str | None = None) -> ModelInfo | None:
    """Parameter count and precision mix of ``obj``, or ``None`` when it is not a model this module knows.

    Supported: torch ``nn.Module`` (incl. Hugging Face ``PreTrainedModel`` and torch quantized modules), fitted
    scikit-learn estimators, ONNX ``ModelProto``, numpy arrays / torch tensors and dicts, lists, tuples of them.
    Objects with no parameters (an ``nn.ReLU``, an unfitted estimator) also give ``None``.
    """
    found = _inspect(obj)
    if found is None:
        return None
    counts, source, _ = found
    return _build(counts, source, variable)


_IPYTHON_NAMES = re.compile(r"^(_+|_i+\d*|_\d+|_oh|_ih|_dh|In|Out|get_ipython|exit|quit)$")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _referenced_names(cell_source: str) -> list[str]:
    """Identifiers the cell mentions, in order of first appearance.

    Parsed with ``ast`` so that strings and comments do not count; cells with IPython syntax (``!ls``,
    ``%time``) fall back to identifier-shaped tokens.
    """
    try:
        tree = ast.parse(cell_source)
    except (SyntaxError, ValueError):
        names = [t for t in _TOKEN.findall(cell_source) if not keyword.iskeyword(t)]
    else:
        nodes = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name)), key=lambda n: (n.lineno, n.col_offset))
        names = [n.id for n in nodes]
    return [n for n in dict.fromkeys(names) if not _IPYTHON_NAMES.match(n)]


def _resolve(path: str, user_ns: Mapping[str, object]) -> Any:
    head, *rest = path.split(".")
    if head not in user_ns:
        raise ValueError(f"--model {path}: there is no variable named {head!r} in the notebook")
    obj = user_ns[head]
    for i, attr in enumerate(rest, 1):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ValueError(f"--model {path}: {'.'.join([head, *rest[:i - 1]])} has no attribute {attr!r}") from None
    return obj


def _wrapped_model(obj: Any) -> Any:
    """The ``model`` instance attribute of a wrapper (a Hugging Face pipeline, ...), read without properties."""
    if isinstance(obj, type):
        return None
    try:
        attrs = object.__getattribute__(obj, "__dict__")
        return attrs.get("model") if isinstance(attrs, dict) else None
    except Exception:
        return None


def find_in_namespace(cell_source: str, user_ns: Mapping[str, object],
                      explicit: str | None = None) -> ModelInfo | None:
    """The model a cell works with, for ESS; call it after the cell ran so that models it created are seen.

    ``explicit`` (``--model VAR``, dotted paths such as ``pipe.model`` allowed) must name a supported model or
    array container, else ``ValueError`` says why. Without it, every name the cell references is looked up in
    ``user_ns``; torch, Hugging Face, scikit-learn and ONNX models count (a Hugging Face pipeline's or any
    wrapper's ``.model`` attribute too), bare arrays and dicts of arrays do not (they are usually data). The
    largest model by ``n_params`` wins, first mentioned on ties; ``variable`` says which. ``None`` when no
    referenced name holds a model. Auto-detection never raises.
    """
    if explicit:
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", explicit):
            raise ValueError(f"--model takes a variable name such as model or pipe.model, got {explicit!r}")
        obj = _resolve(explicit, user_ns)
        try:
            info = describe(obj, variable=explicit)
        except Exception as exc:
            raise ValueError(f"--model {explicit}: counting the parameters of {type(obj).__name__} failed "
                             f"({type(exc).__name__}: {exc}); pass --params and --precision instead") from exc
        if info is None:
            raise ValueError(f"--model {explicit}: a {type(obj).__name__} is not a model eco_magic can count "
                             "(torch/Hugging Face, fitted scikit-learn, ONNX, arrays) or it has no parameters; "
                             "pass --params and --precision instead")
        return info

    best: ModelInfo | None = None
    seen: set[int] = set()
    for name in _referenced_names(cell_source):
        if name not in user_ns:
            continue
        candidates = [(name, user_ns[name])]
        inner = _wrapped_model(user_ns[name])
        if inner is not None:
            candidates.append((f"{name}.model", inner))
        for label, obj in candidates:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            try:
                found = _inspect(obj)
                info = _build(found[0], found[1], label) if found is not None and found[2] else None
            except Exception:
                continue
            if info is not None and (best is None or info.n_params > best.n_params):
                best = info
    return best
