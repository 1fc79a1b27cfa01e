"""Every port a role listens on is covered by a firewall opening a role declares (issue 12).

The listening ports are derived from the configurations the roles render for each host of an
inventory (the roles' own templates and defaults, resolved by Ansible with the inventory): Kafka's
listeners, OpenSearch's HTTP/transport ports, the Zeek cluster's ports (zeekctl numbers them from
ZeekPort over node.cfg's nodes) and metrics/WebSocket listeners, MISP's Apache `Listen` lines and
ZeroMQ publisher, Logstash's API; Tenzir's shipper runs the engine per pipeline and listens on
nothing. Loopback listeners need no opening. The peers that must reach a port come from the
rendered configurations too: the brokers in the controller quorum, the shippers' and Zeek's Kafka
bootstrap lists, the shippers' OpenSearch URLs, OpenSearch's seed hosts, node.cfg's hosts (every
cluster host, and zeekctl's SSH from the manager).

The openings are the ones the playbooks pass to roles/common's `openings` entry point (read from
playbooks/*.yml: the same `vars`, on the same hosts, with the play's role loaded), resolved by the
same filter as the nftables fragment. A port with no opening, or a peer outside the opening's
sources, fails the test naming host, port and peer; removing a role's opening (the red cases
below) makes it fail.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PLAYBOOKS = ["pipeline.yml", "zeek.yml", "misp.yml"]
OPENINGS = "openings.yml"

# What each role renders, per host of the play: (template under roles/<role>/templates, file name).
RENDER = {
    "kafka": ["etc/kafka/server.properties.j2"],
    "opensearch": ["etc/opensearch/opensearch.yml.j2"],
    "zeek": [
        "opt/zeek/etc/zeekctl.cfg.j2",
        "opt/zeek/etc/node.cfg.j2",
        "opt/zeek/share/zeek/site/local.zeek.j2",
    ],
    "misp": ["etc/apache2/ports.conf.j2"],
    "tenzir": ["etc/tenzir/shipper/shipper.env.j2", "etc/tenzir/shipper/opensearch-health.curlrc.j2"],
    "logstash": ["etc/logstash/logstash.yml.j2", "etc/logstash/conf.d/zeek.conf.j2"],
}
# Role -> hosts it runs on, for the roles without openings (the shippers listen on nothing remote).
SHIPPER_HOSTS = "log_shippers"
# Variables a template needs beyond the role's own (set by the role's earlier tasks on a real run).
EXTRA_VARS = {
    # configure.yml: the security plugin is installed, the layered settings merged
    "opensearch": {
        "__opensearch_security": True,
        "__opensearch_config": "{{ opensearch_default_configuration | combine(opensearch_configuration,"
        " opensearch_group_configuration, opensearch_host_configuration, recursive=True) }}",
    },
    "logstash": {"__logstash_log": "conn"},  # configure.yml renders one pipeline per log
    # ACLs' super users: the brokers' certificate CNs, read from the site's certificate files (which a
    # site keeps beside its inventory, not in the repository); no listener depends on them
    "kafka": {"__kafka_broker_principals": []},
    "zeek": {
        "__zeek_layout": "{{ __zeek_cluster_members | socforge.core.zeek_layout(soc_links | default([]), zeek_layout_settings) }}",
    },
}
# Listeners a role configures through settings rather than a file: name -> Jinja expression.
VALUES = {
    # MISP's ZeroMQ publisher (Plugin.ZeroMQ_host/port, applied by MISP's setSetting)
    "misp": {"zeromq.bind": "(misp_zeromq_host ~ ':' ~ misp_zeromq_port) if misp_zeromq_enabled else ''"},
}
# roles/common's admin rule: these TCP ports from the admin network, on every host.
ADMIN_PORTS = yaml.safe_load((REPO / "roles/common/defaults/main.yml").read_text())["common_firewall_admin_tcp_ports"]
# Values the roles compute from a host's facts (not gathered here).
FACTS = {"ansible_memtotal_mb": 65536, "ansible_architecture": "x86_64", "ansible_default_ipv4": {}}


def _plays_with_openings():
    """[(playbook, hosts, role, openings task vars)] for each play that passes a role's openings."""
    found = []
    for name in PLAYBOOKS:
        for play in yaml.safe_load((REPO / "playbooks" / name).read_text()) or []:
            if "hosts" not in play:
                continue
            tasks = (play.get("pre_tasks") or []) + (play.get("tasks") or [])
            role = next((r["role"] for r in play.get("roles") or []), None)
            for task in tasks:
                ref = task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role") or {}
                if ref.get("name") == "socforge.core.common" and ref.get("tasks_from") == OPENINGS:
                    owner = role or next(
                        (
                            (t.get("ansible.builtin.import_role") or {}).get("name")
                            for t in tasks
                            if (t.get("ansible.builtin.import_role") or {}).get("name", "").startswith("socforge.core.")
                            and (t.get("ansible.builtin.import_role") or {}).get("name") != "socforge.core.common"
                        ),
                        None,
                    )
                    found.append((name, play["hosts"].replace(":&soc_in_stage", ""), owner, task["vars"]))
    return found


def _probe_playbook(out: Path) -> list[dict]:
    """One play per role (the play's role loaded for its defaults and vars, its tasks not run):
    each host keeps what it renders in a fact; a last play writes every host's facts to one file.
    set_fact and lookup('template') run on the controller: no module process per host."""
    plays = []
    for playbook, hosts, role, openings_vars in _plays_with_openings():
        openings = {
            "name": f"openings as playbooks/{playbook} passes them",
            "ansible.builtin.set_fact": {
                "__probe_openings": "{{ __probe_openings | default({}) | combine({common_firewall_dependent_name:"
                " common_firewall_dependent_openings | socforge.core.soc_firewall_rules(soc_networks, hostvars, groups)}) }}"
            },
            "vars": openings_vars,
        }
        site_rules = {
            "name": "the site's extra services (roles/common's common_firewall_services)",
            "ansible.builtin.set_fact": {
                "__probe_site_rules": "{{ common_firewall_services | default([])"
                " | socforge.core.soc_firewall_rules(soc_networks, hostvars, groups) }}"
            },
        }
        plays.append(_render_play(hosts, role, [openings, site_rules]))
    plays.append(_render_play(SHIPPER_HOSTS, "socforge.core.tenzir", []))
    plays.append(_render_play(SHIPPER_HOSTS, "socforge.core.logstash", []))
    plays.append(
        {
            "name": "Write what every host rendered",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "One file",
                    "ansible.builtin.copy": {
                        "content": "{{ dict(groups['all'] | zip(groups['all'] | map('extract', hostvars)"
                        " | map('socforge_probe_pick'))) | to_json }}".replace(
                            "map('socforge_probe_pick')",
                            "map('dict2items') | map('selectattr', 'key', 'in', ['__probe_files', '__probe_openings',"
                            " '__probe_site_rules', 'soc_host_addresses', 'soc_networks'])"
                            " | map('items2dict')",
                        ),
                        "dest": f"{out}/probe.json",
                        "mode": "0600",
                    },
                }
            ],
        }
    )
    return plays


def _render_play(hosts, role, tasks):
    short = role.split(".")[-1]
    render = {
        "name": f"{short}: render its configuration",
        "ansible.builtin.set_fact": {
            "__probe_files": "{{ __probe_files | default({}) | combine({'"
            + short
            + "': "
            + "{"
            + ", ".join(
                f"'{Path(t).stem}': lookup('ansible.builtin.template', '{REPO / 'roles' / short / 'templates' / t}')"
                for t in RENDER[short]
            )
            + "".join(f", '{k}': {v}" for k, v in VALUES.get(short, {}).items())
            + "}}) }}"
        },
        "vars": EXTRA_VARS.get(short, {}),
    }
    return {
        "name": f"Probe {short} on {hosts}",
        "hosts": hosts,
        "connection": "local",
        "gather_facts": False,
        "vars": {**FACTS, "ansible_python_interpreter": sys.executable},
        # The role is loaded for its defaults and vars only: its tasks are not tagged `render`.
        "roles": [{"role": role}],
        "tasks": [*tasks, render],
    }


def run_probe(tmp: Path, inventory: str, *extra: str) -> dict:
    out = tmp / "out"
    out.mkdir()
    plays = _probe_playbook(out)
    for play in plays:
        for task in play["tasks"]:
            task["tags"] = ["render"]
    playbook = tmp / "probe.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(REPO / "inventories" / inventory),
            str(playbook),
            "--tags",
            "render",
            "--skip-tags",
            "always",
            "-f",
            "50",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return json.loads((out / "probe.json").read_text())


# --- What the rendered configurations say -------------------------------------------------------


class Site:
    """The rendered files of every host: listeners (host, proto, port, bind address, what) and the
    peers that must reach them ((server address, port) -> {client host: why})."""

    def __init__(self, probe: dict):
        self.probe = {h: v for h, v in probe.items() if v.get("__probe_files") or v.get("__probe_openings")}
        self.hosts = sorted(self.probe)
        self.addresses = {h: probe[h].get("soc_host_addresses") or {} for h in probe}
        self.by_address = {a: h for h, addrs in self.addresses.items() for a in addrs.values()}
        self.admin_cidr = next(v["soc_networks"] for v in probe.values() if v.get("soc_networks"))["admin"]["cidr"]
        self.listeners: list[tuple[str, str, int, str, str]] = []
        self.peers: dict[tuple[str, int], dict[str, set[str]]] = {}
        for host in self.hosts:
            for role, files in sorted((self.probe[host].get("__probe_files") or {}).items()):
                getattr(self, f"_{role}")(host, files)

    def resolve(self, name_or_address: str) -> str:
        """A host name in the inventory -> its data address (how the site's DNS resolves it)."""
        if name_or_address in self.addresses:
            return self.addresses[name_or_address].get("data", name_or_address)
        return name_or_address

    def listen(self, host, port, bind, what, proto="tcp"):
        self.listeners.append((host, proto, int(port), bind, what))

    def peer(self, server, port, client, why):
        self.peers.setdefault((self.resolve(server), int(port)), {}).setdefault(client, set()).add(why)

    def _kafka(self, host, d):
        props = dict(
            line.split("=", 1)
            for line in d.get("server.properties", "").splitlines()
            if "=" in line and not line.startswith("#")
        )
        for listener in props["listeners"].split(","):
            name, rest = listener.split("://")
            bind, port = rest.rsplit(":", 1)
            self.listen(host, port, bind, f"kafka {name} listener")
        for voter in props["controller.quorum.voters"].split(","):
            addr, port = voter.split("@")[1].rsplit(":", 1)
            self.peer(addr, port, host, "kafka controller quorum")
        adv = props["advertised.listeners"].split("://")[1]
        for other in self.hosts:
            if other != host and "kafka" in (self.probe[other].get("__probe_files") or {}):
                self.peer(adv.rsplit(":", 1)[0], adv.rsplit(":", 1)[1], other, "kafka inter-broker")

    def _opensearch(self, host, d):
        conf = yaml.safe_load(d.get("opensearch.yml", ""))
        binds = conf.get("network.bind_host") or [conf.get("network.host", "0.0.0.0")]
        for bind in binds if isinstance(binds, list) else [binds]:
            self.listen(host, conf["http.port"], bind, "opensearch http")
            self.listen(host, conf["transport.port"], bind, "opensearch transport")
        for seed in conf.get("discovery.seed_hosts") or []:
            addr, port = seed.rsplit(":", 1)
            if self.resolve(addr) != self.addresses[host].get("data"):
                self.peer(addr, port, host, "opensearch transport (seed host)")

    def _zeek(self, host, d):
        cfg = dict(
            (k.strip(), v.strip())
            for k, v in (
                line.split("=", 1)
                for line in d.get("zeekctl.cfg", "").splitlines()
                if "=" in line and not line.startswith("#")
            )
        )
        entries, section = [], None
        for line in d.get("node.cfg", "").splitlines():
            line = line.strip()
            if line.startswith("["):
                section = {"name": line.strip("[]")}
                entries.append(section)
            elif "=" in line and section is not None and not line.startswith("#"):
                key, value = line.split("=", 1)
                section[key.strip()] = value.strip()
        entries = [(e["name"], e["type"], e["host"], int(e.get("lb_procs", 1))) for e in entries]
        manager_addr = next((h for _, t, h, _ in entries if t == "manager"), None)
        # node.cfg is the manager's file: read it there only
        if manager_addr is None or self.by_address.get(manager_addr) != host:
            return
        zeek_port = int(cfg["ZeekPort"])
        zeromq = cfg.get("ClusterBackend") == "ZeroMQ"
        manager = host
        # zeekctl (install.py make_layout): [XPUB, XSUB on the manager], control, manager, loggers,
        # proxies, then every worker process, numbered upwards from ZeekPort.
        port = zeek_port
        if zeromq:
            for what in ("zeromq xpub", "zeromq xsub"):
                self.listen(manager, port, manager_addr, f"zeek {what}")
                port += 1
        port += 1  # the control entry (zeekctl's own, no listener)
        order = {"manager": 0, "logger": 1, "proxy": 2, "worker": 3}
        for name, kind, addr, procs in sorted(entries, key=lambda e: order[e[1]]):
            for _ in range(procs if kind == "worker" else 1):
                self.listen(self.by_address[addr], port, addr, f"zeek {name}")
                port += 1
        members = {self.by_address[a] for _, _, a, _ in entries}
        for _, _, addr, _ in entries:
            node_host = self.by_address[addr]
            for other in members - {node_host}:
                for p in range(zeek_port, port):
                    self.peer(addr, p, other, "zeek cluster")
            if node_host != manager:
                # zeekctl runs its commands on every other node over SSH (sshd listens everywhere)
                self.listen(node_host, 22, "0.0.0.0", "sshd (zeekctl's way in)")
                self.peer(addr, 22, manager, "zeekctl ssh from the manager")
        # telemetry: every node a port from MetricsPort, on MetricsAddress (zeekctl 8) or the
        # Telemetry::metrics_address local.zeek sets, else on every address
        redef = re.search(r'^redef Telemetry::metrics_address = "([^"]+)";', d.get("local.zeek", ""), re.M)
        metrics = cfg.get("MetricsAddress") or (redef.group(1) if redef else "0.0.0.0")
        port = int(cfg.get("MetricsPort", 9991))
        for name, kind, addr, procs in sorted(entries, key=lambda e: order[e[1]]):
            for _ in range(procs if kind == "worker" else 1):
                self.listen(self.by_address[addr], port, metrics, f"zeek {name} metrics")
                port += 1
        if cfg.get("UseWebSocket") == "1":
            self.listen(
                manager, int(cfg.get("WebSocketPort", 27759)), cfg.get("WebSocketHost", "127.0.0.1"), "zeek websocket"
            )
        # the Kafka writer runs where logs are written: the loggers, else the manager
        writers = [self.by_address[a] for _, t, a, _ in entries if t == "logger"] or [manager]
        brokers = re.search(r'\["metadata\.broker\.list"\] = "([^"]+)"', d.get("local.zeek", ""))
        if brokers:
            for server in brokers.group(1).split(","):
                addr, p = server.rsplit(":", 1)
                for writer in writers:
                    self.peer(addr, p, writer, "zeek kafka writer")

    def _misp(self, host, d):
        for listen in re.findall(r"^Listen (\S+)", d.get("ports.conf", ""), re.M):
            bind, port = listen.rsplit(":", 1) if ":" in listen else ("0.0.0.0", listen)
            self.listen(host, port, bind, "misp https")
        if d.get("zeromq.bind"):
            bind, port = d["zeromq.bind"].rsplit(":", 1)
            self.listen(host, port, bind, "misp zeromq publisher")

    def _tenzir(self, host, d):
        env = dict(line.split("=", 1) for line in d.get("shipper.env", "").splitlines() if "=" in line)
        for server in env.get("KAFKA_BOOTSTRAP", "").split(","):
            if server:
                addr, p = server.rsplit(":", 1)
                self.peer(addr, p, host, "tenzir kafka consumer")
        url = re.search(r'^url = "https?://([^/:]+):(\d+)', d.get("opensearch-health.curlrc", ""), re.M)
        if url:
            self.peer(url.group(1), url.group(2), host, "tenzir opensearch output")

    def _logstash(self, host, d):
        conf = yaml.safe_load(d.get("logstash.yml", "")) or {}
        self.listen(host, conf.get("api.http.port", 9600), conf.get("api.http.host", "127.0.0.1"), "logstash api")
        pipeline = d.get("zeek.conf", "")
        m = re.search(r'bootstrap_servers => "([^"]+)"', pipeline)
        for server in m.group(1).split(",") if m else []:
            addr, p = server.rsplit(":", 1)
            self.peer(addr, p, host, "logstash kafka input")
        m = re.search(r"hosts => (\[.*?\])", pipeline)
        for url in json.loads(m.group(1)) if m else []:
            u = re.match(r"https?://([^/:]+):(\d+)", url)
            self.peer(u.group(1), u.group(2), host, "logstash opensearch output")

    # --- the check ------------------------------------------------------------------------------

    def openings(self, host):
        """The host's rules: roles/common's admin rule and the site's extras, then the roles' openings."""
        rules = [{"name": "admin access", "proto": "tcp", "port": p, "sources": [self.admin_cidr]} for p in ADMIN_PORTS]
        rules += self.probe[host].get("__probe_site_rules") or []
        return rules + [rule for rules in (self.probe[host].get("__probe_openings") or {}).values() for rule in rules]


def _port_in(rule, proto, port):
    if rule["proto"] != proto:
        return False
    lo, _, hi = str(rule["port"]).partition("-")
    return int(lo) <= port <= int(hi or lo)


def _in(address, sources):
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(s) for s in sources)


def uncovered(site: Site) -> list[str]:
    """Every listener reachable from other hosts without an opening, and every peer a covering
    opening does not admit, as messages naming host, port and peer."""
    problems = []
    for host, proto, port, bind, what in site.listeners:
        if ipaddress.ip_address(bind).is_loopback:
            continue
        rules = [r for r in site.openings(host) if _port_in(r, proto, port)]
        if not rules:
            problems.append(f"{host}: {what} listens on {bind}:{port}/{proto}, and no declared opening covers it")
            continue
        own = {a for a in site.addresses[host].values()}
        targets = own if bind in ("0.0.0.0", "::") else {bind}
        for target in targets:
            for client, why_set in sorted(site.peers.get((target, port), {}).items()):
                why = ", ".join(sorted(why_set))
                client_addr = site.addresses[client].get("data")
                if client == host or not client_addr:
                    continue
                if not any(_in(client_addr, r["sources"]) for r in rules):
                    problems.append(
                        f"{host}: {what} on {target}:{port}/{proto}: {client} ({client_addr}, {why}) is not among"
                        f" the sources of {[r['name'] for r in rules]}"
                    )
    return sorted(set(problems))


@functools.cache
def _site(inventory: str, extra: tuple = ()) -> Site:
    import tempfile

    with tempfile.TemporaryDirectory(prefix=f"fw-{inventory}-") as tmp:
        return Site(run_probe(Path(tmp), inventory, *extra))


@pytest.mark.parametrize("inventory", ["example-site", "lab"])
def test_every_listening_port_is_covered_by_a_declared_opening(inventory):
    site = _site(inventory)
    kinds = {what.split(" ")[0] for _, _, _, _, what in site.listeners}
    assert {"kafka", "opensearch", "zeek", "misp", "logstash"} <= kinds, kinds
    # the derivation found the cross-host traffic it must find
    whys = {why for clients in site.peers.values() for why_set in clients.values() for why in why_set}
    assert {
        "kafka controller quorum",
        "zeek cluster",
        "zeekctl ssh from the manager",
        "tenzir kafka consumer",
        "logstash opensearch output",
        "zeek kafka writer",
    } <= whys, whys
    assert uncovered(site) == []


def test_the_openings_come_from_the_roles_not_the_inventory():
    """No inventory declares a role's opening any more: only the site's extras (none here)."""
    for path in (REPO / "inventories").rglob("*.yml"):
        text = path.read_text()
        assert "soc_firewall_services_" not in text, path
        data = yaml.safe_load(text) or {}
        if isinstance(data, dict):
            assert not data.get("common_firewall_services"), f"{path}: common_firewall_services is for site extras"


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        (
            {"kafka_firewall_openings": [{"name": "kafka controllers", "state": "absent"}]},
            r"kafka CONTROLLER listener listens on [\d.]+:9093/tcp, and no declared opening covers it",
        ),
        (
            {"zeek_firewall_openings": [{"name": "zeekctl ssh from the manager", "state": "absent"}]},
            r"zeek-w01: .*zeekctl ssh from the manager",
        ),
        (
            {"zeek_port_count": 20},
            r"zeek-w06: zeek worker-\S+ listens on [\d.]+:\d+/tcp, and no declared opening covers it",
        ),
    ],
    ids=["kafka-controllers-removed", "zeekctl-ssh-removed", "zeek-range-too-short"],
)
def test_removing_a_role_opening_is_caught(removed, expected):
    """Red cases: the same check with one of a role's openings taken away by the site
    (state: absent, merged by name as on a real host), or the Zeek range cut short."""
    site = _site("example-site", ("-e", json.dumps(removed)))
    problems = uncovered(site)
    assert any(re.search(expected, p) for p in problems), problems
    baseline = uncovered(_site("example-site"))
    assert baseline == [] and problems != baseline


def test_site_changes_merge_by_name():
    from ansible_collections.socforge.core.plugins.module_utils import site_model

    role = [{"name": "a", "port": 1, "from": ["10.0.0.0/8"]}, {"name": "b", "port": 2, "from": ["10.0.0.0/8"]}]
    site = [{"name": "a", "state": "absent"}, {"name": "b", "port": 3, "from": ["192.0.2.0/24"]}]
    merged = site_model.merge_openings([role, site])
    assert merged == [{"name": "b", "port": 3, "from": ["192.0.2.0/24"]}]
    groups = {"g": ["h1", "h2"], "empty": []}
    hostvars = {"h1": {"soc_host_addresses": {"data": "10.1.0.1"}}, "h2": {"soc_host_addresses": {"data": "10.1.0.2"}}}
    rules = site_model.firewall_rules(
        [
            [
                {"name": "x", "port": "5-6", "from": [{"group": "g", "network": "data"}]},
                {"name": "y", "port": 7, "from": [{"group": "empty", "network": "data"}]},
            ]
        ],
        {},
        hostvars,
        groups,
    )
    assert rules == [{"name": "x", "port": "5-6", "proto": "tcp", "sources": ["10.1.0.1/32", "10.1.0.2/32"]}]
    with pytest.raises(site_model.SiteModelError, match=r"host h1 \(group g\) has no soc_host_addresses.admin"):
        site_model.firewall_rules(
            [{"name": "x", "port": 5, "from": [{"group": "g", "network": "admin"}]}], {}, hostvars, groups
        )
    with pytest.raises(site_model.SiteModelError, match=r"state: 'gone' must be present or absent"):
        site_model.merge_openings([{"name": "x", "state": "gone"}])
    assert copy.deepcopy(role) == role
