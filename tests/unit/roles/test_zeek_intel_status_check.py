"""roles/zeek_intel's status check of the last intel sync run (playbooks/status.yml), rendered by
Ansible's own templating from what `systemctl show` prints for the service and its timer.

systemd unloads the inactive oneshot service between its timer's runs: its exit time is then empty
(the lab's status once said "never ran" for a sync that ran every 15 min), while a failed run stays
loaded with its result. The timer's last trigger dates the run then."""

import datetime
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

TASKS = Path(__file__).resolve().parents[3] / "roles/zeek_intel/tasks/status.yml"
NOW = datetime.datetime(2026, 11, 30, 18, 0, 0, tzinfo=datetime.UTC)


def check(sync_lines, max_age=3600):
    task = next(t for t in yaml.safe_load(TASKS.read_text()) if t["name"].endswith("| Checks"))
    expr = task["ansible.builtin.set_fact"]["zeek_intel_status_checks"]
    variables = {
        "__zeek_intel_status_sync": {"stdout_lines": sync_lines},
        "__zeek_intel_status_items": {"stdout_lines": []},
        "zeek_intel_status_max_age_seconds": max_age,
        "inventory_hostname": "manager",
        "__now": str(NOW.timestamp()),
    }
    (result,) = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expr))
    return result["status"], result["detail"]


def show(result="success", exit_at=None, status=0, trigger=None):
    """`systemctl show <service> <timer>` as the status task asks it (TZ=UTC, --timestamp=unix)."""
    trigger_text = (NOW - trigger).strftime("%a %Y-%m-%d %H:%M:%S UTC") if trigger is not None else "n/a"
    exit_text = f"@{int((NOW - exit_at).timestamp())}" if exit_at is not None else ""
    return [
        f"Result={result}",
        f"ExecMainExitTimestamp={exit_text}",
        f"ExecMainStatus={status}",
        "",
        f"LastTriggerUSec={trigger_text}",
        "Result=success",
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # loaded after a run: its own exit time
        (show(exit_at=datetime.timedelta(seconds=120), trigger=datetime.timedelta(seconds=125)), ("ok", "120 s ago")),
        # unloaded between runs: the timer's trigger dates the last (successful) run
        (show(trigger=datetime.timedelta(minutes=10)), ("ok", "600 s ago")),
        (show(trigger=datetime.timedelta(hours=3)), ("fail", "10800 s ago")),
        # a failed run stays loaded with its result, whatever the timer says
        (
            show("exit-code", exit_at=datetime.timedelta(seconds=60), status=1, trigger=datetime.timedelta(seconds=61)),
            ("fail", "exit-code (exit 1), 60 s ago"),
        ),
        # the timer never fired
        (show(), ("fail", "never ran")),
    ],
)
def test_last_sync_check(lines, expected):
    status, detail = check(lines)
    assert status == expected[0]
    assert detail.endswith(expected[1])
