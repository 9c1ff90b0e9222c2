from eco_magic.display import fmt


def test_energy_autoscale():
    assert fmt.energy(12.3456) == "12.3 J"
    assert fmt.energy(7200.0) == "2.00 Wh"
    assert fmt.energy(3.6e6 * 2.5) == "2.50 kWh"
    assert fmt.energy(0.0042) == "4.20 mJ"
    assert fmt.energy(None) == "n/a"


def test_mass_and_volume_autoscale():
    assert fmt.mass_g(6.0) == "6.00 g"
    assert fmt.mass_g(0.0016) == "1.60 mg"
    assert fmt.mass_g(2500.0) == "2.50 kg"
    assert fmt.volume_l(0.0041) == "4.10 mL"
    assert fmt.volume_l(3.2) == "3.20 L"


def test_durations_and_counts():
    assert fmt.duration(0.012) == "12 ms"
    assert fmt.duration(2.014) == "2.01 s"
    assert fmt.duration(125) == "2 min 5 s"
    assert fmt.count(7e9) == "7 B"
    assert fmt.params_m(1750.0) == "1.75 B"
    assert fmt.ess(None, "no model") == "n/a (no model)"
