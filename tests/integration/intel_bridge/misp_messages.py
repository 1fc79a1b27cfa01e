"""MISP 2.5.1 ZeroMQ message shapes, for a local pyzmq publisher that stands in for mispzmq.py.

Provenance (keep them honest): the shapes follow MISP v2.5.1's own code in
../shared/artifacts/misp/misp-2.5.1-bookworm.tar.gz - app/files/scripts/mispzmq/mispzmq.py
(``<topic> <json>`` frames; ``misp_json_self`` heartbeat ``{"status", "uptime"}`` every 10 s idle),
app/Lib/Tools/PubSubTool.php (``action`` added to the payload), app/Model/MispAttribute.php
(afterSave: ``fetchAttribute()`` = Attribute + contained Event{id, date, info, uuid, published,
analysis, threat_level_id, org_id, orgc_id, distribution, sharing_group_id, Orgc{id, uuid, name}},
attribute tags under Attribute.Tag, ``Sighting`` list; action add | edit | soft-delete; beforeDelete:
the bare attribute row, action delete), app/Model/Event.php (event_save add | edit | delete with the
event row only; publishEventToZmq: the full event as restSearch returns it, topic ``misp_json``, no
action; unpublishEvent: no message at all), app/Model/MispObject.php (the object row, no
attributes), and the real MISP's attribute-edit message seen by molecule/misp's ZeroMQ probe
(topic misp_json_attribute, ``action: "edit"``, ``Attribute.value`` / ``.comment``).
Field values (ids, timestamps, org) are the test's own.
"""

import json
import time
import uuid as uuidlib

ORGC = {"id": "1", "uuid": "5f6a1b2c-0000-4000-8000-000000000001", "name": "SOCForge"}


def _now():
    return str(int(time.time()))


def new_event(info="bridge test event", event_id=None, published=True, attributes=(), uuid=None):
    ts = _now()
    return {
        "id": str(event_id or int(time.time() * 1000) % 10**9),
        "orgc_id": "1",
        "org_id": "1",
        "date": time.strftime("%Y-%m-%d"),
        "threat_level_id": "2",
        "info": info,
        "published": published,
        "uuid": uuid or str(uuidlib.uuid4()),
        "attribute_count": str(len(attributes)),
        "analysis": "2",
        "timestamp": ts,
        "distribution": "1",
        "proposal_email_lock": False,
        "locked": False,
        "publish_timestamp": ts if published else "0",
        "sharing_group_id": "0",
        "disable_correlation": False,
        "extends_uuid": "",
        "protected": None,
        "event_creator_email": "admin@admin.test",
        "Org": dict(ORGC),
        "Orgc": dict(ORGC),
        "Attribute": list(attributes),
        "ShadowAttribute": [],
        "RelatedEvent": [],
        "Galaxy": [],
        "Object": [],
        "EventReport": [],
        "CryptographicKey": [],
        "Tag": [],
    }


def new_attribute(
    type_, value, event_id="1", to_ids=True, attr_id=None, uuid=None, deleted=False, category="Network activity"
):
    return {
        "id": str(attr_id or int(time.time() * 1000000) % 10**9),
        "type": type_,
        "category": category,
        "to_ids": to_ids,
        "uuid": uuid or str(uuidlib.uuid4()),
        "event_id": str(event_id),
        "distribution": "5",
        "timestamp": _now(),
        "comment": "",
        "sharing_group_id": "0",
        "deleted": deleted,
        "disable_correlation": False,
        "object_id": "0",
        "object_relation": None,
        "first_seen": None,
        "last_seen": None,
        "value": value,
    }


def _event_head(event):
    keys = ("id", "date", "info", "uuid", "published", "analysis", "threat_level_id", "org_id", "orgc_id",
            "distribution", "sharing_group_id")  # fmt: skip
    head = {k: event[k] for k in keys}
    head["Orgc"] = dict(event["Orgc"])
    return head


def frame(topic, payload):
    return f"{topic} {json.dumps(payload)}".encode()


def publish_event(event):
    """misp_json: Event::publishEventToZmq (the full event), rendered as the real MISP 2.5.1 sends it:
    BEFORE the publication is saved ("published": false, "publish_timestamp": "0" - seen on the lab's
    hub, an event published through the API)."""
    return frame("misp_json", {"Event": {**event, "published": False, "publish_timestamp": "0"}})


def attribute_saved(attr, event, action="add"):
    """misp_json_attribute after a save (add | edit | soft-delete)."""
    a = dict(attr)
    a["value1"], a["value2"] = a["value"], ""
    a["Sighting"] = []
    a.setdefault("Tag", [])
    if action == "soft-delete":
        a["deleted"] = True
    return frame("misp_json_attribute", {"Attribute": a, "Event": _event_head(event), "action": action})


def attribute_deleted(attr):
    """misp_json_attribute from beforeDelete: the bare row, no Event."""
    a = {k: v for k, v in attr.items() if k != "Tag"}
    a["value1"], a["value2"] = a["value"], ""
    return frame("misp_json_attribute", {"Attribute": a, "action": "delete"})


def event_saved(event, action="edit"):
    """misp_json_event (add | edit | delete): the event row, never its attributes."""
    row = {k: v for k, v in event.items() if not isinstance(v, (list, dict))}
    return frame("misp_json_event", {"Event": row, "action": action})


def heartbeat(uptime=10):
    return frame("misp_json_self", {"status": "And believe me I am still alive.", "uptime": uptime})
