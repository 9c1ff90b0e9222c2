"""Words match numbers: where a notebook's text states a number, it is the number its code uses (issue 10).

Static checks on the committed notebooks (no execution): each claim is found in the markdown by a pattern, and
the same figure is read from the code cells, so editing one without the other fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def _cells(name: str) -> tuple[str, list[str]]:
    nb = nbformat.read(NB_DIR / name, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    return re.sub(r"\s+", " ", prose), code


def _number(text: str) -> float:
    """'2,048' → 2048, '14_000' → 14000, '1.05' → 1.05."""
    return float(text.replace(",", "").replace("_", ""))


def _claim(prose: str, pattern: str) -> float:
    m = re.search(pattern, prose)
    assert m, f"the text no longer says {pattern!r}: update the claim and this test together"
    return _number(m.group(1))


def _in_code(code: list[str], pattern: str) -> list[float]:
    found = [_number(m.group(1)) for cell in code for m in re.finditer(pattern, cell)]
    assert found, f"no {pattern!r} in the code"
    return found


def test_quickstart_batch_and_parameter_count_match_the_code():
    prose, code = _cells("quickstart.ipynb")
    batch = _claim(prose, r"a batch of ([\d,]+) inputs")
    (rows,) = _in_code(code, r"batch = rng\.standard_normal\(\((\d[\d_]*), \d+\)\)")
    assert batch == rows
    assert set(_in_code(code, r"--items (\d+)")) == {batch}             # per-item figures use the same count
    side = _claim(prose, r"a ([\d,]+) × [\d,]+ weight matrix")
    (shape,) = {tuple(map(_number, m)) for cell in code
                for m in re.findall(r"standard_normal\(\((\d+), (\d+)\)\)\.astype\(np\.float32\)\}", cell)}
    assert shape == (side, side)
    assert _claim(prose, r"\(([\d,]+) parameters") == side * side
    assert _claim(prose, r"parameters: ([\d.]+) M\)") == round(side * side / 1e6, 2)


def test_classroom_dataset_sizes_match_the_code():
    prose, code = _cells("classroom.ipynb")
    (n_samples,) = _in_code(code, r"n_samples=(\d[\d_]*)")
    (n_features,) = _in_code(code, r"n_features=(\d+)")
    (n_train,) = _in_code(code, r"X_train, y_train = X\[:(\d[\d_]*)\]")
    assert _claim(prose, r"([\d,]+) imaginary patients") == n_samples
    assert _claim(prose, r"patients with (\d+) measurements each") == n_features
    assert _claim(prose, r"We keep ([\d,]+) of them aside") == n_samples - n_train


def test_classroom_model_table_matches_the_measured_cells():
    """The table of models states how many examples each was trained on: the code's slice and ``--items``."""
    prose, code = _cells("classroom.ipynb")
    for label, trees in (("forest-10", 10), ("forest-50", 50), ("forest-100", 100)):
        row = re.search(rf"\| `{label}` \| ([^|]+) \| ([\d,]+) examples \|", prose)
        assert row, label
        cell = next(c for c in code if f"--label {label} " in c)
        assert f"n_estimators={trees}," in cell and str(trees) in row.group(1)
        items = _number(re.search(r"--items (\d+)", cell).group(1))
        assert _number(row.group(2)) == items
        sliced = re.search(r"\.fit\(X_train(?:\[:(\d+)\])?", cell).group(1)
        assert items == (_number(sliced) if sliced else _in_code(code, r"X_train, y_train = X\[:(\d[\d_]*)\]")[0])
    assert _claim(prose, r"`logistic` \| [^|]+ \| ([\d,]+) examples") == _in_code(
        code, r"--label logistic --items (\d+)")[0]


def test_classroom_requests_lesson_matches_the_code():
    prose, code = _cells("classroom.ipynb")
    n = _claim(prose, r"to answer (\d+) requests in two ways")
    assert _claim(prose, r"as one batch of (\d+)") == n
    assert set(_in_code(code, r"--label (?:one-by-one|all-at-once) --items (\d+)")) == {n}
    assert _in_code(code, r"requests = X_test\[:(\d+)\]") == [n]
    assert "a pause of a tenth of a second" in prose and _in_code(code, r"time\.sleep\(([\d.]+)\)") == [0.1]


def test_classroom_does_not_promise_an_na_score_for_a_cell_that_may_have_one():
    """ESS is n/a only when the CO₂ is below what the sensors resolve, which depends on the machine: the text may
    say when the card shows n/a, not that a given cell's card does."""
    prose, _ = _cells("classroom.ipynb")
    assert not re.search(r"its card says \*\*n/a\*\* for the score rather", prose)
    assert "When a cell's CO₂ is too small to resolve, its card says **n/a** for the score" in prose
