"""Light budget of optically tapped links, with IEEE 802.3 optic figures (plugins/module_utils/optical_budget.py)."""

import math

import pytest
from ansible_collections.socforge.core.plugins.module_utils import optical_budget as ob


def link(name="lhcopn", **optics):
    return {"name": name, "tap": "optical", "optics": optics}


def test_split_loss_is_the_ideal_split_plus_excess():
    # 70/30: 10*log10(1/0.7) = 1.55 dB, 10*log10(1/0.3) = 5.23 dB, plus 0.6 dB excess each
    b = ob.link_budget(link(transceiver="100GBASE-LR4", split="70/30", fibre_km=0, connectors=0))
    assert b["legs"]["network"]["tap_loss_db"] == pytest.approx(1.55 + 0.6, abs=0.01)
    assert b["legs"]["monitor"]["tap_loss_db"] == pytest.approx(5.23 + 0.6, abs=0.01)
    for split in ob.SPLITS:
        net, mon = ob.split_shares(split, "x")
        assert net + mon == pytest.approx(1.0)
        assert ob.tap_leg_loss(mon, 0) == pytest.approx(-10 * math.log10(mon))


def test_100g_lr4_with_a_70_30_tap_is_short_on_the_monitor_leg():
    # 100GBASE-LR4 (IEEE 802.3 clause 88): -4.3 dBm min launch, -10.6 dBm min receive per lane.
    # 0.5 km at 0.4 dB/km + 2 connectors at 0.5 dB = 1.2 dB; monitor leg 5.83 dB:
    # -4.3 - 5.83 - 1.2 = -11.33 dBm, 0.73 dB under the receiver's minimum, 3.23 dB short of a 2.5 dB margin.
    errors, budgets = ob.budget_errors(
        [link(transceiver="100GBASE-LR4", split="70/30", fibre_km=0.5, connectors=2, margin_db=2.5)]
    )
    monitor = budgets[0]["legs"]["monitor"]
    assert monitor["received_dbm"] == pytest.approx(-11.33, abs=0.01)
    assert monitor["short_db"] == pytest.approx(3.23, abs=0.01)
    assert len(errors) == 1
    assert "link lhcopn" in errors[0] and "monitor leg" in errors[0] and "short by 3.2 dB" in errors[0]
    assert "100GBASE-LR4" in errors[0]
    # the network leg keeps the live link up: -4.3 - 2.15 - 1.2 = -7.65 dBm, 2.95 dB margin
    network = budgets[0]["legs"]["network"]
    assert network["margin_db"] == pytest.approx(2.95, abs=0.01)
    assert network["short_db"] == 0
    # with the default 3 dB design margin the live link itself is 0.05 dB short: both legs reported
    errors, _ = ob.budget_errors([link(transceiver="100GBASE-LR4", split="70/30", fibre_km=0.5, connectors=2)])
    assert [e.split(" leg")[0] for e in errors] == ["link lhcopn: the network", "link lhcopn: the monitor"]


def test_a_50_50_tap_with_a_1_db_margin_fits_a_short_lr4_link():
    errors, budgets = ob.budget_errors(
        [link(transceiver="100GBASE-LR4", split="50/50", fibre_km=0.5, connectors=2, margin_db=1.0)]
    )
    assert errors == []
    assert budgets[0]["ok"]
    assert budgets[0]["legs"]["monitor"]["margin_db"] == pytest.approx(1.49, abs=0.01)


def test_datasheet_figures_override_the_catalogue():
    # A tap whose datasheet gives 1.8/5.5 dB and optics better than the standard's worst case.
    b = ob.link_budget(
        link(
            transceiver="100GBASE-LR4",
            split="70/30",
            tx_min_dbm=0.0,
            rx_min_dbm=-12.0,
            tap_loss_db={"network": 1.8, "monitor": 5.5},
            fibre_km=1,
            connectors=2,
        )
    )
    assert b["legs"]["monitor"]["received_dbm"] == pytest.approx(0.0 - 5.5 - 0.4 - 1.0)
    assert b["ok"]


def test_longer_fibre_makes_the_shortfall_grow_by_its_attenuation():
    short = ob.link_budget(link(transceiver="10GBASE-LR", split="80/20", fibre_km=1, connectors=2))
    longer = ob.link_budget(link(transceiver="10GBASE-LR", split="80/20", fibre_km=6, connectors=2))
    assert short["legs"]["monitor"]["received_dbm"] - longer["legs"]["monitor"]["received_dbm"] == pytest.approx(2.0)


def test_links_without_an_optical_tap_are_not_budgeted():
    errors, budgets = ob.budget_errors([{"name": "janet-1", "tap": "mirror", "optics": {"split": "bad"}}])
    assert errors == [] and budgets == []


@pytest.mark.parametrize(
    ("optics", "message"),
    [
        ({"transceiver": "100GBASE-XX", "split": "70/30"}, "soc_links[lhcopn].optics.transceiver: '100GBASE-XX'"),
        ({"transceiver": "10GBASE-LR", "split": "70/20"}, "does not add up to 100"),
        ({"transceiver": "10GBASE-LR", "split": "seventy"}, "not network/monitor percentages"),
        ({"transceiver": "10GBASE-LR", "fibre_km": -1}, "soc_links[lhcopn].optics.fibre_km"),
        ({"transceiver": "10GBASE-LR", "fibre_km": "far"}, "'far' is not a number"),
        ({"split": "50/50"}, "optics.tx_min_dbm: needed"),
        ({"transceiver": "10GBASE-LR", "lenght_km": 2}, "unknown keys ['lenght_km']"),
        ({"transceiver": "10GBASE-LR", "tap_loss_db": {"tool": 3}}, "tap_loss_db"),
    ],
)
def test_malformed_optics_name_the_link_and_field(optics, message):
    errors, _ = ob.budget_errors([link(**optics)])
    assert len(errors) == 1
    assert message in errors[0]


def test_an_optical_tap_without_optics_is_an_error_naming_the_link():
    with pytest.raises(ob.OpticsError, match=r"soc_links\[lhcopn\]\.optics: an optical tap needs"):
        ob.link_budget({"name": "lhcopn", "tap": "optical"})


def test_example_site_budgets_pass_and_a_70_30_lhcopn_tap_fails_the_validation():
    import yaml
    from ansible_collections.socforge.core.plugins.module_utils import site_model

    links = yaml.safe_load(
        (
            __import__("pathlib").Path(__file__).resolve().parents[3]
            / "inventories/example-site/group_vars/all/links.yml"
        ).read_text()
    )["soc_links"]
    errors, budgets = ob.budget_errors(links)
    assert errors == []
    assert sorted(b["link"] for b in budgets) == ["janet-1", "janet-3", "lhcopn"]
    for entry in links:
        if entry["name"] == "lhcopn":
            entry["optics"]["split"] = "70/30"
    report = site_model.validate_site({"links": links})
    light = [e for e in report.errors if "optical tap" in e]
    assert len(light) == 1 and light[0].startswith("link lhcopn: the monitor leg of its 70/30 optical tap")
    report_md = site_model.plan_report({"links": links}, report)
    assert "## Light budget of the optical taps" in report_md
    assert "| lhcopn | 100GBASE-LR4 | 70/30 | monitor |" in report_md
