"""MISP configuration as code, on pymisp: organisations, users, sync servers, feeds, settings, tags,
sharing groups. Plain Python (no Ansible imports); the ``misp_*`` modules are thin wrappers.

Every ``ensure_*`` function compares the wanted state with what MISP reports, changes only what
differs, and returns ``{"changed", "diff": {"before", "after"}, <object>}``. Rules that hold for all:

- Nothing is sent in check mode; the result says what would change.
- Secrets (API keys, sync auth keys) never appear in results or diffs.
- A failure names the MISP, the object and MISP's own message; an operation made of several calls
  (a sync link plus its pinned CA, a sharing group plus its members, several settings) is undone when a
  later step fails, so a run never leaves a half-applied object behind.

Real MISP 2.5.1 quirks handled here (each seen on a real instance and reproduced by the test double):
a server added with a certificate MISP cannot parse is saved with ``cert_file`` null (no error); a
sharing group added under an existing name is created as ``<name>_<n>``; settings are stored without
validation (``MISP.live`` = ``maybe`` becomes true, ``MISP.default_event_distribution`` = 5 is saved),
so values are checked here and read back; a tag colour must be ``#RRGGBB``; servers/index never
returns the auth key.
"""

import base64
import json
import re
import time

from ansible_collections.socforge.core.plugins.module_utils.intel.sources import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    SourceError,
    _describe_exception,
    connect_pymisp,
)

DEFAULT_PUSH_RULES = {"tags": {"OR": [], "NOT": []}, "orgs": {"OR": [], "NOT": []}}
DEFAULT_PULL_RULES = {
    "tags": {"OR": [], "NOT": []},
    "orgs": {"OR": [], "NOT": []},
    "type_attributes": {"NOT": []},
    "type_objects": {"NOT": []},
    "url_params": "",
}
DISTRIBUTION_LEVELS = {
    "0": "Your organisation only",
    "1": "This community only",
    "2": "Connected communities",
    "3": "All communities",
    "4": "Sharing group",
    "5": "Inherit event",
}
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_AUTHKEY = re.compile(r"^[A-Za-z0-9]{40}$")


class MispAdminError(Exception):
    """A clear, single-sentence failure (names the MISP, the object and the cause)."""


def _bool(value):
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _norm(kind, value):
    if kind == "bool":
        return _bool(value)
    if kind == "int":
        return None if value in (None, "") else int(value)
    if kind == "json":
        if value in (None, ""):
            return None
        return json.loads(value) if isinstance(value, str) else value
    if kind == "list":
        return sorted(value or [])
    return "" if value is None else str(value)


def compare(current, wanted, fields):
    """``{field: (current, wanted)}`` for every wanted field (not None) that differs, normalised by kind."""
    changes = {}
    for name, want in wanted.items():
        if want is None or name not in fields:
            continue
        have = _norm(fields[name], (current or {}).get(name))
        want_n = _norm(fields[name], want)
        if have != want_n:
            changes[name] = (have, want_n)
    return changes


def _wire(fields, wanted):
    """The request body: wanted fields in MISP's wire form (JSON fields as strings)."""
    body = {}
    for name, value in wanted.items():
        if value is None:
            continue
        if fields.get(name) == "json" and not isinstance(value, str):
            value = json.dumps(value, sort_keys=True)
        body[name] = value
    return body


def _view(record, fields, secret=()):
    return {k: _norm(fields[k], record.get(k)) for k in sorted(fields) if k not in secret and k in record}


class MispAdmin:
    """One connection to one MISP, with calls that raise :class:`MispAdminError` on any refusal."""

    def __init__(
        self,
        url,
        key,
        validate_certs=True,
        ca_path=None,
        timeout=DEFAULT_TIMEOUT,
        retries=DEFAULT_RETRIES,
        backoff=DEFAULT_BACKOFF,
        sleep=time.sleep,
        client=None,
    ):
        if not url or not re.match(r"^https?://", url):
            raise MispAdminError(f"misp_url {url!r} is not an http(s) URL")
        if not key:
            raise MispAdminError("misp_key is empty")
        self.url = url.rstrip("/")
        self.verify = (ca_path or True) if validate_certs else False
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        try:
            self.misp = client or connect_pymisp(
                self.url, key, self.verify, timeout, retries, backoff, sleep, tool="socforge-config"
            )
        except SourceError as exc:
            raise MispAdminError(str(exc)) from None

    # ------------------------------------------------------------------ calls
    def call(self, what, func, *args, retry=True, **kwargs):
        """Run one pymisp call; transport errors and 5xx are retried (unless ``retry=False``: a create
        MISP may have saved before failing), a refusal raises at once."""
        attempt = 0
        while True:
            try:
                answer = func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - transport/5xx errors: described, retried when transient
                if not _transient(exc):
                    raise MispAdminError(f"MISP at {self.url} refused to {what}: {str(exc)[:300]}") from None
                message = _describe_exception(exc, f"MISP at {self.url}")
                if type(exc).__name__ == "MISPServerError":
                    message = f"MISP at {self.url} failed with HTTP 5xx: {str(exc)[:300]}"
                if message.startswith("TLS error") or attempt >= self.retries or not retry:
                    raise MispAdminError(f"{message} (while trying to {what})") from None
                attempt += 1
                self.sleep(self.backoff * (2 ** (attempt - 1)))
                continue
            if isinstance(answer, dict) and "errors" in answer:
                raise MispAdminError(f"MISP at {self.url} refused to {what}: {_error_text(answer['errors'])}")
            return answer

    def organisations(self):
        return [o.get("Organisation", o) for o in self.call("list organisations", self.misp.organisations, scope="all")]

    def find_organisation(self, ref):
        """An organisation by id, uuid or (case-insensitive) name; None when absent."""
        ref = str(ref)
        for org in self.organisations():
            if ref in (str(org.get("id")), str(org.get("uuid"))) or str(org.get("name", "")).lower() == ref.lower():
                return org
        return None

    def organisation_id(self, ref, check_mode=False):
        """The id of an organisation; in check mode one an earlier task would create is a placeholder."""
        org = self.find_organisation(ref)
        if org is None:
            if check_mode:
                return f"(new organisation {ref})"
            raise MispAdminError(f"MISP at {self.url} has no organisation {ref!r}")
        return str(org["id"])

    def roles(self):
        return [r.get("Role", r) for r in self.call("list roles", self.misp.roles)]

    def role_id(self, ref):
        ref = str(ref)
        for role in self.roles():
            if ref in (str(role["id"]),) or role["name"].lower() == ref.lower():
                return str(role["id"])
        names = ", ".join(r["name"] for r in self.roles())
        raise MispAdminError(f"MISP at {self.url} has no role {ref!r} (roles: {names})")

    def servers(self):
        return [s.get("Server", s) for s in self.call("list sync servers", self.misp.servers)]

    def tag_id(self, ref, create=False):
        """The id of a tag (name or id) on this instance; a missing one is created with ``create``
        (else, in check mode, a placeholder)."""
        ref = str(ref)
        if ref.isdigit():
            return ref
        found = self.call(f"search tag {ref!r}", self.misp.search_tags, ref, strict_tagname=True)
        tag = next((t.get("Tag", t) for t in (found or []) if t.get("Tag", t).get("name") == ref), None)
        if tag is None:
            if not create:
                return f"(new tag {ref})"
            tag = _unwrap(self.call(f"add tag {ref!r}", self.misp.add_tag, {"name": ref}), "Tag")
        return str(tag["id"])


def _transient(exc):
    """Connection errors, timeouts, TLS errors (reported at once by the caller) and HTTP 5xx; not a
    refusal or an unexpected answer (pymisp's other errors), which retrying cannot fix."""
    if type(exc).__name__ == "MISPServerError":
        return True
    try:
        import requests

        return isinstance(exc, (requests.exceptions.RequestException, ConnectionError, TimeoutError, OSError))
    except ImportError:  # pragma: no cover - pymisp requires requests
        return isinstance(exc, (ConnectionError, TimeoutError, OSError))


def _error_text(errors):
    """MISP's error payload (``(status, {name, message, errors})`` from pymisp) as one line, no secrets."""
    if isinstance(errors, (list, tuple)) and len(errors) == 2:
        status, body = errors
        if isinstance(body, dict):
            detail = body.get("errors") or body.get("message") or body.get("name")
            if isinstance(detail, dict):
                detail = "; ".join(f"{k}: {_flat(v)}" for k, v in detail.items())
            return f"HTTP {status}: {_flat(detail)}"
        return f"HTTP {status}: {_flat(body)}"
    return _flat(errors)


def _flat(value):
    if isinstance(value, (list, tuple)):
        return " ".join(_flat(v) for v in value)
    return str(value)[:300]


def _result(changed, before, after, **extra):
    out = {"changed": changed, "diff": {"before": before or {}, "after": after or {}}}
    out.update(extra)
    return out


def _ensure(admin, kind, current, wanted, fields, state, check_mode, create, update, delete, secret=()):
    """Generic create/update/delete of one object. ``create(body)``/``update(id, body)`` return the record."""
    label = wanted.get("name") or wanted.get("email") or wanted.get("url")
    if state == "absent":
        if current is None:
            return _result(False, {}, {}, **{kind: None})
        if not check_mode:
            delete(str(current["id"]))
        return _result(True, _view(current, fields, secret), {}, **{kind: None})
    if current is None:
        after = {k: _norm(fields[k], v) for k, v in wanted.items() if v is not None and k in fields and k not in secret}
        if check_mode:
            return _result(True, {}, after, **{kind: dict(after, id=None)})
        record = create(_wire(fields, wanted))
        return _result(True, {}, _view(record, fields, secret), **{kind: _public(record, secret)})
    changes = compare(current, {k: v for k, v in wanted.items() if k not in secret}, fields)
    if not changes:
        return _result(
            False, _view(current, fields, secret), _view(current, fields, secret), **{kind: _public(current, secret)}
        )
    before = {k: c[0] for k, c in changes.items()}
    after = {k: c[1] for k, c in changes.items()}
    if check_mode:
        merged = dict(_public(current, secret), **after)
        return _result(True, before, after, **{kind: merged})
    body = _wire(fields, {k: wanted[k] for k in changes})
    record = update(str(current["id"]), body)
    left = compare(record, {k: wanted[k] for k in changes}, fields)
    if left:
        raise MispAdminError(
            f"MISP at {admin.url} accepted the change of {kind} {label!r} but did not store "
            + ", ".join(f"{k} (wanted {v[1]!r}, has {v[0]!r})" for k, v in sorted(left.items()))
        )
    return _result(True, before, after, **{kind: _public(record, secret)})


def _public(record, secret=()):
    return {k: v for k, v in record.items() if k not in secret and k not in ("authkey", "password")}


def _unwrap(answer, key):
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    return answer.get(key, answer) if isinstance(answer, dict) else answer


# ---------------------------------------------------------------------------------------- organisations
ORG_FIELDS = {
    "name": "str",
    "uuid": "str",
    "description": "str",
    "type": "str",
    "nationality": "str",
    "sector": "str",
    "contacts": "str",
    "local": "bool",
    "restricted_to_domain": "list",
    "landingpage": "str",
}


def ensure_organisation(admin, wanted, state="present", check_mode=False):
    """``wanted``: name (required), uuid, description, type, nationality, sector, contacts, local,
    restricted_to_domain (list of domains), landingpage. Matched by uuid when given, else by name."""
    name = wanted.get("name")
    if not name:
        raise MispAdminError("organisation name is required")
    current = admin.find_organisation(wanted.get("uuid") or name)
    if current is None and wanted.get("uuid"):
        current = admin.find_organisation(name)
        if current is not None and state == "present":
            raise MispAdminError(
                f"MISP at {admin.url}: organisation {name!r} exists with uuid {current.get('uuid')}, not {wanted['uuid']}"
            )
    if current is not None and current.get("restricted_to_domain") is None:
        current = dict(current, restricted_to_domain=[])
    return _ensure(
        admin,
        "organisation",
        current,
        wanted,
        ORG_FIELDS,
        state,
        check_mode,
        create=lambda body: _unwrap(
            admin.call(f"add organisation {name!r}", admin.misp.add_organisation, body), "Organisation"
        ),
        update=lambda oid, body: _unwrap(
            admin.call(f"edit organisation {name!r}", admin.misp.update_organisation, body, oid), "Organisation"
        ),
        delete=lambda oid: admin.call(f"delete organisation {name!r}", admin.misp.delete_organisation, oid),
    )


# ---------------------------------------------------------------------------------------- users
USER_FIELDS = {
    "email": "str",
    "org_id": "str",
    "role_id": "str",
    "disabled": "bool",
    "change_pw": "bool",
    "termsaccepted": "bool",
    "autoalert": "bool",
    "contactalert": "bool",
}


def find_user(admin, email):
    for row in admin.call("list users", admin.misp.users):
        user = row.get("User", row)
        if str(user.get("email", "")).lower() == email.lower():
            return user
    return None


def key_works(admin, email, key, connect=None):
    """Whether ``key`` authenticates as ``email`` on this MISP (one ``users/view/me`` call)."""
    if not key:
        return False
    connect = connect or (lambda k: connect_pymisp(admin.url, k, admin.verify, 30, 0, 0, admin.sleep))
    try:
        other = connect(key)
    except SourceError as exc:
        if "refused the API key" in str(exc):
            return False
        raise MispAdminError(str(exc)) from None
    me = other.get_user()
    me = me.get("User", me) if isinstance(me, dict) else {}
    return str(me.get("email", "")).lower() == email.lower()


def ensure_user(admin, wanted, state="present", check_mode=False, api_key=None, rotate_api_key=False, check_key=True):
    """``wanted``: email (required), organisation (name/uuid/id), role (name/id), disabled, change_pw,
    termsaccepted, autoalert, contactalert. ``api_key``: the key currently on file for this user (or
    None); a new key is made when the user is created, when ``rotate_api_key``, or when the key on file
    no longer works. The new key is returned as ``api_key`` (for the caller to store, never to log)."""
    email = (wanted.get("email") or "").strip()
    if not email or "@" not in email:
        raise MispAdminError(f"user email {email!r} is not an e-mail address")
    body = {k: wanted.get(k) for k in USER_FIELDS if k not in ("org_id", "role_id")}
    body["email"] = email
    if wanted.get("organisation") is not None:
        body["org_id"] = admin.organisation_id(wanted["organisation"], check_mode)
    if wanted.get("role") is not None:
        body["role_id"] = admin.role_id(wanted["role"])
    current = find_user(admin, email)
    result = _ensure(
        admin,
        "user",
        current,
        body,
        USER_FIELDS,
        state,
        check_mode,
        create=lambda b: _unwrap(admin.call(f"add user {email!r}", admin.misp.add_user, b), "User"),
        update=lambda uid, b: _unwrap(admin.call(f"edit user {email!r}", admin.misp.update_user, b, uid), "User"),
        delete=lambda uid: admin.call(f"delete user {email!r}", admin.misp.delete_user, uid),
    )
    result["api_key_changed"] = False
    if state == "absent":
        return result
    if current is None:
        result["api_key_changed"] = True
        if not check_mode:
            # MISP returns the new user's key once, in the add answer (advanced authkeys or not)
            created = result["user"]
            key = created.pop("authkey", None) if isinstance(created, dict) else None
            result["api_key"] = key or _new_key(admin, email, created["id"])
        return result
    if rotate_api_key or (check_key and not key_works(admin, email, api_key)):
        result["api_key_changed"] = True
        result["changed"] = True
        if not check_mode:
            result["api_key"] = _new_key(admin, email, current["id"])
    return result


def _new_key(admin, email, user_id):
    key = admin.call(f"create an API key for {email!r}", admin.misp.get_new_authkey, str(user_id))
    if not isinstance(key, str) or not key:
        raise MispAdminError(f"MISP at {admin.url} did not return a new API key for {email!r}")
    return key


# ---------------------------------------------------------------------------------------- sync servers
SERVER_FIELDS = {
    "name": "str",
    "url": "str",
    "remote_org_id": "str",
    "push": "bool",
    "pull": "bool",
    "push_sightings": "bool",
    "push_galaxy_clusters": "bool",
    "pull_galaxy_clusters": "bool",
    "caching_enabled": "bool",
    "self_signed": "bool",
    "unpublish_event": "bool",
    "publish_without_email": "bool",
    "remove_missing_tags": "bool",
    "skip_proxy": "bool",
    "internal": "bool",
    "push_rules": "json",
    "pull_rules": "json",
}


def rules_json(kind, tags_or=(), tags_not=(), orgs_or=(), orgs_not=(), url_params=""):
    """MISP's push/pull filter rules. Tags and orgs are lists of names (orgs also ids or uuids);
    ``url_params`` (pull only) is a JSON object string of extra restSearch filters. A push rule's
    names become ids on the instance in :func:`ensure_server` (:func:`push_rule_ids`)."""
    rules = json.loads(json.dumps(DEFAULT_PUSH_RULES if kind == "push" else DEFAULT_PULL_RULES))
    rules["tags"] = {"OR": sorted(tags_or), "NOT": sorted(tags_not)}
    rules["orgs"] = {"OR": sorted(str(o) for o in orgs_or), "NOT": sorted(str(o) for o in orgs_not)}
    if kind == "pull":
        if url_params and not isinstance(url_params, str):
            url_params = json.dumps(url_params, sort_keys=True)
        if url_params:
            try:
                json.loads(url_params)
            except ValueError as exc:
                raise MispAdminError(f"pull url_params is not valid JSON: {exc}") from None
        rules["url_params"] = url_params or ""
    return rules


def push_rule_ids(admin, rules, check_mode=False):
    """A push rule as MISP applies it: MISP 2.5.1 matches the tags and organisations of a push rule
    by their ids on the pushing instance (``Server::eventFilterPushableServers`` compares the event's
    ``EventTag.tag_id`` and ``orgc_id``), so a rule naming ``tlp:red`` never blocks anything. Names
    (orgs also uuids) in, ids out, sorted; a tag the instance does not know yet is created, so the rule
    holds once an event carries it."""
    out = json.loads(json.dumps(rules))
    for op in ("OR", "NOT"):
        out["tags"][op] = sorted({admin.tag_id(t, create=not check_mode) for t in rules["tags"][op]})
        out["orgs"][op] = sorted({admin.organisation_id(o, check_mode) for o in rules["orgs"][op]})
    return out


def read_ca(path):
    """A PEM certificate file, checked to parse (MISP 2.5.1 silently drops one it cannot parse)."""
    try:
        with open(path, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise MispAdminError(f"cannot read ca_file {path}: {exc.strerror}") from None
    try:
        from cryptography import x509

        x509.load_pem_x509_certificate(pem)
    except Exception as exc:  # noqa: BLE001 - cryptography raises ValueError or its own errors
        raise MispAdminError(f"ca_file {path} is not a PEM certificate: {exc}") from None
    return pem


def ensure_server(
    admin, wanted, state="present", check_mode=False, authkey=None, update_authkey="on_create", ca_pem=None
):
    """A sync link. ``wanted``: name, url, remote_org (name/uuid/id), push, pull, push_sightings,
    caching_enabled, self_signed, push_rules, pull_rules (dicts), ... ``authkey``: the remote user's key
    (40 alphanumerics; MISP never shows it back, so it is sent on create and, with
    ``update_authkey=always``, on every run). ``ca_pem``: the peer's CA certificate, pinned for this link
    (MISP stores it as ``<id>.pem``); re-sent when the link has none."""
    url = (wanted.get("url") or "").rstrip("/")
    name = wanted.get("name") or url
    if not re.match(r"^https?://[^/\s]+", url or ""):
        raise MispAdminError(f"server url {url!r} is not an http(s) URL")
    body = {k: v for k, v in wanted.items() if k in SERVER_FIELDS and k != "remote_org_id"}
    body["url"], body["name"] = url, name
    current = next((s for s in admin.servers() if s.get("url", "").rstrip("/") == url), None)
    if current is None and state == "present" and not authkey and not check_mode:
        raise MispAdminError(f"server {name!r} does not exist on MISP at {admin.url}: authkey is required to create it")
    if authkey is not None and not _AUTHKEY.match(authkey):
        raise MispAdminError(f"the authkey for server {name!r} must be exactly 40 letters and digits")
    if state == "present":
        if wanted.get("remote_org") is None:
            raise MispAdminError(f"server {name!r}: remote_org is required")
        body["remote_org_id"] = admin.organisation_id(wanted["remote_org"], check_mode)
        if body.get("push_rules"):
            body["push_rules"] = push_rule_ids(admin, body["push_rules"], check_mode)
    secret = ("authkey",)
    send_key = authkey is not None and (current is None or update_authkey == "always")

    def create(b):
        if authkey:
            b["authkey"] = authkey
        if ca_pem:
            b["submitted_cert"] = base64.b64encode(ca_pem).decode()
        try:
            # not retried: MISP allows several servers with one URL, and may save before failing
            record = _unwrap(admin.call(f"add sync server {name!r}", admin.misp.add_server, b, retry=False), "Server")
        except MispAdminError as exc:
            saved = [s for s in admin.servers() if s.get("url", "").rstrip("/") == url]
            for server in saved:  # a 5xx after the save (MISP 2.5.1 with Security.encryption_key set)
                admin.call(
                    f"delete sync server {name!r} after a failed add", admin.misp.delete_server, str(server["id"])
                )
            raise MispAdminError(
                f"{exc}" + ("; MISP had saved the server anyway, it was deleted again" if saved else "")
            ) from None
        if ca_pem and not record.get("cert_file"):
            # MISP 2.5.1 saves the server and silently drops a certificate it cannot parse: undo
            admin.call(
                f"delete sync server {name!r} after a failed CA pin", admin.misp.delete_server, str(record["id"])
            )
            raise MispAdminError(
                f"MISP at {admin.url} did not store the CA certificate for server {name!r}; the server was not added"
            )
        return record

    def update(sid, b):
        if send_key:
            b["authkey"] = authkey
        if ca_pem:
            b["submitted_cert"] = base64.b64encode(ca_pem).decode()
        return _unwrap(admin.call(f"edit sync server {name!r}", admin.misp.update_server, b, sid), "Server")

    result = _ensure(
        admin,
        "server",
        current,
        body,
        SERVER_FIELDS,
        state,
        check_mode,
        create=create,
        update=update,
        delete=lambda sid: admin.call(f"delete sync server {name!r}", admin.misp.delete_server, sid),
        secret=secret,
    )
    if state == "present" and current is not None:
        needs_ca = bool(ca_pem) and not current.get("cert_file")
        if (send_key or needs_ca) and not result["changed"]:
            result["changed"] = True
            if not check_mode:
                b = {}
                record = update(str(current["id"]), b)
                if needs_ca and not record.get("cert_file"):
                    raise MispAdminError(f"MISP at {admin.url} did not store the CA certificate for server {name!r}")
                result["server"] = _public(record, secret)
        if needs_ca:
            result["diff"]["after"]["cert_file"] = "pinned"
            result["diff"]["before"]["cert_file"] = None
    if result.get("server"):
        result["server"] = {k: v for k, v in result["server"].items() if k != "authkey"}
    return result


# ---------------------------------------------------------------------------------------- feeds
FEED_FIELDS = {
    "name": "str",
    "provider": "str",
    "url": "str",
    "source_format": "str",
    "input_source": "str",
    "enabled": "bool",
    "caching_enabled": "bool",
    "distribution": "str",
    "sharing_group_id": "str",
    "tag_id": "str",
    "fixed_event": "bool",
    "delta_merge": "bool",
    "publish": "bool",
    "override_ids": "bool",
    "lookup_visible": "bool",
    "headers": "str",
}
FEED_FORMATS = ("misp", "freetext", "csv")


def ensure_feed(admin, wanted, state="present", check_mode=False):
    """A feed, matched by URL (else name). ``source_format`` misp|freetext|csv, ``input_source``
    network|local, ``distribution`` 0-5."""
    name = wanted.get("name")
    url = wanted.get("url")
    if not name or not url:
        raise MispAdminError("a feed needs a name and a url")  # MISP 2.5.1 answers 500 without a url
    if wanted.get("source_format") not in (None, *FEED_FORMATS):
        raise MispAdminError(f"feed {name!r}: source_format must be one of {', '.join(FEED_FORMATS)}")
    if wanted.get("distribution") is not None and str(wanted["distribution"]) not in DISTRIBUTION_LEVELS:
        raise MispAdminError(f"feed {name!r}: distribution must be 0-5, got {wanted['distribution']!r}")
    feeds = [f.get("Feed", f) for f in admin.call("list feeds", admin.misp.feeds)]
    current = next((f for f in feeds if f.get("url") == url), None) or next(
        (f for f in feeds if f.get("name") == name), None
    )
    return _ensure(
        admin,
        "feed",
        current,
        dict(wanted),
        FEED_FIELDS,
        state,
        check_mode,
        create=lambda b: _unwrap(admin.call(f"add feed {name!r}", admin.misp.add_feed, b), "Feed"),
        update=lambda fid, b: _unwrap(admin.call(f"edit feed {name!r}", admin.misp.update_feed, b, fid), "Feed"),
        delete=lambda fid: admin.call(f"delete feed {name!r}", admin.misp.delete_feed, fid),
    )


# ---------------------------------------------------------------------------------------- settings
def _setting_value(meta, value):
    """``value`` in the setting's type, checked against its options (MISP itself stores anything)."""
    name = meta.get("name")
    kind = meta.get("type")
    if kind == "boolean":
        try:
            return _bool(value)
        except ValueError:
            raise MispAdminError(f"setting {name}: {value!r} is not a boolean") from None
    if kind == "numeric":
        try:
            value = int(str(value))
        except ValueError:
            raise MispAdminError(f"setting {name}: {value!r} is not a number") from None
    options = meta.get("options")
    if isinstance(options, dict) and options and str(value) not in options:
        raise MispAdminError(f"setting {name}: {value!r} is not one of {', '.join(sorted(options))}")
    if isinstance(options, list) and options and not (str(value).isdigit() and int(str(value)) < len(options)):
        raise MispAdminError(f"setting {name}: {value!r} is not one of 0-{len(options) - 1}")
    return value if kind == "numeric" else str(value)


def _same_setting(meta, have, want):
    if meta.get("type") == "boolean":
        try:
            return _bool(have) == _bool(want)
        except ValueError:
            return False
    return str("" if have is None else have) == str(want)


def ensure_settings(admin, settings, check_mode=False, force=False):
    """Several server settings (``{name: value}``), all or nothing: every value is checked and read
    back; when one is refused, the ones already written are put back and the run fails."""
    metas = {}
    for name in sorted(settings):
        meta = admin.call(f"read setting {name}", admin.misp.get_server_setting, name)
        if not isinstance(meta, dict) or "type" not in meta:
            raise MispAdminError(f"MISP at {admin.url} answered something unexpected for setting {name}")
        metas[name] = meta
    wanted = {name: _setting_value(metas[name], settings[name]) for name in sorted(settings)}
    changes = {
        n: (metas[n].get("value"), v)
        for n, v in wanted.items()
        if not _same_setting(metas[n], metas[n].get("value"), v)
    }
    before = {n: c[0] for n, c in changes.items()}
    after = {n: c[1] for n, c in changes.items()}
    if check_mode or not changes:
        return _result(bool(changes), before, after, settings={n: wanted[n] for n in wanted})
    done = []
    try:
        for name, (_old, new) in sorted(changes.items()):
            admin.call(f"set {name}", admin.misp.set_server_setting, name, new, force=force)
            done.append(name)
            back = admin.call(f"read back {name}", admin.misp.get_server_setting, name)
            if not _same_setting(metas[name], back.get("value"), new):
                raise MispAdminError(
                    f"MISP at {admin.url} accepted {name} = {new!r} but reads back {back.get('value')!r}"
                )
    except MispAdminError as exc:
        undone = []
        for name in reversed(done):
            old = changes[name][0]
            try:
                admin.call(
                    f"restore {name}", admin.misp.set_server_setting, name, "" if old is None else old, force=True
                )
                undone.append(name)
            except MispAdminError:
                pass
        note = f"; restored {', '.join(undone)}" if undone else ""
        raise MispAdminError(f"{exc}{note}") from None
    return _result(True, before, after, settings={n: wanted[n] for n in wanted})


# ---------------------------------------------------------------------------------------- tags
TAG_FIELDS = {
    "name": "str",
    "colour": "str",
    "exportable": "bool",
    "hide_tag": "bool",
    "local_only": "bool",
    "numerical_value": "str",
}


def ensure_tag(admin, wanted, state="present", check_mode=False):
    name = wanted.get("name")
    if not name:
        raise MispAdminError("tag name is required")
    colour = wanted.get("colour")
    if colour is not None and not _COLOUR.match(colour):
        raise MispAdminError(f"tag {name!r}: colour {colour!r} is not #RRGGBB")
    if colour is not None:
        wanted = dict(wanted, colour=colour.lower())
    found = admin.call(f"search tag {name!r}", admin.misp.search_tags, name, strict_tagname=True)
    tags = [t.get("Tag", t) for t in (found or [])]
    current = next((t for t in tags if t.get("name") == name), None)
    if current is not None and current.get("colour"):
        current = dict(current, colour=current["colour"].lower())
    return _ensure(
        admin,
        "tag",
        current,
        dict(wanted),
        TAG_FIELDS,
        state,
        check_mode,
        create=lambda b: _unwrap(admin.call(f"add tag {name!r}", admin.misp.add_tag, b), "Tag"),
        update=lambda tid, b: _unwrap(admin.call(f"edit tag {name!r}", admin.misp.update_tag, b, tid), "Tag"),
        delete=lambda tid: admin.call(f"delete tag {name!r}", admin.misp.delete_tag, tid),
    )


# ---------------------------------------------------------------------------------------- sharing groups
SG_FIELDS = {"name": "str", "releasability": "str", "description": "str", "active": "bool", "roaming": "bool"}


def _sg_members(view):
    orgs = {str(o["org_id"]): _bool(o.get("extend")) for o in view.get("SharingGroupOrg") or []}
    servers = {str(s["server_id"]): _bool(s.get("all_orgs")) for s in view.get("SharingGroupServer") or []}
    return orgs, servers


def ensure_sharing_group(admin, wanted, organisations=None, servers=None, state="present", check_mode=False):
    """A sharing group and its members. ``organisations``: ``[{name, extend}]``; ``servers``:
    ``[{url or "local", all_orgs}]`` (``local`` = this instance, server id 0). Members not listed are
    removed; ``None`` leaves that member list alone. A group this run created is deleted again when
    adding its members fails."""
    name = wanted.get("name")
    if not name:
        raise MispAdminError("sharing group name is required")
    rows = admin.call("list sharing groups", admin.misp.sharing_groups)
    groups = [r.get("SharingGroup", r) for r in rows]
    current = next((g for g in groups if g.get("name") == name), None)
    want_orgs = want_servers = None
    if state == "present" and organisations is not None:
        want_orgs = {admin.organisation_id(o["name"], check_mode): _bool(o.get("extend", False)) for o in organisations}
    if state == "present" and servers is not None:
        known = {s["url"].rstrip("/"): str(s["id"]) for s in admin.servers()}
        want_servers = {}
        for s in servers:
            ref = str(s.get("url") or "local").rstrip("/")
            if ref == "local":
                sid = "0"
            elif ref in known:
                sid = known[ref]
            else:
                raise MispAdminError(f"sharing group {name!r}: MISP at {admin.url} has no sync server {ref!r}")
            want_servers[sid] = _bool(s.get("all_orgs", False))

    def create(body):
        record = admin.call(f"add sharing group {name!r}", admin.misp.add_sharing_group, body)
        group = record.get("SharingGroup", record)
        if group.get("name") != name:  # MISP renames a clashing name to <name>_<n> instead of refusing
            admin.call(f"delete sharing group {group.get('name')!r}", admin.misp.delete_sharing_group, str(group["id"]))
            raise MispAdminError(
                f"MISP at {admin.url} renamed sharing group {name!r} to {group.get('name')!r}; not created"
            )
        return group

    result = _ensure(
        admin,
        "sharing_group",
        current,
        dict(wanted),
        SG_FIELDS,
        state,
        check_mode,
        create=create,
        update=lambda gid, b: _unwrap(
            admin.call(f"edit sharing group {name!r}", admin.misp.update_sharing_group, b, gid), "SharingGroup"
        ),
        delete=lambda gid: admin.call(f"delete sharing group {name!r}", admin.misp.delete_sharing_group, gid),
    )
    if state == "absent":
        return result
    created = current is None
    gid = None if check_mode and created else str(result["sharing_group"]["id"])
    have_orgs, have_servers = (
        ({}, {"0": False})
        if created
        else _sg_members(admin.call(f"view sharing group {name!r}", admin.misp.get_sharing_group, gid))
    )
    ops = []
    for kind, want, have in (("org", want_orgs, have_orgs), ("server", want_servers, have_servers)):
        if want is None:
            continue
        for ref, flag in sorted(want.items()):
            if ref not in have or have[ref] != flag:
                ops.append(("add", kind, ref, flag))
        for ref in sorted(have):
            if ref not in want:
                ops.append(("remove", kind, ref, have[ref]))
    if ops:
        result["changed"] = True
        result["diff"]["before"]["members"] = {"orgs": have_orgs, "servers": have_servers}
        result["diff"]["after"]["members"] = {
            "orgs": want_orgs if want_orgs is not None else have_orgs,
            "servers": want_servers if want_servers is not None else have_servers,
        }
    if check_mode or not ops:
        return result
    try:
        for op, kind, ref, flag in ops:
            if kind == "org":
                func = admin.misp.add_org_to_sharing_group if op == "add" else admin.misp.remove_org_from_sharing_group
                args = (gid, ref, flag) if op == "add" else (gid, ref)
            else:
                func = (
                    admin.misp.add_server_to_sharing_group
                    if op == "add"
                    else admin.misp.remove_server_from_sharing_group
                )
                args = (gid, ref, flag) if op == "add" else (gid, ref)
            admin.call(f"{op} {kind} {ref} in sharing group {name!r}", func, *args)
    except MispAdminError:
        if created:
            admin.call(
                f"delete sharing group {name!r} after a failed member change", admin.misp.delete_sharing_group, gid
            )
        raise
    return result
