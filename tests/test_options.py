import math

import pytest

from eco_magic import options as opt


@pytest.mark.parametrize("text,expected", [("7e9", 7e9), ("7B", 7e9), ("350M", 3.5e8), ("1.3b", 1.3e9),
                                           ("125k", 1.25e5), ("7_000_000_000", 7e9), ("12", 12.0)])
def test_params_accepts_common_spellings(text, expected):
    assert opt.params(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["-5", "nan", "inf", "abc", "0", "1e99", ""])
def test_params_rejects_nonsense_with_a_sentence(text):
    with pytest.raises(ValueError, match="--params"):
        opt.params(text)


@pytest.mark.parametrize("fn,text", [(opt.pue, "0.5"), (opt.pue, "nan"), (opt.carbon_intensity, "-1"),
                                     (opt.carbon_intensity, "inf"), (opt.rate_hz, "0"), (opt.rate_hz, "1000"),
                                     (opt.items, "2.5"), (opt.items, "0"), (opt.items, "-3")])
def test_validators_reject(fn, text):
    with pytest.raises(ValueError):
        fn(text)


def test_validators_accept():
    assert opt.pue("1.4") == 1.4
    assert opt.carbon_intensity("0") == 0.0
    assert opt.rate_hz("50") == 50.0
    assert opt.items("64") == 64
    assert opt.identifier("--var", "res") == "res"
    with pytest.raises(ValueError):
        opt.identifier("--var", "1abc")


@pytest.mark.parametrize("line,options,statement", [
    ("model(x)", "", "model(x)"),
    ("-l base -n 8 model(x)", "-l base -n 8", "model(x)"),
    ("--label='a b' -q f(-1)", "--label='a b' -q", "f(-1)"),
    ('-l "two words" sum(range(10))', '-l "two words"', "sum(range(10))"),
    ("-o -- -x", "-o", "-x"),
    ("--rate=50 time.sleep(0.1)", "--rate=50", "time.sleep(0.1)"),
    ("-q", "-q", ""),
])
def test_split_line(line, options, statement):
    assert opt.split_line(line) == (options, statement)


@pytest.mark.parametrize("line", ["--bogus pass", "--lable fast sum([1])", "-z f()"])
def test_unknown_flags_are_refused_not_run(line):
    with pytest.raises(opt.UnknownOption, match="unknown option"):
        opt.split_line(line)


def test_statement_may_start_with_a_minus_after_double_dash():
    assert opt.split_line("-- -x + 1") == ("", "-x + 1")


@pytest.mark.parametrize("name", ["get_ipython", "__builtins__", "for", "In", "exit"])
def test_var_refuses_names_the_notebook_needs(name):
    with pytest.raises(ValueError):
        opt.identifier("--var", name)


def test_unquote():
    assert opt.unquote("'fp16 run'") == "fp16 run"
    assert opt.unquote('"it\'s"') == "it's"
    assert opt.unquote("plain") == "plain" and opt.unquote(None) is None and opt.unquote("'") == "'"
