"""PyTorch ``nn.Module``: parameters, quantized packed weights, and the ways LLMs are quantized.

What is counted, each value once (tied parameters and views of one storage once):

==============================  ==================================================================================
plain parameters                ``parameters()`` by dtype (a *dtype census*)
torch.ao quantized modules      weights and biases kept in packed params (``weight()`` / ``get_weight()``) at the
                                dtype the module *declares* (a float16 dynamic Linear unpacks to FP32)
quantized buffers               buffers with ``is_quantized``
torchao tensor subclasses       ``Int8Tensor``, ``IntxUnpackedToInt8Tensor``, ``Float8Tensor``, ``AffineQuantized
                                Tensor``…: they report the *original* float dtype, so the precision comes from
                                ``target_dtype``, else the ``quant_min``/``quant_max`` range, else the bits the
                                quantized data takes per logical value
bitsandbytes                    ``Params4bit`` (two 4-bit values per byte; ``quant_state`` has the logical shape and
                                nf4/fp4) and ``Int8Params`` (int8 once quantized)
packed-int layers (GPTQ, AWQ)   any module with a ``qweight`` tensor: ``qweight`` packs 32/bits values per int32,
                                so the width comes from the module (``bits``/``w_bit``) or the model's
                                ``quantization_config``; ``qzeros``/``scales``/``g_idx`` are quantization metadata
==============================  ==================================================================================

torch is never imported here: an ``nn.Module`` can only exist once torch is in ``sys.modules``.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

from .base import Budget, Counted, add_count, bits_precision, dtype_precision

NAME = "torch"
LIBRARY = "torch"
ORDER = 20

_QUANTIZED_MODULES = ("torch.ao.nn.quantized", "torch.nn.quantized")
#: Names of the packed weight tensor of GPTQ / AWQ / Marlin / ExLlama linear layers.
_PACKED_NAMES = ("qweight",)


def claims(cls: type, torch: Any) -> bool:
    return issubclass(cls, torch.nn.Module)


def count(obj: Any, torch: Any, budget: Budget) -> Counted | None:
    tally = Tally(torch, budget)
    tally.module(obj)
    what = "parameters() + quantized packed weights" if tally.packed else "parameters()"
    return Counted(tally.counts, f"torch nn.Module {type(obj).__name__} ({what})", tally.precision_source())


class Tally:
    """Precision → count over one module tree, with the rules of the module docstring.

    ``packed_bits``: the width of ``qweight`` layers when the module itself does not say (from a Hugging Face
    ``quantization_config``); ``packed_origin`` names where it came from.
    """

    def __init__(self, torch: Any, budget: Budget, packed_bits: int | None = None, packed_origin: str = ""):
        self.torch = torch
        self.budget = budget
        self.counts: dict[str, int] = {}
        self.seen: set[tuple] = set()
        self.packed = False
        self.how: dict[str, int] = {}  # rule → values counted by it, for precision_source
        self.packed_bits = packed_bits
        self.packed_origin = packed_origin
        self.unknown_packed = 0

    def _add(self, precision_or_dtype: Any, n: int, rule: str) -> None:
        if add_count(self.counts, precision_or_dtype, n):
            self.how[rule] = self.how.get(rule, 0) + int(n)

    def precision_source(self) -> str:
        if not self.how:
            return "dtype census"
        rules = sorted(self.how, key=lambda r: -self.how[r])
        return "; ".join(rules)

    # ---------------------------------------------------------------------------------------------- walking
    def module(self, model: Any) -> None:
        packed_layers: list[Any] = []
        for m in model.modules():
            self.budget.tick()
            if type(m).__module__.startswith(_QUANTIZED_MODULES):
                for t, declared in _packed_weights(m, self.torch):
                    self.seen.add(_tensor_key(t))
                    self._add(declared if declared is not None else t.dtype, t.numel(),
                              "torch.ao quantized packed weights (declared dtype)")
                    self.packed = True
            qweight = _own_tensor(m, _PACKED_NAMES)
            if qweight is not None:
                packed_layers.append((m, qweight))
        for m, qweight in packed_layers:
            self._packed_int(m, qweight)
        for p in model.parameters():  # parameters() already drops repeats of the same Parameter object
            self.budget.tick()
            self.tensor(p)
        for m in model.modules():
            self.budget.tick()
            for b in m.buffers(recurse=False):
                if getattr(b, "is_quantized", False) and _tensor_key(b) not in self.seen:
                    self.seen.add(_tensor_key(b))
                    self._add(b.dtype, b.numel(), "quantized buffers")
                    self.packed = True

    def tensor(self, p: Any) -> None:
        key = _tensor_key(p)
        if key in self.seen:
            return
        self.seen.add(key)
        cls = type(p)
        name = cls.__name__
        if name == "Params4bit":  # bitsandbytes 4-bit: two values per uint8 byte once quantized
            state = getattr(p, "quant_state", None)
            qtype = str(getattr(state, "quant_type", None) or getattr(p, "quant_type", None) or "int4")
            if state is not None or str(p.dtype) == "torch.uint8":
                shape = getattr(state, "shape", None)
                n = math.prod(shape) if shape is not None else p.numel() * 2
                self._add(qtype if dtype_precision(qtype) else "int4", n, f"bitsandbytes Params4bit ({qtype})")
                self.packed = True
                return
            self._add(p.dtype, p.numel(), "dtype census (bitsandbytes Params4bit not yet quantized)")
            return
        if name == "Int8Params":
            rule = ("bitsandbytes Int8Params" if str(p.dtype) == "torch.int8"
                    else "dtype census (bitsandbytes Int8Params not yet quantized)")
            self._add(p.dtype, p.numel(), rule)
            self.packed = self.packed or str(p.dtype) == "torch.int8"
            return
        if _is_subclass_tensor(cls, self.torch):
            found = _subclass_precision(p, self.torch)
            if found is not None:
                precision, rule = found
                self._add(precision, p.numel(), rule)
                self.packed = True
                return
        self._add(p.dtype, p.numel(), "dtype census")

    def _packed_int(self, m: Any, qweight: Any) -> None:
        """A GPTQ / AWQ style layer: ``qweight`` packs ``32 / bits`` values into each int32."""
        self.seen.add(_tensor_key(qweight))
        bits, origin = None, ""
        for attr in ("bits", "w_bit", "wbits"):
            v = getattr(m, "__dict__", {}).get(attr)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                bits, origin = v, f"{type(m).__name__}.{attr}"
                break
        if bits is None and self.packed_bits:
            bits, origin = self.packed_bits, self.packed_origin
        storage_bits = qweight.element_size() * 8
        precision = bits_precision(bits) if bits else None
        if precision is None:
            self.unknown_packed += qweight.numel()
            return
        inner = getattr(m, "__dict__", {})
        fin = inner.get("in_features", inner.get("infeatures"))
        fout = inner.get("out_features", inner.get("outfeatures"))
        if isinstance(fin, int) and isinstance(fout, int):
            n = fin * fout
        else:
            n = qweight.numel() * storage_bits // bits
        self._add(precision, n, f"packed {bits}-bit weights ({origin})")
        self.packed = True
        # the layer's metadata (zeros, scales, group index) is not a parameter; its bias is
        for meta in ("qzeros", "scales", "g_idx", "scales_and_zeros", "workspace"):
            t = _own_tensor(m, (meta,))
            if t is not None:
                self.seen.add(_tensor_key(t))
        bias = (getattr(m, "__dict__", {}).get("_buffers") or {}).get("bias")
        if bias is not None and _tensor_key(bias) not in self.seen:  # GPTQ layers keep their bias as a buffer
            self.seen.add(_tensor_key(bias))
            self._add(bias.dtype, bias.numel(), "dtype census")


def _own_tensor(m: Any, names: tuple[str, ...]) -> Any:
    """A tensor registered on ``m`` itself (parameter or buffer) under one of ``names``, else None."""
    d = getattr(m, "__dict__", {})
    for group in ("_buffers", "_parameters"):
        entries = d.get(group) or {}
        for name in names:
            t = entries.get(name)
            if t is not None:
                return t
    for name in names:
        t = d.get(name)
        if t is not None and hasattr(t, "numel") and hasattr(t, "element_size"):
            return t
    return None


def _tensor_key(t: Any) -> tuple:
    """Identity of a tensor's memory, so that two Parameter objects over the same storage count once."""
    try:
        ptr = t.data_ptr()
    except Exception:  # tensor subclasses without storage
        ptr = 0
    if not ptr:  # meta tensors, or no storage: fall back to object identity
        return ("id", id(t))
    return (str(t.device), ptr, str(t.dtype), t.numel())


def _is_subclass_tensor(cls: type, torch: Any) -> bool:
    return cls not in (torch.Tensor, torch.nn.Parameter) and hasattr(cls, "__tensor_flatten__")


def _subclass_precision(p: Any, torch: Any) -> tuple[str, str] | None:
    """(precision, rule) for a torchao-style tensor subclass, whose ``dtype`` is the dtype it dequantizes to."""
    cls = type(p)
    label = f"torchao {cls.__name__}" if cls.__module__.startswith("torchao") else f"tensor subclass {cls.__name__}"
    attrs = getattr(p, "__dict__", {})
    target = attrs.get("target_dtype")
    if isinstance(target, torch.dtype) and dtype_precision(target) is not None:
        return dtype_precision(target)[0], f"{label} target_dtype"
    qmin, qmax = attrs.get("quant_min"), attrs.get("quant_max")
    if isinstance(qmin, int) and isinstance(qmax, int) and qmax > qmin:
        precision = bits_precision(math.ceil(math.log2(qmax - qmin + 1)))
        if precision is not None:
            return precision, f"{label} quant_min/quant_max"
    try:
        names, _ = p.__tensor_flatten__()
        inner = [(n, getattr(p, n)) for n in names]
    except Exception:
        return None
    inner = [(n, t) for n, t in inner if t is not None and hasattr(t, "element_size")]
    if not inner:
        return None
    # the quantized data: by name, else the tensor that takes the most bytes
    named = [t for n, t in inner if n in ("qdata", "int_data", "packed_weight", "data")]
    qdata = named[0] if named else max(inner, key=lambda nt: nt[1].numel() * nt[1].element_size())[1]
    if _is_subclass_tensor(type(qdata), torch):  # nested (AffineQuantizedTensor → tensor_impl)
        found = _subclass_precision(qdata, torch)
        return (found[0], f"{label} → {found[1]}") if found else None
    logical = p.numel()
    if not logical or qdata.dtype == p.dtype:  # same dtype: a wrapper (DTensor shard, fake tensor), not quantized
        return None
    own_bits = qdata.element_size() * 8
    bits = own_bits * qdata.numel() / logical
    if abs(bits - own_bits) < 1e-9 and dtype_precision(qdata.dtype) is not None:
        return dtype_precision(qdata.dtype)[0], f"{label} quantized data dtype"
    float4 = any(s in cls.__name__.lower() for s in ("float4", "fp4", "mx", "nvfp4"))
    precision = "fp4" if float4 and round(bits) == 4 else bits_precision(round(bits))
    return (precision, f"{label} bits per value of its packed data") if precision else None


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
