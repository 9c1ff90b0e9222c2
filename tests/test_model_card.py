"""eco_magic.model_card: the Hub's co2_eq_emissions block from ledger rows, written into a model card and read back
with huggingface_hub (offline: local files only)."""
from __future__ import annotations

import pytest

import eco_magic
from eco_magic.integrations.model_card import model_card, records_of
from eco_magic.result import DeviceReading, WorkerReading
from eco_magic.session_ledger import Ledger
from helpers import make_result

GPU = DeviceReading("gpu:0", "gpu", "NVIDIA A100-SXM4-80GB", 500.0, "counter", "nvmlDeviceGetTotalEnergyConsumption")
GPU1 = DeviceReading("gpu:1", "gpu", "NVIDIA A100-SXM4-80GB", 480.0, "counter", "nvmlDeviceGetTotalEnergyConsumption")
CPU = DeviceReading("cpu:model", "cpu", "AMD EPYC 7763", 80.0, "estimated", "CPU time × TDP", "process")
RAM = DeviceReading("ram:model", "ram", "RAM 256 GB", 20.0, "estimated", "DIMM model", "process")


def _rows():
    return [make_result("epoch-1", energy_j=1080.0, co2_g=12.5, devices=(GPU, GPU1, CPU, RAM)),
            make_result("epoch-2", energy_j=600.0, co2_g=7.25, devices=(GPU, CPU, RAM)),
            make_result("eval", energy_j=100.0, co2_g=0.25, region="US-CA", region_name="California, United States",
                        carbon_source="EPA eGRID", carbon_year=2022, pue=1.4)]


def test_block_has_the_hubs_keys_emissions_in_grams_and_says_how():
    block = model_card(_rows(), training_type="fine-tuning")
    assert list(block) == ["emissions", "source", "training_type", "geographical_location", "hardware_used"]
    assert block["emissions"] == pytest.approx(20.0)
    assert block["training_type"] == "fine-tuning"
    assert block["geographical_location"] == "France; California, United States"
    assert block["hardware_used"] == "2 x NVIDIA A100-SXM4-80GB (GPU), 1 x AMD EPYC 7763 (CPU), 1 x Test CPU (CPU)"
    src = block["source"]
    assert src.startswith(f"eco_magic {eco_magic.__version__} (ML-EcoLyzer method), 3 measured cells")
    assert "counter: gpu" in src and "estimated: cpu, ram" in src
    assert "Ember/OWID 2023" in src and "EPA eGRID 2022" in src and "PUE 1.1, 1.4" in src
    assert "embodied carbon not included" in src


def test_overrides_win_and_training_type_is_checked():
    block = model_card(_rows()[:1], source="my paper", geographical_location="Quebec, Canada",
                       hardware_used="8 v100 GPUs")
    assert block == {"emissions": 12.5, "source": "my paper", "geographical_location": "Quebec, Canada",
                     "hardware_used": "8 v100 GPUs"}
    with pytest.raises(ValueError, match="pre-training, fine-tuning"):
        model_card(_rows(), training_type="training")
    with pytest.raises(ValueError, match="no row with a known CO2e"):
        model_card([])


def test_rows_without_co2_are_not_counted_and_the_source_says_so():
    records = [r.to_dict() for r in _rows()]
    records[2]["co2_g"] = None
    block = model_card(records)
    assert block["emissions"] == pytest.approx(19.75)
    assert block["source"].endswith("1 row(s) without a known CO2e not counted")
    assert block["geographical_location"] == "France"


def test_dask_workers_hardware_counts_per_host():
    w = WorkerReading("tcp://10.0.0.7:1", "node-7", "measured", 300.0, host_id="boot-7", devices=(GPU,))
    w2 = WorkerReading("tcp://10.0.0.8:1", "node-8", "measured", 300.0, host_id="boot-8", devices=(GPU,))
    block = model_card(make_result(devices=(CPU,), workers=(w, w2)))
    assert block["hardware_used"] == "2 x NVIDIA A100-SXM4-80GB (GPU), 1 x AMD EPYC 7763 (CPU)"


def test_ledger_dataframe_and_the_package_level_function(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for r in _rows():
        ledger.append(r)
    assert model_card(ledger)["emissions"] == pytest.approx(20.0)
    assert len(records_of(ledger.to_dataframe())) == 3
    assert model_card(ledger.to_dataframe())["emissions"] == pytest.approx(20.0)
    fresh = Ledger(tmp_path / "ledger.sqlite")  # a later session: its own rows are empty, the file has three
    assert eco_magic.model_card(fresh, all_sessions=True)["emissions"] == pytest.approx(20.0)


def test_written_into_a_model_card_and_read_back_with_huggingface_hub(tmp_path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # a card that already exists keeps its other metadata and its text
    card = hub.ModelCard.from_template(hub.ModelCardData(license="mit", library_name="transformers",
                                                         tags=["energy"]), model_id="tiny")
    card.save(tmp_path / "README.md")
    block = model_card(_rows(), training_type="fine-tuning", path=tmp_path)
    back = hub.ModelCard.load(tmp_path / "README.md")
    assert back.data.co2_eq_emissions == block
    assert back.data.license == "mit" and back.data.tags == ["energy"]
    assert "# Model Card for tiny" in back.text
    # no card yet: one is created
    new = tmp_path / "model" / "README.md"
    new.parent.mkdir()
    block2 = model_card(_rows()[:1], path=new)
    assert hub.ModelCard.load(new).data.to_dict() == {"co2_eq_emissions": block2}
    assert new.read_text().count("---\n") == 2 and new.read_text().count("# Model card") == 1
    # the Hub library's own emission filter reads our block
    from huggingface_hub.utils.endpoint_helpers import _is_emission_within_threshold

    info = type("Info", (), {"card_data": back.data})()
    assert _is_emission_within_threshold(info, 19.0, 21.0)
