"""Precision of quantized LLMs for ESS (issue 12 item 3): each way people quantize, with the real library where it
installs on CPU (torch.ao, torchao, bitsandbytes), else with the model's own config objects and the layers' real
packed layout (GPTQ, AWQ). Storage dtype must never be taken for precision; precision_source says how it was
decided."""
from __future__ import annotations

import warnings

import pytest
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic.models import describe

torch = pytest.importorskip("torch")
nn = torch.nn


def _linears(*shapes):
    return nn.Sequential(*(nn.Linear(i, o) for i, o in shapes))


def test_torch_dynamic_quantization_of_an_llm():
    pytest.importorskip("transformers")
    from tiny_lm import tiny_llama

    model = tiny_llama()
    linear_w = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    info = describe(q)
    assert info.precision_mix["int8"] == linear_w
    assert info.n_params == model.num_parameters()
    assert "torch.ao quantized packed weights" in info.precision_source


# --- torchao -------------------------------------------------------------------------------------------------

@pytest.fixture
def torchao():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("torchao.quantization")


def _quantize(torchao, model, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torchao.quantize_(model, config)
    return model


def test_torchao_int8_weights_are_not_taken_for_their_float_dtype(torchao):
    model = _quantize(torchao, _linears((64, 32), (32, 16)), torchao.Int8WeightOnlyConfig())
    assert model[0].weight.dtype == torch.float32          # the trap: the subclass reports its float dtype
    info = describe(model)
    assert info.precision_mix == {"int8": 64 * 32 + 32 * 16, "fp32": 32 + 16}
    assert "torchao Int8Tensor" in info.precision_source


def test_torchao_int4_weights_from_target_dtype(torchao):
    model = _quantize(torchao, _linears((64, 32)), torchao.IntxWeightOnlyConfig(weight_dtype=torch.int4))
    assert model[0].weight.qdata.dtype == torch.int8        # stored unpacked in int8 ...
    info = describe(model)
    assert info.precision_mix == {"int4": 64 * 32, "fp32": 32}   # ... but 4-bit values
    assert "target_dtype" in info.precision_source


def test_torchao_float8_weights(torchao):
    model = _quantize(torchao, _linears((64, 32)), torchao.Float8WeightOnlyConfig())
    assert describe(model).precision_mix == {"fp8": 64 * 32, "fp32": 32}


# --- bitsandbytes --------------------------------------------------------------------------------------------

@pytest.fixture
def bnb():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("bitsandbytes")


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_bitsandbytes_4bit_layers(bnb, quant_type):
    layer = bnb.nn.Linear4bit(64, 32, quant_type=quant_type).to("cpu")   # quantized when moved to a device
    assert layer.weight.dtype == torch.uint8 and layer.weight.numel() == 64 * 32 // 2  # packed: 2 per byte
    info = describe(nn.Sequential(layer))
    assert info.precision_mix == {quant_type: 64 * 32, "fp32": 32}
    assert f"bitsandbytes Params4bit ({quant_type})" in info.precision_source


def test_bitsandbytes_8bit_layer(bnb):
    layer = bnb.nn.Linear8bitLt(64, 32, has_fp16_weights=False).to("cpu")
    info = describe(nn.Sequential(layer))
    assert info.precision_mix == {"int8": 64 * 32, "fp32": 32}
    assert "bitsandbytes Int8Params" in info.precision_source


@pytest.mark.parametrize("load", ["4bit", "8bit"])
def test_transformers_bitsandbytes_model(bnb, tmp_path, load):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from tiny_lm import tiny_gpt2

    tiny_gpt2(n_embd=32).save_pretrained(tmp_path)
    config = transformers.BitsAndBytesConfig(**{f"load_in_{load}": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, quantization_config=config)
    info = describe(model)
    assert info.n_params == model.num_parameters()
    quantized = {p for p in info.precision_mix if p not in ("fp32", "fp16")}
    assert quantized == ({"fp4"} if load == "4bit" else {"int8"})  # BitsAndBytesConfig's 4-bit default is fp4
    assert f"quantization_config (bitsandbytes, bits={load[0]}" in info.precision_source


# --- GPTQ / AWQ: packed int32 storage, width from the layer or the quantization_config ----------------------

@pytest.mark.parametrize("method, layer_bits", [("gptq", True), ("gptq", False), ("awq", False)])
@pytest.mark.parametrize("bits", [4, 8])
def test_packed_int_layers(method, layer_bits, bits):
    transformers = pytest.importorskip("transformers")
    from tiny_lm import pack_linear_layers, tiny_llama

    model = tiny_llama()
    before = model.num_parameters()
    weights, biases = pack_linear_layers(model, bits, layer_bits=layer_bits)
    config_cls = transformers.GPTQConfig if method == "gptq" else transformers.AwqConfig
    model.config.quantization_config = config_cls(bits=bits)
    info = describe(model)
    assert info.precision_mix[f"int{bits}"] == weights       # not int32: 32/bits values per stored int32
    assert "int32" not in info.precision_mix
    assert info.precision_mix["fp16"] == biases
    assert info.n_params == before + biases                  # the packed layers gained a bias
    source = info.precision_source
    assert (f"{'QuantLinear.bits' if layer_bits else f'quantization_config ({method}, bits={bits})'}"
            in source), source


def test_packed_layers_without_any_width_are_not_guessed():
    pytest.importorskip("transformers")
    from tiny_lm import pack_linear_layers, tiny_llama

    model = tiny_llama()
    pack_linear_layers(model, 4, layer_bits=False)          # and no quantization_config
    info = describe(model)
    assert "int4" not in info.precision_mix and "int32" not in info.precision_mix
    assert "packed qweight values of unknown width not counted" in info.source


# --- what the card gets ------------------------------------------------------------------------------------------

def test_precision_source_reaches_the_result(ip):
    pytest.importorskip("transformers")
    from tiny_lm import pack_linear_layers, tiny_llama
    import transformers

    model = tiny_llama()
    pack_linear_layers(model, 4, layer_bits=False)
    model.config.quantization_config = transformers.GPTQConfig(bits=4)
    ip.user_ns["llm"] = model
    with capture_output():
        res = ip.run_cell("%%ecolyze -q\nllm.eval()")
    assert res.success
    r = eco_magic.ledger()[-1]
    assert r.model_variable == "llm" and r.precision == "mixed"
    assert "quantization_config (gptq, bits=4)" in r.precision_source
    with capture_output():
        ip.run_cell("%%ecolyze -q --precision int8\nllm.eval()")
    assert eco_magic.ledger()[-1].precision_source == "user-supplied (--precision)"


def test_a_tensor_subclass_that_is_not_quantized_keeps_its_dtype():
    """A wrapper subclass whose inner data has the outer dtype (a shard, a fake tensor) is not a packed format,
    even when the inner tensor holds fewer values than the logical one."""

    class Shard(torch.Tensor):
        @staticmethod
        def __new__(cls, local, logical_shape):
            return torch.Tensor._make_wrapper_subclass(cls, logical_shape, dtype=local.dtype)

        def __init__(self, local, logical_shape):
            self.local = local

        def __tensor_flatten__(self):
            return ["local"], None

        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            if func is torch.ops.aten.detach.default:  # what nn.Parameter(...) calls
                return Shard(args[0].local.detach(), args[0].shape)
            raise NotImplementedError(func)

    layer = nn.Module()
    layer.weight = nn.Parameter(Shard(torch.zeros(4, 8), (32, 8)), requires_grad=False)
    assert describe(layer).precision_mix == {"fp32": 256}
