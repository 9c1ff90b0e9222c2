"""Issue 13, second pass: what an adversarial user did to the magic, each reproduced through a real shell or kernel.

One mechanism each: the cell's code runs as IPython would run it (await, no variable expansion, syntax errors
reported by IPython); numeric options are validated by the range that works; nothing a cell raises or holds can
break the recording (hostile ``__str__``, failing start); ``--var`` never silently replaces a module.
"""
from __future__ import annotations

import sys
import threading

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic import engine as engine_mod
from eco_magic import options

from kernel_child import Kernel, setup_lines


def eco_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("eco_magic-") and t.is_alive()
            and t.name != "eco_magic-plotwarm"]


# ------------------------------------------------------------------------------------------ 1. top-level await
def test_top_level_await_runs_as_without_the_magic(ip):
    with capture_output():
        res = ip.run_cell("%%ecolyze -l async\nimport asyncio\nawait asyncio.sleep(0.01)\nv = 41\nv + 1")
    assert res.success, res.error_in_exec
    assert res.result == 42
    assert [(r.label, r.status) for r in eco_magic.ledger()] == [("async", "ok")]


def test_top_level_await_in_the_last_expression_and_line_form(ip):
    ip.run_cell("import asyncio\nasync def twice(x):\n    await asyncio.sleep(0)\n    return 2 * x")
    with capture_output():
        res = ip.run_cell("%%ecolyze -q\nawait twice(21)")
        line = ip.run_cell("y = %ecolyze -q -l line await twice(5)")
    assert res.success and res.result == 42
    assert line.success and ip.user_ns["y"] == 10  # the line form's value is the statement's, as with %time
    assert [r.label for r in eco_magic.ledger()] == ["", "line"]


def test_await_cell_that_raises_is_recorded_and_raises_its_own_error(ip):
    ip.run_cell("import asyncio\nasync def boom():\n    await asyncio.sleep(0)\n    raise KeyError('k')")
    with capture_output():
        res = ip.run_cell("%%ecolyze -l bad\nawait boom()")
    assert isinstance(res.error_in_exec, KeyError)
    assert [(r.label, r.status) for r in eco_magic.ledger()] == [("bad", "error")]
    assert eco_threads() == []


@pytest.mark.slow
def test_top_level_await_in_a_real_kernel(tmp_path):
    k = Kernel(tmp_path)
    try:
        for line in setup_lines(tmp_path / "ledger.sqlite"):
            reply, _ = k.run(line)
            assert reply["status"] == "ok"
        reply, msgs = k.run("%%ecolyze -l k\nimport asyncio\nawait asyncio.sleep(0.05)\n'done'")
        assert reply["status"] == "ok", reply
        results = [m for m in msgs if m["msg_type"] == "execute_result"]
        assert results and results[0]["content"]["data"]["text/plain"] == "'done'"
        reply, msgs = k.run("import eco_magic; print([(r.label, r.status) for r in eco_magic.ledger()])")
        assert "[('k', 'ok')]" in "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
    finally:
        k.km.shutdown_kernel(now=True)


# ---------------------------------------------------------------------------------------- 2. no {…} expansion
def test_line_form_does_not_expand_braces_or_dollars(ip):
    ip.user_ns["x"] = 5
    with capture_output():
        ip.run_cell("%ecolyze -q s = '{x}' + '$x'")
    assert ip.user_ns["s"] == "{x}$x"


def test_options_still_expand_as_in_any_magic_line(ip):
    ip.user_ns.update(data=[1, 2, 3], name="fp32")
    with capture_output():
        ip.run_cell("%%ecolyze -q --items {len(data)} -l $name\nt = '{len(data)}'")
        ip.run_cell("%ecolyze -q -l {name}-line u = '{name}'")
    rows = list(eco_magic.ledger())
    assert [(r.label, r.items) for r in rows] == [("fp32", 3), ("fp32-line", None)]
    assert ip.user_ns["t"] == "{len(data)}" and ip.user_ns["u"] == "{name}"


# ------------------------------------------------------------------------------------- 3. numeric option ranges
@pytest.mark.parametrize("line", ["--rate 1e-10", "--rate 0.001", "--rate 1e-320", "--repeat 0", "--repeat 2.5",
                                  "--repeat 1e6", "--warmup -1", "--items 0", "--pue 0.5", "--ci 1e9"])
def test_numeric_options_outside_the_working_range_are_usage_errors(ip, line):
    ip.user_ns["ran"] = False
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("ecolyze", line, "ran = True")
    assert line.split()[0] in str(info.value) and "\n" not in str(info.value)
    assert ip.user_ns["ran"] is False and len(eco_magic.ledger()) == 0


@pytest.mark.parametrize("setting", ["rate_hz = 1e-10", "pue = 0.2", "carbon_intensity = -1.0",
                                     "cpu_tdp_w = 0.0", "gpu_temp_max_c = float('nan')", "idle_baseline_s = -5.0"])
def test_config_values_outside_the_working_range_are_refused(ip, setting, caplog):
    from eco_magic import magic

    m = magic._LOADED[id(ip)]
    name = setting.split("=")[0].strip()
    before = getattr(m, name)
    with capture_output():
        ip.run_cell(f"%config EcoMagics.{setting}")
    try:
        assert f"EcoMagics.{name} must be between" in caplog.text   # traitlets logs the refusal
        assert getattr(m, name) == before
        # the value stays in the shell's config: a later load drops it with one line instead of failing
        ip.run_line_magic("unload_ext", "eco_magic")
        with capture_output() as cap:
            ip.run_line_magic("load_ext", "eco_magic")
        assert f"EcoMagics.{name} must be between" in cap.stderr and "ignored" in cap.stderr
        assert options.out_of_range(name, getattr(magic._LOADED[id(ip)], name)) is None
    finally:
        ip.config.EcoMagics.pop(name, None)


def test_slowest_allowed_rate_keeps_out_and_the_row(ip):
    with capture_output():
        res = ip.run_cell("%%ecolyze --rate 0.01 -l slow\n6 * 7")
    assert res.success and res.result == 42
    assert [r.label for r in eco_magic.ledger()] == ["slow"] and eco_threads() == []


# ------------------------------------------------------------------------- 4. nothing a cell raises breaks it
HOSTILE = '''
class Hostile(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")
    def __repr__(self):
        raise RuntimeError("no repr either")
'''


def test_exception_whose_str_raises_is_recorded(ip):
    ip.run_cell(HOSTILE)
    with capture_output():
        res = ip.run_cell("%%ecolyze -l hostile\nraise Hostile()")
    assert type(res.error_in_exec).__name__ == "Hostile"
    rows = list(eco_magic.ledger())
    assert [(r.label, r.status) for r in rows] == [("hostile", "error")]
    assert rows[0].error.startswith("Hostile")
    assert eco_threads() == []


def test_hostile_values_for_record_and_var_do_not_break_recording(ip):
    ip.run_cell("class Weird:\n    def __float__(self):\n        raise RuntimeError('no')\nw = Weird()\nacc = 0.9")
    with capture_output():
        res = ip.run_cell("%%ecolyze --record w,acc,missing -l rec\n1")
    assert res.success
    r = eco_magic.ledger()[-1]
    assert dict(r.recorded) == {"acc": 0.9}
    assert any("'w' left out" in n for n in r.notes) and any("'missing' left out" in n for n in r.notes)


# ------------------------------------------------------------------------ 10. cannot start + cell raises
def test_cannot_start_and_cell_raises_shows_only_the_users_traceback(ip, monkeypatch):
    def no_sampler(*args, **kwargs):
        raise RuntimeError("no sensors today")

    monkeypatch.setattr(engine_mod.Engine, "sampler", no_sampler)
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze\n1/0")
    assert isinstance(res.error_in_exec, ZeroDivisionError)
    assert res.error_in_exec.__context__ is None            # not chained onto eco_magic's RuntimeError
    assert "During handling" not in cap.stdout and "RuntimeError" not in cap.stdout
    assert cap.stderr.count("could not measure") == 1


# ------------------------------------------------------------------------------------------ also on the list
def test_syntax_error_shows_no_eco_magic_frame(ip):
    with capture_output() as cap:
        res = ip.run_cell("%%ecolyze -l s\ndef f(:\n    pass")
    assert isinstance(res.error_before_exec, SyntaxError)
    assert "eco_magic" not in cap.stdout and "magic_cell" not in cap.stdout
    assert len(eco_magic.ledger()) == 0


def test_dotted_model_path_is_accepted(ip):
    ip.run_cell("import numpy as np\nclass Pipe:\n    pass\npipe = Pipe()\npipe.model = {'w': np.zeros((10, 10), "
                "dtype=np.float32)}")
    with capture_output():
        res = ip.run_cell("%%ecolyze --model pipe.model -l dotted\n1")
    assert res.success
    r = eco_magic.ledger()[-1]
    assert r.effective_params_m == pytest.approx(100 / 1e6)


@pytest.mark.parametrize("name", ["os", "print", "len"])
def test_var_refuses_modules_and_builtins_unless_forced(ip, name):
    ip.run_cell("import os")
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("ecolyze", f"--var {name} -q", "1")
    assert "--force-var" in str(info.value)
    with capture_output():
        ip.run_cell_magic("ecolyze", f"--var {name} --force-var -q", "1")
    assert isinstance(ip.user_ns[name], eco_magic.EcoResult)
    ip.user_ns.pop(name)
    ip.run_cell("import os")


def test_misspelled_flag_gives_the_same_worded_message_in_both_forms(ip):
    with pytest.raises(UsageError) as cell:
        ip.run_cell_magic("ecolyze", "--itmes 5", "1")
    with pytest.raises(UsageError) as line:
        ip.run_line_magic("ecolyze", "--itmes 5 1")
    for info in (cell, line):
        assert "unknown option '--itmes'" in str(info.value) and "did you mean --items?" in str(info.value)


def test_auto_mode_in_a_terminal_prints_one_line_per_cell(ip):
    with capture_output() as cap:
        ip.run_line_magic("ecolyze_auto", "on")
        ip.run_cell("a = sum(range(1000))", store_history=True)
        ip.run_line_magic("ecolyze_auto", "off")
    lines = [line for line in cap.stdout.splitlines() if line.startswith("ecolyze:")]
    assert len(lines) == 1 and "J" in lines[0], cap.stdout
    assert sys.stdout is not None


def test_await_with_repeat_runs_each_run_in_the_event_loop(ip):
    ip.user_ns["hits"] = 0
    with capture_output():
        res = ip.run_cell("%%ecolyze --repeat 3 --warmup 1 -l ar\nimport asyncio\nawait asyncio.sleep(0)\nhits += 1\nhits")
    assert res.success and res.result == 4
    rows = list(eco_magic.ledger())
    assert [r.run_index for r in rows] == [1, 2, 3] and len({r.group for r in rows}) == 1


# ------------------------------------------------------------------------ 9. quiet mode never hides lost durability
def test_quiet_mode_still_says_once_that_rows_live_in_memory_only(shell, tmp_path):
    from helpers import load_fresh

    bad = tmp_path / "corrupt.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    load_fresh(shell, bad)
    try:
        shell.run_line_magic("config", "EcoMagics.quiet = True")
        with capture_output() as cap:
            for _ in range(3):
                shell.run_cell("%%ecolyze\nx = 1")
        said = [line for line in cap.stderr.splitlines() if "memory" in line]
        assert len(said) == 1 and str(bad) in said[0], cap.stderr
        assert cap.stdout == ""
        assert len(eco_magic.ledger()) == 3                       # the rows are kept in memory
        assert bad.read_bytes() == b"this is not a database" * 100  # and the file left untouched
    finally:
        shell.run_line_magic("config", "EcoMagics.quiet = False")
        shell.run_line_magic("unload_ext", "eco_magic")
        eco_magic.ledger().set_path(None)
        eco_magic.ledger().clear()


def test_auto_mode_does_not_measure_a_cell_that_measures_itself(ip):
    with capture_output():
        ip.run_line_magic("ecolyze_auto", "on")
        ip.run_cell("# a comment first\nx = 1\n%ecolyze -l inner y = 2", store_history=True)
        ip.run_cell("z = %ecolyze -l assigned 3", store_history=True)
        ip.run_cell("w = 4", store_history=True)
        ip.run_line_magic("ecolyze_auto", "off")
    labels = [r.label for r in eco_magic.ledger()]
    assert labels[:2] == ["inner", "assigned"] and len(labels) == 3 and labels[2].startswith("cell ")


def test_decorated_recursive_function_is_measured_once_per_outer_call(ip):
    @eco_magic.measure(label="fib")
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(10) == 55
    assert [r.label for r in eco_magic.ledger()] == ["fib"]
    fib(5)
    assert [r.label for r in eco_magic.ledger()] == ["fib", "fib"]
