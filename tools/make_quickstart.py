"""Write notebooks/quickstart.ipynb (outputs stripped). Run: python tools/make_quickstart.py"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell(
        "# eco_magic quickstart\n\n"
        "`%%ecolyze` measures what a cell costs the planet: while it runs (from half a second on), a readout under "
        "the cell shows live power; when it ends, the card shows **energy, CO₂e, water, thermal state and ESS**, each with its unit and "
        "*how it was obtained* (hardware counter, integrated power, or an estimate).\n\n"
        "On a laptop or Binder without readable energy counters the CPU and RAM figures are **estimates** "
        "(CPU time × TDP per thread; DIMM model), and the card says so."),
    new_code_cell("%load_ext eco_magic"),
    new_markdown_cell(
        "## A tiny model\n\nA one-layer network: a 1024 × 1024 weight matrix (1,048,576 parameters: 1.05 M) applied "
        "to a batch of 2,048 inputs. We keep a float32 and a float64 copy to compare."),
    new_code_cell(
        "import numpy as np\n\n"
        "rng = np.random.default_rng(0)\n"
        "layer_fp32 = {'weight': rng.standard_normal((1024, 1024)).astype(np.float32)}\n"
        "layer_fp64 = {'weight': layer_fp32['weight'].astype(np.float64)}\n"
        "batch = rng.standard_normal((2048, 1024)).astype(np.float32)"),
    new_markdown_cell(
        "## Measure a cell\n\n`--label` names the run, `--items` gives per-item figures, `--model` says which "
        "variable holds the model (so ESS knows its parameter count and precision). Watch the live readout while it "
        "runs."),
    new_code_cell(
        "%%ecolyze --label fp32 --items 2048 --model layer_fp32\n"
        "for _ in range(16):\n"
        "    out = np.tanh(batch @ layer_fp32['weight'])"),
    new_code_cell(
        "%%ecolyze --label fp64 --items 2048 --model layer_fp64\n"
        "batch64 = batch.astype(np.float64)\n"
        "for _ in range(16):\n"
        "    out = np.tanh(batch64 @ layer_fp64['weight'])"),
    new_markdown_cell(
        "## Compare\n\nEvery measured cell lands in the ledger (a SQLite file next to the notebook, so it survives "
        "restarts). `%ecoledger compare` draws the variants side by side with deltas against the first."),
    new_code_cell("%ecoledger compare --metric energy --baseline fp32"),
    new_code_cell(
        "import eco_magic\n\n"
        "eco_magic.ledger().to_dataframe()[['label', 'energy_j', 'co2_g', 'water_l', 'ess', 'duration_s', "
        "'methods']]"),
    new_markdown_cell(
        "## Where are you?\n\nCarbon intensity depends on the grid. Set your region once "
        "(`%config EcoMagics.region = 'FR'`) or per cell with `--region`: ISO codes, country names, US states "
        "(`US-CA`) and cloud regions (`aws:eu-west-3`, `europe-west9`) work. `%%ecolyze?` lists every option."),
    new_code_cell("%ecolyze --label one-line --region PL sum(range(1_000_000))"),
]
nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
Path(__file__).resolve().parent.parent.joinpath("notebooks", "quickstart.ipynb").write_text(nbformat.writes(nb))
