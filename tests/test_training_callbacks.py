"""Training-loop callbacks on eco_magic.measure(): a tiny model trained for two short epochs on CPU with the real
transformers Trainer and the real Lightning Trainer gives one ledger row per epoch (and per N-step interval), each
logged to the trainer's tracker at the step where it ended."""
from __future__ import annotations

import uuid

import pytest

import eco_magic
from eco_magic.integrations.training import TrainingMeter

torch = pytest.importorskip("torch")

SAMPLES, BATCH = 32, 4          # 8 optimizer steps per epoch
EPOCHS, EVERY = 2, 3            # intervals: steps 1-3, 4-6, 7-9, 10-12, 13-15, 16


def _rows(prefix: str) -> list[dict]:
    return [r for r in eco_magic.ledger().records() if r["label"].startswith(prefix)]


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, 8, generator=g)
    return x, (x.sum(dim=1) > 0).long()


def _check_rows(prefix: str, results) -> None:
    rows = _rows(prefix)
    epochs = [r for r in rows if " epoch " in r["label"]]
    intervals = [r for r in rows if " steps " in r["label"]]
    assert [r["label"] for r in epochs] == [f"{prefix} epoch 1", f"{prefix} epoch 2"]
    assert [r["label"] for r in intervals] == [f"{prefix} steps {a}-{b}" for a, b in
                                               ((1, 3), (4, 6), (7, 9), (10, 12), (13, 15), (16, 16))]
    for r in rows:
        assert r["status"] == "ok" and r["energy_j"] is not None and r["energy_j"] >= 0 and r["duration_s"] > 0
        assert r["devices"] and all(d["method"] for d in r["devices"])
    assert epochs[0]["n_params"] == 8 * 2 + 2  # the model was counted (nn.Linear(8, 2))
    assert sorted(r.label for r in results) == sorted(r["label"] for r in rows)


# --- the shared meter ------------------------------------------------------------------------------------------


def test_meter_checks_its_options_before_training():
    with pytest.raises(ValueError, match="every_n_steps"):
        TrainingMeter(every_n_steps=0)
    with pytest.raises(ValueError, match="pue"):
        TrainingMeter(measure_options={"pue": 0.5})
    with pytest.raises(ValueError, match="'ledger' is set by the callback"):
        TrainingMeter(measure_options={"ledger": False})


def test_meter_failures_become_notes_and_never_stop_training(capsys):
    meter = TrainingMeter(label=f"t-{uuid.uuid4().hex[:6]}")
    meter.epoch_start(0)
    meter.epoch_end(3, ["bogus-tracker"])            # the row is kept; the tracker failure is a note
    assert len(meter.results) == 1 and meter.results[0].label.endswith(" epoch 1")
    assert meter.notes == ["not logged to bogus-tracker: unknown tracker 'bogus-tracker' (use one of mlflow, "
                           "wandb, tensorboard)"]
    meter.guard(lambda: 1 / 0)
    assert meter.notes[-1] == "eco_magic: ZeroDivisionError: division by zero (training goes on)"
    err = capsys.readouterr().err.splitlines()
    assert err == ["eco_magic: " + meter.notes[0], meter.notes[1]]
    meter.guard(lambda: 1 / 0)                       # the same note is said once
    assert capsys.readouterr().err == "" and len(meter.notes) == 2


def test_an_exception_records_the_open_spans_as_errors():
    label = f"x-{uuid.uuid4().hex[:6]}"
    meter = TrainingMeter(label=label, every_n_steps=5)
    meter.train_start(0)
    meter.epoch_start(0)
    meter.step_end(1, ())
    meter.train_end(2, (), RuntimeError("loss is nan"))
    assert [(r.label, r.status, r.error) for r in meter.results] == [
        (f"{label} steps 1-2", "error", "RuntimeError: loss is nan"),
        (f"{label} epoch 1", "error", "RuntimeError: loss is nan")]


# --- transformers -------------------------------------------------------------------------------------------------


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 2)

    def forward(self, x, labels=None):
        logits = self.linear(x)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
        return out


def test_transformers_trainer_callback_records_one_row_per_epoch_and_logs_to_tensorboard(tmp_path, monkeypatch):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from eco_magic.integrations.transformers import EcoCallback

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    x, y = _data()
    dataset = [{"x": x[i], "labels": y[i]} for i in range(SAMPLES)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH, learning_rate=0.1, report_to=["tensorboard"], save_strategy="no",
        logging_steps=4, use_cpu=True, disable_tqdm=True, dataloader_num_workers=0, seed=0)
    prefix = f"hf-{uuid.uuid4().hex[:6]}"
    callback = EcoCallback(label=prefix, every_n_steps=EVERY, region="FR")
    trainer = transformers.Trainer(model=_Tiny(), args=args, train_dataset=dataset, callbacks=[callback])
    trainer.train()

    _check_rows(prefix, callback.results)
    assert callback.notes == []
    runs = tmp_path / "out" / "runs"
    assert callback.targets(args) == [f"tensorboard:{runs / 'eco_magic'}"]
    acc = EventAccumulator(str(runs / "eco_magic"))
    acc.Reload()
    energy = acc.Scalars("eco/energy_j")   # epochs at steps 8 and 16, intervals at 3, 6, 9, 12, 15, 16
    assert sorted(e.step for e in energy) == [3, 6, 8, 9, 12, 15, 16, 16]
    by_label = {r.label: r for r in callback.results}
    epoch2 = [e for e in energy if e.step == 8]
    assert epoch2[0].value == pytest.approx(by_label[f"{prefix} epoch 1"].energy_j, rel=1e-6)
    (trainer_run,) = [p for p in runs.iterdir() if p.name != "eco_magic"]  # the Trainer's run, beside ours
    theirs = EventAccumulator(str(trainer_run))
    theirs.Reload()
    assert "train/loss" in theirs.Tags()["scalars"]


# --- Lightning ----------------------------------------------------------------------------------------------------


def test_lightning_callback_records_one_row_per_epoch_and_logs_to_the_mlflow_logger(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from eco_magic.integrations import lightning as eco_lightning

    pl = __import__(eco_lightning.Callback.__module__.split(".")[0])
    pl = pl.pytorch if hasattr(pl, "pytorch") else pl          # lightning.pytorch or pytorch_lightning
    from torch.utils.data import DataLoader, TensorDataset

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 2)

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            loss = torch.nn.functional.cross_entropy(self.linear(xb), yb)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    monkeypatch.chdir(tmp_path)
    mlflow_logger = pl.loggers.MLFlowLogger(experiment_name="eco", tracking_uri=f"sqlite:///{tmp_path / 'ml.db'}")
    prefix = f"pl-{uuid.uuid4().hex[:6]}"
    callback = eco_lightning.EcoCallback(label=prefix, every_n_steps=EVERY, region="FR")
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, logger=mlflow_logger, callbacks=[callback],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         log_every_n_steps=1, default_root_dir=str(tmp_path))
    x, y = _data()
    trainer.fit(Module(), DataLoader(TensorDataset(x, y), batch_size=BATCH))

    _check_rows(prefix, callback.results)
    assert callback.notes == []
    client = mlflow_logger.experiment
    history = client.get_metric_history(mlflow_logger.run_id, "eco/energy_j")
    assert sorted(m.step for m in history) == [3, 6, 8, 9, 12, 15, 16, 16]
    by_label = {r.label: r for r in callback.results}
    assert [m.value for m in history if m.step == 8] == [pytest.approx(by_label[f"{prefix} epoch 1"].energy_j)]
    tags = client.get_run(mlflow_logger.run_id).data.tags
    assert tags["eco/region"] == "FR" and tags["eco/carbon_source"]
    assert "loss" in client.get_run(mlflow_logger.run_id).data.metrics  # Lightning's own metric, same run
