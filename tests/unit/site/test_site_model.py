"""Validation rules of the site model, each broken on purpose in a copy of the example site."""

import copy
import re
import subprocess
from pathlib import Path

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager
from ansible_collections.socforge.core.plugins.module_utils import site_model

REPO = Path(__file__).resolve().parents[3]


def load_site(inventory_dir):
    """Build the site model from an inventory exactly as playbooks/tasks/site_model.yml does."""
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(inventory_dir)])
    vm = VariableManager(loader=loader, inventory=inv)
    groups = {g: [h.name for h in inv.groups[g].get_hosts()] for g in inv.groups}
    hosts = {}
    first = None
    for host in inv.get_hosts():
        hv = vm.get_vars(host=host)
        first = first or hv
        hosts[host.name] = {
            "groups": sorted(
                g for g, members in groups.items() if host.name in members and g not in ("all", "ungrouped")
            ),
            "addresses": dict(hv.get("soc_host_addresses") or {}),
            "bmc_address": hv.get("soc_bmc_address"),
            "hardware": dict(hv.get("soc_hardware") or {}),
            "stage": hv.get("soc_host_stage"),
            "kafka": {k: hv[k] for k in site_model.KAFKA_SECURITY_VARS if hv.get(k) is not None},
        }
    return {
        "name": first["soc_site_name"],
        "networks": first["soc_networks"],
        "links": first["soc_links"],
        "hosts": hosts,
        "groups": groups,
        "data_policies": first.get("soc_data_policies"),
    }


@pytest.fixture(scope="module")
def example_site():
    return load_site(REPO / "inventories" / "example-site")


@pytest.fixture
def site(example_site):
    return copy.deepcopy(example_site)


def errors(site):
    return site_model.validate_site(site).errors


def test_example_and_lab_inventories_are_valid(example_site):
    assert errors(example_site) == []
    lab = load_site(REPO / "inventories" / "lab")
    assert errors(lab) == []
    assert len(lab["groups"]["zeek_workers"]) == 2


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda s: s["networks"]["data"].update(cidr="10.20.110.128/25"),
            "soc_networks.admin (10.20.110.0/24) overlaps soc_networks.data (10.20.110.128/25)",
        ),
        (
            lambda s: s["networks"]["data"].update(cidr="10.20.130.0/33"),
            "soc_networks.data.cidr: '10.20.130.0/33' is not a valid subnet",
        ),
        (
            lambda s: s["networks"]["data"].update(cidr="10.20.130.7/24"),
            "has host bits set; the subnet is 10.20.130.0/24",
        ),
        (
            lambda s: s["networks"]["data"].update(vlan=110),
            "soc_networks.data.vlan: VLAN 110 is already used by soc_networks.admin",
        ),
        (lambda s: s["networks"]["data"].update(vlan=5000), "soc_networks.data.vlan: '5000' is not a VLAN id (1-4094)"),
        (
            lambda s: s["networks"]["ipmi"].update(routed=True),
            "soc_networks.ipmi.routed: the IPMI network must never be routed",
        ),
        (
            lambda s: s["networks"]["ipmi"].update(gateway="10.20.120.1"),
            "soc_networks.ipmi.gateway: the IPMI network must have no gateway",
        ),
        (
            lambda s: s["networks"].pop("ipmi"),
            "soc_networks.ipmi: missing; the SOC needs separate admin and IPMI networks",
        ),
        (
            lambda s: s["networks"]["admin"].update(gateway="10.20.111.1"),
            "soc_networks.admin.gateway: 10.20.111.1 is outside 10.20.110.0/24",
        ),
        (
            lambda s: s["links"][0].pop("stage"),
            "soc_links[0] (lhcopn).stage: every link must be assigned a deployment stage",
        ),
        (
            lambda s: s["links"][1].update(stage=0),
            "soc_links[1] (janet-1).stage: every link must be assigned a deployment stage",
        ),
        (
            lambda s: s["links"][2].update(tap="span"),
            "soc_links[2] (janet-2).tap: 'span' is not a tap type (optical or mirror)",
        ),
        (
            lambda s: s["links"][0].update(capacity_gbps=0),
            "soc_links[0] (lhcopn).capacity_gbps: '0' is not a positive number",
        ),
        (
            lambda s: s["links"].append(dict(s["links"][0])),
            "soc_links[5] (lhcopn).name: link 'lhcopn' is declared twice",
        ),
        (
            lambda s: s["hosts"]["kafka01"]["addresses"].update(data="10.20.140.9"),
            "host kafka01: soc_host_addresses.data: 10.20.140.9 is outside 10.20.130.0/23",
        ),
        (
            lambda s: s["hosts"]["kafka01"]["addresses"].update(data="10.20.130.38"),
            "host kafka02: soc_host_addresses.data: 10.20.130.38 is already assigned to kafka01 (data)",
        ),
        (
            lambda s: s["hosts"]["kafka01"]["addresses"].update(admin="10.20.110.0"),
            "host kafka01: soc_host_addresses.admin: 10.20.110.0 is the network or broadcast address",
        ),
        (
            lambda s: s["hosts"]["kafka01"]["addresses"].update(storage="10.1.1.1"),
            "host kafka01: soc_host_addresses.storage: no network 'storage' in soc_networks",
        ),
        (
            lambda s: s["hosts"]["kafka01"]["addresses"].update(admin="10.20.110.x"),
            "host kafka01: soc_host_addresses.admin: '10.20.110.x' is not a valid IP address",
        ),
        (
            lambda s: s["hosts"]["kafka01"].update(bmc_address="10.20.110.200"),
            "host kafka01: soc_bmc_address: 10.20.110.200 is outside the IPMI network 10.20.120.0/24",
        ),
        (
            lambda s: s["hosts"]["zeek-w01"]["hardware"].pop("numa_nodes"),
            "host zeek-w01: soc_hardware is missing numa_nodes",
        ),
        (
            lambda s: s["hosts"]["zeek-w01"]["hardware"].update(capture_nics=[]),
            "host zeek-w01: soc_hardware.capture_nics is empty",
        ),
        (
            lambda s: s["hosts"]["zeek-w01"]["hardware"]["capture_nics"][0].update(link="geant"),
            "capture_nics[0].link 'geant' is not a declared link",
        ),
        (
            lambda s: s["groups"].update(kafka_brokers=[]),
            "group 'kafka_brokers': empty; the SOC needs at least one host in it",
        ),
        (lambda s: s.update(links=[]), "soc_links: no border links are declared"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_rule_names_what_is_wrong(site, break_it, expected):
    break_it(site)
    found = errors(site)
    assert any(expected in e for e in found), found


def test_all_problems_are_reported_together(site):
    site["networks"]["ipmi"]["routed"] = True
    site["links"][0]["tap"] = "span"
    assert len(errors(site)) == 2


def test_untapped_link_is_a_warning(site):
    for host in ("zeek-w05", "zeek-w06"):
        site["hosts"][host]["hardware"]["capture_nics"] = [
            {"name": "ens1f0", "speed_gbps": 100, "numa_node": 0, "link": "janet-1", "aggregator_port": f"Et-{host}"}
        ]
    for link in site["links"]:
        if link["name"] in ("janet-3", "janet-4"):
            del link["tap_ports"]  # not tapped yet either: warnings, not unmapped tap ports
    report = site_model.validate_site(site)
    assert report.ok, report.errors
    assert "link 'janet-3' is not fed to any Zeek worker capture NIC" in report.warnings
    assert "link janet-3: no tap_ports and no tool ports: it is not tapped into tap-agg01 yet" in report.warnings


def test_host_vlans_and_firewall_rules(site):
    nets = site["networks"]
    vlans = site_model.host_vlans(
        {"admin": "10.20.110.5", "ipmi": "10.20.120.5", "data": "10.20.130.5"}, nets, ["admin", "ipmi"]
    )
    assert [(v["interface"], v["vlan"], v["address"], v["prefixlen"]) for v in vlans] == [
        ("vlan110", 110, "10.20.110.5", 24),
        ("vlan120", 120, "10.20.120.5", 24),
    ]
    assert vlans[0]["routes"] == [{"destination": "10.30.0.0/16", "gateway": "10.20.110.1"}]
    with pytest.raises(
        site_model.SiteModelError, match=r"soc_host_addresses.ipmi: 10.20.121.5 is outside 10.20.120.0/24"
    ):
        site_model.host_vlans({"ipmi": "10.20.121.5"}, nets, ["ipmi"])
    rules = site_model.firewall_rules([{"name": "os", "port": 9200, "from": ["data", "admin", "192.0.2.7"]}], nets)
    assert rules == [
        {"name": "os", "port": 9200, "proto": "tcp", "sources": ["10.20.110.0/24", "10.20.130.0/23", "192.0.2.7/32"]}
    ]
    with pytest.raises(site_model.SiteModelError, match=r"common_firewall_services\[0\] \(x\).from: 'nope' is neither"):
        site_model.firewall_rules([{"name": "x", "port": 1, "from": ["nope"]}], nets)
    with pytest.raises(site_model.SiteModelError, match=r"port: '70000' is not a port number"):
        site_model.firewall_rules([{"name": "x", "port": 70000, "from": ["data"]}], nets)
    pairs = site_model.isolation_pairs(nets, "ipmi", ["capture", "data"])
    # capture has no subnet at this site (receive-only NICs), so only data gets a pair each way
    assert pairs == [
        {"source": "10.20.120.0/24", "destination": "10.20.130.0/23", "comment": "ipmi never routed to data"},
        {"source": "10.20.130.0/23", "destination": "10.20.120.0/24", "comment": "data never routed to ipmi"},
    ]


def _plan(inventory, plan_dir):
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(REPO / "playbooks" / "plan.yml"),
            "-e",
            f"soc_plan_dir={plan_dir}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plan_playbook_writes_report_and_svg(tmp_path):
    out = tmp_path / "plan"
    run = _plan(REPO / "inventories" / "example-site", out)
    assert run.returncode == 0, run.stdout + run.stderr
    report = (out / "report.md").read_text()
    assert "Validation: **passed**" in report
    assert "| 1 | lhcopn | 100 | 60% | optical | yes |" in report
    # Kafka at the default, SASL_SSL with ACLs: no warning (the lab's PLAINTEXT has one,
    # test_kafka_security_default.py)
    assert "warning: kafka" not in report
    svg = (out / "topology.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg and "lhcopn" in svg
    # a second run writes nothing new
    again = _plan(REPO / "inventories" / "example-site", out)
    assert again.returncode == 0
    recap = [line for line in again.stdout.split("PLAY RECAP")[-1].splitlines() if line.startswith("localhost")]
    assert recap and "changed=0" in recap[0], again.stdout


def test_plan_playbook_fails_on_broken_inventory(tmp_path):
    import shutil

    inv = tmp_path / "inv"
    shutil.copytree(REPO / "inventories" / "example-site", inv)
    hv = inv / "host_vars" / "kafka02.yml"
    hv.write_text(hv.read_text().replace("admin: 10.20.110.38", "admin: 10.20.111.38"))
    run = _plan(inv, tmp_path / "plan")
    assert run.returncode != 0
    assert "host kafka02: soc_host_addresses.admin: 10.20.111.38 is outside 10.20.110.0/24" in run.stdout
    assert not (tmp_path / "plan" / "report.md").exists() or "FAILED" in (tmp_path / "plan" / "report.md").read_text()


def test_staged_rollout_brings_lhcopn_up_first(site):
    stage1 = site_model.hosts_in_stage(site["hosts"], site["links"], 1)
    workers = [h for h in stage1 if h.startswith("zeek-w")]
    assert workers == ["zeek-w01", "zeek-w02"]  # the LHCOPN capture hosts only
    assert "kafka01" in stage1 and "zeek-mgr01" in stage1  # hosts without capture NICs always
    stage2 = site_model.hosts_in_stage(site["hosts"], site["links"], 2)
    assert [h for h in stage2 if h.startswith("zeek-w")] == ["zeek-w01", "zeek-w02", "zeek-w03", "zeek-w04"]
    assert site_model.hosts_in_stage(site["hosts"], site["links"], None) == sorted(site["hosts"])
    site["hosts"]["zeek-w01"]["hardware"]["capture_nics"][0]["link"] = "geant"
    with pytest.raises(site_model.SiteModelError, match="host zeek-w01: capture NIC on undeclared link 'geant'"):
        site_model.hosts_in_stage(site["hosts"], site["links"], 1)


def test_validate_playbook_selects_the_stage_hosts(tmp_path):
    probe = tmp_path / "probe.yml"
    probe.write_text(
        f"- import_playbook: {REPO}/playbooks/validate.yml\n"
        "- hosts: soc_in_stage:&zeek_workers\n  gather_facts: false\n  tasks:\n"
        "    - debug: {msg: 'IN-STAGE {{ inventory_hostname }}'}\n      delegate_to: localhost\n"
    )
    run = subprocess.run(
        ["ansible-playbook", "-i", str(REPO / "inventories" / "example-site"), str(probe), "-e", "soc_stage=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(set(re.findall(r"IN-STAGE (\S+?)['\"]?$", run.stdout, re.M))) == ["zeek-w01", "zeek-w02"]


def test_firewall_port_ranges_for_the_zeek_cluster(site):
    nets = site["networks"]
    rules = site_model.firewall_rules(
        [
            {"name": "zeek cluster", "port": "27760-27859", "from": ["data"]},
            {"name": "zeekctl ssh", "port": "22", "from": ["10.20.130.10"]},
            {"name": "one-port range", "port": "9092-9092", "from": ["data"]},
        ],
        nets,
    )
    assert [(r["name"], r["port"]) for r in rules] == [
        ("zeekctl ssh", 22),
        ("one-port range", 9092),
        ("zeek cluster", "27760-27859"),
    ]
    assert rules[0]["sources"] == ["10.20.130.10/32"]
    for bad, message in (
        ("27859-27760", "runs backwards"),
        ("27760-70000", "is not a port number"),
        ("ssh", "is not a port number or a range"),
        (True, "is not a port number or a range"),
        (None, "is not a port number or a range"),
    ):
        with pytest.raises(site_model.SiteModelError, match=rf"common_firewall_services\[0\] \(x\).port: .*{message}"):
            site_model.firewall_rules([{"name": "x", "port": bad, "from": ["data"]}], nets)


def test_nftables_template_renders_a_port_range():
    import jinja2
    from ansible.plugins.filter.core import FilterModule as CoreFilters

    repo = Path(__file__).resolve().parents[3]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(repo / "roles/common/templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
    )
    env.filters.update(CoreFilters().filters())
    text = env.get_template("etc/nftables.conf.j2").render(
        ansible_managed="x",
        __common_admin_cidr="10.0.0.0/24",
        common_firewall_admin_tcp_ports=[22],
        common_firewall_fragments_dir="/etc/nftables.d/socforge",
        __common_service_rules=site_model.firewall_rules(
            [{"name": "zeek cluster", "port": "27760-27800", "from": ["10.0.1.0/24"]}], {}
        ),
        __common_ipmi_isolation=[],
    )
    assert 'ip saddr { 10.0.1.0/24 } tcp dport 27760-27800 accept comment "zeek cluster"' in text
    # the roles' own openings (roles/common tasks/openings.yml) are included in the input chain
    assert '\t\tinclude "/etc/nftables.d/socforge/*.nft"\n' in text.split("chain input")[1].split("chain forward")[0]


# The inventories' Zeek openings moved into roles/zeek (zeek_default_firewall_openings): the cluster
# range and zeekctl's SSH are checked against the rendered node.cfg in test_firewall_coverage.py.
