"""Token accounting (issue 12): transformers generation counted while a measured cell runs, through a real IPython
shell and a real (tiny, randomly initialised) GPT-2; count_tokens for other runtimes; per-token figures."""
from __future__ import annotations

import subprocess
import sys
import threading
import warnings

import pytest
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic.frameworks import tokens

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from transformers.generation.utils import GenerationMixin  # noqa: E402

from tiny_lm import EOS, PAD, ForceEos, tiny_gpt2, word_tokenizer  # noqa: E402

ORIGINAL = GenerationMixin.__dict__["generate"]


def run(ip, cell: str, **ns):
    ip.user_ns.update(ns)
    with capture_output() as cap:
        res = ip.run_cell(cell)
    return res, cap


def result(ip):
    return eco_magic.ledger()[-1]


@pytest.fixture
def lm():
    return tiny_gpt2()


@pytest.fixture
def batch():
    """Three prompts of 5 ids, the first left-padded by 2: 13 real prompt tokens."""
    ids = torch.tensor([[PAD, PAD, 5, 6, 7], [3, 4, 5, 6, 7], [8, 9, 10, 11, 12]])
    mask = (ids != PAD).long()
    return ids, mask


def test_generate_in_a_batch_counts_exact_prompt_and_new_tokens(ip, lm, batch):
    ids, mask = batch
    res, _ = run(ip, "%%ecolyze -q -l gen\nout = lm.generate(ids, attention_mask=mask, max_new_tokens=6, "
                     "min_new_tokens=6, do_sample=False)", lm=lm, ids=ids, mask=mask)
    assert res.success, res.error_in_exec
    r = result(ip)
    assert ip.user_ns["out"].shape == (3, 11)
    assert (r.tokens_in, r.tokens_out, r.responses) == (13, 18, 3)
    assert "transformers generate() × 1" in r.token_source
    assert r.energy_per_token_j == r.energy_j / r.tokens_out          # exactly, not approximately
    assert r.co2_per_token_g == r.co2_g / 18
    assert r.energy_per_response_j == r.energy_j / 3
    assert r.energy_per_1k_responses_wh == pytest.approx(r.energy_j / 3 * 1000 / 3600)
    assert r.tokens_per_s == pytest.approx(18 / r.duration_s)
    for name in ("tokens_in", "tokens_out", "responses"):
        assert type(getattr(r, name)) is int
    for name in ("energy_per_token_j", "co2_per_token_g", "tokens_per_s", "energy_per_1k_responses_wh"):
        assert type(getattr(r, name)) is float
    assert GenerationMixin.__dict__["generate"] is ORIGINAL


@pytest.mark.parametrize("pad_token_id", [PAD, EOS], ids=["pad-distinct", "pad-is-eos"])
def test_early_eos_and_padding_after_it_are_excluded(ip, batch, pad_token_id):
    ids, mask = batch
    lm = tiny_gpt2(pad_token_id=pad_token_id)
    force = transformers.LogitsProcessorList([ForceEos(prompt_len=5, row=1, after=2)])
    res, _ = run(ip, "%%ecolyze -q\nout = lm.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False, "
                     "logits_processor=force)", lm=lm, ids=ids, mask=mask, force=force)
    assert res.success, res.error_in_exec
    out = ip.user_ns["out"]
    assert out[1, 6].item() == EOS and (out[1, 7:] == pad_token_id).all()  # the batch really has padding after EOS
    r = result(ip)
    assert r.tokens_out == 6 + 2 + 6                                       # row 1: one token, then its EOS
    assert (r.tokens_in, r.responses) == (13, 3)


def test_num_return_sequences_counts_each_response(ip, lm, batch):
    ids, mask = batch
    res, _ = run(ip, "%%ecolyze -q\nlm.generate(ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4, "
                     "do_sample=True, num_return_sequences=2)", lm=lm, ids=ids, mask=mask)
    assert res.success, res.error_in_exec
    r = result(ip)
    assert (r.tokens_in, r.tokens_out, r.responses) == (13, 3 * 2 * 4, 6)  # each prompt read once


def test_text_generation_pipeline_is_counted(ip, lm):
    pipe = transformers.pipeline("text-generation", model=lm, tokenizer=word_tokenizer(), device="cpu")
    prompts = ["the cat sat on a mat", "dog ran"]
    res, _ = run(ip, "%%ecolyze -q\nanswers = pipe(prompts, max_new_tokens=5, min_new_tokens=5, do_sample=False)",
                 pipe=pipe, prompts=prompts)
    assert res.success, res.error_in_exec
    r = result(ip)
    assert len(ip.user_ns["answers"]) == 2
    assert (r.tokens_in, r.tokens_out, r.responses) == (6 + 2, 2 * 5, 2)
    assert r.model_variable == "pipe.model" and r.n_params == lm.num_parameters()


def test_generate_is_restored_after_a_cell_that_raised(ip, lm, batch):
    ids, mask = batch
    res, _ = run(ip, "%%ecolyze -q\nlm.generate(ids, attention_mask=mask, max_new_tokens=2, min_new_tokens=2, "
                     "do_sample=False)\n1/0", lm=lm, ids=ids, mask=mask)
    assert not res.success and isinstance(res.error_in_exec, ZeroDivisionError)
    assert GenerationMixin.__dict__["generate"] is ORIGINAL
    assert lm.generate.__func__ is ORIGINAL
    r = result(ip)
    assert r.status == "error" and r.tokens_out == 6                       # what ran before the error still counts


def test_a_cell_without_generation_has_no_token_figures(ip, lm):
    res, cap = run(ip, "%%ecolyze -l plain\ny = sum(range(1000))", lm=lm)
    assert res.success
    r = result(ip)
    for name in ("tokens_in", "tokens_out", "responses", "tokens_per_s", "energy_per_token_j",
                 "energy_per_1k_responses_wh", "energy_net_per_token_j"):
        assert getattr(r, name) is None, name
    assert r.token_source == ""
    assert GenerationMixin.__dict__["generate"] is ORIGINAL


def test_threads_and_nested_generation_count_once_each(ip, lm):
    ids = torch.tensor([[3, 4, 5]])
    cell = """
import threading
def work():
    lm.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False)
threads = [threading.Thread(target=work) for _ in range(3)]
for t in threads: t.start()
for t in threads: t.join()
lm.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, assistant_model=helper)
"""
    res, _ = run(ip, "%%ecolyze -q" + cell, lm=lm, ids=ids, helper=tiny_gpt2(seed=1))
    assert res.success, res.error_in_exec
    r = result(ip)
    # assisted generation calls the helper's generate inside lm's: counted once, as the outer call
    assert (r.tokens_in, r.tokens_out, r.responses) == (4 * 3, 3 * 3 + 4, 4)
    assert "× 4" in r.token_source


def test_count_tokens_adds_to_the_running_measurement(ip):
    res, _ = run(ip, "%%ecolyze -q\nimport eco_magic\nfor _ in range(3): eco_magic.count_tokens(20, prompt=5)")
    assert res.success, res.error_in_exec
    r = result(ip)
    assert (r.tokens_in, r.tokens_out, r.responses) == (15, 60, 3)
    assert r.token_source == "count_tokens() × 3"
    assert r.energy_per_token_j == r.energy_j / 60


def test_count_tokens_outside_a_measurement_says_so():
    with pytest.warns(tokens.TokenWarning, match="no measurement is running"):
        assert eco_magic.count_tokens(10) is False


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_count_tokens_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="whole number"):
        eco_magic.count_tokens(bad)


def test_count_tokens_in_a_kernel_without_transformers():
    code = r"""
import sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
ip.run_line_magic("config", "EcoMagics.persist = False")
ip.run_line_magic("load_ext", "eco_magic")
res = ip.run_cell("%%ecolyze -q --var r\nimport eco_magic\neco_magic.count_tokens(40, prompt=12, responses=2)")
r = ip.user_ns["r"]
print(res.success, r.tokens_in, r.tokens_out, r.responses, r.energy_per_token_j == r.energy_j / 40,
      "transformers" in sys.modules, "torch" in sys.modules)
ip.run_line_magic("unload_ext", "eco_magic")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-7:] == ["True", "12", "40", "2", "True", "False", "False"]


# --- the accumulator alone -------------------------------------------------------------------------------------

def test_nested_watches_both_count_and_restore_only_at_the_last_stop(lm):
    ids = torch.tensor([[3, 4]])
    outer = tokens.start()
    inner = tokens.start()
    lm.generate(ids, max_new_tokens=2, min_new_tokens=2, do_sample=False)
    assert inner.stop().tokens_out == 2
    assert GenerationMixin.__dict__["generate"] is not ORIGINAL              # outer still measuring
    lm.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert outer.stop().tokens_out == 5
    assert GenerationMixin.__dict__["generate"] is ORIGINAL
    assert outer.stop().tokens_out == 5                                      # stop is idempotent


def test_concurrent_records_are_not_lost():
    watch = tokens.start()
    try:
        def hammer():
            for _ in range(2000):
                tokens.record(1, 2, 1, "test")
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        counts = watch.stop()
    assert (counts.tokens_in, counts.tokens_out, counts.responses) == (8000, 16000, 8000)


def test_a_generate_that_cannot_be_counted_says_so_and_returns_unchanged(lm, monkeypatch):
    from eco_magic.frameworks import transformers as hf

    def broken(*a, **k):
        raise RuntimeError("odd output")

    monkeypatch.setattr(hf, "count_generation", broken)
    watch = tokens.start()
    try:
        out = lm.generate(torch.tensor([[3, 4]]), max_new_tokens=2, min_new_tokens=2, do_sample=False)
    finally:
        counts = watch.stop()
    assert out.shape == (1, 4)
    assert counts.tokens_out == 0 and "not counted" in counts.source and "odd output" in counts.source


def test_no_hook_without_generation_imported_only_a_waiting_finder(monkeypatch):
    monkeypatch.delitem(sys.modules, "transformers")
    monkeypatch.delitem(sys.modules, "transformers.generation.utils")
    finders = list(sys.meta_path)
    watch = tokens.start()
    assert GenerationMixin.__dict__["generate"] is ORIGINAL
    assert len(sys.meta_path) == len(finders) + 1                # waits for the measured code's own import
    assert watch.stop() is None
    assert sys.meta_path == finders


def test_warning_is_not_raised_inside_a_measurement():
    watch = tokens.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert eco_magic.count_tokens(3) is True
    finally:
        assert watch.stop().tokens_out == 3


def test_encoder_decoder_generation_counts_new_tokens_only(lm):
    T5Config = transformers.T5Config
    torch.manual_seed(0)
    t5 = transformers.T5ForConditionalGeneration(T5Config(
        vocab_size=40, d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2, decoder_start_token_id=PAD,
        eos_token_id=EOS, pad_token_id=PAD)).eval()
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, PAD, PAD]])
    watch = tokens.start()
    try:
        out = t5.generate(ids, attention_mask=(ids != PAD).long(), max_new_tokens=4, min_new_tokens=4,
                          do_sample=False)
    finally:
        counts = watch.stop()
    assert out.shape == (2, 5)                                   # decoder start token + 4 new
    assert (counts.tokens_in, counts.tokens_out, counts.responses) == (6, 8, 2)


# --- eco_magic.measure(): the same counting for Python code, each measurement its own tokens -----------------------

def test_measure_block_counts_generation(lm):
    ids = torch.tensor([[3, 4, 5], [6, 7, 8]])
    with eco_magic.measure("api-gen", ledger=False) as m:
        lm.generate(ids, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    r = m.result
    assert (r.tokens_in, r.tokens_out, r.responses) == (6, 10, 2)
    assert r.energy_per_token_j == r.energy_j / 10
    assert GenerationMixin.__dict__["generate"] is ORIGINAL


def test_concurrent_measurements_in_threads_keep_their_own_tokens(lm):
    barrier = threading.Barrier(2)
    results = {}

    def worker(name, new):
        with eco_magic.measure(name, ledger=False) as m:
            barrier.wait(timeout=30)                # both measurements are running now
            lm.generate(torch.tensor([[3, 4]]), max_new_tokens=new, min_new_tokens=new, do_sample=False)
            barrier.wait(timeout=30)
        results[name] = m.result

    threads = [threading.Thread(target=worker, args=(f"t{n}", n)) for n in (2, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (results["t2"].tokens_out, results["t5"].tokens_out) == (2, 5)
    assert GenerationMixin.__dict__["generate"] is ORIGINAL


def test_a_cell_that_imports_transformers_itself_is_counted():
    """transformers is not imported before the cell: eco_magic imports nothing, and hooks generate as soon as the
    cell's own import loads it; afterwards generate is the original and no finder is left on sys.meta_path."""
    code = r"""
import sys
sys.path.insert(0, sys.argv[1])
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("config", "EcoMagics.idle_baseline_s = 0")
ip.run_line_magic("config", "EcoMagics.persist = False")
ip.run_line_magic("load_ext", "eco_magic")
before = "transformers" in sys.modules
res = ip.run_cell("%%ecolyze -q --var r\nimport torch\nfrom tiny_lm import tiny_gpt2\nlm = tiny_gpt2()\n"
                  "lm.generate(torch.tensor([[3, 4, 5]]), max_new_tokens=4, min_new_tokens=4, do_sample=False)")
r = ip.user_ns["r"]
from transformers.generation.utils import GenerationMixin
restored = not hasattr(GenerationMixin.__dict__["generate"], "__eco_magic_original__")
ours = [f for f in sys.meta_path if type(f).__module__.startswith("eco_magic")]
print(before, res.success, r.tokens_in, r.tokens_out, r.responses, restored, ours == [])
ip.run_line_magic("unload_ext", "eco_magic")
"""
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", code, tests_dir], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-7:] == ["False", "True", "3", "4", "1", "True", "True"]
