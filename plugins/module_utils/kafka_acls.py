"""Kafka ACLs: expand wanted entries into bindings, read Kafka's AclCommand listing, plan and build argv.

Pure logic (no Ansible, no process): ``plugins/modules/kafka_acl.py`` runs Kafka's own
``org.apache.kafka.tools.AclCommand`` with what this module builds. The Java tool, not confluent-kafka,
because Debian 12's python3-confluent-kafka (1.7) has no ACL API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

RESOURCE_TYPES = {"topic": "TOPIC", "group": "GROUP", "cluster": "CLUSTER", "transactional_id": "TRANSACTIONAL_ID"}
_RESOURCE_FLAG = {
    "TOPIC": "--topic",
    "GROUP": "--group",
    "CLUSTER": "--cluster",
    "TRANSACTIONAL_ID": "--transactional-id",
}
OPERATIONS = (
    "ALL",
    "READ",
    "WRITE",
    "CREATE",
    "DELETE",
    "ALTER",
    "DESCRIBE",
    "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "IDEMPOTENT_WRITE",
    "CREATE_TOKENS",
    "DESCRIBE_TOKENS",
)
PATTERN_TYPES = ("LITERAL", "PREFIXED")
PERMISSIONS = ("ALLOW", "DENY")
CLUSTER_NAME = "kafka-cluster"

_RESOURCE_LINE = re.compile(r"ResourcePattern\(resourceType=(\w+), name=(.*), patternType=(\w+)\)")
_ENTRY_LINE = re.compile(r"\(principal=(.+?), host=(.+?), operation=(\w+), permissionType=(\w+)\)")


class AclError(ValueError):
    """A wanted ACL entry is invalid; the message names it."""


@dataclass(frozen=True, order=True)
class Binding:
    resource_type: str  # TOPIC | GROUP | CLUSTER | TRANSACTIONAL_ID
    name: str
    pattern_type: str  # LITERAL | PREFIXED
    principal: str  # User:<name>
    host: str
    operation: str  # READ, WRITE, DESCRIBE_CONFIGS, ...
    permission: str  # ALLOW | DENY

    def __str__(self) -> str:
        return (
            f"{self.permission} {self.principal}@{self.host} {self.operation} on "
            f"{self.resource_type}:{self.pattern_type}:{self.name}"
        )


def _upper(value: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(value).strip()).replace("-", "_").upper()


def expand(entries: Iterable[dict]) -> set[Binding]:
    """``{principal, resource_type, name, pattern_type, operations, permission, host}`` -> bindings.
    Operations are given as Kafka prints them or as the CLI spells them (WRITE, DescribeConfigs, describe_configs)."""
    out = set()
    for i, entry in enumerate(entries):
        where = f"acl entry {i + 1} ({entry.get('principal')} on {entry.get('resource_type')} {entry.get('name')})"
        principal = str(entry.get("principal") or "")
        if not re.match(r"^[A-Za-z]+:.+$", principal):
            raise AclError(f"{where}: principal must be Type:name, e.g. User:zeek")
        rtype = RESOURCE_TYPES.get(str(entry.get("resource_type", "")).lower())
        if rtype is None:
            raise AclError(f"{where}: resource_type must be one of {sorted(RESOURCE_TYPES)}")
        name = CLUSTER_NAME if rtype == "CLUSTER" else str(entry.get("name") or "")
        if not name:
            raise AclError(f"{where}: a {rtype.lower()} ACL needs a name (or a prefix)")
        pattern = _upper(entry.get("pattern_type", "literal"))
        if pattern not in PATTERN_TYPES:
            raise AclError(f"{where}: pattern_type must be literal or prefixed")
        permission = _upper(entry.get("permission", "allow"))
        if permission not in PERMISSIONS:
            raise AclError(f"{where}: permission must be allow or deny")
        operations = [_upper(op) for op in entry.get("operations") or []]
        if not operations or any(op not in OPERATIONS for op in operations):
            raise AclError(f"{where}: operations must be a non-empty list of {', '.join(OPERATIONS)}")
        host = str(entry.get("host", "*"))
        out.update(Binding(rtype, name, pattern, principal, host, op, permission) for op in operations)
    return out


def parse_listing(text: str) -> set[Binding]:
    """The bindings in ``AclCommand --list`` output (other lines - logging - are ignored)."""
    out = set()
    resource = None
    for line in text.splitlines():
        m = _RESOURCE_LINE.search(line)
        if m:
            resource = (m.group(1), m.group(2), m.group(3))
            continue
        m = _ENTRY_LINE.search(line)
        if m and resource is not None:
            principal, host, operation, permission = m.groups()
            out.add(Binding(*resource, principal, host, operation, permission))
    return out


@dataclass(frozen=True)
class AclPlan:
    add: tuple[Binding, ...] = ()
    remove: tuple[Binding, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.add or self.remove)


def plan(wanted: set[Binding], current: set[Binding], exclusive: bool) -> AclPlan:
    """Add what is missing; with ``exclusive``, remove every other ACL in the cluster."""
    return AclPlan(tuple(sorted(wanted - current)), tuple(sorted(current - wanted)) if exclusive else ())


def _pascal(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def commands(action: str, bindings: Iterable[Binding]) -> list[list[str]]:
    """AclCommand arguments for ``--add``/``--remove``: one call per resource pattern, principal, host and
    permission, with all its operations."""
    groups: dict[tuple, list[str]] = {}
    for b in sorted(bindings):
        key = (b.resource_type, b.name, b.pattern_type, b.principal, b.host, b.permission)
        groups.setdefault(key, []).append(b.operation)
    out = []
    for (rtype, name, pattern, principal, host, permission), ops in groups.items():
        who = "allow" if permission == "ALLOW" else "deny"
        argv = [f"--{action}"] + (["--force"] if action == "remove" else [])
        argv += [f"--{who}-principal", principal, f"--{who}-host", host]
        for op in ops:
            argv += ["--operation", _pascal(op)]
        argv += [_RESOURCE_FLAG[rtype]] + ([] if rtype == "CLUSTER" else [name])
        argv += ["--resource-pattern-type", pattern.lower()]
        out.append(argv)
    return out
