#!/usr/bin/python
"""Keep Kafka's SCRAM users in step with a list: passwords rotated, users added and removed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kafka_scram_users
short_description: Keep Kafka SCRAM credentials in step with the wanted users (rotation, additions, removals)
version_added: 0.1.0
description:
  - Upserts the SCRAM credential of every user in O(users) whose password changed or who is new, and
    deletes the credentials of users it made before that are no longer listed, on the running cluster
    with Kafka's own C(kafka.admin.ConfigCommand) (what C(kafka-configs.sh --alter --add-config) runs).
  - Kafka never returns a credential's salt or keys, so the module keeps a record in O(record) (JSON,
    root only, 0600) - per user a PBKDF2-HMAC-SHA512 fingerprint of the password with a random salt of
    its own, never the password. An unchanged password runs no JVM at all (idempotent and fast).
  - The password reaches ConfigCommand in a private temporary properties file (C(--add-config-file)),
    never on a command line. One JVM per changed user.
  - Users the record never held (made by hand, or when the storage was formatted) are upserted on the
    first run and never deleted.
author: SOCForge team
requirements:
  - Java and the Kafka jars (O(classpath)) on the host that runs the module
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  users:
    description: The wanted SCRAM users.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: User name (the principal is C(User:<name>)).
        type: str
        required: true
      password:
        description: Its password (from the vault).
        type: str
        required: true
        no_log: true
  reserved:
    description: Names that may not be in O(users) (the brokers' own inter-broker user, whose credential
      the storage format makes).
    type: list
    elements: str
    default: []
  mechanism:
    description: SCRAM mechanism.
    type: str
    choices: [SCRAM-SHA-256, SCRAM-SHA-512]
    default: SCRAM-SHA-512
  iterations:
    description: SCRAM iteration count of the credentials (Kafka's minimum is 4096).
    type: int
    default: 8192
  record:
    description: The record file on the host that runs the module.
    type: path
    required: true
  bootstrap_server:
    description: Brokers to ask, C(host:port[,host:port]).
    type: str
    required: true
  command_config:
    description: Java client properties file for the connection (security protocol, truststore, SASL login of a
      super user).
    type: path
  classpath:
    description: Java classpath with the Kafka jars.
    type: str
    default: /opt/kafka/current/libs/*
  java:
    description: Java binary.
    type: path
    default: /usr/bin/java
  timeout:
    description: Seconds for each ConfigCommand run.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: SCRAM users follow the inventory (rotated passwords, users added later)
  socforge.core.kafka_scram_users:
    bootstrap_server: 10.0.0.11:9092
    command_config: /etc/kafka/admin-client.properties
    record: /etc/kafka/scram-users.json
    reserved: [kafka-broker]
    users:
      - {name: zeek, password: "{{ vault_kafka_zeek_password }}"}
      - {name: tenzir, password: "{{ vault_kafka_tenzir_password }}"}
"""

RETURN = r"""
upserted:
  description: Users whose credential was set (in check mode, would be set) - new or with a changed password.
  returned: always
  type: list
  elements: str
deleted:
  description: Users made by this module before whose credential was deleted (no longer in O(users)).
  returned: always
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.kafka_scram import (
    ScramError,
    add_config_file,
    base_argv,
    check_users,
    delete_args,
    dump_record,
    load_record,
    new_record,
    plan,
    upsert_args,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "users": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "password": {"type": "str", "required": True, "no_log": True},
                },
            },
            "reserved": {"type": "list", "elements": "str", "default": []},
            "mechanism": {"type": "str", "choices": ["SCRAM-SHA-256", "SCRAM-SHA-512"], "default": "SCRAM-SHA-512"},
            "iterations": {"type": "int", "default": 8192},
            "record": {"type": "path", "required": True},
            "bootstrap_server": {"type": "str", "required": True},
            "command_config": {"type": "path"},
            "classpath": {"type": "str", "default": "/opt/kafka/current/libs/*"},
            "java": {"type": "path", "default": "/usr/bin/java"},
            "timeout": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        check_users(p["users"], tuple(p["reserved"]))
        if p["iterations"] < 4096:
            raise ScramError(f"iterations {p['iterations']}: Kafka needs at least 4096")
        text = None
        if os.path.exists(p["record"]):
            with open(p["record"], encoding="utf-8") as handle:
                text = handle.read()
        record = load_record(text)
        todo = plan(p["users"], record, p["mechanism"], p["iterations"])
    except ScramError as exc:
        module.fail_json(msg=str(exc))

    base = base_argv(p["java"], p["classpath"], p["bootstrap_server"], p["command_config"])

    def config_command(args, what):
        rc, out, err = module.run_command(["timeout", str(p["timeout"]), *base, *args])
        if rc != 0:
            tail = "\n".join((err or out).strip().splitlines()[-5:])
            module.fail_json(msg=f"ConfigCommand {what} failed (rc={rc}): {tail}", rc=rc, upserted=[], deleted=[])

    if todo.changed and not module.check_mode:
        passwords = {u["name"]: u["password"] for u in p["users"]}
        with tempfile.TemporaryDirectory(prefix="socforge-scram-") as private:  # 0700
            for name in todo.upsert:
                path = os.path.join(private, "add.properties")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    handle.write(add_config_file(p["mechanism"], p["iterations"], passwords[name]))
                config_command(upsert_args(name, path), f"upsert of {name}")
        for name in todo.delete:
            config_command(delete_args(name, p["mechanism"]), f"delete of {name}")
        after = new_record(p["users"], record, todo, p["mechanism"], p["iterations"])
        directory = os.path.dirname(p["record"]) or "."
        fd, tmp = tempfile.mkstemp(prefix=".scram-users.", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump_record(after))
        os.chmod(tmp, 0o600)
        os.replace(tmp, p["record"])

    before_names = sorted((record.get("users") or {}).keys())
    after_names = sorted(u["name"] for u in p["users"])
    module.exit_json(
        changed=todo.changed,
        upserted=todo.upsert,
        deleted=todo.delete,
        diff={
            "before": "".join(f"{n}\n" for n in before_names),
            "after": "".join(f"{n}{' (new password)' if n in todo.upsert else ''}\n" for n in after_names),
        },
    )


if __name__ == "__main__":
    main()
