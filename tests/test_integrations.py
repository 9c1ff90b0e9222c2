"""eco_magic.integrations: results logged to MLflow (SQLite store), W&B (offline) and TensorBoard (event files), each
read back with the tracker's own reader; failures become notes, never exceptions; nothing leaves the machine."""
from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eco_magic.integrations import TargetError, check_targets, log_result
from eco_magic.integrations.fields import metrics, provenance
from helpers import make_result
from kernel_child import child_env


def _rich_result(**kw):
    """A result with per-item, per-token, repeat spread and embodied figures, some of them unknown."""
    base = dict(items=64, energy_per_item_j=1.5625, co2_per_item_g=2.4e-5, tokens_out=512, energy_per_token_j=0.195,
                tokens_per_s=256.0, embodied_co2_g=0.004, embodied_source="Boavizta 2024",
                runs=5, energy_j_std=4.0, energy_j_ci=(95.0, 105.0), ess=12.5, ess_std=None, ess_ci=(11.0, 14.0),
                co2_g_std=float("nan"), precision="int8", precision_source="dtype census",
                carbon_kind="annual average", pue_source="hardware tier", pue_tier="CPU only",
                water_model="li", water_source="Li et al. 2025")
    base.update(kw)
    return make_result("int8", **base)


# --- what is sent (pure) ------------------------------------------------------------------------------------------


def test_metrics_carry_every_known_figure_with_its_unit_and_leave_unknowns_out():
    m = metrics(_rich_result())
    assert m["eco/energy_j"] == 100.0 and m["eco/duration_s"] == 2.0 and m["eco/water_l"] == 0.001
    assert m["eco/co2_g"] == pytest.approx(100.0 / 3.6e6 * 56.0 * 1.1)
    assert m["eco/ess"] == 12.5 and m["eco/embodied_co2_g"] == 0.004
    assert m["eco/items"] == 64 and m["eco/energy_per_item_j"] == 1.5625 and m["eco/co2_per_item_g"] == 2.4e-5
    assert m["eco/tokens_out"] == 512 and m["eco/energy_per_token_j"] == 0.195 and m["eco/tokens_per_s"] == 256.0
    assert m["eco/cpu_energy_j"] == 100.0 and "eco/gpu_energy_j" not in m
    assert m["eco/runs"] == 5 and m["eco/energy_j_std"] == 4.0
    assert (m["eco/energy_j_ci_low"], m["eco/energy_j_ci_high"]) == (95.0, 105.0)
    assert (m["eco/ess_ci_low"], m["eco/ess_ci_high"]) == (11.0, 14.0)
    # unknown: never a silent zero
    for absent in ("eco/ess_std", "eco/co2_g_std", "eco/energy_net_j", "eco/tokens_in", "eco/peak_temp_c"):
        assert absent not in m
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())


def test_a_single_run_sends_no_spread_and_a_custom_prefix_applies():
    m = metrics(make_result(energy_j_std=1.0), prefix="train/eco_")
    assert "train/eco_energy_j" in m and not any("std" in k or "ci_" in k or k.endswith("runs") for k in m)


def test_provenance_says_how_each_number_was_obtained():
    tags = provenance(_rich_result())
    assert tags["eco/carbon_source"] == "Ember/OWID" and tags["eco/carbon_year"] == "2023"
    assert tags["eco/region"] == "FR" and tags["eco/region_name"] == "France"
    assert tags["eco/pue"] == "1.1" and tags["eco/pue_source"] == "hardware tier"
    assert tags["eco/water_model"] == "li" and tags["eco/water_source"] == "Li et al. 2025"
    assert tags["eco/methods"].startswith("cpu:model=estimated (Test CPU; CPU time × TDP; process scope")
    assert tags["eco/embodied_source"] == "Boavizta 2024" and tags["eco/precision"] == "int8"
    assert tags["eco/label"] == "int8" and tags["eco/eco_magic_version"]
    assert "eco/token_source" not in tags  # empty text is left out
    assert all(isinstance(v, str) and len(v) <= 5000 for v in tags.values())


# --- never raises -------------------------------------------------------------------------------------------------


def test_unknown_and_unrecognised_targets_become_notes_and_the_others_are_still_logged(tmp_path):
    notes = log_result(make_result(), ["bogus", object(), f"tensorboard:{tmp_path / 'tb'}"])
    assert len(notes) == 2
    assert notes[0].startswith("not logged to bogus: unknown tracker 'bogus'")
    assert notes[1].startswith("not logged to object: cannot tell which tracker")
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    with pytest.raises(TargetError, match="unknown tracker 'neptune'"):
        check_targets(["mlflow", "neptune"])
    assert check_targets("wandb") == ["wandb"] and check_targets(None) == []


def test_a_missing_library_gives_a_one_line_hint(monkeypatch):
    for name in ("mlflow", "wandb", "tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ModuleNotFoundError, as if not installed
    for name in ("mlflow", "wandb", "tensorboard"):
        monkeypatch.delitem(sys.modules, f"eco_magic.integrations.{name}", raising=False)
    notes = log_result(make_result(), ["mlflow", "wandb", "tensorboard"])
    assert notes == [f"not logged to {n}: {n} is not installed (pip install 'eco_magic[{n}]')"
                     for n in ("mlflow", "wandb", "tensorboard")]


def test_a_tracker_that_fails_becomes_a_note():
    class BrokenWriter:
        def add_scalar(self, *args):
            raise RuntimeError("disk full\nsecond line")

    assert log_result(make_result(), [BrokenWriter()]) == ["not logged to BrokenWriter: RuntimeError: disk full"]
    assert log_result(None, ["tensorboard"])[0].startswith("not logged to trackers:")


def test_no_active_run_is_a_note_not_a_new_run(monkeypatch, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert mlflow.active_run() is None
    notes = log_result(make_result(), ["mlflow", "wandb"])
    assert notes == ["not logged to mlflow: no active MLflow run (call mlflow.start_run() first)",
                     "not logged to wandb: no active W&B run (call wandb.init() first)"]
    assert mlflow.active_run() is None and not (tmp_path / "mlflow.db").exists()


# --- the real trackers, local back-ends only -----------------------------------------------------------------------


def test_mlflow_sqlite_store_reads_back_energy_steps_and_provenance(tmp_path, monkeypatch, no_network):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    first, second = _rich_result(), make_result("fp32", energy_j=250.0)
    with mlflow.start_run() as run:
        assert log_result(first, ["mlflow"]) == []
        assert log_result(second, "mlflow") == []
    assert log_result(make_result("later", energy_j=7.0), [f"mlflow:{run.info.run_id}"], step=10) == []
    assert log_result(make_result("object", energy_j=8.0), [run], step=11) == []

    client = mlflow.MlflowClient()
    history = client.get_metric_history(run.info.run_id, "eco/energy_j")
    assert [(m.step, m.value) for m in history] == [(0, 100.0), (1, 250.0), (10, 7.0), (11, 8.0)]
    data = client.get_run(run.info.run_id).data
    assert data.metrics["eco/energy_per_item_j"] == 1.5625  # first result only; latest value per key
    assert data.metrics["eco/energy_j_ci_high"] == 105.0
    assert data.tags["eco/carbon_source"] == "Ember/OWID" and data.tags["eco/label"] == "object"
    assert data.tags["eco/methods"].startswith("cpu:model=estimated")
    assert no_network == []


def test_tensorboard_event_files_read_back_with_tensorboards_reader(tmp_path, monkeypatch, no_network):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)
    assert log_result(_rich_result(), ["tensorboard"]) == []                 # runs/eco_magic
    assert log_result(make_result(energy_j=42.0), ["tensorboard"]) == []
    assert log_result(make_result(energy_j=9.0), [f"tensorboard:{tmp_path / 'other'}"], step=5) == []
    acc = EventAccumulator(str(tmp_path / "runs" / "eco_magic"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("eco/energy_j")] == [(0, 100.0), (1, 42.0)]
    assert acc.Scalars("eco/energy_per_token_j")[0].value == pytest.approx(0.195, rel=1e-6)  # float32 on disk
    assert acc.Scalars("eco/co2_g")[1].value == pytest.approx(42.0 / 3.6e6 * 56.0 * 1.1, rel=1e-6)
    text = acc.Tensors("eco/provenance")[0].tensor_proto.string_val[0].decode()
    assert "| eco/carbon_source | Ember/OWID |" in text and "| eco/water_model | li |" in text
    other = EventAccumulator(str(tmp_path / "other"))
    other.Reload()
    assert [(e.step, e.value) for e in other.Scalars("eco/energy_j")] == [(5, 9.0)]
    names = [p.name for p in (tmp_path / "runs" / "eco_magic").iterdir()]
    assert len(names) == 1 and socket.gethostname() not in names[0]  # no host name in the file name
    assert no_network == []


def test_a_torch_summary_writer_object_is_written_to(tmp_path):
    pytest.importorskip("tensorboard")
    tb = pytest.importorskip("torch.utils.tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    writer = tb.SummaryWriter(str(tmp_path / "tw"))
    try:
        assert log_result(make_result(energy_j=3.0), [writer], step=2) == []
    finally:
        writer.close()
    acc = EventAccumulator(str(tmp_path / "tw"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("eco/energy_j")] == [(2, 3.0)]
    assert "eco/provenance/text_summary" in acc.Tags()["tensors"]


WANDB_CHILD = textwrap.dedent('''
    import json, socket, sys
    ATTEMPTS = []
    def _refuse(name, original=None):
        def refuse(*args, **kwargs):
            if original is not None and args and getattr(args[0], "family", None) == socket.AF_UNIX:
                return original(*args, **kwargs)   # wandb talks to its local wandb-core over a Unix socket
            ATTEMPTS.append(name)
            raise OSError("network access blocked by the test")
        return refuse
    for _n in ("connect", "connect_ex", "sendto", "sendmsg"):
        setattr(socket.socket, _n, _refuse(_n, getattr(socket.socket, _n)))
    for _n in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, _n, _refuse(_n))

    import wandb
    from helpers import make_result
    from eco_magic.integrations import log_result

    run = wandb.init(project="eco", config={"lr": 0.1})
    run.log({"loss": 1.0})
    notes = [log_result(make_result("fp32", energy_j=100.0, items=4, energy_per_item_j=25.0), ["wandb"]),
             log_result(make_result("int8", energy_j=40.0), [run], step=7)]
    run.log({"loss": 0.5})
    run.finish()
    print("RESULT", json.dumps({"notes": notes, "attempts": ATTEMPTS, "dir": run.dir}))
''')


def test_wandb_offline_run_reads_back_energy_and_provenance(tmp_path):
    pytest.importorskip("wandb")
    env = child_env(tmp_path, WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true",
                    WANDB_DISABLE_GIT="true", WANDB_DISABLE_CODE="true", WANDB_CONSOLE="off",
                    WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"), WANDB_CACHE_DIR=str(tmp_path / "wandb-cache"))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env["PYTHONPATH"]])  # helpers.py
    env.pop("WANDB_API_KEY", None)
    out = subprocess.run([sys.executable, "-c", WANDB_CHILD], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    child = json.loads(out.stdout.split("RESULT ", 1)[1])
    assert child["notes"] == [[], []] and child["attempts"] == []

    # W&B's own reader of the offline transaction log (`wandb leet inspect`)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = _wandb_records(runs[0], env)
    history = [r["history"]["item"] for r in records if r.get("type") == "history"]
    eco = [h for h in history if "eco/energy_j" in h]
    assert [(h["eco/step"], h["eco/energy_j"]) for h in eco] == [(0, 100), (7, 40)]
    assert eco[0]["eco/energy_per_item_j"] == 25 and "eco/energy_per_item_j" not in eco[1]
    assert [h["loss"] for h in history if "loss" in h] == [1.0, 0.5]  # the training curve is untouched
    summary = json.loads(subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json",
                                         str(runs[0])], env=env, capture_output=True, text=True,
                                        timeout=120, check=True).stdout)
    assert summary["summary"]["eco/energy_j"] == 40 and summary["config"]["lr"] == 0.1
    assert summary["config"]["eco_magic"]["carbon_source"] == "Ember/OWID"
    assert summary["config"]["eco_magic"]["label"] == "int8"


def _wandb_records(run_dir, env) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_dir)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


# --- wired into the measuring path -----------------------------------------------------------------------------------
def test_magic_config_and_api_log_each_result_to_tensorboard(ip, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from IPython.utils.capture import capture_output
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import eco_magic

    logdir = tmp_path / "tb"
    ip.run_line_magic("config", f"EcoMagics.log_to = ['tensorboard:{logdir}']")
    try:
        with capture_output():
            r = ip.run_cell_magic("ecolyze", "-o -q -l logged", "sum(range(1000))")
        with eco_magic.measure(label="api", log_to=[f"tensorboard:{logdir}"]) as m:
            pass
        with eco_magic.measure(label="not logged", log_to=[]):
            pass
    finally:
        ip.run_line_magic("config", "EcoMagics.log_to = []")
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    assert [e.value for e in acc.Scalars("eco/energy_j")] == pytest.approx([r.energy_j, m.result.energy_j], rel=1e-6)
    with pytest.raises(ValueError):
        eco_magic.measure(log_to=["mlfow"])
    ip.run_line_magic("config", "EcoMagics.log_to = ['nonsense']")   # refused by the validator (logged), unchanged
    from eco_magic import magic

    assert magic._LOADED[id(ip)].log_to == []
    ip.config.EcoMagics.pop("log_to", None)


def test_a_tracker_failure_is_a_note_on_the_card_and_in_the_ledger(ip, monkeypatch):
    import eco_magic

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with eco_magic.measure(label="no run", log_to=["mlflow"]) as m:
        pass
    assert any("mlflow" in n for n in m.result.notes)
    assert eco_magic.ledger()[-1].notes == m.result.notes
