"""Hostile input: fuzzed magic lines, hostile labels and model names, sensors that return nonsense.

Allowed outcomes of any ``%%ecolyze`` line: the cell runs, or a ``UsageError`` whose message is one line, has no
traceback and names the option or value at fault. Any other exception is a bug. Strings from the user or the
hardware (labels, model and device names) are shown as text in the card, the widget, the ledger views and the
exports — never interpreted as HTML.
"""
from __future__ import annotations

import csv
import json
import math
import shlex
import threading

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic import engine as engine_mod
from eco_magic import options
from eco_magic.sensors.base import DeviceInfo, Discovery, Sample, SensorError

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------ line strategies
ALIASES = {"-l": "--label", "-r": "--region", "-p": "--params", "-n": "--items", "-m": "--model", "-o": "--return",
           "-q": "--quiet"}
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**30, 10**30).map(str),
    st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e-320", "-0", "0", "1",
                     "7B", "350M", "1.3b", "125k", "1e15", "1e16", "0x10", "1_000", "1,000", "١٢", "½", "5.", ".5"]))
REGIONS = st.sampled_from(["FR", "fr", "France", "US-CA", "aws:us-east-1", "gcp:europe-west1", "azure:nowhere",
                           "Frnace", "XX", "world", "ΕΛ", "🇫🇷", "us-", ":", "aws:"])
PRECISIONS = st.sampled_from(["fp32", "FP16", "bf16", "int8", "int4", "int3", "fp8", "fp64", "q4_K_M", "half",
                              "4bit", "float", "mixed"])
VALUES = st.one_of(NUMBERS, REGIONS, PRECISIONS, st.text(max_size=24),
                   st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8))
JUNK_FLAGS = st.from_regex(r"-{1,2}[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True)


def render(value: str, how: str) -> str:
    if how == "shlex":
        return shlex.quote(value)
    if how == "double":
        return f'"{value}"'
    return value


@st.composite
def magic_lines(draw, bare: bool = True):
    """``(line, tokens)``: a line built from the real flags, junk flags and hostile values (and, with ``bare``,
    stray values without a flag); ``tokens`` are the strings an error message may name."""
    parts: list[str] = []
    tokens: list[str] = []
    kinds = ["value", "value", "value", "switch", "junk"] + (["bare"] if bare else [])
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(kinds))
        if kind == "switch":
            flag = draw(st.sampled_from(sorted(options.SWITCH_FLAGS)))
            parts.append(flag)
            tokens.append(flag)
            continue
        if kind == "bare":
            value = draw(VALUES)
            parts.append(render(value, draw(st.sampled_from(["raw", "shlex", "double"]))))
            tokens.append(value)
            continue
        flag = draw(JUNK_FLAGS) if kind == "junk" else draw(st.sampled_from(sorted(options.VALUE_FLAGS)))
        value = draw(VALUES)
        shown = render(value, draw(st.sampled_from(["raw", "shlex", "double"])))
        parts.append(f"{flag}={shown}" if draw(st.booleans()) else f"{flag} {shown}")
        tokens += [flag, ALIASES.get(flag, flag), value]
    line = " ".join(parts)
    for ch in "\n\r":
        line = line.replace(ch, " ")
    return line, tokens


def names_the_culprit(message: str, line: str, tokens: list[str]) -> bool:
    candidates = set(tokens) | set(line.split())
    try:
        candidates |= set(shlex.split(line))
    except ValueError:
        pass
    candidates |= {repr(c)[1:-1] for c in list(candidates)}
    candidates |= {c.lstrip("-") for c in list(candidates) if c.startswith("--")}  # argparse's "argument --pue"
    return any(c.strip() and c.strip() in message for c in candidates)


def check_usage_error(exc: UsageError, line: str, tokens: list[str]) -> None:
    message = str(exc)
    assert message.strip(), "empty UsageError"
    assert "\n" not in message.strip() and "\r" not in message, message
    assert "Traceback" not in message
    assert names_the_culprit(message, line, tokens), (message, line)


def no_sampler_running() -> bool:
    return not [t for t in threading.enumerate() if t.is_alive() and t.name == "eco_magic-sampler"]


# ----------------------------------------------------------------------------------------------- line fuzz
@FUZZ
@given(magic_lines())
def test_fuzzed_cell_magic_lines_give_success_or_a_clear_usage_error(ip, case):
    line, tokens = case
    before = len(eco_magic.ledger())
    ip.user_ns.update(ran=False, n_runs=0)
    try:
        with capture_output():
            ip.run_cell_magic("ecolyze", line, "ran = True\nn_runs += 1")
    except UsageError as exc:
        event("usage error")
        check_usage_error(exc, line, tokens)
        assert ip.user_ns["ran"] is False                   # bad options: nothing ran, nothing recorded
        assert len(eco_magic.ledger()) == before
    else:
        event("measured")
        assert ip.user_ns["ran"] is True
        rows = list(eco_magic.ledger())[before:]
        assert 1 <= len(rows) <= ip.user_ns["n_runs"]       # --repeat N: N rows; --warmup runs are not recorded
        if len(rows) > 1:                                   # one group id ties the runs, numbered from 1
            assert len({r.group for r in rows}) == 1 and rows[0].group is not None
            assert [r.run_index for r in rows] == list(range(1, len(rows) + 1))
    assert no_sampler_running()


@FUZZ
@given(magic_lines(bare=False))
def test_fuzzed_line_magic_gives_success_or_a_clear_usage_error(ip, case):
    line, tokens = case
    try:
        _, statement = options.split_line(f"{line} ran.append(1)")
    except ValueError:
        statement = ""                                     # an unknown flag: the magic must say so
    # a statement with words of the line in front of it (an unquoted value with a space) is the user's code, and
    # fails as that code fails without the magic
    assume(statement in ("ran.append(1)", "") or not statement.endswith("ran.append(1)"))
    ip.user_ns["ran"] = []
    try:
        with capture_output():
            ip.run_line_magic("ecolyze", f"{line} ran.append(1)")
    except UsageError as exc:
        event("usage error")
        check_usage_error(exc, line + " ran.append(1)", tokens + ["ran.append(1)", "statement"])
        assert ip.user_ns["ran"] == []
    else:
        event("measured")
        ran = ip.user_ns["ran"]                             # [] when a value flag swallowed the statement's tail
        assert ran == [1] * len(ran)
        if "--repeat" not in line and "--warmup" not in line:  # else the statement runs warm-up + repeat times
            assert len(ran) <= 1
    assert no_sampler_running()


@pytest.mark.parametrize("line", ["--pue nan", "--pue inf", "--pue -1.2", "--pue 1e309", "--ci nan", "--ci -1",
                                  "--ci 1e400", "-p nan", "-p -7e9", "-p 1e999", "-n nan", "-n -3", "-n 2.5",
                                  "-n 1e400", "--rate nan", "--rate 0", "--rate -5", "--precision fp7",
                                  "--region Atlantis", "--region ''",
                                  "--project-daily ''", "--project-daily nan",
                                  "--project-daily -1", "--water-model sea", "--var 'a b'", "--model 'x y'",
                                  "--pue ''", "--frobnicate 3", "-l", "--label 'open"])
def test_bad_values_are_one_line_usage_errors_naming_the_option(ip, line):
    ip.user_ns["ran"] = False
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("ecolyze", line, "ran = True")
    check_usage_error(info.value, line, line.split())
    assert ip.user_ns["ran"] is False


@pytest.mark.parametrize("line", ["--bogus pass", "--lable fast sum([1])"])
def test_unknown_flag_in_the_line_magic_is_a_usage_error(ip, line):
    with capture_output(), pytest.raises(UsageError) as info:
        ip.run_line_magic("ecolyze", line)
    assert line.split()[0] in str(info.value)


@pytest.mark.parametrize("quoted,label", [("'fp16 run'", "fp16 run"), ('"a & b < c"', "a & b < c"),
                                          ("\"it's\"", "it's")])
def test_quoted_label_loses_its_quotes(ip, quoted, label):
    with capture_output():
        r = ip.run_cell_magic("ecolyze", f"-o -q -l {quoted}", "pass")
    assert r.label == label


@pytest.mark.parametrize("name", ["get_ipython", "__builtins__", "for"])
def test_var_refuses_names_that_would_break_the_notebook(ip, name):
    saved = ip.user_ns.get(name)
    try:
        with capture_output(), pytest.raises(UsageError, match="--var"):
            ip.run_cell_magic("ecolyze", f"-q --var {name}", "pass")
    finally:
        if saved is not None:
            ip.user_ns[name] = saved
        else:
            ip.user_ns.pop(name, None)


# ------------------------------------------------------------------------------------ hostile strings shown
# no spaces or quotes: the magic keeps quotes around quoted values (see test_quoted_label_loses_its_quotes)
HOSTILE = ["<script>alert(1)</script>", "<img/src=x/onerror=alert(1)>", "<svg/onload=alert(1)>", "=1+2",
           "a&amp;b<i>"]



def assert_escaped(html: str, text: str) -> None:
    from html import escape

    assert escape(text) in html or escape(text, quote=False) in html, (text, html[:300])
    if any(ch in text for ch in "<>&"):
        assert text not in html, (text, html[:500])          # never the raw markup


class HostileDict(dict):
    """A 'model' (dict of arrays) whose class name is HTML."""


HostileDict.__name__ = HostileDict.__qualname__ = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_label_is_text_in_card_ledger_views_and_exports(ip, tmp_path, label):
    ip.user_ns["label"] = label
    with capture_output() as cap:
        as_cell = ip.run_cell(f"%%ecolyze -l {label}\npass")
        as_line = ip.run_cell(f"%ecolyze -l {label} 1 + 1")
    assert as_cell.success and as_line.success and as_line.result == 2
    assert [r.label for r in eco_magic.ledger()] == [label, label]
    cards = [o.data for o in cap.outputs if "text/html" in o.data]
    assert len(cards) == 2
    for data in cards:
        assert_escaped(data["text/html"], label)
        assert label in data["text/plain"]                          # plain text keeps the label as typed
    # the ledger table and the comparison
    with capture_output() as cap:
        ip.run_line_magic("ecoledger", "")
        ip.run_line_magic("ecoledger", "compare")
    views = [o.data["text/html"] for o in cap.outputs if "text/html" in o.data]
    assert len(views) == 2
    for html in views:
        assert_escaped(html, label)
    # exports keep the label as data
    with capture_output():
        ip.run_line_magic("ecoledger", f"export {tmp_path / 'out.json'}")
        ip.run_line_magic("ecoledger", f"export {tmp_path / 'out.csv'}")
        ip.run_line_magic("ecoledger", f"export {tmp_path / 'cc.csv'} --format codecarbon")
    records = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["records"]
    assert [x["label"] for x in records] == [label, label]
    guarded = "'" + label if label.startswith(("=", "+", "-", "@")) else label
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        assert [row["label"] for row in csv.DictReader(f)] == [guarded, guarded]
    with open(tmp_path / "cc.csv", newline="", encoding="utf-8") as f:
        assert [row["project_name"] for row in csv.DictReader(f)] == [guarded, guarded]


@pytest.mark.parametrize("label", HOSTILE[:2])
def test_hostile_label_is_text_in_the_card_and_live_readout(ip, label):
    from eco_magic.display import card, live
    from eco_magic.sampler import LiveStatus

    with capture_output():
        r = ip.run_cell_magic("ecolyze", f"-o -q -l {label}", "pass")
    assert_escaped(card.bundle(r)["text/html"], label)
    status = LiveStatus(0.5, {"cpu:x": 3.0}, {"cpu:x": 1.0})
    assert_escaped(live.live_html(label, status, [DeviceInfo("cpu:x", "cpu", label, "counter", "s")]), label)


def test_hostile_model_and_device_names_are_text(ip, monkeypatch):
    np = pytest.importorskip("numpy")
    evil = "<img src=x onerror=alert(1)>"
    sensor = ValuesSensor([{"energy_j": 0.0}, {"energy_j": 1.0}], key="gpu:0", kind="gpu", name=evil)
    monkeypatch.setattr(engine_mod, "discover_all", lambda **kw: Discovery(sensors=[sensor]))
    ip.run_line_magic("unload_ext", "eco_magic")
    ip.run_line_magic("load_ext", "eco_magic")
    ip.user_ns["weights"] = HostileDict(w=np.ones((4, 4), dtype=np.float32))
    try:
        with capture_output() as cap:
            ip.run_cell("%%ecolyze --model weights\ns = weights['w'].sum()")
        r = eco_magic.ledger()[-1]
        assert evil in (r.model_source or "") and r.devices[0].name == evil
        html = [o.data["text/html"] for o in cap.outputs if "text/html" in o.data]
        assert len(html) == 1
        assert_escaped(html[0], evil)
    finally:
        ip.user_ns.pop("weights", None)


# -------------------------------------------------------------------------------- sensors returning nonsense
class ValuesSensor:
    """Replays scripted readings in a loop: dicts become Samples, exceptions are raised."""

    def __init__(self, script, key: str = "cpu:fuzz", kind: str = "cpu", name: str = "Fuzz CPU",
                 method: str = "counter") -> None:
        self.info = DeviceInfo(key, kind, name, method, "fuzzed readings", "device")
        self.script = list(script)
        self.n = 0

    def read(self, t_s: float) -> Sample:
        step = self.script[self.n % len(self.script)]
        self.n += 1
        if isinstance(step, BaseException):
            raise step
        return Sample(t_s=t_s, **step)

    def close(self) -> None:
        pass


ODD_NUMBERS = st.one_of(st.none(), st.floats(-1e18, 1e18), st.sampled_from([math.nan, math.inf, -math.inf]),
                        st.integers(-2**64, 2**64), st.sampled_from(["12", "", "abc", b"1", 1j, [], True]))
READINGS = st.one_of(
    st.fixed_dictionaries({}, optional={"energy_j": ODD_NUMBERS, "power_w": ODD_NUMBERS, "temp_c": ODD_NUMBERS,
                                        "util_pct": ODD_NUMBERS,
                                        "throttle": st.one_of(st.lists(st.text(max_size=5), max_size=3),
                                                              st.sampled_from([None, 5, "ab"]))}),
    st.sampled_from([SensorError("device gone"), OSError(5, "I/O error"), ValueError("bad value"),
                     ZeroDivisionError("division by zero"), RuntimeError("")]))


def strict_json(text: str):
    def refuse(name):
        raise ValueError(f"non-finite number {name} in stored JSON")

    return json.loads(text, parse_constant=refuse)


@FUZZ
@given(st.lists(READINGS, min_size=1, max_size=4), st.sampled_from(["counter", "integrated", "estimated"]))
def test_sensor_returning_nonsense_never_breaks_the_cell_or_the_ledger(ip, monkeypatch, script, method):
    sensor = ValuesSensor(script, method=method)
    from eco_magic import magic

    magics = magic._LOADED[id(ip)]
    monkeypatch.setattr(magics, "engine", engine_mod.Engine(idle_duration_s=0,
                                                            discover=lambda **kw: Discovery(sensors=[sensor])))
    before = eco_magic.ledger().count(all_sessions=True)
    with capture_output():
        res = ip.run_cell("%%ecolyze -l nonsense\nvalue = 6 * 7\nvalue")
    assert res.success and res.result == 42, res.error_in_exec
    assert no_sampler_running()
    r = eco_magic.ledger()[-1]
    assert r.label == "nonsense" and r.status == "ok"
    e = r.devices[0].energy_j
    assert e is None or (math.isfinite(e) and e >= 0.0)
    assert math.isfinite(r.energy_j) and r.energy_j >= 0.0 and math.isfinite(r.co2_g)
    assert eco_magic.ledger().count(all_sessions=True) == before + 1
    stored = eco_magic.ledger().recent(1, all_sessions=True)[0]
    assert stored["label"] == "nonsense"
    import sqlite3

    conn = sqlite3.connect(str(eco_magic.ledger().path))
    try:  # every JSON document the row refers to (context, layout, extra) is strict JSON
        texts = conn.execute("SELECT s.text FROM measurements m JOIN shapes h ON h.id = m.shape JOIN strings s "
                             "ON s.id IN (h.context, h.layout, h.extra) "
                             "WHERE m.id = (SELECT max(id) FROM measurements)").fetchall()
    finally:
        conn.close()
    assert texts
    for (text,) in texts:
        strict_json(text)


def test_counter_values_near_the_float_limit_are_recorded(ip, monkeypatch):
    sensor = ValuesSensor([{"energy_j": -1.7e308, "power_w": 1.0}, {"energy_j": 1.7e308, "power_w": 1.0}])
    from eco_magic import magic

    magics = magic._LOADED[id(ip)]
    monkeypatch.setattr(magics, "engine", engine_mod.Engine(idle_duration_s=0,
                                                            discover=lambda **kw: Discovery(sensors=[sensor])))
    with capture_output():
        res = ip.run_cell("%%ecolyze -l huge\n1")
    assert res.success and res.result == 1, res.error_in_exec
    assert eco_magic.ledger().count(all_sessions=True) == 1


def test_ledger_append_stores_non_finite_device_figures_as_null(tmp_path):
    from eco_magic.result import DeviceReading
    from eco_magic.session_ledger import Ledger
    from helpers import make_result

    led = Ledger(tmp_path / "l.sqlite")
    r = make_result(devices=(DeviceReading("gpu:0", "gpu", "GPU", math.inf, "counter", "s",
                                           mean_power_w=math.nan),))
    try:
        led.append(r)
        assert led.note is None
        stored = led.records(all_sessions=True)
        assert len(stored) == 1 and stored[0]["devices"][0]["energy_j"] is None
    finally:
        led.close()
