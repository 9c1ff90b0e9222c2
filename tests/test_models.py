"""Parameter counts and precision detection for ESS (eco_magic.models), checked against hand counts."""
from __future__ import annotations

import subprocess
import sys
import types
import warnings

import pytest

from eco_magic.frameworks.base import build_info
from eco_magic.models import QF, describe, find_in_namespace, from_user_args, normalise_precision


# --- precision names and the user path ------------------------------------------------------------------------

@pytest.mark.parametrize("text, canon", [
    ("FP16", "fp16"), ("float16", "fp16"), ("half", "fp16"), ("torch.float16", "fp16"), ("bfloat16", "bf16"),
    ("fp32", "fp32"), ("Float32", "fp32"), ("double", "fp64"), ("q8", "int8"), ("int8", "int8"),
    ("qint8", "int8"), ("8-bit", "int8"), ("quint8", "uint8"), ("4bit", "int4"), ("Q4_K_M", "int4"),
    ("nf4", "nf4"), ("float8_e4m3fn", "fp8"), (" tf32 ", "tf32"),
])
def test_normalise_precision_aliases(text, canon):
    assert normalise_precision(text) == canon


def test_normalise_precision_unknown_lists_accepted():
    with pytest.raises(ValueError) as err:
        normalise_precision("fp12")
    message = str(err.value)
    assert "'fp12'" in message
    for name in ("fp32", "fp16", "bf16", "int8", "int4"):
        assert name in message


def test_qf_table_follows_paper():
    assert (QF["fp32"], QF["fp16"], QF["bf16"], QF["int8"], QF["int4"]) == (1.0, 0.5, 0.5, 0.25, 0.125)
    assert QF["fp64"] == 1.0  # capped, never a premium
    assert all(0 < v <= 1.0 for v in QF.values())


def test_paper_worked_example_7b_int8():
    info = from_user_args(7e9, "INT8")
    assert info.effective_params_m == 1750.0
    assert (info.n_params, info.precision, info.qf) == (7_000_000_000, "int8", 0.25)
    assert info.precision_mix == {"int8": 7_000_000_000}
    assert "user" in info.source


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), True, "7e9"])
def test_from_user_args_rejects_bad_counts(bad):
    with pytest.raises(ValueError):
        from_user_args(bad, "fp32")


def test_from_user_args_rejects_unknown_precision():
    with pytest.raises(ValueError, match="unknown precision"):
        from_user_args(1e6, "fp13")


def test_mixed_precision_summary_rule():
    info = build_info({"int8": 98, "fp32": 2}, "test", None)
    assert info.precision == "mixed"
    assert info.effective_params_m == pytest.approx((98 * 0.25 + 2) / 1e6)
    assert info.qf == pytest.approx((98 * 0.25 + 2) / 100)
    assert list(info.precision_mix) == ["int8", "fp32"]
    assert build_info({"int8": 990, "fp32": 10}, "test", None).precision == "int8"
    assert build_info({}, "test", None) is None


# --- torch ----------------------------------------------------------------------------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _small(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_torch_fp32_hand_count(torch):
    info = describe(_small(torch))
    assert info.n_params == 4 * 3 + 3 + 3 * 2 + 2 == 23
    assert info.precision_mix == {"fp32": 23}
    assert (info.precision, info.qf) == ("fp32", 1.0)
    assert info.effective_params_m == pytest.approx(23e-6)
    assert info.source.startswith("torch nn.Module Sequential")


def test_torch_half(torch):
    info = describe(_small(torch).half())
    assert info.precision_mix == {"fp16": 23}
    assert (info.precision, info.qf) == ("fp16", 0.5)
    assert info.effective_params_m == pytest.approx(23 * 0.5 / 1e6)


def test_torch_mixed_one_layer_bf16(torch):
    model = _small(torch)
    model[2].to(torch.bfloat16)
    info = describe(model)
    assert info.precision_mix == {"fp32": 15, "bf16": 8}
    assert info.precision == "mixed"
    assert info.effective_params_m == pytest.approx((15 * 1.0 + 8 * 0.5) / 1e6)
    assert info.qf == pytest.approx(19 / 23)


def _quantize_dynamic(torch, model, dtype):
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=dtype)


def test_torch_dynamic_quantized_linear(torch):
    q = _quantize_dynamic(torch, torch.nn.Sequential(torch.nn.Linear(16, 8)), torch.qint8)
    assert list(q.parameters()) == []  # the weights really live in packed params
    info = describe(q)
    assert info.precision_mix == {"int8": 128, "fp32": 8}
    assert info.n_params == 136
    assert info.effective_params_m == pytest.approx((128 * 0.25 + 8) / 1e6)
    assert info.precision == "mixed"
    assert "quantized" in info.source


def test_torch_dynamic_float16_uses_declared_dtype(torch):
    q = _quantize_dynamic(torch, torch.nn.Sequential(torch.nn.Linear(4, 3)), torch.float16)
    assert describe(q).precision_mix == {"fp16": 12, "fp32": 3}


def test_torch_static_quantized_conv_and_embedding(torch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nnq = torch.ao.nn.quantized
        model = torch.nn.Sequential(nnq.Conv2d(3, 4, 3), nnq.Linear(5, 2))
        emb = nnq.Embedding(10, 4, dtype=torch.quint4x2)
    assert describe(model).precision_mix == {"int8": 4 * 3 * 3 * 3 + 5 * 2, "fp32": 4 + 2}
    assert describe(emb).precision_mix == {"int4": 40}


def test_torch_tied_weights_counted_once(torch):
    nn = torch.nn
    a, b = nn.Linear(5, 5, bias=False), nn.Linear(5, 5, bias=False)
    b.weight = a.weight  # the same Parameter object
    assert describe(nn.Sequential(a, b)).n_params == 25
    c, d = nn.Linear(5, 5, bias=False), nn.Linear(5, 5, bias=False)
    d.weight = nn.Parameter(c.weight.data)  # a second Parameter over the same storage
    assert describe(nn.Sequential(c, d)).n_params == 25


def test_torch_meta_parameters_are_not_merged(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 3, device="meta"), nn.Linear(3, 2, device="meta"))
    assert describe(model).n_params == 23


def test_torch_params4bit_counts_logical_values(torch):
    class Params4bit(torch.nn.Parameter):  # stand-in for bitsandbytes: two 4-bit values per uint8
        pass

    layer = torch.nn.Module()
    packed = Params4bit(torch.zeros(6, 1, dtype=torch.uint8), requires_grad=False)
    packed.quant_state = types.SimpleNamespace(shape=(3, 4), quant_type="nf4")
    layer.weight = packed
    layer.bias = torch.nn.Parameter(torch.zeros(3))
    info = describe(layer)
    assert info.precision_mix == {"nf4": 12, "fp32": 3}


def test_parameterless_module_is_none(torch):
    assert describe(torch.nn.ReLU()) is None


def test_hugging_face_cross_check_with_fake_module(torch, monkeypatch):
    class PreTrainedModel(torch.nn.Module):
        def num_parameters(self):
            return sum(p.numel() for p in self.parameters())

    class TinyForCausalLM(PreTrainedModel):
        def __init__(self):
            super().__init__()
            self.lm_head = torch.nn.Linear(4, 3)

    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace(PreTrainedModel=PreTrainedModel))
    info = describe(TinyForCausalLM())
    assert info.n_params == 15
    assert info.source.startswith("Hugging Face PreTrainedModel TinyForCausalLM")
    assert "agrees with num_parameters()" in info.source


def test_hugging_face_real_model(torch):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=50, n_positions=16)
    model = transformers.GPT2LMHeadModel(config)  # lm_head tied to the token embedding
    info = describe(model)
    assert info.n_params == model.num_parameters()
    assert "agrees" in info.source


def test_torch_tensor_and_state_dict(torch):
    assert describe(torch.zeros(3, 4, dtype=torch.float16)).precision_mix == {"fp16": 12}
    info = describe(_small(torch).state_dict())
    assert info.precision_mix == {"fp32": 23}
    assert "4 tensors" in info.source


# --- scikit-learn ---------------------------------------------------------------------------------------------

@pytest.fixture
def data():
    np = pytest.importorskip("numpy")
    rng = np.random.RandomState(0)
    X = rng.rand(60, 3)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


def test_sklearn_linear_models(data):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = data
    lin = describe(linear_model.LinearRegression().fit(X, X[:, 2]))
    assert lin.precision_mix == {"fp64": 3 + 1}  # coef_ (3) + scalar intercept_
    assert lin.qf == 1.0
    assert "coef_ + intercept_" in lin.source
    log = describe(linear_model.LogisticRegression().fit(X, y))
    assert log.n_params == 3 + 1
    y3 = (X[:, 0] * 3).astype(int)  # three classes: coef_ (3, 3) + intercept_ (3,)
    assert describe(linear_model.LogisticRegression().fit(X, y3)).n_params == 9 + 3


def test_sklearn_decision_tree_rule(data):
    tree = pytest.importorskip("sklearn.tree")
    X, y = data
    est = tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    nodes = est.tree_.node_count
    info = describe(est)
    # every node: 1 threshold + 1 feature index + n_outputs × n_classes values
    assert info.precision_mix == {"fp64": nodes * (1 + 2), "int64": nodes}
    assert info.n_params == nodes * 4
    assert "tree nodes" in info.source


def test_sklearn_random_forest_sums_trees(data):
    ensemble = pytest.importorskip("sklearn.ensemble")
    X, y = data
    forest = ensemble.RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    expected = sum(t.tree_.node_count * 4 for t in forest.estimators_)
    info = describe(forest)
    assert info.n_params == expected
    assert "RandomForestClassifier (5 estimators" in info.source


def test_sklearn_svc(data):
    svm = pytest.importorskip("sklearn.svm")
    X, y = data
    svc = svm.SVC().fit(X, y)
    n_sv = svc.support_vectors_.shape[0]
    info = describe(svc)
    assert info.n_params == n_sv * 3 + n_sv + 1  # support vectors + dual_coef_ + intercept_
    assert info.precision == "fp64"


def test_sklearn_mlp_pca_kmeans_and_generic(data):
    pytest.importorskip("sklearn")
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neural_network import MLPClassifier
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warning on a tiny fit
        mlp = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    assert describe(mlp).n_params == 3 * 5 + 5 + 5 * 1 + 1
    assert describe(PCA(n_components=2).fit(X)).n_params == 2 * 3 + 3  # components_ + mean_
    assert describe(KMeans(n_clusters=4, n_init=1, random_state=0).fit(X)).n_params == 4 * 3
    nb = describe(GaussianNB().fit(X, y))  # generic rule: theta_, var_, class_prior_, class_count_
    assert nb.n_params == 2 * 3 + 2 * 3 + 2 + 2
    assert "fitted array attributes" in nb.source


def test_sklearn_pipeline_and_unfitted(data):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = data
    assert describe(LogisticRegression()) is None  # nothing learned yet
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    info = describe(pipe)
    assert info.n_params == 3 * 3 + 4  # scaler mean_, var_, scale_ + coef_ and intercept_
    assert "StandardScaler + LogisticRegression" in info.source


# --- ONNX, numpy, unknown -------------------------------------------------------------------------------------

def test_onnx_initializers_by_type():
    onnx = pytest.importorskip("onnx")
    helper, TP = onnx.helper, onnx.TensorProto
    w = helper.make_tensor("w", TP.FLOAT, [3, 4], [0.0] * 12)
    q = helper.make_tensor("q", TP.INT8, [5, 2], [0] * 10)
    shape = helper.make_tensor("shape", TP.INT64, [2], [1, 12])  # a Reshape target, not a weight
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TP.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [3, 4])], initializer=[w, q, shape])
    info = describe(helper.make_model(graph))
    assert info.precision_mix == {"fp32": 12, "int8": 10}
    assert info.effective_params_m == pytest.approx((12 + 10 * 0.25) / 1e6)
    assert info.source.startswith("ONNX")


def test_numpy_array_and_dict_of_arrays():
    np = pytest.importorskip("numpy")
    arr = describe(np.zeros((4, 5), dtype=np.float32))
    assert arr.precision_mix == {"fp32": 20}
    assert "numpy array (4, 5)" in arr.source
    weights = {"W1": np.zeros((3, 4)), "b1": np.zeros(4), "W2": np.zeros((4, 2), dtype=np.float16)}
    info = describe(weights)
    assert info.precision_mix == {"fp64": 16, "fp16": 8}
    assert "dict of 3 arrays" in info.source
    assert describe([np.zeros(2, dtype=np.int8), [np.zeros(3, dtype=np.int8)]]).precision_mix == {"int8": 5}


@pytest.mark.parametrize("obj", [object(), "model", 42, 3.5, None, {}, [], {"a": 1}, {"w": "x"}])
def test_unknown_objects_give_none(obj):
    assert describe(obj) is None


def test_non_numeric_arrays_give_none():
    np = pytest.importorskip("numpy")
    assert describe(np.array(["a", "b"])) is None
    assert describe({"mask": np.zeros(3, dtype=bool), "w": np.zeros(3)}) is None


# --- finding the model a cell uses ----------------------------------------------------------------------------

def test_find_picks_largest_referenced_model_and_names_it(torch):
    nn = torch.nn
    ns = {"small": nn.Linear(2, 2), "big": nn.Linear(10, 10), "unused": nn.Linear(100, 100),
          "x": torch.zeros(10_000)}
    info = find_in_namespace("out = big(small(x))  # unused is only in a comment", ns)
    assert info.variable == "big"
    assert info.n_params == 110


def test_find_with_ipython_syntax_falls_back_to_tokens(torch):
    ns = {"net": torch.nn.Linear(3, 1)}
    info = find_in_namespace("%time y = net(x)\n!nvidia-smi", ns)
    assert info.variable == "net"
    assert info.n_params == 4


def test_find_looks_inside_wrapper_model_attribute(torch):
    pipe = types.SimpleNamespace(model=torch.nn.Linear(3, 2))
    info = find_in_namespace("pipe('hello')", {"pipe": pipe})
    assert info.variable == "pipe.model"
    assert info.n_params == 8


def test_find_ignores_data_arrays_and_unknowns():
    np = pytest.importorskip("numpy")
    ns = {"X": np.zeros((100, 3)), "cfg": {"lr": 0.1}, "f": len}
    assert find_in_namespace("f(X, cfg)", ns) is None
    assert find_in_namespace("", ns) is None


def test_find_explicit(torch):
    np = pytest.importorskip("numpy")
    ns = {"m": torch.nn.Linear(2, 2), "w": np.zeros(7), "s": "text", "pipe": types.SimpleNamespace(model=None)}
    assert find_in_namespace("anything", ns, explicit="m").variable == "m"
    assert find_in_namespace("", ns, explicit="w").n_params == 7  # arrays count when named explicitly
    with pytest.raises(ValueError, match="no variable named 'missing'"):
        find_in_namespace("", ns, explicit="missing")
    with pytest.raises(ValueError, match="not a model"):
        find_in_namespace("", ns, explicit="s")
    with pytest.raises(ValueError, match="not a model"):
        find_in_namespace("", ns, explicit="pipe.model")
    with pytest.raises(ValueError, match="has no attribute"):
        find_in_namespace("", ns, explicit="m.nothing")
    with pytest.raises(ValueError, match="variable name"):
        find_in_namespace("", ns, explicit="m[0]")


def test_find_survives_objects_that_raise(torch):
    class Broken(torch.nn.Module):
        def parameters(self, recurse=True):
            raise RuntimeError("boom")

    ns = {"bad": Broken(), "good": torch.nn.Linear(1, 1)}
    assert find_in_namespace("bad(good(x))", ns).variable == "good"
    with pytest.raises(ValueError, match="boom"):
        find_in_namespace("", ns, explicit="bad")


# --- import hygiene -------------------------------------------------------------------------------------------

def test_import_pulls_in_no_ml_library():
    code = ("import sys, eco_magic.models as m; m.describe(object()); m.find_in_namespace('x', {'x': 1}); "
            "print(sorted(k for k in ('torch', 'sklearn', 'onnx', 'transformers', 'numpy') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_same_width_precisions_share_the_label():
    info = build_info({"int8": 600, "uint8": 400}, "test", None)
    assert info.precision == "int8" and info.qf == 0.25
    assert build_info({"int8": 500, "fp32": 500}, "test", None).precision == "mixed"
    assert build_info({"bf16": 990, "fp16": 10}, "test", None).precision == "bf16"
