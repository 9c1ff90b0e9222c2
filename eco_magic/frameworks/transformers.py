"""Hugging Face ``transformers``: model parameters and precision, and token accounting for ``generate``.

Parameters: a ``PreTrainedModel`` is a torch module, counted by :mod:`.torch`'s rules and cross-checked against
``num_parameters()``. Its ``config.quantization_config`` (GPTQ, AWQ, bitsandbytes, torchao, …) gives the width of
packed-int layers whose storage (``qweight`` in int32) would otherwise be taken for their precision.

Tokens: while a measurement runs, ``GenerationMixin.generate`` — which every model's ``generate`` and every
pipeline built on generation reach — is wrapped to count, per outermost call, the prompt tokens (attention mask,
else non-pad tokens as transformers itself infers the mask) and the generated tokens of each returned sequence up
to and including its first end-of-sequence token, trailing padding excluded. transformers is never imported here.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from . import torch as torch_adapter
from .base import Budget, Counted

NAME = "transformers"
LIBRARY = "transformers"
ORDER = 10  # before torch: a PreTrainedModel is also an nn.Module
#: the module whose import makes generation callable: the token hook is installed once it is loaded
HOOK_MODULE = "transformers.generation.utils"


def claims(cls: type, transformers: Any) -> bool:
    base = _attr(transformers, "PreTrainedModel", "modeling_utils")
    return isinstance(base, type) and issubclass(cls, base)


def _attr(transformers: Any, name: str, submodule: str) -> Any:
    """``transformers.<name>`` without triggering its lazy import: the submodule must already be loaded."""
    module = sys.modules.get(f"{getattr(transformers, '__name__', LIBRARY)}.{submodule}")
    if module is not None:
        return getattr(module, name, None)
    return getattr(transformers, "__dict__", {}).get(name)


def quantization_config(model: Any) -> tuple[str, int | None, str] | None:
    """(method, bits, description) from ``model.config.quantization_config``; ``None`` when there is none."""
    config = getattr(model, "__dict__", {}).get("config")
    qc = getattr(config, "quantization_config", None) if config is not None else None
    if qc is None:
        return None
    get = qc.get if isinstance(qc, dict) else (lambda k, d=None: getattr(qc, k, d))
    raw = get("quant_method", None)
    method = str(getattr(raw, "value", raw) or "unknown").lower()  # an enum in config objects, a str in dicts
    bits = None
    for key in ("bits", "w_bit", "weight_bits", "nbits"):
        v = get(key, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            bits = v
            break
    if bits is None and get("load_in_4bit", False):
        bits = 4
    elif bits is None and get("load_in_8bit", False):
        bits = 8
    parts = [str(method)] + ([f"bits={bits}"] if bits else [])
    qtype = get("bnb_4bit_quant_type", None) if get("load_in_4bit", False) else None
    if qtype:
        parts.append(str(qtype))
    return str(method), bits, f"quantization_config ({', '.join(parts)})"


def count(obj: Any, transformers: Any, budget: Budget) -> Counted | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    qc = quantization_config(obj)
    bits, origin = (qc[1], qc[2]) if qc is not None else (None, "")
    tally = torch_adapter.Tally(torch, budget, packed_bits=bits, packed_origin=origin)
    tally.module(obj)
    total = sum(tally.counts.values())
    try:
        hf_total = int(obj.num_parameters())
    except Exception:  # noqa: BLE001
        hf_total = None
    if hf_total is None:
        check = "num_parameters() unavailable"
    elif hf_total == total:
        check = "agrees with num_parameters()"
    else:
        check = f"num_parameters() reports {hf_total:,}"
    what = "parameters() + quantized packed weights" if tally.packed else "parameters()"
    if tally.unknown_packed:
        check += f"; {tally.unknown_packed:,} packed qweight values of unknown width not counted"
    precision_source = tally.precision_source()
    if qc is not None and qc[2] not in precision_source:
        precision_source += f"; model has {qc[2]}"
    return Counted(tally.counts, f"Hugging Face PreTrainedModel {type(obj).__name__} (torch {what}; {check})",
                   precision_source)


# --------------------------------------------------------------------------------------------- token accounting
def install_token_hook(record: Callable[..., bool], failed: Callable[[str], None]) -> Callable[[], None] | None:
    """Wrap ``GenerationMixin.generate``; returns the function that puts the original back.

    ``None`` when generation has not been loaded (then nothing can call it without importing it first).
    """
    utils = sys.modules.get(HOOK_MODULE)
    mixin = getattr(utils, "GenerationMixin", None)
    original = getattr(mixin, "__dict__", {}).get("generate")
    if original is None:
        return None
    from .tokens import DEPTH

    @functools.wraps(original)
    def generate(self, *args, **kwargs):
        if DEPTH.get():
            return original(self, *args, **kwargs)
        token = DEPTH.set(1)
        try:
            out = original(self, *args, **kwargs)
        finally:
            DEPTH.reset(token)
        try:
            tokens_in, tokens_out, responses = count_generation(self, args, kwargs, out)
        except Exception as exc:  # noqa: BLE001 - counting never changes what generate returns
            failed(f"transformers generate() ({type(exc).__name__}: {exc})")
        else:
            record(tokens_in, tokens_out, responses, "transformers generate()")
        return out

    generate.__eco_magic_original__ = original  # type: ignore[attr-defined]
    mixin.generate = generate

    def restore() -> None:
        if mixin.__dict__.get("generate") is generate:
            mixin.generate = original

    return restore


def _ids(value: Any) -> set[int]:
    if value is None:
        return set()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple, set)):
        return {int(v) for v in value if v is not None}
    return {int(value)}


def count_generation(model: Any, args: tuple, kwargs: dict, out: Any) -> tuple[int, int, int]:
    """(prompt tokens, generated tokens, responses) of one ``generate`` call and its output."""
    torch = sys.modules["torch"]
    sequences = getattr(out, "sequences", out)
    if not isinstance(sequences, torch.Tensor) or sequences.ndim != 2:
        raise TypeError(f"unexpected generate() output {type(out).__name__}")
    inputs = kwargs.get("input_ids", kwargs.get("inputs"))
    if inputs is None and args:
        inputs = args[0]
    embeds = kwargs.get("inputs_embeds")
    mask = kwargs.get("attention_mask")
    gen_cfg = kwargs.get("generation_config") or getattr(model, "generation_config", None)
    eos = _ids(kwargs["eos_token_id"] if "eos_token_id" in kwargs else getattr(gen_cfg, "eos_token_id", None))
    pad = kwargs["pad_token_id"] if "pad_token_id" in kwargs else getattr(gen_cfg, "pad_token_id", None)
    pad = None if pad is None else int(pad.item() if hasattr(pad, "item") else pad)
    enc_dec = bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))
    token_ids = inputs is not None and isinstance(inputs, torch.Tensor) and not inputs.is_floating_point() \
        and inputs.ndim == 2

    # prompt tokens: what transformers itself attends to
    if isinstance(mask, torch.Tensor) and (token_ids or embeds is not None):
        tokens_in = int(mask.sum())
    elif token_ids:
        if pad is not None and pad not in eos and bool((inputs == pad).any()):
            tokens_in = int((inputs != pad).sum())
        else:
            tokens_in = int(inputs.numel())
    elif isinstance(embeds, torch.Tensor) and embeds.ndim == 3:
        tokens_in = int(embeds.shape[0] * embeds.shape[1])
    else:
        tokens_in = 0  # audio features, pixel values…: not tokens

    # where the generated part of each returned sequence starts
    if enc_dec:
        dec = kwargs.get("decoder_input_ids")
        start = int(dec.shape[1]) if isinstance(dec, torch.Tensor) and dec.ndim == 2 else 1
    elif token_ids:
        start = int(inputs.shape[1])
    else:
        start = 0  # generation from inputs_embeds alone returns only the new tokens
    new = sequences[:, start:]
    responses, width = int(new.shape[0]), int(new.shape[1])
    if width == 0 or responses == 0:
        return tokens_in, 0, responses
    positions = torch.arange(width, device=new.device)
    length = torch.full((responses,), width, dtype=torch.long, device=new.device)
    if eos:
        is_eos = torch.isin(new, torch.tensor(sorted(eos), device=new.device, dtype=new.dtype))
        first = torch.where(is_eos, positions, width).min(dim=1).values
        length = torch.minimum(length, first + 1)
    if pad is not None and pad not in eos:  # finished sequences are filled with pad: drop trailing pads
        kept = (new != pad) & (positions < length[:, None])
        length = torch.where(kept, positions + 1, 0).max(dim=1).values
    return tokens_in, int(length.sum()), responses
