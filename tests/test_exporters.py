"""eco_magic.exporters: CSV/JSON round trips, CodeCarbon's emissions.csv layout and units, formula-safe cells."""
from __future__ import annotations

import csv
import json

import pytest

from eco_magic import exporters
from eco_magic.exporters import ExportError
from eco_magic.result import DeviceReading
from helpers import make_result

# The header of CodeCarbon's emissions.csv: the fields of
# codecarbon/output_methods/emissions_data.py::EmissionsData in codecarbon 3.3.2 (read from the PyPI wheel).
CODECARBON_3_3_2_COLUMNS = [
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
]


def record(label="r", energy_j=100.0, session_id="s1", **kw):
    return dict(make_result(label, energy_j, **kw).to_dict(), session_id=session_id, notebook="nb.ipynb")


def gpu_record():
    """3.6 MJ over 100 s: 2.4 MJ on one GPU, 1.2 MJ on the CPU; PUE 1.2; 1 kg CO2e; California."""
    devices = (
        DeviceReading("gpu:0", "gpu", "NVIDIA H100", 2.4e6, "counter", "NVML total energy", "device",
                      mean_util_pct=90.0),
        DeviceReading("cpu:rapl", "cpu", "Xeon", 1.2e6, "counter", "RAPL package", "machine", mean_util_pct=40.0),
    )
    return record("fp16", 3.6e6, co2_g=1000.0, pue=1.2, duration_s=100.0, devices=devices, region="US-CA",
                  region_name="California, United States", started_at="2026-11-22T10:00:00+00:00",
                  water_l=2.5)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_codecarbon_header_is_exactly_codecarbons(tmp_path):
    assert list(exporters.CODECARBON_COLUMNS) == CODECARBON_3_3_2_COLUMNS
    path = tmp_path / "emissions.csv"
    assert exporters.to_codecarbon_csv([record()], path) == 1
    with open(path, newline="") as f:
        assert next(csv.reader(f)) == CODECARBON_3_3_2_COLUMNS


def test_codecarbon_units_are_converted_and_include_pue_like_codecarbon(tmp_path):
    row = exporters.codecarbon_row(gpu_record())
    assert row["duration"] == 100.0
    assert row["emissions"] == pytest.approx(1.0)               # 1000 g -> 1 kg
    assert row["emissions_rate"] == pytest.approx(0.01)         # kg/s
    assert row["energy_consumed"] == pytest.approx(1.2)         # 3.6 MJ = 1 kWh, x PUE 1.2
    assert row["gpu_energy"] == pytest.approx(0.8)              # 2.4 MJ = 2/3 kWh, x 1.2
    assert row["cpu_energy"] == pytest.approx(0.4)
    assert row["ram_energy"] == 0.0
    assert row["gpu_power"] == pytest.approx(2.4e6 * 1.2 / 100)  # mean W over the cell, x PUE
    assert row["cpu_power"] == pytest.approx(1.2e6 * 1.2 / 100)
    assert row["water_consumed"] == 2.5
    assert row["pue"] == 1.2
    assert (row["gpu_count"], row["gpu_model"], row["cpu_model"]) == (1, "1 x NVIDIA H100", "Xeon")
    assert (row["gpu_utilization_percent"], row["cpu_utilization_percent"]) == (90.0, 40.0)
    assert row["tracking_mode"] == "machine"
    assert (row["country_iso_code"], row["country_name"], row["region"]) == ("USA", "United States", "california")
    assert (row["on_cloud"], row["cloud_provider"]) == ("N", "")
    assert row["timestamp"] == "2026-11-22T10:01:40"            # end of the cell, UTC, CodeCarbon's format
    assert (row["project_name"], row["run_id"]) == ("fp16", "s1")


def test_codecarbon_location_of_cloud_and_country_regions():
    cloud = exporters.codecarbon_row(record(region="aws:us-east-1", region_name="AWS us-east-1 (N. Virginia)"))
    assert (cloud["on_cloud"], cloud["cloud_provider"], cloud["cloud_region"]) == ("Y", "aws", "us-east-1")
    assert cloud["country_iso_code"] == "USA"
    france = exporters.codecarbon_row(record(region="FR"))
    assert (france["country_iso_code"], france["country_name"], france["region"]) == ("FRA", "France", "")
    world = exporters.codecarbon_row(record(region="WORLD"))
    assert world["country_iso_code"] == "" and world["on_cloud"] == "N"


@pytest.mark.parametrize("region, iso3, cc_region", [("CA-QC", "CAN", "quebec"), ("SE3", "SWE", "SE3"),
                                                     ("FI-ZONE", "FIN", "FI"), ("CN-BJ", "CHN", "beijing")])
def test_codecarbon_location_of_subnational_grids_uses_codecarbons_region_names(region, iso3, cc_region):
    row = exporters.codecarbon_row(record(region=region))
    assert (row["country_iso_code"], row["region"], row["on_cloud"]) == (iso3, cc_region, "N")
    cloud = exporters.codecarbon_row(record(region="aws:ca-central-1"))
    assert (cloud["country_iso_code"], cloud["region"], cloud["cloud_region"]) == ("CAN", "", "ca-central-1")


def test_codecarbon_li_water_model_gives_wue_and_paper_model_leaves_it_empty():
    li = exporters.codecarbon_row(record(energy_j=3.6e6, water_model="li", water_onsite_l=0.5))
    assert li["wue"] == pytest.approx(0.5)                      # 0.5 L on site per IT kWh
    assert exporters.codecarbon_row(record())["wue"] is None


def test_csv_round_trip_keeps_numbers_exactly(tmp_path):
    recs = [record("a", 123.456789, ess=2.5, items=7), record("b", 1e-7, status="error", error="boom")]
    path = tmp_path / "runs.csv"
    assert exporters.to_csv(recs, path) == 2
    rows = read_csv(path)
    assert [r["label"] for r in rows] == ["a", "b"]
    assert [float(r["energy_j"]) for r in rows] == [123.456789, 1e-7]
    assert [float(r["co2_g"]) for r in rows] == [rec["co2_g"] for rec in recs]
    assert rows[0]["ess"] == "2.5" and rows[1]["ess"] == ""      # None -> empty, never 0
    assert rows[1]["error"] == "boom"
    assert float(rows[0]["cpu_energy_j"]) == 123.456789 and rows[0]["gpu_energy_j"] == ""
    assert rows[0]["methods"] == "cpu:model=estimated"
    assert rows[0]["session_id"] == "s1" and rows[0]["notebook"] == "nb.ipynb"
    assert "devices" not in rows[0]
    assert list(rows[0])[:6] == ["session_id", "notebook", "started_at", "label", "status", "duration_s"]


def test_json_round_trip_keeps_whole_records_with_devices(tmp_path):
    recs = [record("a", ess=1.5), gpu_record()]
    path = tmp_path / "runs.json"
    assert exporters.to_json(recs, path) == 2
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["schema"] == exporters.JSON_SCHEMA
    assert doc["records"] == recs
    assert doc["records"][1]["devices"][0]["name"] == "NVIDIA H100"


def test_json_writes_null_for_non_finite_values(tmp_path):
    rec = record()
    rec["energy_net_j"] = float("nan")
    path = tmp_path / "runs.json"
    exporters.to_json([rec], path)
    assert json.loads(path.read_text())["records"][0]["energy_net_j"] is None


@pytest.mark.parametrize("label", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_formula_looking_labels_are_quoted_in_both_csv_layouts(tmp_path, label):
    exporters.to_csv([record(label)], tmp_path / "a.csv")
    exporters.to_codecarbon_csv([record(label)], tmp_path / "b.csv")
    assert read_csv(tmp_path / "a.csv")[0]["label"] == "'" + label
    assert read_csv(tmp_path / "b.csv")[0]["project_name"] == "'" + label


def test_ordinary_text_and_negative_numbers_are_not_quoted():
    assert exporters.csv_safe("fp16 run") == "fp16 run"
    assert exporters.csv_safe(-3.5) == -3.5
    assert exporters.csv_safe(None) == ""


@pytest.mark.parametrize("name, fmt, expected", [
    ("a.csv", None, "csv"), ("a.JSON", None, "json"), ("a.csv", "codecarbon", "codecarbon"),
    ("emissions", "codecarbon", "codecarbon"), ("a.txt", "json", "json")])
def test_format_from_suffix_or_flag(name, fmt, expected):
    assert exporters.resolve_format(name, fmt) == expected


@pytest.mark.parametrize("name, fmt", [("a.txt", None), ("a", None), ("a.json", "codecarbon"),
                                       ("a.csv", "json"), ("a.csv", "xlsx")])
def test_unknown_or_contradicting_format_is_refused(name, fmt):
    with pytest.raises(ExportError):
        exporters.resolve_format(name, fmt)


def test_missing_folder_is_an_export_error_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError, match="does not exist"):
        exporters.export([record()], out / "nope" / "a.csv")
    assert list(out.iterdir()) == []


def test_export_overwrites_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "a.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    assert exporters.export([record("x"), record("y")], path) == 2
    assert [r["label"] for r in read_csv(path)] == ["x", "y"]
    assert [p.name for p in out.iterdir()] == ["a.csv"]
    assert path.stat().st_mode & 0o777 == 0o640      # the file keeps its mode (not mkstemp's 0600)


def test_empty_ledger_exports_headers_only(tmp_path):
    exporters.to_codecarbon_csv([], tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text().strip() == ",".join(CODECARBON_3_3_2_COLUMNS)
    exporters.to_json([], tmp_path / "e.json")
    assert json.loads((tmp_path / "e.json").read_text())["records"] == []


def test_nothing_from_the_environment_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("ECO_SECRET_TOKEN", "s3cr3t-value")
    for name, fmt in (("a.csv", None), ("a.json", None), ("cc.csv", "codecarbon")):
        exporters.export([gpu_record()], tmp_path / name, fmt)
        assert "s3cr3t-value" not in (tmp_path / name).read_text()


def test_texts_utf8_cannot_hold_are_escaped_not_fatal(tmp_path):
    rec = record("bad-\ud800")
    assert exporters.to_json([rec], tmp_path / "x.json") == 1
    assert json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))["records"][0]["label"] == "bad-\ud800"
    assert exporters.to_csv([rec], tmp_path / "x.csv") == 1
    assert read_csv(tmp_path / "x.csv")[0]["label"] == "bad-\\ud800"
