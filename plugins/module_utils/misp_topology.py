"""MISP sync topology: the sync links of a hub-and-spoke or a mesh layout, their validation, and what
MISP's distribution rules let travel over them. Plain Python (no Ansible imports).

Instances are dicts ``{name, url, org, org_uuid?, ca_file?, self_signed?}``; the hub and the spokes
form the site's community, external partners connect to the hub only. A *link* is one MISP server
entry (``misp_server`` on the instance ``on``, pointing at ``peer``); the peer needs a sync user for
``on``'s organisation. Hub-and-spoke: each spoke holds one link to the hub, pushing its events and
sightings up and pulling the others' down (n links); a mesh links every pair of site instances
(n(n+1)/2 for n spokes + the hub).

MISP's distribution rules (MISP 2.5.1 ``Event::shouldBePushedToServer``, ``__prepareForPushToServer``,
``Server::__updatePulledEventBeforeInsert``), modelled by :func:`propagate`: over a link that is not
``internal``, events of distribution 0 (your organisation) and 1 (this community) are never pushed,
attributes below 2 are stripped, a pushed 2 (connected communities) arrives as 1; a pulled 1 arrives
as 0 and a pulled 2 as 1; 3 (all communities) stays 3; distribution 0 never leaves its instance.
An ``internal`` link (the same host organisation on both sides, ``MISP.host_org_id``) keeps the
distribution as it is.
"""

import json
import re
from collections import deque
from itertools import combinations

DISTRIBUTIONS = {
    0: "your organisation only",
    1: "this community only",
    2: "connected communities",
    3: "all communities",
}
DEFAULT_PUSH_TAGS_NOT = ("tlp:red",)
DEFAULT_PARTNER_PUSH_TAGS_NOT = ("tlp:red", "tlp:amber", "tlp:amber+strict")
_DIST_FILTER = re.compile(r"^[0-5](\|[0-5])*$")
MODES = ("hub_and_spoke", "mesh")


class TopologyError(Exception):
    pass


def _rules(tags_or=(), tags_not=(), orgs_or=(), orgs_not=(), url_params=""):
    out = {"tags_or": list(tags_or), "tags_not": list(tags_not), "orgs_or": list(orgs_or), "orgs_not": list(orgs_not)}
    if url_params is not None:
        out["url_params"] = url_params
    return out


def _check_instance(inst, role):
    if not isinstance(inst, dict) or not inst.get("name") or not inst.get("url") or not inst.get("org"):
        raise TopologyError(f"{role} {inst!r}: an instance needs name, url and org")
    if not re.match(r"^https?://[^/\s]+", str(inst["url"])):
        raise TopologyError(f"{role} {inst['name']}: url {inst['url']!r} is not an http(s) URL")


def link_count(spokes, partners=0, mode="hub_and_spoke"):
    """Number of sync links: n (+ partners) for hub-and-spoke, (n+1)n/2 (+ partners) for a mesh."""
    site = spokes + 1
    return (spokes if mode == "hub_and_spoke" else site * (site - 1) // 2) + partners


def compute_links(
    hub,
    spokes,
    partners=(),
    mode="hub_and_spoke",
    internal=False,
    push_tags_not=DEFAULT_PUSH_TAGS_NOT,
    partner_push_tags_not=DEFAULT_PARTNER_PUSH_TAGS_NOT,
):
    """The links of the layout, each a dict ready for ``misp_server`` (plus ``on``/``on_url``)."""
    if mode not in MODES:
        raise TopologyError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    _check_instance(hub, "hub")
    for s in spokes:
        _check_instance(s, "spoke")
    for p in partners:
        _check_instance(p, "partner")
    names = [hub["name"], *(s["name"] for s in spokes), *(p["name"] for p in partners)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TopologyError(f"instance names used twice: {', '.join(dupes)}")

    def link(on, peer, kind, *, tags_not, sightings, is_internal):
        return {
            "on": on["name"],
            "on_url": on["url"],
            "name": peer["name"],
            "url": peer["url"],
            "remote_org": peer["org"],
            "remote_org_uuid": peer.get("org_uuid"),
            "kind": kind,
            "push": True,
            "pull": True,
            "push_sightings": sightings,
            "internal": is_internal,
            "push_rules": _rules(tags_not=sorted(tags_not), url_params=None),
            "pull_rules": _rules(),
            "ca_file": peer.get("ca_file"),
        }

    links = []
    if mode == "hub_and_spoke":
        for s in spokes:
            links.append(link(s, hub, "spoke-hub", tags_not=push_tags_not, sightings=True, is_internal=internal))
    else:
        site = [hub, *spokes]
        for a, b in combinations(site, 2):
            kind = "spoke-hub" if a is hub else "spoke-spoke"
            links.append(link(b, a, kind, tags_not=push_tags_not, sightings=True, is_internal=internal))
    for p in partners:
        links.append(link(hub, p, "hub-partner", tags_not=partner_push_tags_not, sightings=False, is_internal=False))
    return links


def _pair(link):
    return frozenset((link["on"], link["name"]))


def _dist_filter(rules, where):
    """The distribution filter in a rule's ``url_params`` (``{"distribution": "2|3"}``), as a set."""
    raw = (rules or {}).get("url_params") or ""
    if not raw:
        return None
    try:
        params = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise TopologyError(f"{where}: url_params is not JSON: {exc}") from None
    value = params.get("distribution") if isinstance(params, dict) else None
    if value is None:
        return None
    text = "|".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if not _DIST_FILTER.match(text):
        raise TopologyError(
            f"{where}: distribution filter {text!r} is not MISP's syntax (levels 0-5 joined by '|', e.g. \"2|3\")"
        )
    return {int(v) for v in text.split("|")}


def validate(links, hub, spokes, partners=(), mode="hub_and_spoke", instances=None):
    """Every problem of a link set, one sentence each (empty list: valid)."""
    errors = []
    spoke_names = {s["name"] for s in spokes}
    all_inst = {i["name"]: i for i in (instances or [hub, *spokes, *partners])}
    seen = {}
    for link in links:
        where = f"link {link['on']} -> {link['name']}"
        if link["on"] == link["name"]:
            errors.append(f"{where}: an instance cannot sync with itself")
        pair = _pair(link)
        if pair in seen:
            errors.append(f"{where}: duplicate of link {seen[pair]} (one server entry per pair of instances)")
        seen[pair] = f"{link['on']} -> {link['name']}"
        if mode == "hub_and_spoke" and link["on"] in spoke_names and link["name"] in spoke_names:
            errors.append(f"{where}: spoke-to-spoke link in hub-and-spoke mode (spokes sync only with the hub)")
        peer = all_inst.get(link["name"])
        if peer is not None and peer.get("self_signed") and not link.get("ca_file"):
            errors.append(
                f"{where}: {link['name']} has a self-signed/private-CA certificate; pin its CA (ca_file) on this link"
            )
        if not link.get("push") and not link.get("pull"):
            errors.append(f"{where}: neither push nor pull, the link moves nothing")
        for kind in ("push", "pull"):
            try:
                levels = _dist_filter(link.get(f"{kind}_rules"), f"{where} {kind} rules")
            except TopologyError as exc:
                errors.append(str(exc))
                continue
            if levels and not link.get("internal"):
                if 0 in levels:
                    errors.append(
                        f"{where}: {kind} rules select distribution 0 (your organisation only), which never leaves its instance"
                    )
                if kind == "push" and 1 in levels:
                    errors.append(
                        f"{where}: push rules select distribution 1 (this community only), which MISP never pushes over a "
                        "non-internal link"
                    )
    graph = {name: set() for name in all_inst}
    for link in links:
        if link.get("push") or link.get("pull"):
            graph.setdefault(link["on"], set()).add(link["name"])
            graph.setdefault(link["name"], set()).add(link["on"])
    reached = {hub["name"]}
    queue = deque([hub["name"]])
    while queue:
        for nxt in graph.get(queue.popleft(), ()):
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    for inst in [*spokes, *partners]:
        if inst["name"] not in reached:
            errors.append(f"{inst['name']} is not reachable from the hub {hub['name']} by any sync link")
    return errors


def _hop(dist, internal, direction):
    """The distribution an event arrives with after one hop, or None when it does not travel."""
    if dist == 0:
        return None
    if internal:
        return dist
    if direction == "push":
        return None if dist < 2 else (1 if dist == 2 else dist)
    return {1: 0, 2: 1}.get(dist, dist)


def propagate(links, origin, dist):
    """``{instance: distribution}`` of an event published on ``origin`` with ``dist`` once every link
    has pushed and pulled (MISP's rules, see the module docstring); instances it never reaches are absent."""
    best = {origin: dist}
    queue = deque([origin])
    while queue:
        here = queue.popleft()
        d = best[here]
        for link in links:
            moves = []
            if link.get("push") and link["on"] == here:
                moves.append((link["name"], "push"))
            if link.get("pull") and link["name"] == here:
                moves.append((link["on"], "pull"))
            for there, direction in moves:
                got = _hop(d, link.get("internal"), direction)
                if got is not None and got > best.get(there, -1):
                    best[there] = got
                    queue.append(there)
    return best


def plan(hub, spokes, partners=(), mode="hub_and_spoke", internal=False, **kwargs):
    """Links, validation errors, counts and the distribution reach of an event published on a spoke."""
    links = compute_links(hub, spokes, partners, mode=mode, internal=internal, **kwargs)
    errors = validate(links, hub, spokes, partners, mode=mode)
    origin = spokes[0]["name"] if spokes else hub["name"]
    reach = {level: propagate(links, origin, level) for level in (1, 2, 3)}
    return {
        "links": links,
        "errors": errors,
        "counts": {m: link_count(len(spokes), len(partners), m) for m in MODES},
        "reach": reach,
        "origin": origin,
    }


def report_section(hub, spokes, partners=(), mode="hub_and_spoke", internal=False):
    """Markdown for the site plan: the layout, the link counts of both layouts, what travels where."""
    result = plan(hub, spokes, partners, mode=mode, internal=internal)
    n, p = len(spokes), len(partners)
    out = [
        "",
        "## MISP sync topology",
        "",
        f"Layout: **{mode.replace('_', '-')}**, hub {hub['name']}, {n} spoke(s), {p} external partner(s); "
        f"links {'internal (distribution kept)' if internal else 'not internal (MISP downgrades distribution per hop)'}.",
        "",
        "| layout | sync links at this size | formula |",
        "|---|---:|---|",
        f"| hub-and-spoke | {result['counts']['hub_and_spoke']} | n + partners |",
        f"| mesh | {result['counts']['mesh']} | (n+1)n/2 + partners |",
        "",
        "| instance holding the link | peer | push | pull | sightings | internal | push never | CA pinned |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for link in result["links"]:
        out.append(
            f"| {link['on']} | {link['name']} | {_yn(link['push'])} | {_yn(link['pull'])} | {_yn(link['push_sightings'])} | "
            f"{_yn(link['internal'])} | {', '.join(link['push_rules']['tags_not']) or '-'} | "
            f"{'yes' if link.get('ca_file') else 'no'} |"
        )
    names = [hub["name"], *(s["name"] for s in spokes), *(q["name"] for q in partners)]
    out += [
        "",
        f"What an event published on {result['origin']} reaches (distribution on arrival; - = never):",
        "",
        "| published as | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for level, reached in result["reach"].items():
        out.append(
            f"| {level} {DISTRIBUTIONS[level]} | "
            + " | ".join(str(reached[x]) if x in reached else "-" for x in names)
            + " |"
        )
    for error in result["errors"]:
        out.append(f"- ERROR: {error}")
    return "\n".join(out)


def _yn(flag):
    return "yes" if flag else "no"
