"""Administration endpoints of the MISP test double: organisations, users and API keys, roles, sync
servers, feeds, server settings, tags and sharing groups — what the ``misp_*`` configuration modules use.

Shapes, status codes and quirks are those of a real MISP 2.5.1 (recorded with pymisp and raw requests
on one brought up from the shared artifact on 2026-11-30; docs/misp-config.md lists them):
refusals are 403 with MISP's ``saveFailResponse`` body, a missing object 404 ``Invalid <thing>``, a
CLI-only setting 405, a bad tag colour 405; a server added with a certificate MISP cannot parse is saved
with ``cert_file`` null; a sharing group added under a taken name becomes ``<name>_<n>``; settings are
stored without checking their value (``MISP.live`` = ``maybe`` is saved as true). Not modelled: what the
links do (no sync happens), e-mail, ACLs beyond "the admin key and the users' own keys".
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

ROLE_NAMES = ((1, "admin", True, True), (2, "Org Admin", False, False), (3, "User", False, False),
              (4, "Publisher", False, False), (5, "Sync user", True, False), (6, "Read Only", False, False))  # fmt: skip
DEFAULT_PUSH_RULES = '{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]}}'
DEFAULT_PULL_RULES = (
    '{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]},"type_attributes":{"NOT":[]},'
    '"type_objects":{"NOT":[]},"url_params":""}'
)
DEFAULT_FEED_RULES = '{"tags":{"OR":[],"NOT":[]},"orgs":{"OR":[],"NOT":[]},"url_params":""}'
# A few real settings with their real metadata (MISP 2.5.1 Server::serverSettings()).
SETTINGS: dict[str, dict[str, Any]] = {
    "MISP.welcome_text_top": {"level": 2, "description": "Used on the login page, before the MISP logo",
                              "value": "Initial Install, please configure", "test": "testForEmpty", "type": "string"},
    "MISP.live": {"level": 0, "description": "Unless set to true, the instance will only be accessible by site admins.",
                  "value": True, "test": "testLive", "type": "boolean"},
    "MISP.disable_emailing": {"level": 0, "description": "You can disable all e-mailing using this setting. When "
                              "enabled, no outgoing e-mails will be sent by MISP.", "value": False, "null": True,
                              "test": "testDisableEmail", "type": "boolean"},
    "MISP.default_event_distribution": {"level": 0, "description": "The default distribution setting for events (0-3).",
                                        "value": "1", "test": "testForEmpty", "type": "string",
                                        "options": ["Your organisation only", "This community only",
                                                    "Connected communities", "All communities"]},
    "MISP.host_org_id": {"level": 0, "description": "The hosting organisation of this instance. If this is not "
                         "selected then replication instances cannot be added.", "value": "0",
                         "test": "testLocalOrgStrict", "type": "numeric", "optionsSource": {}},
    "MISP.correlation_engine": {"level": 0, "description": "Choose which correlation engine to use.",
                                "value": "Default", "test": "testForCorrelationEngine", "type": "string",
                                "options": {"Default": "Default", "NoAcl": "No ACL"}},
    "Plugin.ZeroMQ_enable": {"level": 2, "description": "Enable the pub/sub feature of MISP.", "value": False,
                             "test": "testBool", "type": "boolean"},
    "MISP.python_bin": {"level": 0, "description": "Path to the python binary.", "value": "/usr/bin/python3",
                        "test": "testForBinExecutable", "type": "string", "cli_only": True},
    "Security.salt": {"level": 0, "description": "The salt used for the hashed passwords.", "value": "",
                      "test": "testSalt", "type": "string", "redacted": True},
}  # fmt: skip


class AdminError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


def _fail(model: str, action: str, url: str, errors: Any, status: int = 403) -> AdminError:
    name = f"Could not {action} {model}"
    return AdminError(status, {"saved": False, "name": name, "message": name, "url": url, "errors": errors})


def _missing(thing: str, url: str) -> AdminError:
    return AdminError(404, {"name": f"Invalid {thing}", "message": f"Invalid {thing}", "url": url})


def _ok(name: str, url: str, ident: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"saved": True, "success": True, "name": name, "message": name, "url": url}
    if ident is not None:
        out["id"] = ident
    return out


def _b(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false")
    return bool(value)


def _body(body: Any, key: str) -> dict[str, Any]:
    body = body if isinstance(body, dict) else {}
    inner = body.get(key, body)
    return dict(inner) if isinstance(inner, dict) else {}


class AdminStore:
    """The administration data of one double. ``local_org`` is the double's own organisation (id 1)."""

    def __init__(self, local_org: dict[str, str], admin_key: str, now: Any, data: Any) -> None:
        self.now = now
        self.data = data
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(0))
        self.orgs: dict[str, dict[str, Any]] = {}
        self._ids: dict[str, int] = {}
        org = self._org_record(dict(local_org, description="Automatically generated admin organisation", type="ADMIN"))
        org["date_created"] = org["date_modified"] = stamp
        org["created_by"] = "0"
        self.orgs[org["id"]] = org
        self._ids["org"] = int(org["id"])
        self.users: dict[str, dict[str, Any]] = {}
        admin = self._user_record({"email": "admin@socforge.test", "org_id": org["id"], "role_id": "1"}, "0")
        admin["id"] = "1"
        self.users["1"] = admin
        self._ids["user"] = 1
        self.keys: dict[str, str] = {admin_key: "1"}  # API key -> user id
        self.servers: list[dict[str, Any]] = data.servers
        self.feeds: list[dict[str, Any]] = data.feeds
        self.settings = json.loads(json.dumps(SETTINGS))
        self.tags: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}

    def next_id(self, kind: str) -> str:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return str(self._ids[kind])

    # ------------------------------------------------------------------ auth
    def user_for_key(self, key: str) -> dict[str, Any] | None:
        for known, uid in self.keys.items():
            if secrets.compare_digest(key.encode(), known.encode()):
                user = self.users.get(uid)
                return user if user is not None and not user["disabled"] else None
        return None

    # ------------------------------------------------------------------ organisations
    def _org_record(self, fields: dict[str, Any]) -> dict[str, Any]:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.now()))
        return {
            "id": str(fields.get("id") or self.next_id("org")),
            "name": fields["name"],
            "date_created": stamp,
            "date_modified": stamp,
            "description": fields.get("description"),
            "type": fields.get("type") or "",
            "nationality": fields.get("nationality") or "",
            "sector": fields.get("sector") or "",
            "created_by": "1",
            "uuid": fields.get("uuid") or str(uuidlib.uuid4()),
            "contacts": fields.get("contacts"),
            "local": _b(fields.get("local", True)),
            "restricted_to_domain": fields.get("restricted_to_domain") or None,
            "landingpage": fields.get("landingpage"),
        }

    def org(self, ref: str) -> dict[str, Any] | None:
        return self.orgs.get(ref) or next((o for o in self.orgs.values() if o["uuid"] == ref), None)

    def h_org_index(self, **_: Any) -> Any:
        rows = []
        for org in self.orgs.values():
            count = sum(1 for u in self.users.values() if u["org_id"] == org["id"])
            rows.append({"Organisation": dict(org, user_count=str(count), created_by_email="Unknown")})
        return rows

    def h_org_view(self, ref: str, **_: Any) -> Any:
        org = self.org(ref)
        if org is None:
            raise _missing("organisation", f"/organisations/view/{ref}")
        count = sum(1 for u in self.users.values() if u["org_id"] == org["id"])
        view = {k: v for k, v in org.items() if k != "landingpage"}  # organisations/view leaves it out
        return {"Organisation": dict(view, user_count=str(count), created_by_email="admin@socforge.test")}

    def h_org_add(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "Organisation")
        url = "/admin/organisations/add"
        if not fields.get("name"):
            raise _fail("Organisation", "add", url, {"name": ["The organisation name cannot be empty."]})
        if any(o["name"].lower() == str(fields["name"]).lower() for o in self.orgs.values()):
            raise _fail("Organisation", "add", url, {"name": ["An organisation with this name already exists."]})
        if fields.get("uuid") and self.org(fields["uuid"]) is not None:
            raise _fail("Organisation", "add", url, {"uuid": ["An organisation with this UUID already exists."]})
        org = self._org_record(fields)
        self.orgs[org["id"]] = org
        return {"Organisation": dict(org)}

    def h_org_edit(self, ref: str, body: Any, **_: Any) -> Any:
        org = self.org(ref)
        if org is None:
            raise _missing("organisation", f"/admin/organisations/edit/{ref}")
        fields = _body(body, "Organisation")
        for key in ("name", "description", "type", "nationality", "sector", "contacts", "landingpage"):
            if key in fields:
                org[key] = fields[key]
        if "local" in fields:
            org["local"] = _b(fields["local"])
        org["restricted_to_domain"] = fields.get("restricted_to_domain", org["restricted_to_domain"]) or []
        return {"Organisation": dict(org)}

    def h_org_delete(self, ref: str, **_: Any) -> Any:
        org = self.org(ref)
        url = f"/admin/organisations/delete/{ref}"
        if org is None:
            raise _missing("organisation", url)
        if any(u["org_id"] == org["id"] for u in self.users.values()):
            raise _fail("Organisation", "delete", url, "Organisation could not be deleted. It still has users.")
        del self.orgs[org["id"]]
        return _ok("Organisation deleted", url, org["id"])

    # ------------------------------------------------------------------ roles and users
    def h_roles(self, **_: Any) -> Any:
        stamp = "1970-01-01 00:00:00"
        rows = []
        for rid, name, sync, site_admin in ROLE_NAMES:
            rows.append({"Role": {"id": str(rid), "name": name, "created": stamp, "modified": stamp,
                                  "perm_add": rid in (1, 2, 3, 4, 5), "perm_sync": sync, "perm_admin": rid in (1, 2),
                                  "perm_site_admin": site_admin, "perm_auth": rid != 6, "perm_publish": rid in (1, 2, 4, 5),
                                  "default_role": rid == 3, "restricted_to_site_admin": False}})  # fmt: skip
        return rows

    def _user_record(self, fields: dict[str, Any], invited_by: str) -> dict[str, Any]:
        stamp = str(self.now())
        return {
            "id": self.next_id("user"),
            "org_id": str(fields.get("org_id") or "1"),
            "server_id": "0",
            "email": fields["email"],
            "autoalert": _b(fields.get("autoalert", False)),
            "invited_by": invited_by,
            "gpgkey": "",
            "certif_public": "",
            "nids_sid": str(1000000 + secrets.randbelow(8999999)),
            "termsaccepted": _b(fields.get("termsaccepted", False)),
            "newsread": "0",
            "role_id": str(fields["role_id"]),
            "change_pw": _b(fields.get("change_pw", True)),
            "contactalert": _b(fields.get("contactalert", False)),
            "disabled": _b(fields.get("disabled", False)),
            "expiration": None,
            "current_login": "0",
            "last_login": "0",
            "last_api_access": "0",
            "force_logout": False,
            "date_created": stamp,
            "date_modified": stamp,
            "last_pw_change": stamp,
        }

    def _user_full(self, user: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in user.items() if k != "last_pw_change"}
        out.update(password="*****", sub=None, external_auth_required=False, external_auth_key="",
                   notification_daily=False, notification_weekly=False, notification_monthly=False,
                   totp="*****", hotp_counter=None, last_pw_change=user["last_pw_change"])  # fmt: skip
        return out

    def h_users(self, **_: Any) -> Any:
        roles = {r["Role"]["id"]: r["Role"] for r in self.h_roles()}
        rows = []
        for user in self.users.values():
            role = roles[user["role_id"]]
            org = self.orgs.get(user["org_id"], {"id": user["org_id"], "name": ""})
            rows.append({
                "User": dict(user),
                "Role": {k: role[k] for k in ("id", "name", "perm_auth", "perm_site_admin", "perm_admin")},
                "Organisation": {"id": org["id"], "name": org["name"]},
            })  # fmt: skip
        return rows

    def h_user_view(self, ref: str, **_: Any) -> Any:
        user = self.users.get(ref)
        if user is None:
            raise _missing("user", f"/users/view/{ref}")
        return {"User": self._user_full(user)}

    def h_user_add(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "User")
        url = "/admin/users/add"
        for required in ("role_id", "email"):
            if not fields.get(required):
                raise _fail("Users", "admin_add", url, {required: "Mandatory field not set."})
        if str(fields["role_id"]) not in {str(r[0]) for r in ROLE_NAMES}:
            raise AdminError(405, {"name": "Invalid role", "message": "Invalid role", "url": url})
        if str(fields.get("org_id") or "1") not in self.orgs:
            raise _fail("Users", "admin_add", url, ["Invalid organisation"])
        if any(u["email"].lower() == str(fields["email"]).lower() for u in self.users.values()):
            raise _fail("User", "add", url, {"email": ["An account with this email address already exists."]})
        user = self._user_record(fields, "1")
        self.users[user["id"]] = user
        key = _random_key()
        self.keys[key] = user["id"]
        out = self._user_full(user)
        out["password"] = "******"
        out["authkey"] = key  # advanced authkeys: the only time MISP shows the key
        return {"User": out}

    def h_user_edit(self, ref: str, body: Any, **_: Any) -> Any:
        user = self.users.get(ref)
        if user is None:
            raise _missing("user", f"/admin/users/edit/{ref}")
        fields = _body(body, "User")
        for key in ("org_id", "role_id", "email"):
            if fields.get(key) is not None:
                user[key] = str(fields[key])
        for key in ("disabled", "change_pw", "termsaccepted", "autoalert", "contactalert"):
            if key in fields:
                user[key] = _b(fields[key])
        user["date_modified"] = str(self.now())
        out = self._user_full(user)
        out["password"] = "******"
        return {"User": out}

    def h_user_delete(self, ref: str, **_: Any) -> Any:
        url = f"/admin/users/delete/{ref}"
        if ref not in self.users or ref == "1":
            raise _missing("user", url)
        del self.users[ref]
        self.keys = {k: u for k, u in self.keys.items() if u != ref}
        return _ok("User deleted.", url, ref)

    def h_authkey_add(self, ref: str, **_: Any) -> Any:
        if ref not in self.users:
            raise AdminError(405, {"name": "Invalid user or insufficient privileges to interact with an authkey "
                                   "for the given user.", "message": "Invalid user", "url": f"/auth_keys/add/{ref}"})  # fmt: skip
        key = _random_key()
        self.keys[key] = ref
        return {"AuthKey": {"id": self.next_id("authkey"), "uuid": str(uuidlib.uuid4()), "authkey_start": key[:4],
                            "authkey_end": key[-4:], "created": str(self.now()), "expiration": "0",
                            "read_only": False, "user_id": ref, "comment": None, "allowed_ips": None,
                            "unique_ips": [], "authkey_raw": key}}  # fmt: skip

    # ------------------------------------------------------------------ sync servers
    def _server_out(self, server: dict[str, Any], with_key: bool) -> dict[str, Any]:
        return {k: v for k, v in server.items() if with_key or k != "authkey"}

    def h_servers(self, **_: Any) -> Any:
        def org(ref: str) -> dict[str, Any]:
            o = self.orgs.get(
                str(ref), {"id": ref, "name": "", "uuid": "", "nationality": "", "sector": "", "type": ""}
            )
            return {k: o.get(k, "") for k in ("id", "name", "uuid", "nationality", "sector", "type")}

        return [
            {"Server": self._server_out(s, False), "Organisation": org(s.get("org_id", "1")),
             "RemoteOrg": org(s["remote_org_id"]), "User": []}
            for s in self.servers
        ]  # fmt: skip

    def _apply_server(self, server: dict[str, Any], fields: dict[str, Any], url: str, action: str) -> None:
        for rules in ("push_rules", "pull_rules"):
            if rules in fields and fields[rules] not in (None, ""):
                try:
                    json.loads(fields[rules])
                except (TypeError, ValueError):
                    kind = rules.split("_")[0]
                    raise _fail(  # noqa: B904 - MISP's own refusal, not a chained error
                        "Server", action, url, {rules: f"The {kind} filter rules must be in valid JSON format."}
                    )
        if "authkey" in fields and not re.fullmatch(r"[A-Za-z0-9]{40}", str(fields["authkey"])):
            raise _fail("Server", action, url, {"authkey": ["The authkey has to be exactly 40 characters long and "
                                                            "consist of alphanumeric characters."]})  # fmt: skip
        if "remote_org_id" in fields and self.org(str(fields["remote_org_id"])) is None:
            raise _fail("Server", action, url, {"Organisation": "Invalid Remote Organisation"})
        for key in ("name", "url", "authkey", "push_rules", "pull_rules"):
            if key in fields and fields[key] not in (None, ""):
                server[key] = fields[key]
        if "remote_org_id" in fields:
            server["remote_org_id"] = self.org(str(fields["remote_org_id"]))["id"]
        for key in ("push", "pull", "push_sightings", "push_galaxy_clusters", "pull_galaxy_clusters",
                    "caching_enabled", "self_signed", "unpublish_event", "publish_without_email",
                    "remove_missing_tags", "internal", "skip_proxy"):  # fmt: skip
            if key in fields:
                server[key] = _b(fields[key])
        if self.settings["MISP.host_org_id"]["value"] in ("0", 0, "") or server["remote_org_id"] != str(
            self.settings["MISP.host_org_id"]["value"]
        ):
            server["internal"] = False
        if fields.get("submitted_cert"):
            # MISP 2.5.1 keeps the server and leaves cert_file null when the certificate does not parse
            try:
                from cryptography import x509

                x509.load_pem_x509_certificate(base64.b64decode(fields["submitted_cert"]))
                server["cert_file"] = f"{server['id']}.pem"
            except Exception:  # noqa: BLE001 - any parse failure: MISP's openssl_x509_parse returns false
                pass

    def h_server_add(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "Server")
        url = "/servers/add"
        if not fields.get("remote_org_id"):
            raise AdminError(405, {"name": "No remote org ID set. Please pass it as remote_org_id",
                                   "message": "No remote org ID set. Please pass it as remote_org_id", "url": url})  # fmt: skip
        if not fields.get("url"):
            raise AdminError(500, {"name": "An Internal Error Has Occurred.",
                                   "message": "An Internal Error Has Occurred.", "url": url})  # fmt: skip
        server = {
            "id": str(max([int(s["id"]) for s in self.servers] + [0]) + 1), "name": "", "url": "", "authkey": "",
            "org_id": "1", "push": False, "pull": False, "push_sightings": False, "push_galaxy_clusters": False,
            "push_analyst_data": False, "pull_analyst_data": False, "pull_galaxy_clusters": False,
            "lastpulledid": None, "lastpushedid": None, "organization": None, "remote_org_id": "0",
            "publish_without_email": False, "unpublish_event": False, "self_signed": False,
            "pull_rules": DEFAULT_PULL_RULES, "push_rules": DEFAULT_PUSH_RULES, "cert_file": None,
            "client_cert_file": None, "internal": False, "skip_proxy": False, "remove_missing_tags": False,
            "caching_enabled": False, "priority": str(len(self.servers) + 1),
        }  # fmt: skip
        self._apply_server(server, fields, url, "add")
        self.servers.append(server)
        return {"Server": self._server_out(server, True)}

    def _server(self, ref: str, url: str) -> dict[str, Any]:
        server = next((s for s in self.servers if s["id"] == ref), None)
        if server is None:
            raise _missing("server", url)
        return server

    def h_server_edit(self, ref: str, body: Any, **_: Any) -> Any:
        url = f"/servers/edit/{ref}"
        server = self._server(ref, url)
        trial = dict(server)
        self._apply_server(trial, _body(body, "Server"), url, "edit")
        server.update(trial)
        return {"Server": self._server_out(server, True)}

    def h_server_delete(self, ref: str, **_: Any) -> Any:
        server = self._server(ref, f"/servers/delete/{ref}")
        self.servers.remove(server)
        for group in self.groups.values():
            group["servers"].pop(server["id"], None)
        return _ok("Server deleted", "/servers/delete/Server deleted", "Server deleted")  # sic, MISP 2.5.1

    # ------------------------------------------------------------------ feeds
    def h_feeds(self, **_: Any) -> Any:
        return [{"Feed": dict(f)} for f in self.feeds]

    def _feed(self, ref: str, url: str) -> dict[str, Any]:
        feed = next((f for f in self.feeds if str(f["id"]) == ref), None)
        if feed is None:
            raise _missing("feed", url)
        return feed

    def h_feed_view(self, ref: str, **_: Any) -> Any:
        return {"Feed": dict(self._feed(ref, f"/feeds/view/{ref}"))}

    def _apply_feed(self, feed: dict[str, Any], fields: dict[str, Any]) -> None:
        for key in ("name", "provider", "url", "source_format", "input_source", "headers", "rules"):
            if key in fields:
                feed[key] = fields[key]
        for key in ("distribution", "sharing_group_id", "tag_id"):
            if key in fields:
                feed[key] = str(fields[key])
        for key in ("enabled", "caching_enabled", "fixed_event", "delta_merge", "publish", "override_ids",
                    "lookup_visible", "delete_local_file", "force_to_ids"):  # fmt: skip
            if key in fields:
                feed[key] = _b(fields[key])

    def h_feed_add(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "Feed")
        self._feed_url_ok(fields, "add")
        if not fields.get("url"):
            raise AdminError(500, {"name": "An Internal Error Has Occurred.",
                                   "message": "An Internal Error Has Occurred.", "url": "/feeds/add"})  # fmt: skip
        feed = {
            "id": str(max([int(f["id"]) for f in self.feeds] + [0]) + 1), "name": "", "provider": "", "url": "",
            "rules": None, "enabled": False, "distribution": "0", "sharing_group_id": "0", "tag_id": "0",
            "default": False, "source_format": "misp", "fixed_event": True, "delta_merge": False, "event_id": "0",
            "publish": False, "override_ids": False, "settings": "[]", "input_source": "network",
            "delete_local_file": False, "lookup_visible": False, "headers": None, "caching_enabled": False,
            "force_to_ids": False, "orgc_id": "0", "tag_collection_id": "0",
        }  # fmt: skip
        self._apply_feed(feed, fields)
        self.feeds.append(feed)
        return {"Feed": dict(feed)}

    def _feed_url_ok(self, fields: dict[str, Any], action: str, feed: dict[str, Any] | None = None) -> None:
        """MISP's Feed::urlOrExistingFilepath: a local feed names an existing directory (MISP format) or
        file on the MISP host (here: the double's host), a network feed a valid URL."""
        merged = dict(feed or {}, **fields)
        url = str(merged.get("url") or "")
        if not url:
            return
        if merged.get("input_source") == "local":
            path = url.replace("file://", "")
            if merged.get("source_format", "misp") == "misp" and not Path(path).is_dir():
                errors = ["For MISP type local feeds, please specify the containing directory."]
            elif merged.get("source_format", "misp") != "misp" and not Path(path).exists():
                errors = ["Invalid path or file not found. Make sure that the path points to an existing file that "
                          "is readable and watch out for typos."]  # fmt: skip
            else:
                return
        elif re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            return
        else:
            errors = ["This field cannot be left blank"]  # sic: MISP's message for a URL that does not validate
        name = f"Could not {action} feed"
        raise AdminError(
            403, {"saved": False, "name": name, "message": name, "url": f"/feeds/{action}", "errors": {"url": errors}}
        )

    def h_feed_edit(self, ref: str, body: Any, **_: Any) -> Any:
        feed = self._feed(ref, f"/feeds/edit/{ref}")
        self._feed_url_ok(_body(body, "Feed"), "edit", feed)
        self._apply_feed(feed, _body(body, "Feed"))
        if feed.get("rules") is None:
            feed["rules"] = DEFAULT_FEED_RULES
        return {"Feed": dict(feed)}

    def h_feed_delete(self, ref: str, **_: Any) -> Any:
        feed = self._feed(ref, f"/feeds/delete/{ref}")
        self.feeds.remove(feed)
        return _ok("Feed deleted.", f"/feeds/delete/{ref}", int(ref))

    # ------------------------------------------------------------------ settings
    def _setting(self, name: str, url: str) -> dict[str, Any]:
        if name not in self.settings:
            text = f"Setting {name} is invalid."
            raise AdminError(404, {"name": text, "message": text, "url": url})
        return self.settings[name]

    def h_setting_get(self, name: str, **_: Any) -> Any:
        url = f"/servers/getSetting/{name}"
        meta = self._setting(name, url)
        if meta.get("redacted"):
            raise AdminError(
                403, {"name": "This setting is redacted.", "message": "This setting is redacted.", "url": url}
            )
        out = {k: v for k, v in meta.items() if k not in ("cli_only", "redacted")}
        out["name"] = name
        if "optionsSource" in meta:
            out["options"] = {o["id"]: o["name"] for o in self.orgs.values()}
        return out

    def h_setting_edit(self, name: str, body: Any, **_: Any) -> Any:
        url = f"/servers/serverSettingsEdit/{name}"
        meta = self._setting(name, url)
        if meta.get("cli_only"):
            text = "This setting can only be edited via the CLI."
            raise AdminError(405, {"name": text, "message": text, "url": url})
        fields = _body(body, "Server")
        value = fields.get("value")
        if value is None or isinstance(value, (dict, list)):
            raise _fail("Server", "serverSettingsEdit", "/servers/serverSettingsEdit",
                        'Invalid input. Expected: {"value": "new_setting"}')  # fmt: skip
        if name == "MISP.correlation_engine" and str(value) not in meta["options"] and not _b(fields.get("force")):
            raise _fail("Server", "serverSettingsEdit", "/servers/serverSettingsEdit",
                        "Please select a valid option from the list of available engines: ")  # fmt: skip
        if (
            name == "MISP.disable_emailing"
            and not _b(fields.get("force"))
            and str(value) not in ("0", "1", "true", "false", "True", "False")
        ):  # noqa: E501 - one condition
            raise _fail("Server", "serverSettingsEdit", "/servers/serverSettingsEdit", "E-mailing is blocked.")
        # MISP 2.5.1 stores other values unchecked: a boolean takes the truthiness of the string
        meta["value"] = _b(value) if meta["type"] == "boolean" else str(value)
        return _ok("Field updated", "/servers/serverSettingsEdit")

    # ------------------------------------------------------------------ tags
    def _tag_record(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.data.tag_id(fields["name"]), "name": fields["name"], "colour": fields.get("colour") or "#ffffff",
                "exportable": _b(fields.get("exportable", True)), "org_id": "0", "user_id": "0",
                "hide_tag": _b(fields.get("hide_tag", False)), "numerical_value": fields.get("numerical_value"),
                "is_galaxy": False, "is_custom_galaxy": False, "local_only": _b(fields.get("local_only", False))}  # fmt: skip

    def _colour_ok(self, fields: dict[str, Any], url: str) -> None:
        if "colour" in fields and not re.fullmatch(r"#[0-9A-Fa-f]{6}", str(fields["colour"])):
            text = "Could not add the Tag. [colour]: Colour has to be in the RGB format (#FFFFFF)"
            raise AdminError(405, {"name": text, "message": text, "url": url})

    def h_tag_add(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "Tag")
        self._colour_ok(fields, "/tags/add")
        existing = next((t for t in self.tags.values() if t["name"] == fields.get("name")), None)
        if existing is not None:  # MISP answers with the existing tag
            return {"Tag": dict(existing)}
        tag = self._tag_record(fields)
        self.tags[tag["id"]] = tag
        return {"Tag": dict(tag)}

    def _tag(self, ref: str, url: str) -> dict[str, Any]:
        if ref not in self.tags:
            raise _missing("tag", url)
        return self.tags[ref]

    def h_tag_edit(self, ref: str, body: Any, **_: Any) -> Any:
        tag = self._tag(ref, f"/tags/edit/{ref}")
        fields = _body(body, "Tag")
        self._colour_ok(fields, f"/tags/edit/{ref}")
        for key in ("name", "colour", "numerical_value"):
            if key in fields:
                tag[key] = fields[key]
        for key in ("exportable", "hide_tag", "local_only"):
            if key in fields:
                tag[key] = _b(fields[key])
        return {"Tag": dict(tag)}

    def h_tag_delete(self, ref: str, **_: Any) -> Any:
        self._tag(ref, f"/tags/delete/{ref}")
        del self.tags[ref]
        return {"name": "Tag deleted.", "message": "Tag deleted.", "url": f"/tags/delete/{ref}"}

    def h_tag_search(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "Tag")
        name = str(fields.get("tagname", ""))
        strict = _b(fields.get("strict_tagname", False))
        pattern = re.compile("^" + re.escape(name).replace("%", ".*") + "$", re.I)
        return [
            {"Tag": dict(t)} for t in self.tags.values() if (t["name"] == name if strict else pattern.match(t["name"]))
        ]

    # ------------------------------------------------------------------ sharing groups
    def _group_view(self, group: dict[str, Any]) -> dict[str, Any]:
        local = self.orgs["1"]
        orgs = [{"id": str(i), "sharing_group_id": group["id"], "org_id": oid, "extend": ext,
                 "Organisation": {k: self.orgs[oid][k] for k in ("id", "name", "uuid", "local")}}
                for i, (oid, ext) in enumerate(sorted(group["orgs"].items()), 1) if oid in self.orgs]  # fmt: skip
        servers = []
        for i, (sid, all_orgs) in enumerate(sorted(group["servers"].items()), 1):
            srv = (
                {"id": "0", "name": "Local instance", "url": ""}
                if sid == "0"
                else next(
                    ({"id": s["id"], "name": s["name"], "url": s["url"]} for s in self.servers if s["id"] == sid), None
                )
            )
            servers.append({"id": str(i), "sharing_group_id": group["id"], "server_id": sid, "all_orgs": all_orgs,
                            "Server": srv})  # fmt: skip
        sg = {k: v for k, v in group.items() if k not in ("orgs", "servers")}
        sg.update(sync_org_name=local["name"], sync_org={k: local[k] for k in ("id", "name", "uuid")})
        return {"SharingGroup": sg, "Organisation": dict(local), "SharingGroupOrg": orgs, "SharingGroupServer": servers}

    def h_sg_index(self, **_: Any) -> Any:
        rows = []
        for group in self.groups.values():
            view = self._group_view(group)
            sg = {
                k: group[k]
                for k in ("id", "uuid", "name", "description", "releasability", "local", "active", "roaming")
            }
            sg["org_count"] = str(len(group["orgs"]))
            # the index lists servers without their row id; the local instance (id 0) with "Server": []
            servers = [
                {"all_orgs": s["all_orgs"], "server_id": s["server_id"], "sharing_group_id": s["sharing_group_id"],
                 "Server": [] if s["server_id"] == "0" else s["Server"]}
                for s in view["SharingGroupServer"]
            ]  # fmt: skip
            # the index's member organisations carry id, name and uuid (not "local", which the view has)
            members = [dict(m, Organisation={k: v for k, v in m["Organisation"].items() if k != "local"})
                       for m in view["SharingGroupOrg"]]  # fmt: skip
            rows.append({"SharingGroup": sg, "Organisation": {k: self.orgs["1"][k] for k in ("id", "name", "uuid")},
                         "SharingGroupOrg": members, "SharingGroupServer": servers,
                         "editable": True, "deletable": True})  # fmt: skip
        return {"response": rows}

    def _group(self, ref: str, url: str) -> dict[str, Any]:
        group = self.groups.get(ref) or next((g for g in self.groups.values() if g["uuid"] == ref), None)
        if group is None:
            raise _missing("sharing group", url)
        return group

    def h_sg_view(self, ref: str, **_: Any) -> Any:
        return self._group_view(self._group(ref, f"/sharing_groups/view/{ref}"))

    def h_sg_add(self, body: Any, **_: Any) -> Any:
        fields = _body(body, "SharingGroup")
        if not fields.get("name"):
            raise _fail("SharingGroup", "add", "/sharing_groups/add", "Could not save sharing group.")
        name = fields["name"]
        if any(g["name"] == name for g in self.groups.values()):
            name = f"{name}_{secrets.randbelow(9000) + 1000}"  # MISP 2.5.1 renames instead of refusing
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.now()))
        gid = self.next_id("sg")
        group = {"id": gid, "name": name, "releasability": fields.get("releasability") or "",
                 "description": fields.get("description") or "", "uuid": str(uuidlib.uuid4()),
                 "organisation_uuid": self.orgs["1"]["uuid"], "org_id": "1", "sync_user_id": "1",
                 "active": _b(fields.get("active", True)), "created": stamp, "modified": stamp, "local": False,
                 "roaming": _b(fields.get("roaming", False)), "orgs": {}, "servers": {"0": False}}  # fmt: skip
        self.groups[gid] = group
        view = self._group_view(group)
        return {"SharingGroup": {k: v for k, v in view["SharingGroup"].items() if not k.startswith("sync_org")},
                "SharingGroupOrg": [], "SharingGroupServer": [{k: v for k, v in s.items() if k != "Server"}
                                                              for s in view["SharingGroupServer"]],
                "Organisation": {k: self.orgs["1"][k] for k in ("id", "name", "uuid")}}  # fmt: skip

    def h_sg_edit(self, ref: str, body: Any, **_: Any) -> Any:
        group = self._group(ref, f"/sharing_groups/edit/{ref}")
        fields = _body(body, "SharingGroup")
        for key in ("name", "releasability", "description"):
            if key in fields:
                group[key] = fields[key]
        for key in ("active", "roaming"):
            if key in fields:
                group[key] = _b(fields[key])
        view = self._group_view(group)
        view["SharingGroup"] = {k: v for k, v in view["SharingGroup"].items() if not k.startswith("sync_org")}
        return view

    def h_sg_delete(self, ref: str, **_: Any) -> Any:
        group = self._group(ref, f"/sharing_groups/delete/{ref}")
        del self.groups[group["id"]]
        return _ok("SharingGroup deleted", f"/sharing_groups/delete/{ref}", group["id"])

    def h_sg_member(self, action: str, body: Any, **_: Any) -> Any:
        fields = _body(body, "SharingGroup")
        url = f"/sharing_groups/{action}"
        group = self._group(str(fields.get("sg_id")), url)
        if action in ("addOrg", "removeOrg"):
            org = self.org(str(fields.get("org_id")))
            if org is None:
                raise _missing("organisation", url)
            if action == "addOrg":
                group["orgs"][org["id"]] = _b(fields.get("extend", False))
                return _ok("Organisation added to the sharing group.", url)
            if group["orgs"].pop(org["id"], None) is None:
                raise _fail("SharingGroup", "removeOrg", url, "Organisation is not in the sharing group.")
            return _ok("Organisation removed from the sharing group.", url)
        sid = str(fields.get("server_id"))
        if sid != "0" and not any(s["id"] == sid for s in self.servers):
            raise _missing("server", url)
        if action == "addServer":
            group["servers"][sid] = _b(fields.get("all_orgs", False))
            return _ok("Server added to the sharing group.", url)
        if group["servers"].pop(sid, None) is None:
            raise _fail("SharingGroup", "removeServer", url, "Server is not in the sharing group.")
        return _ok("Server removed from the sharing group.", url)


def _random_key() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(40))
