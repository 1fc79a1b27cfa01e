"""plan.yml -e soc_stage=N (issue 13 part 5): that stage's node.cfg (only its workers), capacity and
report (hosts brought up, personal data, retention and access per stage), and the diagram of the
whole SOC rendered by Graphviz, with what later stages add drawn grey and dashed (class "later")."""

import configparser
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SVG = "{http://www.w3.org/2000/svg}"


def plan(out, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(REPO / "inventories" / "example-site"),
            str(REPO / "playbooks" / "plan.yml"),
            "-e",
            f"soc_plan_dir={out}",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def workers(node_cfg):
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(node_cfg)
    return sorted({cfg[s]["host"] for s in cfg.sections() if cfg[s]["type"] == "worker"})


def svg_elements(path):
    """{svg id: (class, texts)} of every node and edge Graphviz drew."""
    out = {}
    for g in ET.parse(path).getroot().iter(f"{SVG}g"):
        cls = g.get("class", "")
        if cls.split()[:1] in (["node"], ["edge"]):
            out[g.get("id")] = (cls, [t.text for t in g.iter(f"{SVG}text") if t.text])
    return out


@pytest.fixture(scope="module")
def stage_plans(tmp_path_factory):
    out = {}
    for stage in (1, 2):
        d = tmp_path_factory.mktemp(f"stage{stage}")
        run = plan(d, "-e", f"soc_stage={stage}")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr
        out[stage] = d
    return out


def test_node_cfg_of_each_stage_lists_only_its_workers(stage_plans):
    # data-network addresses of zeek-w01/w02 (LHCOPN), then w03/w04 (Janet primaries)
    assert workers(stage_plans[1] / "zeek" / "zeek" / "node.cfg") == ["10.20.130.11", "10.20.130.12"]
    assert workers(stage_plans[2] / "zeek" / "zeek" / "node.cfg") == [f"10.20.130.1{i}" for i in (1, 2, 3, 4)]
    capacity = (stage_plans[1] / "zeek-capacity.md").read_text()
    assert "| lhcopn | 1 | yes | 60.0 | 4 | 92 | 92.0 | +32.0 | ok |" in capacity
    assert "| janet-1 | 2 | yes | 40.0 | 0 | 0 | 0.0 | -40.0 | not captured |" in capacity


def test_report_lists_the_stage_and_each_stages_data_policy(stage_plans):
    report = (stage_plans[1] / "report.md").read_text()
    assert "This plan is for **stage 1** (`-e soc_stage=1`): links lhcopn; 15 of 20 hosts." in report
    assert "Left untouched until a later stage: misp-spoke01, zeek-w03, zeek-w04, zeek-w05, zeek-w06." in report
    assert "| 2 | janet-1, janet-2 | misp-spoke01, zeek-w03, zeek-w04 |" in report
    assert "| retention: opensearch_days | 180 | **30** | 30 |" in report
    assert "| retention: kafka_hours | 72 | **24** | 24 |" in report
    assert "| access: opensearch_analyst_masked_fields | none | **query, host, uri," in report
    assert "In force for this plan (stage 1): **LHCOPN (science data)**." in report
    assert (
        "In force for this plan (stage 2): **Janet (campus traffic, personal data)**."
        in (stage_plans[2] / "report.md").read_text()
    )


def test_diagram_shows_the_whole_soc_and_greys_later_stages(stage_plans):
    one = svg_elements(stage_plans[1] / "topology.svg")
    two = svg_elements(stage_plans[2] / "topology.svg")
    whole = [
        "link-lhcopn",
        "link-janet-4",
        "host-tap-agg01",
        "host-zeek-w01",
        "host-zeek-w06",
        "tier-zeek_managers",
        "tier-zeek_proxies",
        "tier-zeek_loggers",
        "tier-kafka_brokers",
        "tier-log_shippers",
        "tier-opensearch_nodes",
        "tier-misp_hubs",
        "tier-misp_spokes",
        "net-admin",
        "net-ipmi",
        "host-soc-bastion01",
        # taps -> aggregator -> workers -> loggers -> Kafka -> shipper -> OpenSearch; MISP; networks
        "edge-link-lhcopn-host-tap-agg01",
        "edge-host-tap-agg01-host-zeek-w01",
        "edge-host-zeek-w01-tier-zeek_loggers",
        "edge-tier-zeek_loggers-tier-kafka_brokers",
        "edge-tier-kafka_brokers-tier-log_shippers",
        "edge-tier-log_shippers-tier-opensearch_nodes",
        "edge-tier-misp_spokes-tier-misp_hubs",
        "edge-tier-misp_hubs-tier-zeek_managers",
        "edge-host-soc-bastion01-net-admin",
    ]
    assert [i for i in whole if i not in one] == []
    later_one = sorted(i for i, (cls, _) in one.items() if "later" in cls.split())
    assert later_one == sorted(
        [f"link-janet-{n}" for n in (1, 2, 3, 4)]
        + [f"edge-link-janet-{n}-host-tap-agg01" for n in (1, 2, 3, 4)]
        + [f"host-zeek-w0{n}" for n in (3, 4, 5, 6)]
        + [f"edge-host-tap-agg01-host-zeek-w0{n}" for n in (3, 4, 5, 6)]
        + ["tier-misp_spokes", "edge-tier-misp_spokes-tier-misp_hubs"]
    )
    assert "2 tap ports -> 4 tool ports" in one["host-tap-agg01"][1]  # lhcopn: Ethernet1/2, 2 workers x 2 NICs
    assert "5 tap ports -> 8 tool ports" in two["host-tap-agg01"][1]
    assert "optical tap 50/50: Ethernet1, Ethernet2" in one["edge-link-lhcopn-host-tap-agg01"][1]
    assert "later" not in two["host-zeek-w03"][0] and "later" in two["host-zeek-w05"][0]
    assert any("20 BMCs; never routed" in t for t in one["net-ipmi"][1])
