"""kafka_health: live brokers, under-replicated/offline partitions, and the settle-then-return wait."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.kafka_health import (
    Health,
    HealthTimeout,
    PartitionState,
    Wanted,
    summarize,
    wait_for,
)


def part(topic, n, leader=1, replicas=(1, 2, 3), isrs=(1, 2, 3), error=None):
    return PartitionState(topic, n, leader, tuple(replicas), tuple(isrs), error)


def test_summary_lists_under_replicated_and_offline_partitions():
    h = summarize(
        [3, 1, 2],
        [
            part("zeek-dns", 1, isrs=(1, 3)),
            part("zeek-dns", 0),
            part("zeek-conn", 0, leader=-1, isrs=()),
            part("zeek-ssl", 0, error="LEADER_NOT_AVAILABLE"),
        ],
    )
    assert h.brokers == (1, 2, 3) and h.partitions == 4
    assert h.under_replicated == ("zeek-dns/1",)  # a leaderless partition counts as offline, not twice
    assert h.offline == ("zeek-conn/0", "zeek-ssl/0")


def test_full_isr_in_another_order_is_in_sync():
    assert summarize([1, 2], [part("t", 0, replicas=(2, 1), isrs=(1, 2))]).under_replicated == ()


def test_wanted_names_what_is_missing():
    h = Health((1, 3), 10, under_replicated=("t/0", "t/1"))
    unmet = Wanted(brokers=3, broker_ids=(2,)).unmet(h)
    assert unmet == ["2 of 3 brokers live [1, 3]", "brokers [2] not live", "2 under-replicated partitions (t/0, t/1)"]
    assert Wanted(brokers=2, in_sync=False).unmet(h) == []
    assert Wanted().unmet(Health((), error="boom")) == ["metadata unreadable: boom"]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_wait_needs_settled_polls_and_tolerates_client_errors():
    clock = FakeClock()
    healthy = Health((1, 2, 3), 6)
    answers = [
        RuntimeError("broker down"),
        Health((1, 2), 6, under_replicated=("t/0",)),
        healthy,  # one good read
        Health((1, 2, 3), 6, under_replicated=("t/0",)),  # metadata flaps: start over
        healthy,
        healthy,
    ]

    def probe():
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    health, waited, polls = wait_for(probe, Wanted(brokers=3), timeout=60, interval=2, clock=clock, sleep=clock.sleep)
    assert health == healthy and polls == 6 and waited == 10
    assert answers == []


def test_wait_times_out_with_the_last_reason():
    clock = FakeClock()
    stuck = Health((1, 2, 3), 6, under_replicated=("zeek-conn/4",))
    with pytest.raises(
        HealthTimeout, match=r"not healthy after 10s \(6 polls\): 1 under-replicated partitions \(zeek-conn/4\)"
    ) as exc:
        wait_for(lambda: stuck, Wanted(brokers=3), timeout=10, interval=2, clock=clock, sleep=clock.sleep)
    assert exc.value.health == stuck


def test_timeout_zero_reads_once():
    clock = FakeClock()
    assert (
        wait_for(lambda: Health((1,), 1), Wanted(brokers=1), timeout=0, settle=1, clock=clock, sleep=clock.sleep)[2]
        == 1
    )
    with pytest.raises(HealthTimeout, match=r"\(1 polls\)"):
        wait_for(lambda: Health((1,), 1), Wanted(brokers=2), timeout=0, clock=clock, sleep=clock.sleep)
