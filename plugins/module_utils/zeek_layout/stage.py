"""Zeek hosts of one deployment stage of a staged rollout."""

from __future__ import annotations

from .settings import LayoutInputError, number


def hosts_in_stage(hosts, links, stage):
    """Zeek hosts of a staged rollout (``-e soc_stage=N``): capture NICs on links of a later stage
    are dropped, and a worker host left without NICs loses its worker role (and leaves the list
    when it has no other role). ``stage`` None keeps everything."""
    if stage is None or stage == "":
        return list(hosts)
    stage = number(stage, "soc_stage", minimum=1, integer=True)
    stages = {}
    for i, link in enumerate(links or []):
        if not isinstance(link, dict) or not link.get("name"):
            raise LayoutInputError(f"soc_links[{i}] needs a 'name'")
        stages[link["name"]] = link.get("stage")
    out = []
    for h in hosts:
        roles = list(h.get("roles") or [])
        hw = dict(h.get("hardware") or {})
        if "worker" in roles:
            kept = []
            for nic in hw.get("capture_nics") or []:
                link = nic.get("link") if isinstance(nic, dict) else None
                if link is not None and link not in stages:
                    raise LayoutInputError(f"host {h.get('name')}: capture NIC on undeclared link {link!r}")
                link_stage = stages.get(link)
                if link_stage is None or int(link_stage) <= stage:
                    kept.append(nic)
            hw["capture_nics"] = kept
            if not kept:
                roles.remove("worker")
        if roles:
            out.append(dict(h, roles=roles, hardware=hw))
    return out
