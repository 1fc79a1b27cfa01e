#!/usr/bin/python
"""Manage Kafka ACLs with Kafka's own AclCommand (idempotent, check mode, diff)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kafka_acl
short_description: Manage Kafka ACLs (StandardAuthorizer) with Kafka's AclCommand
version_added: 0.1.0
description:
  - Lists the cluster's ACLs, adds the missing ones of O(acls) and, with O(exclusive), removes every other
    ACL. Reads first and only writes what differs; supports check mode and diff.
  - Runs C(org.apache.kafka.tools.AclCommand) from the broker's own jars with O(java), because Debian 12's
    python3-confluent-kafka has no ACL API. One JVM for the listing, one per changed resource and principal.
author: SOCForge team
requirements:
  - Java and the Kafka jars (O(classpath)) on the host that runs the module
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  bootstrap_server:
    description: Brokers to ask, C(host:port[,host:port]).
    type: str
    required: true
  command_config:
    description: Java client properties file for the connection (security protocol, truststore, SASL login of a
      super user).
    type: path
  classpath:
    description: Java classpath with the Kafka tools jars.
    type: str
    default: /opt/kafka/current/libs/*
  java:
    description: Java binary.
    type: path
    default: /usr/bin/java
  acls:
    description:
      - The wanted ACLs. Each entry allows (or denies) one principal some operations on one resource pattern.
    type: list
    elements: dict
    default: []
    suboptions:
      principal:
        description: C(User:<name>).
        type: str
        required: true
      resource_type:
        description: Resource kind.
        type: str
        choices: [topic, group, cluster, transactional_id]
        required: true
      name:
        description: Resource name, or its prefix with O(acls[].pattern_type=prefixed). Not used for C(cluster).
        type: str
      pattern_type:
        description: Match the name exactly or as a prefix.
        type: str
        choices: [literal, prefixed]
        default: literal
      operations:
        description: Operations, as Kafka names them (C(Read), C(Write), C(Describe), C(DescribeConfigs), C(IdempotentWrite), ...).
        type: list
        elements: str
        required: true
      permission:
        description: Allow or deny.
        type: str
        choices: [allow, deny]
        default: allow
      host:
        description: Client address the entry applies to.
        type: str
        default: "*"
  exclusive:
    description: Remove every ACL of the cluster that is not in O(acls).
    type: bool
    default: false
  timeout:
    description: Seconds for each AclCommand run.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Zeek writes its log topics, the shipper reads them with its consumer groups; nothing else
  socforge.core.kafka_acl:
    bootstrap_server: 10.0.0.11:9092
    command_config: /etc/kafka/admin-client.properties
    exclusive: true
    acls:
      - {principal: "User:zeek", resource_type: topic, name: zeek-, pattern_type: prefixed, operations: [Write, Describe]}
      - {principal: "User:tenzir", resource_type: topic, name: zeek-, pattern_type: prefixed, operations: [Read, Describe]}
      - {principal: "User:tenzir", resource_type: group, name: socforge-, pattern_type: prefixed, operations: [Read]}
"""

RETURN = r"""
added:
  description: The ACL bindings added (in check mode, that would be added), one string each.
  returned: always
  type: list
  elements: str
removed:
  description: The ACL bindings removed.
  returned: always
  type: list
  elements: str
acls:
  description: Number of ACL bindings in the cluster after the run.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils.kafka_acls import (
    AclError,
    commands,
    expand,
    parse_listing,
    plan,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "bootstrap_server": {"type": "str", "required": True},
            "command_config": {"type": "path"},
            "classpath": {"type": "str", "default": "/opt/kafka/current/libs/*"},
            "java": {"type": "path", "default": "/usr/bin/java"},
            "acls": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "principal": {"type": "str", "required": True},
                    "resource_type": {
                        "type": "str",
                        "required": True,
                        "choices": ["topic", "group", "cluster", "transactional_id"],
                    },
                    "name": {"type": "str"},
                    "pattern_type": {"type": "str", "choices": ["literal", "prefixed"], "default": "literal"},
                    "operations": {"type": "list", "elements": "str", "required": True},
                    "permission": {"type": "str", "choices": ["allow", "deny"], "default": "allow"},
                    "host": {"type": "str", "default": "*"},
                },
            },
            "exclusive": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    p = module.params
    base = [p["java"], "-Xmx128m", "-cp", p["classpath"], "org.apache.kafka.tools.AclCommand"]
    base += ["--bootstrap-server", p["bootstrap_server"]]
    if p["command_config"]:
        base += ["--command-config", p["command_config"]]

    def acl_command(args):
        rc, out, err = module.run_command(["timeout", str(p["timeout"]), *base, *args])
        if rc != 0:
            tail = "\n".join((err or out).strip().splitlines()[-5:])
            module.fail_json(msg=f"AclCommand {' '.join(args[:1])} failed (rc={rc}): {tail}", rc=rc)
        return out

    try:
        wanted = expand(p["acls"])
    except AclError as exc:
        module.fail_json(msg=str(exc))
    current = parse_listing(acl_command(["--list"]))
    todo = plan(wanted, current, p["exclusive"])
    if todo.changed and not module.check_mode:
        for args in commands("remove", todo.remove) + commands("add", todo.add):
            acl_command(args)
    after = (current | set(todo.add)) - set(todo.remove)
    module.exit_json(
        changed=todo.changed,
        added=[str(b) for b in todo.add],
        removed=[str(b) for b in todo.remove],
        acls=len(after),
        diff={
            "before": "\n".join(sorted(map(str, current))) + "\n",
            "after": "\n".join(sorted(map(str, after))) + "\n",
        },
    )


if __name__ == "__main__":
    main()
