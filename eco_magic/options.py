"""Validation of ``%%ecolyze`` option values and the split of a ``%ecolyze`` line into options and statement.

Every validator raises ``ValueError`` with a sentence a person understands; the magic turns it into
``UsageError``. Pure functions: no IPython here.
"""
from __future__ import annotations

import difflib
import keyword
import math
import re

#: fixed sampling rates that work: below 0.01 Hz a tick interval (100 s) outgrows any cell worth a fixed rate and
#: the thread-join timeouts derived from it overflow; above 100 Hz the sensors cannot follow
MIN_RATE_HZ = 0.01
MAX_RATE_HZ = 100.0
#: upper bounds for --repeat / --warmup: beyond them a typo (--repeat 1e9) would hang the notebook
MAX_REPEAT = 10_000
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}

#: Flags of ``%ecolyze`` that take a value (both spellings), for splitting the line magic.
VALUE_FLAGS = {"-l", "--label", "-r", "--region", "--pue", "--ci", "-p", "--params", "--precision", "-n", "--items",
               "--rate", "--water-model", "--var", "-m", "--model", "--project-daily", "--repeat", "--warmup",
               "--record"}
SWITCH_FLAGS = {"-o", "-q", "--quiet", "--return", "--dask", "--force-var"}


def _number(text: str, what: str) -> float:
    if isinstance(text, bool):  # float(True) is 1.0: repeat(runs=True) or measure(items=True) is a mistake
        raise ValueError(f"{what} must be a number, got {text!r}")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {text!r}")
    return value


def positive_float(what: str, text: str, upper: float | None = None) -> float:
    value = _number(text, what)
    if value <= 0:
        raise ValueError(f"{what} must be greater than 0, got {text!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{what} must be at most {upper:g}, got {text!r}")
    return value


def nonnegative_float(what: str, text: str, upper: float | None = None) -> float:
    value = _number(text, what)
    if value < 0:
        raise ValueError(f"{what} must be 0 or more, got {text!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{what} must be at most {upper:g}, got {text!r}")
    return value


def pue(text: str) -> float:
    value = _number(text, "--pue")
    if not 1.0 <= value <= 5.0:
        raise ValueError(f"--pue is a power usage effectiveness between 1.0 and 5.0, got {text!r}")
    return value


def carbon_intensity(text: str) -> float:
    """g CO₂e per kWh: 0 (fully carbon-free supply) to 2000 (above any real grid)."""
    return nonnegative_float("--ci (g CO₂e/kWh)", text, upper=2000.0)


def rate_hz(text: str) -> float:
    value = positive_float("--rate (Hz)", text, upper=MAX_RATE_HZ)
    if value < MIN_RATE_HZ:
        raise ValueError(f"--rate (Hz) must be at least {MIN_RATE_HZ:g} Hz (one sample every 100 s), got {text!r}")
    return value


def count(what: str, text: str, lower: int, upper: int = MAX_REPEAT) -> int:
    """A whole number between ``lower`` and ``upper`` (``--repeat``, ``--warmup``)."""
    value = _number(text, what)
    if value != int(value) or not lower <= value <= upper:
        raise ValueError(f"{what} is a whole number from {lower} to {upper:,}, got {text!r}")
    return int(value)


def record_names(text: str) -> tuple[str, ...]:
    """``--record acc,loss`` → ``("acc", "loss")``: variable names (validated before the cell runs)."""
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    if not names:
        raise ValueError(f"--record takes variable names separated by commas, e.g. --record accuracy,loss; "
                         f"got {text!r}")
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"--record: {name!r} is not a Python variable name")
    return tuple(dict.fromkeys(names))


def model_path(text: str) -> str:
    """``--model model`` or a dotted attribute path ``--model pipe.model``."""
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", str(text)) or any(
            keyword.iskeyword(p) for p in str(text).split(".")):
        raise ValueError(f"--model takes a variable name such as model or pipe.model, got {text!r}")
    return str(text)


def params(text: str) -> float:
    """Parameter count: ``7e9``, ``7000000000``, ``7B``, ``350M``, ``1.3b``, ``125k``."""
    t = str(text).strip().replace("_", "").replace(",", "")
    m = re.fullmatch(r"([0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)", t)
    if not m:
        raise ValueError(f"--params is a parameter count such as 7e9, 7B or 350M, got {text!r}")
    value = _number(m.group(1), "--params") * _SUFFIX.get(m.group(2).lower(), 1.0)
    if value < 1 or value > 1e15:
        raise ValueError(f"--params must be between 1 and 1e15, got {text!r}")
    return value


def items(text: str) -> int:
    value = _number(text, "--items")
    if value < 1 or value != int(value) or value > 1e15:
        raise ValueError(f"--items is a whole number of items (inferences, samples) ≥ 1, got {text!r}")
    return int(value)


#: ``%ecolyze_idle SECONDS``: below 0.1 s the CPU-time estimates (10 ms ticks) and counters give no idle power,
#: only noise; above 600 s the kernel would be blocked for longer than anyone waits on purpose
MIN_IDLE_S, MAX_IDLE_S = 0.1, 600.0


def idle_seconds(text: str) -> float:
    value = positive_float("%ecolyze_idle SECONDS", text, MAX_IDLE_S)
    if value < MIN_IDLE_S:
        raise ValueError(f"%ecolyze_idle SECONDS must be at least {MIN_IDLE_S:g} (an idle power needs some idle "
                         f"time to rest on), got {text!r}")
    return value


def project_daily(text: str) -> float:
    return positive_float("--project-daily (runs per day)", text, upper=1e12)


#: Names a result must never overwrite: IPython's own and those the notebook needs to keep working.
PROTECTED_NAMES = frozenset({"get_ipython", "exit", "quit", "In", "Out", "display", "_ih", "_oh", "_dh", "_i", "_ii",
                             "_iii", "_", "__", "___"})


def identifier(what: str, text: str) -> str:
    """A variable name the result may be stored under: an identifier, not a keyword, dunder or IPython name."""
    name = str(text)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{what} must be a Python variable name, got {text!r}")
    if (name.startswith("__") and name.endswith("__")) or name in PROTECTED_NAMES:
        raise ValueError(f"{what} {name!r} would overwrite a name the notebook needs; choose another name")
    return name


def unquote(text: str | None) -> str | None:
    """``'fp16 run'`` → ``fp16 run``: IPython splits magic options without removing quotes."""
    if text is not None and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


class UnknownOption(ValueError):
    """A flag-like token in ``%ecolyze`` that is not an option (it would otherwise be run as code)."""


def unknown_option(flag: str, form: str) -> UnknownOption:
    """The one message for a misspelled flag, in both magic forms, with the closest option as a suggestion."""
    known = sorted(f for f in VALUE_FLAGS | SWITCH_FLAGS if f.startswith("--"))
    close = difflib.get_close_matches(flag if flag.startswith("--") else "-" + flag, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    where = ("options come before the statement; write %ecolyze -- STATEMENT for code starting with '-'"
             if form == "line" else "%%ecolyze? lists the options")
    return UnknownOption(f"unknown option {flag!r} in {'%ecolyze' if form == 'line' else '%%ecolyze'}: {hint}({where})")


def check_flags(option_text: str) -> None:
    """Raise :class:`UnknownOption` for the first flag in ``option_text`` that is not an option of the magic."""
    pos, n = 0, len(option_text)
    expect_value = False
    while pos < n:
        m = re.match(r"\s*(" + _TOKEN + ")", option_text[pos:])
        if m is None:
            return
        token = m.group(1)
        pos += m.end()
        if expect_value:
            expect_value = False
            continue
        flag = token.split("=", 1)[0]
        if flag in VALUE_FLAGS:
            expect_value = "=" not in token
        elif flag in SWITCH_FLAGS:
            continue
        elif re.fullmatch(r"--?[A-Za-z][\w-]*", flag):
            raise unknown_option(flag, "cell")


_TOKEN = r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+|\S+"""


def split_line(line: str) -> tuple[str, str]:
    """Split ``%ecolyze`` input into ``(options, statement)``.

    Options come first; the statement starts at the first token that is not a known flag (or after ``--``).
    ``%ecolyze -l base -n 8 model(x)`` → ``("-l base -n 8", "model(x)")``.
    """
    pos, n = 0, len(line)
    while True:
        while pos < n and line[pos].isspace():
            pos += 1
        if pos >= n:
            return line.strip(), ""
        m = re.match(_TOKEN, line[pos:])
        token = m.group(0)
        flag = token.split("=", 1)[0]
        if token == "--":
            return line[:pos].strip(), line[pos + 2:].strip()
        if flag in SWITCH_FLAGS and "=" not in token:
            pos += len(token)
            continue
        if flag in VALUE_FLAGS:
            pos += len(token)
            if "=" in token:
                continue
            # the value: a quoted string or the next whitespace-free token
            while pos < n and line[pos].isspace():
                pos += 1
            q = re.match(_TOKEN, line[pos:])
            if q is None:
                return line.strip(), ""
            pos += len(q.group(0))
            continue
        if re.fullmatch(r"--?[A-Za-z][\w-]*", flag):
            raise unknown_option(flag, "line")
        return line[:pos].strip(), line[pos:].strip()


#: ``%config`` values that work: (low, high, None allowed). Outside them a value is refused at once, and a bad value
#: left in the configuration from before loading is dropped at load with one line on stderr.
CONFIG_RANGES = {"pue": (1.0, 5.0, True), "carbon_intensity": (0.0, 2000.0, True),
          "rate_hz": (MIN_RATE_HZ, MAX_RATE_HZ, True), "cpu_tdp_w": (1.0, 10_000.0, True),
          "gpu_temp_max_c": (1.0, 150.0, False), "cpu_temp_max_c": (1.0, 150.0, False),
          "idle_baseline_s": (0.0, 86_400.0, False)}


def out_of_range(name: str, value) -> str | None:
    """Why ``value`` does not work for ``EcoMagics.name`` (``None``: it does)."""
    low, high, allow_none = CONFIG_RANGES[name]
    if value is None and allow_none:
        return None
    try:
        ok = value is not None and not isinstance(value, bool) and low <= float(value) <= high  # NaN fails
    except (TypeError, ValueError):
        ok = False
    return None if ok else f"EcoMagics.{name} must be between {low:g} and {high:g}, got {value!r}"
