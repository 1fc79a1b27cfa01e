"""kafka_topics: the plan for each topic situation, and refusals that name the topic."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.kafka_topics import (
    TopicError,
    TopicState,
    normalize_config,
    plan,
    validate,
)


def test_absent_topic_is_created_with_its_config():
    p = plan("zeek-conn", TopicState(6, 3, {"retention.ms": 604800000}), None)
    assert p.create and p.changed and p.set_config == {"retention.ms": "604800000"}


def test_equal_topic_needs_nothing():
    want = TopicState(3, 1, {"retention.ms": "1000", "cleanup.policy": "delete"})
    assert not plan("t", want, TopicState(3, 1, {"cleanup.policy": "delete", "retention.ms": "1000"})).changed


def test_partitions_grow_and_config_changes_are_listed():
    p = plan("t", TopicState(6, 1, {"retention.ms": 2000}), TopicState(3, 1, {"retention.ms": "1000", "x": "y"}))
    assert p.add_partitions_to == 6 and not p.create
    assert p.config_changes == {"retention.ms": ("1000", "2000"), "x": ("y", None)}


def test_shrinking_partitions_is_refused_naming_the_topic():
    with pytest.raises(TopicError, match="zeek-dns: has 6 partitions, 3 wanted"):
        plan("zeek-dns", TopicState(3, 1), TopicState(6, 1))


def test_replication_factor_change_is_refused():
    with pytest.raises(TopicError, match="zeek-dns: replication factor is 1, 3 wanted"):
        plan("zeek-dns", TopicState(3, 3), TopicState(3, 1))


@pytest.mark.parametrize(
    ("name", "partitions", "rf", "brokers", "message"),
    [
        ("bad topic", 1, 1, None, "letters, digits"),
        ("..", 1, 1, None, "letters, digits"),
        ("t", 0, 1, None, "partitions must be >= 1"),
        ("t", 1, 0, None, "replication_factor must be >= 1"),
        ("t", 1, 3, 1, "replication_factor 3 > 1 broker"),
    ],
)
def test_invalid_topics_are_refused(name, partitions, rf, brokers, message):
    with pytest.raises(TopicError, match=message):
        validate(name, partitions, rf, brokers)


def test_config_values_normalised_and_none_refused():
    assert normalize_config({"a": True, "b": 5}, "t") == {"a": "true", "b": "5"}
    with pytest.raises(TopicError, match="t: config a has no value"):
        normalize_config({"a": None}, "t")
