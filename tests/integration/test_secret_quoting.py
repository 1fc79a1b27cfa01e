"""Secrets with quotes, backslashes, ``$`` and spaces survive the files the roles write them into,
read back by the real parsers: Kafka's JAAS parser behind java.util.Properties (the broker's
server.properties listener JAAS lines built in roles/kafka/vars/main.yml, and admin-client.properties),
and curl reading roles/tenzir's health-check curlrc against a loopback server. (systemd's
EnvironmentFile parsing is checked by molecule/logstash on a real systemd.)

One ansible-playbook run renders every file, one JVM parses every JAAS line."""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml
from kafka_server import kafka_libs

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
JAAS_CHECK = Path(__file__).resolve().parent / "quoting" / "JaasCheck.java"
NASTY = [
    'pa"ss',
    "it's",
    "back\\slash\\",
    "dollar$HOME${X}`id`",
    "  spaced  ",
    "semi;colon=equals#hash!",
    "mixed'\"\\$ ;",
]
KAFKA_ROLE_VARS = yaml.safe_load((REPO / "roles" / "kafka" / "vars" / "main.yml").read_text())
TEMPLATES = {
    "admin": "roles/kafka/templates/etc/kafka/admin-client.properties.j2",
    "server": "roles/kafka/templates/etc/kafka/server.properties.j2",
    "curlrc": "roles/tenzir/templates/etc/tenzir/shipper/opensearch-health.curlrc.j2",
}


def _variables(password: str, port: int) -> dict:
    return {
        # roles/kafka: admin-client.properties and server.properties (the JAAS part of the role vars)
        "kafka_security_protocol": "SASL_SSL",
        "__kafka_tls": True,
        "__kafka_tls_dir": "/etc/kafka/tls",
        "__kafka_sasl": True,
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_admin_sasl_mechanism": "PLAIN",
        "__kafka_admin_plain": KAFKA_ROLE_VARS["__kafka_admin_plain"],
        "__kafka_configuration": KAFKA_ROLE_VARS["__kafka_sasl_configuration"],
        "__kafka_current": "/opt/kafka/current",
        "kafka_advertised_host": "kafka1",
        "kafka_port": 9093,
        "kafka_config_dir": "/etc/kafka",
        "kafka_version": "4.1.0",
        "kafka_node_id": 1,
        "kafka_cluster_id": "test",
        "kafka_sasl_inter_broker_user": 'broker "admin"',
        "kafka_sasl_inter_broker_password": password,
        # roles/tenzir: the health check's curlrc
        "tenzir_opensearch_url": f"http://127.0.0.1:{port}",
        "tenzir_opensearch_user": "writer",
        "tenzir_opensearch_password": password,
        "tenzir_opensearch_ca_path": "",
    }


@pytest.fixture(scope="module")
def basic_auth_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        seen: list = []

        def do_GET(self):  # noqa: N802 -- http.server's name
            header = self.headers.get("Authorization", "")
            self.seen.append(base64.b64decode(header.removeprefix("Basic ")).decode() if header else None)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, Handler.seen
    server.shutdown()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, basic_auth_server):
    """{(password index, template key): path}, all rendered by one ansible-playbook run."""
    out = tmp_path_factory.mktemp("quoting")
    port = basic_auth_server[0].server_port
    tasks = [
        {
            "name": f"Render {key} for password {i}",
            "ansible.builtin.template": {"src": str(REPO / src), "dest": str(out / f"{i}-{key}"), "mode": "0600"},
            # the PLAIN listener's key is user_<name>: a plain name there; a quoted one in the client's
            "vars": dict(
                _variables(password, port), **({"kafka_sasl_inter_broker_user": "broker"} if key == "server" else {})
            ),
        }
        for i, password in enumerate(NASTY)
        for key, src in TEMPLATES.items()
    ]
    playbook = out / "render.yml"
    playbook.write_text(
        yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False)
    )
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local"]
    command += ["-e", f"ansible_python_interpreter={sys.executable}", str(playbook)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return {(i, key): out / f"{i}-{key}" for i in range(len(NASTY)) for key in TEMPLATES}


@pytest.fixture(scope="module")
def jaas(rendered):
    """{(file, property): options} as Kafka parses them."""
    pairs = []
    for i in range(len(NASTY)):
        pairs += [(rendered[i, "admin"], "sasl.jaas.config")]
        pairs += [(rendered[i, "server"], "listener.name.client.scram-sha-512.sasl.jaas.config")]
        pairs += [(rendered[i, "server"], "listener.name.client.plain.sasl.jaas.config")]
    args = [str(a) for pair in pairs for a in pair]
    command = ["java", "-Xmx64m", "-cp", f"{kafka_libs()}/*", str(JAAS_CHECK), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    parsed, current = {}, None
    for line in done.stdout.splitlines():
        if line.startswith("== "):
            path, prop = line[3:].rsplit(" ", 1)
            current = parsed.setdefault((path, prop), {})
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key] = urllib.parse.unquote_plus(value)
    return parsed


@pytest.mark.parametrize("index", range(len(NASTY)))
def test_kafka_admin_client_jaas(rendered, jaas, index):
    path = rendered[index, "admin"]
    options = jaas[str(path), "sasl.jaas.config"]
    assert options.get("module") == "org.apache.kafka.common.security.scram.ScramLoginModule", path.read_text()
    assert options["password"] == NASTY[index] and options["username"] == 'broker "admin"', path.read_text()


@pytest.mark.parametrize("index", range(len(NASTY)))
def test_kafka_broker_listener_jaas(rendered, jaas, index):
    path = rendered[index, "server"]
    scram = jaas[str(path), "listener.name.client.scram-sha-512.sasl.jaas.config"]
    assert scram["password"] == NASTY[index] and scram["username"] == "broker", path.read_text()
    plain = jaas[str(path), "listener.name.client.plain.sasl.jaas.config"]
    assert plain["user_broker"] == NASTY[index], path.read_text()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("index", range(len(NASTY)))
def test_tenzir_health_curlrc_credentials(rendered, basic_auth_server, index):
    _, seen = basic_auth_server
    curlrc = rendered[index, "curlrc"]
    command = ["curl", "--silent", "--show-error", "--fail", "--config", str(curlrc)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr + curlrc.read_text()
    assert seen[-1] == f"writer:{NASTY[index]}"
