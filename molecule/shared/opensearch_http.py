"""Requests to OpenSearch made inside a molecule container (curl through testinfra), for the
verifiers of the opensearch and opensearch_cluster scenarios.

USERS are the internal users both scenarios' inventories (molecule.yml) create; throw-away test
passwords, not secrets.
"""

import json

CERTS = "/etc/opensearch/certs"
CA = f"{CERTS}/ca.crt"
USERS = {
    "admin": "molecule-admin-Pw-1",
    "logstash": "molecule-logstash-Pw-1",
    "analyst": "molecule-analyst-Pw-1",
}


def curl(host, path, user=None, method="GET", body=None, port=9200, cacert=CA):
    """(HTTP status, parsed JSON body or raw text) of a request to https://127.0.0.1:<port><path>."""
    cmd = ["curl", "-s", "-w", "\\n%{http_code}", "-X", method]
    if cacert:
        cmd += ["--cacert", cacert]
    if user:
        cmd += ["-u", f"{user}:{USERS[user]}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    result = host.run(" ".join(f"'{c}'" for c in cmd) + f" 'https://127.0.0.1:{port}{path}'")
    text, _, status = result.stdout.rpartition("\n")
    return int(status or 0), (json.loads(text) if text[:1] in ("{", "[") else text)
