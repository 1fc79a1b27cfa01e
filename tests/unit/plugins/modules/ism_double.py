"""TEST DOUBLE of OpenSearch's ISM policy REST API (``/_plugins/_ism/policies/<id>``), on loopback.

Why a double: the index-management plugin that serves this API is not published to Maven Central
(only the integ-test-zip, security and job-scheduler are), so the real-server fixture cannot load
it. The double follows the API as OpenSearch documents it: GET returns ``_id``/``_version``/
``_seq_no``/``_primary_term`` and the policy with server-added ``policy_id``, ``last_updated_time``,
``schema_version``, ``error_notification`` and a default ``retry`` on every action; PUT on an
existing policy needs matching ``if_seq_no``/``if_primary_term`` (else 409); unknown ids give 404.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PREFIX = "/_plugins/_ism/policies/"


class IsmDouble:
    def __init__(self):
        self.policies: dict[str, dict] = {}
        self.seq_no = 0
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method):
                url = urlparse(self.path)
                double.requests.append((method, self.path))
                if not url.path.startswith(PREFIX):
                    return self._send(404, {"error": "no handler", "status": 404})
                policy_id = url.path[len(PREFIX) :]
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("content-encoding") == "gzip":
                    import gzip

                    raw = gzip.decompress(raw)
                body = json.loads(raw) if raw else None
                with double.lock:
                    status, out = getattr(double, method.lower())(policy_id, query, body)
                return self._send(status, out)

            def do_GET(self):  # noqa: N802 -- http.server naming
                self._route("GET")

            def do_PUT(self):  # noqa: N802
                self._route("PUT")

            def do_DELETE(self):  # noqa: N802
                self._route("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _not_found(policy_id):
        return 404, {
            "error": {
                "root_cause": [{"type": "status_exception", "reason": "Policy not found"}],
                "type": "status_exception",
                "reason": "Policy not found",
            },
            "status": 404,
        }

    def _doc(self, policy_id):
        stored = self.policies[policy_id]
        return {
            "_id": policy_id,
            "_version": stored["version"],
            "_seq_no": stored["seq_no"],
            "_primary_term": 1,
            "policy": copy.deepcopy(stored["policy"]),
        }

    def get(self, policy_id, query, body):
        if policy_id not in self.policies:
            return self._not_found(policy_id)
        return 200, self._doc(policy_id)

    def put(self, policy_id, query, body):
        existing = self.policies.get(policy_id)
        if existing is not None:
            if str(existing["seq_no"]) != query.get("if_seq_no") or query.get("if_primary_term") != "1":
                return 409, {
                    "error": {
                        "root_cause": [{"type": "version_conflict_engine_exception", "reason": "version conflict"}],
                        "type": "version_conflict_engine_exception",
                        "reason": f"[{policy_id}]: version conflict",
                    },
                    "status": 409,
                }
        policy = copy.deepcopy(body["policy"])
        now = int(time.time() * 1000)
        policy.update(policy_id=policy_id, last_updated_time=now, schema_version=21)
        policy.setdefault("error_notification", None)
        for state in policy.get("states", []):
            state.setdefault("transitions", [])
            for action in state.get("actions", []):
                action.setdefault("retry", {"count": 3, "backoff": "exponential", "delay": "1m"})
        for template in policy.get("ism_template") or []:
            template["last_updated_time"] = now
        self.seq_no += 1
        self.policies[policy_id] = {
            "policy": policy,
            "seq_no": self.seq_no,
            "version": (existing or {"version": 0})["version"] + 1,
        }
        return (200 if existing else 201), self._doc(policy_id)

    def delete(self, policy_id, query, body):
        if policy_id not in self.policies:
            return self._not_found(policy_id)
        del self.policies[policy_id]
        return 200, {"_id": policy_id, "result": "deleted"}
