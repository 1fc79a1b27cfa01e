"""kafka_acls: entries expanded to bindings, AclCommand listings parsed, plans and CLI arguments."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.kafka_acls import (
    AclError,
    Binding,
    commands,
    expand,
    parse_listing,
    plan,
)

# What Kafka 4.1's AclCommand --list prints (log lines around it are ignored).
LISTING = """\
WARN something unrelated (org.apache.kafka.clients.admin.AdminClientConfig)
Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=zeek-, patternType=PREFIXED)`:
 \t(principal=User:zeek, host=*, operation=WRITE, permissionType=ALLOW)
\t(principal=User:zeek, host=*, operation=DESCRIBE, permissionType=ALLOW)
\t(principal=User:tenzir, host=10.0.0.5, operation=READ, permissionType=ALLOW)

Current ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`:
 \t(principal=User:zeek, host=*, operation=IDEMPOTENT_WRITE, permissionType=DENY)
"""

ZEEK = {"principal": "User:zeek", "resource_type": "topic", "name": "zeek-", "pattern_type": "prefixed"}


def test_listing_is_parsed_into_bindings():
    got = parse_listing(LISTING)
    assert got == {
        Binding("TOPIC", "zeek-", "PREFIXED", "User:zeek", "*", "WRITE", "ALLOW"),
        Binding("TOPIC", "zeek-", "PREFIXED", "User:zeek", "*", "DESCRIBE", "ALLOW"),
        Binding("TOPIC", "zeek-", "PREFIXED", "User:tenzir", "10.0.0.5", "READ", "ALLOW"),
        Binding("CLUSTER", "kafka-cluster", "LITERAL", "User:zeek", "*", "IDEMPOTENT_WRITE", "DENY"),
    }
    assert parse_listing("") == set()


def test_entries_expand_per_operation_in_any_spelling():
    got = expand(
        [
            {**ZEEK, "operations": ["Write", "describe"]},
            {
                "principal": "User:zeek",
                "resource_type": "cluster",
                "operations": ["IdempotentWrite"],
                "permission": "deny",
            },
        ]
    )
    assert got == parse_listing(LISTING) - {
        Binding("TOPIC", "zeek-", "PREFIXED", "User:tenzir", "10.0.0.5", "READ", "ALLOW")
    }
    assert expand([{**ZEEK, "operations": ["describe_configs"]}]) == {
        Binding("TOPIC", "zeek-", "PREFIXED", "User:zeek", "*", "DESCRIBE_CONFIGS", "ALLOW")
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**ZEEK, "principal": "zeek", "operations": ["Write"]}, "principal must be Type:name"),
        ({**ZEEK, "resource_type": "broker", "operations": ["Write"]}, "resource_type must be one of"),
        ({**ZEEK, "name": "", "operations": ["Write"]}, "needs a name"),
        ({**ZEEK, "pattern_type": "match", "operations": ["Write"]}, "pattern_type must be literal or prefixed"),
        ({**ZEEK, "operations": ["Scribble"]}, "operations must be"),
        ({**ZEEK, "operations": []}, "operations must be"),
    ],
)
def test_invalid_entries_are_refused_naming_the_entry(entry, message):
    with pytest.raises(AclError, match=message) as exc:
        expand([entry])
    assert "acl entry 1 (" in str(exc.value)


def test_plan_adds_missing_and_removes_strays_only_when_exclusive():
    current = parse_listing(LISTING)
    wanted = expand(
        [{**ZEEK, "operations": ["Write", "Describe"]}, {**ZEEK, "principal": "User:x", "operations": ["Read"]}]
    )
    lax = plan(wanted, current, exclusive=False)
    assert lax.add == (Binding("TOPIC", "zeek-", "PREFIXED", "User:x", "*", "READ", "ALLOW"),) and lax.remove == ()
    strict = plan(wanted, current, exclusive=True)
    assert {b.principal for b in strict.remove} == {"User:tenzir", "User:zeek"} and len(strict.remove) == 2
    assert not plan(current, current, exclusive=True).changed


def test_commands_group_operations_per_resource_and_principal():
    bindings = parse_listing(LISTING)
    add = commands("add", bindings)
    assert [
        "--add", "--allow-principal", "User:zeek", "--allow-host", "*", "--operation", "Describe", "--operation",
        "Write", "--topic", "zeek-", "--resource-pattern-type", "prefixed",
    ] in add  # fmt: skip
    assert [
        "--add", "--deny-principal", "User:zeek", "--deny-host", "*", "--operation", "IdempotentWrite", "--cluster",
        "--resource-pattern-type", "literal",
    ] in add  # fmt: skip
    assert len(add) == 3
    assert all(argv[:2] == ["--remove", "--force"] for argv in commands("remove", bindings))
