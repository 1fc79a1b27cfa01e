"""The MISP REST endpoints the double answers: the route table (method, path pattern, the OpenAPI path
it answers) and the handlers, which read and change an :class:`~tests.misp_double.store.EventStore`
and the :class:`~tests.misp_double.admin.AdminStore`.  Handlers return a JSON body or
``(status, body, extra_headers)``, or raise HttpError / BadFilter / AdminError."""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .admin import AdminStore
from .data import LOCAL_ORG, describe_types, iter_attributes, make_tag
from .errors import HttpError
from .search import BadFilter, Query, in_range, is_true, search_attributes, search_events, time_range
from .store import EVENT_META_KEYS, EventStore, proposal_json

MISP_VERSION = "2.5.2"  # the MISP release the double claims to be (pymisp 2.5.x talks to MISP 2.5)
RECOMMENDED_PYMISP = "2.5.2"


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]
    spec_path: str | None  # OpenAPI path template this route answers, None when the spec lacks it
    template: str = ""  # human-readable route, e.g. /shadowAttributes/add/{eventId}

    def __post_init__(self) -> None:
        self.template = self.template or self.spec_path or self.pattern.pattern


class MispApi:
    """Routes requests to handlers; ``caller`` is the id of the user whose key made the request."""

    def __init__(self, store: EventStore, admin: AdminStore) -> None:
        self.store = store
        self.admin = admin
        self.caller = "1"
        self.routes = self._build_routes()

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some route serves ``path`` with (a 405 names them)."""
        return [r.method for r in self.routes if r.pattern.fullmatch(normalise_path(path))]

    def _build_routes(self) -> list[Route]:
        r = Route
        ident = r"(?P<ref>[0-9]+|[0-9a-fA-F-]{36})"
        shadow = r"/(?:shadowAttributes|shadow_attributes)"
        routes = [
            r("GET", re.compile(r"/servers/getVersion"), self._h_version, "/servers/getVersion"),
            r("GET", re.compile(r"/servers/getPyMISPVersion"), self._h_pymisp_version, "/servers/getPyMISPVersion"),
            r("GET", re.compile(r"/users/view/(?P<ref>me|1)"), self._h_me, None, "/users/view/me"),
            r("GET", re.compile(r"/attributes/describeTypes"), self._h_describe_types, "/attributes/describeTypes"),
            r("POST", re.compile(r"/attributes/restSearch"), self._h_attr_search, "/attributes/restSearch"),
            r("POST", re.compile(r"/events/restSearch"), self._h_event_search, "/events/restSearch"),
            r("GET", re.compile(r"/events/view/" + ident), self._h_event_view, "/events/view/{eventId}"),
            r("HEAD", re.compile(r"/events/view/" + ident), self._h_event_view, None, "/events/view/{eventId}"),
            r("GET", re.compile(r"/events(?:/index)?"), self._h_event_index, "/events"),
            r("POST", re.compile(r"/events/index"), self._h_event_index, "/events/index"),
            r("POST", re.compile(r"/events/publish/" + ident), self._h_publish, "/events/publish/{eventId}"),
            r("GET", re.compile(r"/attributes/view/" + ident), self._h_attr_view, "/attributes/view/{attributeId}"),
            r(
                "HEAD",
                re.compile(r"/attributes/view/" + ident),
                self._h_attr_view,
                None,
                "/attributes/view/{attributeId}",
            ),
            r(
                "POST",
                re.compile(r"/attributes/delete/" + ident),
                self._h_attr_delete,
                None,
                "/attributes/delete/{attributeId}",
            ),
            r("POST", re.compile(r"/sightings/add"), self._h_sighting_add, "/sightings/add"),
            r("POST", re.compile(r"/sightings/add/" + ident), self._h_sighting_add, "/sightings/add/{attributeId}"),
            r(
                "POST",
                re.compile(r"/sightings/restSearch(?:/(?P<context>attribute|event))?"),
                self._h_sighting_search,
                None,
                "/sightings/restSearch",
            ),
            r("GET", re.compile(r"/sightings/index/" + ident), self._h_sighting_index, "/sightings/index/{eventId}"),
            r(
                "POST",
                re.compile(r"/sightings/(?:listSightings|index)"),
                self._h_sighting_list,
                None,
                "/sightings/listSightings",
            ),
            r(
                "POST",
                re.compile(shadow + r"/add/" + ident),
                self._h_proposal_add,
                None,
                "/shadowAttributes/add/{eventId}",
            ),
            r(
                "GET",
                re.compile(shadow + r"/index(?:/" + ident + ")?"),
                self._h_proposal_index,
                None,
                "/shadowAttributes/index",
            ),
            r(
                "GET",
                re.compile(shadow + r"/view/(?P<ref>[0-9]+)"),
                self._h_proposal_view,
                None,
                "/shadowAttributes/view/{proposalId}",
            ),
            r(
                "POST",
                re.compile(shadow + r"/edit/" + ident),
                self._h_proposal_edit,
                None,
                "/shadowAttributes/edit/{attributeId}",
            ),
            r(
                "POST",
                re.compile(shadow + r"/delete/" + ident),
                self._h_proposal_delete,
                None,
                "/shadowAttributes/delete/{attributeId}",
            ),
            r(
                "POST",
                re.compile(shadow + r"/(?P<action>accept|discard)/(?P<ref>[0-9]+)"),
                self._h_proposal_decide,
                None,
                "/shadowAttributes/{accept|discard}/{proposalId}",
            ),
            r("GET", re.compile(r"/servers(?:/index)?"), self.admin.h_servers, "/servers"),
            r("GET", re.compile(r"/feeds(?:/index)?"), self.admin.h_feeds, "/feeds"),
            r("GET", re.compile(r"/tags(?:/index)?"), self._h_tags, "/tags"),
        ]
        a = self.admin
        num = r"(?P<ref>[0-9]+)"
        sg = r"/(?:sharing_groups|sharingGroups)"
        routes += [
            r("GET", re.compile(r"/users/view/(?P<ref>[0-9]+)"), a.h_user_view, None, "/users/view/{userId}"),
            r("GET", re.compile(r"/organisations(?:/index)?"), a.h_org_index, None, "/organisations/index"),
            r("GET", re.compile(r"/organisations/view/" + ident), a.h_org_view, None, "/organisations/view/{orgId}"),
            r("POST", re.compile(r"/admin/organisations/add"), a.h_org_add, None, "/admin/organisations/add"),
            r(
                "POST",
                re.compile(r"/admin/organisations/edit/" + ident),
                a.h_org_edit,
                None,
                "/admin/organisations/edit/{orgId}",
            ),
            r(
                "POST",
                re.compile(r"/admin/organisations/delete/" + ident),
                a.h_org_delete,
                None,
                "/admin/organisations/delete/{orgId}",
            ),
            r("GET", re.compile(r"/roles(?:/index)?"), a.h_roles, None, "/roles/index"),
            r("GET", re.compile(r"/admin/users(?:/index)?"), a.h_users, None, "/admin/users/index"),
            r("POST", re.compile(r"/admin/users/add"), a.h_user_add, None, "/admin/users/add"),
            r("POST", re.compile(r"/admin/users/edit/" + num), a.h_user_edit, None, "/admin/users/edit/{userId}"),
            r("POST", re.compile(r"/admin/users/delete/" + num), a.h_user_delete, None, "/admin/users/delete/{userId}"),
            r("POST", re.compile(r"/auth_keys/add/" + num), a.h_authkey_add, None, "/auth_keys/add/{userId}"),
            r("POST", re.compile(r"/servers/add"), a.h_server_add, None, "/servers/add"),
            r("POST", re.compile(r"/servers/edit/" + num), a.h_server_edit, None, "/servers/edit/{serverId}"),
            r("POST", re.compile(r"/servers/delete/" + num), a.h_server_delete, None, "/servers/delete/{serverId}"),
            r("GET", re.compile(r"/feeds/view/" + num), a.h_feed_view, None, "/feeds/view/{feedId}"),
            r("POST", re.compile(r"/feeds/add"), a.h_feed_add, None, "/feeds/add"),
            r("POST", re.compile(r"/feeds/edit/" + num), a.h_feed_edit, None, "/feeds/edit/{feedId}"),
            r("POST", re.compile(r"/feeds/delete/" + num), a.h_feed_delete, None, "/feeds/delete/{feedId}"),
            r(
                "GET",
                re.compile(r"/servers/getSetting/(?P<name>[A-Za-z0-9_.]+)"),
                a.h_setting_get,
                None,
                "/servers/getSetting/{setting}",
            ),
            r(
                "POST",
                re.compile(r"/servers/serverSettingsEdit/(?P<name>[A-Za-z0-9_.]+)"),
                a.h_setting_edit,
                None,
                "/servers/serverSettingsEdit/{setting}",
            ),
            r("POST", re.compile(r"/tags/add"), a.h_tag_add, None, "/tags/add"),
            r("POST", re.compile(r"/tags/edit/" + num), a.h_tag_edit, None, "/tags/edit/{tagId}"),
            r("POST", re.compile(r"/tags/delete/" + num), a.h_tag_delete, None, "/tags/delete/{tagId}"),
            r("POST", re.compile(r"/tags/search"), a.h_tag_search, None, "/tags/search"),
            r("GET", re.compile(sg + r"(?:/index)?"), a.h_sg_index, None, "/sharing_groups/index"),
            r("GET", re.compile(sg + r"/view/" + ident), a.h_sg_view, None, "/sharing_groups/view/{sgId}"),
            r("POST", re.compile(sg + r"/add"), a.h_sg_add, None, "/sharing_groups/add"),
            r("POST", re.compile(sg + r"/edit/" + ident), a.h_sg_edit, None, "/sharing_groups/edit/{sgId}"),
            r("POST", re.compile(sg + r"/delete/" + ident), a.h_sg_delete, None, "/sharing_groups/delete/{sgId}"),
            r(
                "POST",
                re.compile(sg + r"/(?P<action>addOrg|removeOrg|addServer|removeServer)"),
                a.h_sg_member,
                None,
                "/sharing_groups/{member action}",
            ),
        ]
        return routes

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route answering ``method path`` and its path parameters, or None (404)."""
        path = normalise_path(path)
        for route in self.routes:
            if route.method != method:
                continue
            match = route.pattern.fullmatch(path)
            if match:
                return route, {k: v for k, v in match.groupdict().items() if v is not None}
        return None

    # Handlers return (status, json_body, extra_headers).
    def _h_version(self, **_: Any) -> Any:
        return {
            "version": MISP_VERSION,
            "pymisp_recommended_version": RECOMMENDED_PYMISP,
            "perm_sync": True,
            "perm_sighting": True,
            "perm_galaxy_editor": False,
            "request_encoding": [],
            "filter_sightings": True,
        }

    def _h_pymisp_version(self, **_: Any) -> Any:
        return {"version": RECOMMENDED_PYMISP}

    def _h_me(self, **_: Any) -> Any:
        if self.caller != "1":  # a user made through the admin endpoints, with its own key
            user = self.admin.users[self.caller]
            role = next(r["Role"] for r in self.admin.h_roles() if r["Role"]["id"] == user["role_id"])
            org = self.admin.orgs.get(user["org_id"], dict(LOCAL_ORG))
            return {"User": self.admin._user_full(user), "Role": role, "UserSetting": [], "Organisation": dict(org)}
        return {
            "User": {
                "id": "1",
                "org_id": LOCAL_ORG["id"],
                "email": "admin@socforge.test",
                "autoalert": False,
                "invited_by": "0",
                "gpgkey": None,
                "certif_public": "",
                "nids_sid": "4000000",
                "termsaccepted": True,
                "newsread": "0",
                "role_id": "1",
                "change_pw": False,
                "contactalert": False,
                "disabled": False,
                "expiration": None,
                "current_login": "0",
                "last_login": "0",
                "force_logout": False,
                "date_created": "0",
                "date_modified": "0",
                "last_api_access": str(self.store.now),
            },
            "Role": {
                "id": "1",
                "name": "admin",
                "perm_add": True,
                "perm_modify": True,
                "perm_modify_org": True,
                "perm_publish": True,
                "perm_sync": True,
                "perm_admin": True,
                "perm_audit": True,
                "perm_auth": True,
                "perm_site_admin": True,
                "perm_regexp_access": True,
                "perm_tagger": True,
                "perm_template": True,
                "perm_sharing_group": True,
                "perm_tag_editor": True,
                "perm_sighting": True,
                "perm_object_template": True,
                "default_role": False,
                "memory_limit": "",
                "max_execution_time": "",
                "restricted_to_site_admin": False,
                "perm_publish_zmq": True,
                "perm_publish_kafka": True,
                "perm_decaying": True,
                "enforce_rate_limit": False,
                "rate_limit_count": "0",
                "perm_galaxy_editor": True,
                "perm_warninglist": True,
                "perm_view_feed_correlations": True,
                "permission": "3",
                "permission_description": "publish",
            },
            "UserSetting": [],
            "Organisation": dict(LOCAL_ORG),
        }

    def _h_describe_types(self, **_: Any) -> Any:
        return {"result": describe_types()}

    def _h_attr_search(self, body: Any, **_: Any) -> Any:
        query = Query(body if body is not None else {}, self.store.now, "attributes")
        found = search_attributes(self.store.data, query, self.store.warninglists)
        page = query.paginate(found)
        attrs = [self.store.attribute_json(a, e, with_event=True, query=query, obj=o) for a, o, e in page]
        # MISP's restSearch counts the elements it exported (this page), not all matches
        return 200, {"response": {"Attribute": attrs}}, _result_headers(len(page))

    def _h_event_search(self, body: Any, **_: Any) -> Any:
        query = Query(body if body is not None else {}, self.store.now, "events")
        found = search_events(self.store.data, query, self.store.warninglists)
        page = query.paginate(found)
        return 200, {"response": [{"Event": self.store.event_json(e, query)} for e in page]}, _result_headers(len(page))

    def _h_event_view(self, ref: str, **_: Any) -> Any:
        event = self.store.find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        return {"Event": self.store.event_json(event)}

    def _h_event_index(self, body: Any = None, **_: Any) -> Any:
        params = dict(body) if isinstance(body, dict) else {}
        # events/index names some filters differently from restSearch
        for old, new in (("datefrom", "from"), ("dateuntil", "to"), ("attribute", "value")):
            if old in params:
                params[new] = params.pop(old)
        minimal = is_true(params.pop("minimal", 0))
        sort, direction = params.pop("sort", None), params.pop("direction", "asc")
        params.pop("desc", None)  # pymisp's own argument, already turned into "direction"
        query = Query({k: v for k, v in params.items() if v is not None}, self.store.now, "events")
        found = search_events(self.store.data, query, self.store.warninglists)
        if sort:
            if sort not in EVENT_META_KEYS:
                raise BadFilter(f"sort: unknown field {sort!r}")
            found.sort(key=lambda e: _sort_key(e[sort]), reverse=direction == "desc")
        page = query.paginate(found)
        if minimal:
            rows = [
                {k: e[k] for k in ("id", "timestamp", "sighting_timestamp", "published", "uuid") if k in e}
                for e in page
            ]
        else:
            rows = [self.store.event_meta_json(e) for e in page]
        return 200, rows, {"X-Result-Count": str(len(found))}  # events/index: MISP's absolute total

    def _h_publish(self, ref: str, **_: Any) -> Any:
        event = self.store.find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        self.store.publish_event(event["id"])
        return {"name": "Publish", "message": "Job queued", "url": f"/events/publish/{event['id']}", "id": event["id"]}

    def _h_attr_view(self, ref: str, **_: Any) -> Any:
        attr, _obj, event = self.store.attribute_or_404(ref)
        if attr["deleted"]:
            raise HttpError(404, "Invalid attribute", f"Invalid attribute {ref}")
        return {"Attribute": self.store.attribute_json(attr, event)}

    def _h_attr_delete(self, ref: str, body: Any = None, **_: Any) -> Any:
        attr, obj, event = self.store.attribute_or_404(ref)
        if isinstance(body, dict) and is_true(body.get("hard", 0)):
            container = obj["Attribute"] if obj is not None else event["Attribute"]
            container.remove(attr)
            self.store.touch(event)
        else:
            if attr["deleted"]:
                raise HttpError(404, "Invalid attribute", f"Attribute {ref} already deleted")
            self.store.soft_delete_attribute(attr["id"])
        return {
            "saved": True,
            "success": True,
            "name": "Attribute deleted.",
            "message": "Attribute deleted.",
            "url": f"/attributes/delete/{ref}",
        }

    def _h_sighting_add(self, body: Any, ref: str | None = None, **_: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        body = body.get("Sighting", body)
        stype = str(body.get("type", "0"))
        if stype not in ("0", "1", "2"):
            raise BadFilter(
                f"type: sighting type must be 0 (sighting), 1 (false positive) or 2 (expiration), got {stype!r}"
            )
        when = body.get("timestamp") or body.get("date_sighting") or self.store.now
        targets: list[tuple[dict[str, Any], dict[str, Any]]] = []
        ident = ref or body.get("id") or body.get("uuid")
        if ident:
            attr, _obj, event = self.store.attribute_or_404(str(ident))
            targets.append((attr, event))
        else:
            values = body.get("values") or ([body["value"]] if body.get("value") else [])
            if not values:
                raise BadFilter("value: a sighting needs an attribute id/uuid, a value or values")
            wanted = {str(v).strip() for v in values}
            for event in self.store.data.events.values():
                for attr, _obj in iter_attributes(event):
                    if not attr["deleted"] and str(attr["value"]) in wanted:
                        targets.append((attr, event))
            if not targets:
                raise HttpError(404, "No valid attributes found that match the criteria.")
        created = []
        for attr, event in targets:
            sighting = {
                "id": self.store.data.next_id("sighting"),
                "attribute_id": attr["id"],
                "event_id": event["id"],
                "org_id": LOCAL_ORG["id"],
                "date_sighting": str(int(float(when))),
                "uuid": str(uuidlib.uuid4()),
                "source": str(body.get("source") or ""),
                "type": stype,
                "attribute_uuid": attr["uuid"],
                "Organisation": dict(LOCAL_ORG),
            }
            self.store.data.sightings.append(sighting)
            event["sighting_timestamp"] = sighting["date_sighting"]
            created.append(sighting)
        if len(created) == 1:
            return {"Sighting": dict(created[0])}
        return {
            "saved": True,
            "success": True,
            "name": f"{len(created)} sightings successfully added.",
            "message": f"{len(created)} sightings successfully added.",
            "url": "/sightings/add",
        }

    def _h_sighting_search(self, body: Any, context: str | None = None, **_: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        rows = list(self.store.data.sightings)
        ident = body.get("id")
        if context and ident is None:
            raise BadFilter(f"id: sightings/restSearch/{context} needs an id")
        if context == "attribute":
            attr, _o, _e = self.store.attribute_or_404(str(ident))
            rows = [s for s in rows if s["attribute_id"] == attr["id"]]
        elif context == "event":
            event = self.store.find_event(str(ident))
            if event is None:
                raise HttpError(404, "Invalid event", "Invalid event")
            rows = [s for s in rows if s["event_id"] == event["id"]]
        if body.get("type") not in (None, ""):
            rows = [s for s in rows if s["type"] == str(body["type"])]
        if body.get("org_id") not in (None, ""):
            rows = [s for s in rows if s["org_id"] == str(body["org_id"])]
        if body.get("source") not in (None, ""):
            rows = [s for s in rows if s["source"] == body["source"]]
        bounds = time_range("last", body.get("last"), self.store.now)
        low = time_range("from", body.get("from"), self.store.now)
        high = time_range("to", body.get("to"), self.store.now)
        rows = [
            s
            for s in rows
            if in_range(s["date_sighting"], bounds)
            and (low is None or float(s["date_sighting"]) >= low[0])
            and (high is None or float(s["date_sighting"]) <= high[0])
        ]
        out = []
        for s in rows:
            entry = dict(s)
            if is_true(body.get("includeAttribute", 0)) or is_true(body.get("includeEvent", 0)):
                found = self.store.find_attribute(s["attribute_id"])
                if found is not None and is_true(body.get("includeAttribute", 0)):
                    entry["Attribute"] = self.store.attribute_json(found[0], found[2])
                if found is not None and is_true(body.get("includeEvent", 0)):
                    entry["Event"] = {k: found[2][k] for k in EVENT_META_KEYS}
            out.append({"Sighting": entry})
        return out

    def _h_sighting_list(self, body: Any, **_: Any) -> Any:
        """pymisp sightings(): POST {context: attribute|event, id, org_id} (no context: all sightings)."""
        body = body if isinstance(body, dict) else {}
        context = body.get("context")
        if context not in (None, "", "attribute", "event"):
            raise BadFilter(f"context: must be attribute or event, got {context!r}")
        payload = {k: body[k] for k in ("id", "org_id") if body.get(k) not in (None, "")}
        rows = self._h_sighting_search(payload, context=context or None)
        return rows

    def _h_sighting_index(self, ref: str, **_: Any) -> Any:
        event = self.store.find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        return [dict(s) for s in self.store.data.sightings if s["event_id"] == event["id"]]

    def _h_proposal_add(self, ref: str, body: Any, **_: Any) -> Any:
        event = self.store.find_event(ref)
        if event is None:
            raise HttpError(404, "Invalid event", "Invalid event")
        body = body if isinstance(body, dict) else {}
        body = body.get("ShadowAttribute", body.get("Attribute", body))
        for required in ("type", "value"):
            if not body.get(required):
                raise BadFilter(f"{required}: a proposal needs an attribute {required}")
        proposal = self.store.new_proposal(event, body)
        return {"ShadowAttribute": proposal_json(proposal)}

    def _h_proposal_edit(self, ref: str, body: Any, **_: Any) -> Any:
        """Propose a change to an existing attribute (e.g. to_ids off for noisy intel)."""
        attr, _obj, event = self.store.attribute_or_404(ref)
        body = body if isinstance(body, dict) else {}
        body = body.get("ShadowAttribute", body.get("Attribute", body))
        unknown = set(body) - {
            "type",
            "category",
            "value",
            "to_ids",
            "comment",
            "first_seen",
            "last_seen",
            "uuid",
            "id",
            "event_id",
            "disable_correlation",
            "timestamp",
            "distribution",
            "object_id",
            "object_relation",
            "sharing_group_id",
            "deleted",
        }
        if unknown:
            raise BadFilter(f"{sorted(unknown)[0]}: not a field an attribute proposal can change")
        fields = {k: attr[k] for k in ("type", "category", "value", "to_ids", "comment", "first_seen", "last_seen")}
        fields.update({k: body[k] for k in ("type", "category", "value", "to_ids", "comment") if k in body})
        fields["uuid"] = attr["uuid"]
        return {"ShadowAttribute": proposal_json(self.store.new_proposal(event, fields, old_id=attr["id"]))}

    def _h_proposal_delete(self, ref: str, **_: Any) -> Any:
        """Propose the deletion of an existing attribute."""
        attr, _obj, event = self.store.attribute_or_404(ref)
        fields = {k: attr[k] for k in ("type", "category", "value", "to_ids", "comment", "uuid")}
        fields["proposal_to_delete"] = True
        self.store.new_proposal(event, fields, old_id=attr["id"])
        message = "The proposal to delete the attribute has been saved."
        return {
            "saved": True,
            "success": True,
            "name": message,
            "message": message,
            "url": f"/shadowAttributes/delete/{ref}",
        }

    def _h_proposal_decide(self, ref: str, action: str, **_: Any) -> Any:
        """accept: apply the proposal as a MISP edit would (timestamps now, event unpublished); discard: drop it."""
        proposal = next((p for p in self.store.data.proposals if p["id"] == ref and not p["deleted"]), None)
        if proposal is None:
            raise HttpError(404, "Invalid proposal", "Invalid proposal")
        if action == "accept":
            event = self.store.find_event(proposal["event_id"])
            if event is None:
                raise HttpError(404, "Invalid event", "Invalid event")
            if proposal["old_id"] == "0":
                self.store.add_attribute(
                    event["id"],
                    proposal["type"],
                    proposal["value"],
                    to_ids=proposal["to_ids"],
                    category=proposal["category"],
                    comment=proposal["comment"],
                )
            elif proposal["proposal_to_delete"]:
                self.store.soft_delete_attribute(proposal["old_id"])
            else:
                self.store.edit_attribute(
                    proposal["old_id"],
                    **{k: proposal[k] for k in ("type", "category", "value", "to_ids", "comment")},
                )
        self.store.data.proposals.remove(proposal)
        message = "Proposal accepted." if action == "accept" else "Proposal discarded."
        return {
            "saved": True,
            "success": True,
            "name": message,
            "message": message,
            "url": f"/shadowAttributes/{action}/{ref}",
        }

    def _h_proposal_index(self, ref: str | None = None, **_: Any) -> Any:
        rows = [p for p in self.store.data.proposals if not p["deleted"]]
        if ref is not None:
            event = self.store.find_event(ref)
            if event is None:
                raise HttpError(404, "Invalid event", "Invalid event")
            rows = [p for p in rows if p["event_id"] == event["id"]]
        return [{"ShadowAttribute": proposal_json(p)} for p in rows]

    def _h_proposal_view(self, ref: str, **_: Any) -> Any:
        for proposal in self.store.data.proposals:
            if proposal["id"] == ref:
                return {"ShadowAttribute": proposal_json(proposal)}
        raise HttpError(404, "Invalid proposal", "Invalid proposal")

    def _h_tags(self, **_: Any) -> Any:
        counts: dict[str, list[int]] = {}
        for event in self.store.data.events.values():
            for tag in event["Tag"]:
                counts.setdefault(tag["name"], [0, 0])[0] += 1
            for attr, _ in iter_attributes(event):
                for tag in attr["Tag"]:
                    counts.setdefault(tag["name"], [0, 0])[1] += 1
        tags = []
        for name in sorted(counts, key=lambda n: int(self.store.data.tag_id(n))):
            rendered = self.store.tags_json([make_tag({"name": name})])[0]
            rendered.pop("local")
            rendered["count"] = counts[name][0]
            rendered["attribute_count"] = counts[name][1]
            rendered["favourite"] = False
            tags.append(rendered)
        return {"Tag": tags}


def normalise_path(path: str) -> str:
    path = "/" + path.strip("/")
    if path.endswith(".json"):
        path = path[: -len(".json")]
    # CakePHP named parameters (/key:value) and a trailing output format (/json) are not routing
    segments = [s for s in path.split("/") if s and ":" not in s]
    return "/" + "/".join(segments)


def _result_headers(count: int) -> dict[str, str]:
    return {"X-Result-Count": str(count), "X-Response-Format": "json"}


def _sort_key(value: Any) -> tuple:
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)
