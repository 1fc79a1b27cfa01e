"""Kafka SCRAM credentials kept in step with the inventory: plan the upserts and deletions from a record.

Pure logic (no Ansible, no process): ``plugins/modules/kafka_scram_users.py`` runs Kafka's own
``kafka.admin.ConfigCommand`` (``kafka-configs.sh``) against the running brokers with what this module
builds. The Java tool, because Debian 12's python3-confluent-kafka has no SCRAM API, and its librdkafka
cannot log in with SCRAM against Kafka 4.x.

Kafka never returns a credential's salt or keys (describe shows the mechanism and iteration count
only), so a changed password cannot be read from the cluster. The record is a file on the broker
(root, 0600): per user a PBKDF2-HMAC-SHA512 fingerprint of the password with a random salt of its own.
A user whose password no longer matches its fingerprint, or who is not recorded, is upserted; a
recorded user no longer wanted is deleted. Users the record never held (made by hand) are left alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field

from ansible_collections.socforge.core.plugins.module_utils.quoting import java_properties_escape

MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
FINGERPRINT_ITERATIONS = 200_000
RECORD_VERSION = 1
USER_NAME = re.compile(r"^[A-Za-z0-9._@-]+$")
CONFIG_COMMAND = "kafka.admin.ConfigCommand"


class ScramError(ValueError):
    """The wanted users or the record are invalid; the message names what."""


def fingerprint(password: str, salt: bytes, iterations: int = FINGERPRINT_ITERATIONS) -> str:
    return base64.b64encode(hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)).decode()


def matches(password: str, entry: dict) -> bool:
    try:
        salt = base64.b64decode(entry["salt"])
        wanted = fingerprint(password, salt, int(entry["iterations"]))
    except (KeyError, TypeError, ValueError):
        return False
    return hmac.compare_digest(wanted, str(entry.get("fingerprint", "")))


def record_entry(password: str, salt: bytes | None = None) -> dict:
    salt = salt if salt is not None else os.urandom(16)
    return {
        "salt": base64.b64encode(salt).decode(),
        "iterations": FINGERPRINT_ITERATIONS,
        "fingerprint": fingerprint(password, salt),
    }


def load_record(text: str | None) -> dict:
    """The record file's content (None or empty: nothing recorded yet)."""
    if not text or not text.strip():
        return {"version": RECORD_VERSION, "mechanism": None, "iterations": None, "users": {}}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScramError(f"the SCRAM record is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise ScramError("the SCRAM record has no users mapping")
    return data


def check_users(users: list[dict], reserved: tuple[str, ...] = ()) -> None:
    seen = set()
    for index, user in enumerate(users):
        name = user.get("name")
        if not name or not USER_NAME.match(str(name)):
            raise ScramError(f"users[{index}].name '{name}' is not a plain user name")
        if name in seen:
            raise ScramError(f"users[{index}].name '{name}' is listed twice")
        if name in reserved:
            raise ScramError(f"users[{index}].name '{name}' is reserved (the brokers' own user)")
        if not user.get("password"):
            raise ScramError(f"users[{index}] ({name}): no password")
        seen.add(name)


@dataclass
class Plan:
    upsert: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.upsert or self.delete)


def plan(users: list[dict], record: dict, mechanism: str, iterations: int) -> Plan:
    """Upsert the users whose password is not the recorded one (every user when the mechanism or
    the iteration count changed); delete the recorded users no longer wanted."""
    if mechanism not in MECHANISMS:
        raise ScramError(f"mechanism '{mechanism}' is not one of {', '.join(MECHANISMS)}")
    recorded = record.get("users") or {}
    same_kind = record.get("mechanism") == mechanism and record.get("iterations") == iterations
    todo = Plan()
    for user in users:
        entry = recorded.get(user["name"])
        if not same_kind or entry is None or not matches(user["password"], entry):
            todo.upsert.append(user["name"])
    wanted = {u["name"] for u in users}
    todo.delete = sorted(name for name in recorded if name not in wanted)
    return todo


def new_record(users: list[dict], record: dict, todo: Plan, mechanism: str, iterations: int) -> dict:
    """The record after ``todo`` ran: fresh entries for the upserted users, the others kept."""
    recorded = record.get("users") or {}
    out = {}
    for user in users:
        name = user["name"]
        out[name] = record_entry(user["password"]) if name in todo.upsert else recorded[name]
    return {"version": RECORD_VERSION, "mechanism": mechanism, "iterations": iterations, "users": out}


def dump_record(record: dict) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def _utf16_escapes(char: str) -> str:
    data = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(data[i : i + 2], 'big'):04x}" for i in range(0, len(data), 2))


def add_config_file(mechanism: str, iterations: int, password: str) -> str:
    """The ``--add-config-file`` content for one user: a Java properties line, so the password never
    reaches a command line and may hold any character (ConfigCommand reads everything after
    ``password=`` as the password)."""
    value = java_properties_escape(f"iterations={iterations},password={password}")
    # ConfigCommand loads the file as ISO-8859-1 (java.util.Properties.load(InputStream)): anything
    # beyond ASCII goes as \uXXXX escapes (UTF-16 units, surrogate pairs beyond the BMP).
    escaped = "".join(c if ord(c) < 0x80 else _utf16_escapes(c) for c in value)
    return f"{mechanism}={escaped}\n"


def base_argv(java: str, classpath: str, bootstrap_server: str, command_config: str | None) -> list[str]:
    argv = [java, "-Xmx128m", "-cp", classpath, CONFIG_COMMAND, "--bootstrap-server", bootstrap_server]
    if command_config:
        argv += ["--command-config", command_config]
    return argv


def upsert_args(user: str, config_file: str) -> list[str]:
    return ["--alter", "--entity-type", "users", "--entity-name", user, "--add-config-file", config_file]


def delete_args(user: str, mechanism: str) -> list[str]:
    return ["--alter", "--entity-type", "users", "--entity-name", user, "--delete-config", mechanism]
