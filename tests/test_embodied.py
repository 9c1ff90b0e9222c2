"""Embodied carbon (issue 17): the amortised share of each device's manufacturing footprint, against hand-computed
values; unknown hardware says so; the tables carry their sources."""
from __future__ import annotations

import csv
import json

import pytest
from IPython.utils.capture import capture_output

import eco_magic
from eco_magic import accelerators, embodied, exporters
from eco_magic.sensors.base import DeviceInfo

LIFETIME_S = 5 * 365 * 86400.0
H100 = DeviceInfo("gpu:0", "gpu", "NVIDIA H100 80GB HBM3", "counter", "NVML", details={"datacenter": True})


def test_known_gpu_for_an_hour_equals_the_hand_computed_share():
    g, source, notes = embodied.for_devices([H100], 3600.0, server=False)
    assert g == pytest.approx(575.1 * 1000 * 3600 / LIFETIME_S)  # 13.13 g
    assert g == pytest.approx(13.13, abs=0.01)
    assert "H100 SXM 80GB" in source and "Boavizta" in source and "2026" in source and notes == ()


def test_lifetime_and_duration_scale_linearly():
    one, _, _ = embodied.for_devices([H100], 3600.0, server=False)
    assert embodied.for_devices([H100], 7200.0, server=False)[0] == pytest.approx(2 * one)
    assert embodied.for_devices([H100], 3600.0, server=False, lifetime_years=2.5)[0] == pytest.approx(2 * one)
    with pytest.raises(ValueError):
        embodied.for_devices([H100], 3600.0, lifetime_years=0)


def test_unknown_gpu_gives_a_note_not_a_zero():
    g, source, notes = embodied.for_devices([{"kind": "gpu", "name": "Acme Z9000", "key": "gpu:0"}], 60.0)
    assert g is None and source == ""
    assert len(notes) == 1 and "'Acme Z9000'" in notes[0] and "not counted" in notes[0]


def test_unknown_gpu_beside_known_devices_is_named_and_left_out():
    cpu = {"kind": "cpu", "name": "AMD EPYC 7763 64-Core Processor", "key": "cpu:model", "details": {"sockets": 2}}
    g, source, notes = embodied.for_devices([cpu, {"kind": "gpu", "name": "Acme Z9000", "key": "gpu:1"}], 3600.0)
    assert g == pytest.approx(2 * 30.1 * 1000 * 3600 / LIFETIME_S)
    assert "EPYC 7763" in source and source.startswith("partial") and any("Acme Z9000" in n for n in notes)


def test_cpu_sockets_vm_slice_rapl_packages_and_generic_socket():
    share = {"kind": "cpu", "name": "Intel(R) Xeon(R) Platinum 8480+", "details": {
        "vm_slice": True, "threads_per_socket": 112, "logical_cpus": 8, "brand": "Intel(R) Xeon(R) Platinum 8480+"}}
    g, source, _ = embodied.for_devices([share], LIFETIME_S)
    assert g == pytest.approx(46.7 * 1000 * 8 / 112) and "8 of its 112 threads" in source
    rapl = {"kind": "cpu", "name": "Some CPU", "key": "cpu:rapl",
            "details": {"zones": [{"name": "package-0"}, {"name": "package-1"}, {"name": "dram"}]}}
    g, source, _ = embodied.for_devices([rapl], LIFETIME_S)
    assert g == pytest.approx(2 * 19.4 * 1000) and "not in the table" in source  # generic socket, said so


def test_dram_per_gb_from_the_channel_else_memory_gb_else_a_note():
    ram = {"kind": "ram", "name": "RAM 64 GB", "key": "ram:model", "details": {"total_gb": 64}}
    assert embodied.for_devices([ram], LIFETIME_S)[0] == pytest.approx(64 * 1.93 * 1000)
    rapl = {"kind": "ram", "name": "DRAM", "key": "ram:rapl"}
    assert embodied.for_devices([rapl], LIFETIME_S, memory_gb=32)[0] == pytest.approx(32 * 1.93 * 1000)
    g, _, notes = embodied.for_devices([rapl], LIFETIME_S)
    assert g is None and "DRAM size of ram:rapl unknown" in notes[0]


def test_server_chassis_counted_with_a_datacenter_gpu_or_when_asked():
    with_chassis, source, _ = embodied.for_devices([H100], LIFETIME_S)
    assert with_chassis == pytest.approx((575.1 + 368.1) * 1000) and "Server chassis" in source
    cpu = {"kind": "cpu", "name": "x", "details": {"sockets": 1}}
    g, source, _ = embodied.for_devices([cpu], LIFETIME_S)
    assert g == pytest.approx(19.4 * 1000) and "no server chassis counted" in source
    assert embodied.for_devices([cpu], LIFETIME_S, server=True)[0] == pytest.approx((19.4 + 368.1) * 1000)


def test_another_table(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("name,kind,match,unit,embodied_kg_co2e,lifetime_years,source,year,basis\n"
                    "Acme Z9000,gpu,z9000,device,100,4,our own LCA,2025,card\n", encoding="utf-8")
    rows = embodied.table(path)
    g, source, notes = embodied.for_devices([{"kind": "gpu", "name": "Acme Z9000"}], 4 * 365 * 86400.0, rows=rows)
    assert g == pytest.approx(100_000) and "our own LCA, 2025" in source and notes == ()


def test_nvml_names_match_the_right_rows():
    for name, row in [("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB"), ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB"),
                      ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB"), ("Tesla V100-SXM2-16GB", "V100 SXM2 16GB"),
                      ("Tesla T4", "T4"), ("NVIDIA H100 PCIe", "H100 PCIe 80GB"), ("NVIDIA H200", "H200 SXM 141GB"),
                      ("NVIDIA GeForce GTX 1080 Ti", "GeForce GTX 1080 Ti"), ("NVIDIA L4", "L4")]:
        assert embodied.match("gpu", name).name == row, name
    assert embodied.match("gpu", "NVIDIA A10G") is None  # not the A10: unknown, not guessed


def test_tables_carry_sources_and_agree():
    rows = embodied.table()
    for r in rows:
        assert r.source and r.year >= 2000 and r.embodied_kg_co2e > 0 and r.lifetime_years > 0
        assert r.kind in ("gpu", "cpu", "ram", "chassis")
    by_name = {r.name: r for r in rows}
    for a in accelerators.table():  # the planner's embodied figures are the embodied table's
        if a.embodied_kg_co2e is not None:
            name = a.embodied_source.split("embodied.csv row ", 1)[1].split(" (", 1)[0]
            assert by_name[name].embodied_kg_co2e == a.embodied_kg_co2e, a.key


# --- a measured cell carries it into the ledger and the exports ---------------------------------------------------
def test_measured_cell_has_embodied_carbon_in_ledger_and_exports(ip, tmp_path):
    with capture_output():
        ip.run_cell("%%ecolyze --items 64 --var r -q\ns = sum(i * i for i in range(200000))")
    r = ip.user_ns.pop("r")
    assert r.embodied_co2_g is not None and r.embodied_co2_g > 0
    assert "Boavizta" in r.embodied_source and r.co2_g != r.co2_g + r.embodied_co2_g  # never summed in
    ram = [d for d in r.devices if d.kind == "ram"]
    assert ram  # the CPU and RAM models always exist on a test machine
    record = eco_magic.ledger().records()[-1]
    assert record["embodied_co2_g"] == pytest.approx(r.embodied_co2_g)
    exporters.export([record], tmp_path / "x.json")
    exporters.export([record], tmp_path / "x.csv")
    exported = json.loads((tmp_path / "x.json").read_text())["records"][0]
    assert exported["embodied_co2_g"] == pytest.approx(r.embodied_co2_g)
    row = next(csv.DictReader((tmp_path / "x.csv").open(encoding="utf-8")))
    assert float(row["embodied_co2_g"]) == pytest.approx(r.embodied_co2_g) and row["embodied_source"]
    # calibrated by measurement: 64 items measured, 6,400 planned
    p = r.scale_to(items=6400)
    assert p.energy_j == pytest.approx(100 * r.energy_j) and p.embodied_co2_kg == pytest.approx(r.embodied_co2_g / 10)
