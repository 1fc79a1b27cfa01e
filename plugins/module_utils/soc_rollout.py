"""Staged rollout of a SOC site (``-e soc_stage=N``): which hosts each stage brings up, and the data
protection policy (retention, access) in force at each stage. Plain Python, no Ansible imports.

The design brings the border links up in stages, LHCOPN first: it carries science data and no
personal data beyond what authentication needs, so the SOC can be proven on it before the Janet
links (campus users' traffic: personal data) arrive.

- A host that captures links (``soc_hardware.capture_nics[].link``) comes up with the earliest
  stage of those links.
- A host that captures nothing (central services: Zeek manager/logger/proxy, Kafka, shippers,
  OpenSearch, MISP, aggregator, bastion) comes up at its declared ``soc_host_stage`` (default 1).
- The policy of stage N is the stage-1 policy with every later policy up to N merged over it
  (``soc_data_policies``: a list of ``{stage, personal_data, retention: {...}, access: {...}}``).
"""

from __future__ import annotations


class RolloutError(ValueError):
    """A problem with the rollout model; the message names the variable/host and what is wrong."""


def _stage_number(value, where: str) -> int:
    if isinstance(value, bool):
        raise RolloutError(f"{where}: '{value}' is not a stage (an integer >= 1)")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise RolloutError(f"{where}: '{value}' is not a stage (an integer >= 1)") from None
    if number < 1 or str(value).strip() not in (str(number), f"+{number}"):
        raise RolloutError(f"{where}: '{value}' is not a stage (an integer >= 1)")
    return number


def requested_stage(stage) -> int | None:
    """``-e soc_stage=N`` as an int (None/'' for a full rollout); a bad value names soc_stage."""
    if stage is None or (isinstance(stage, str) and not stage.strip()):
        return None
    return _stage_number(stage, "soc_stage")


def link_stages(links) -> dict[str, int]:
    out = {}
    for idx, link in enumerate(links or []):
        if not isinstance(link, dict) or not link.get("name"):
            raise RolloutError(f"soc_links[{idx}]: every link needs a name")
        out[link["name"]] = _stage_number(link.get("stage"), f"soc_links[{idx}] ({link['name']}).stage")
    return out


def host_stage(hardware, links, declared=None, host: str = "host") -> int:
    """The stage at which a host first comes up (see the module docstring)."""
    stages = link_stages(links)
    captured = [nic.get("link") for nic in ((hardware or {}).get("capture_nics") or []) if nic.get("link")]
    for name in captured:
        if name not in stages:
            raise RolloutError(f"host {host}: capture NIC on undeclared link '{name}'")
    if captured:
        return min(stages[name] for name in captured)
    if declared is None or declared == "":
        return 1
    return _stage_number(declared, f"host {host}: soc_host_stage")


def host_in_stage(hardware, links, stage, declared=None, host: str = "host") -> bool:
    """Whether a rollout up to ``stage`` (None: every stage) touches the host."""
    stage = requested_stage(stage)
    return stage is None or host_stage(hardware, links, declared, host) <= stage


def hosts_in_stage(hosts: dict, links, stage) -> list[str]:
    """Sorted names of the hosts (``soc_site_hosts`` form: {name: {hardware, stage, ...}}) in scope."""
    stage = requested_stage(stage)
    return sorted(
        name
        for name, spec in (hosts or {}).items()
        if stage is None or host_stage(spec.get("hardware"), links, spec.get("stage"), name) <= stage
    )


def links_in_stage(links, stage) -> list[dict]:
    """The links a rollout up to ``stage`` captures, in stage then name order."""
    stage = requested_stage(stage)
    stages = link_stages(links)
    chosen = [lk for lk in links or [] if stage is None or stages[lk["name"]] <= stage]
    return sorted(chosen, key=lambda lk: (stages[lk["name"]], lk["name"]))


def last_stage(links) -> int:
    return max(link_stages(links).values(), default=1)


# --- data protection policy per stage ------------------------------------------------------------

POLICY_KEYS = ("stage", "personal_data", "retention", "access")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def validate_policies(policies) -> list[dict]:
    """The policies sorted by stage; every problem found raises naming the entry."""
    if not isinstance(policies, list) or not policies:
        raise RolloutError("soc_data_policies: a list of per-stage policies is needed (at least stage 1)")
    seen = {}
    for idx, pol in enumerate(policies):
        where = f"soc_data_policies[{idx}]"
        if not isinstance(pol, dict):
            raise RolloutError(f"{where}: must be a mapping, got {type(pol).__name__}")
        unknown = sorted(set(pol) - set(POLICY_KEYS) - {"name", "description"})
        if unknown:
            raise RolloutError(
                f"{where}: unknown keys {unknown} (allowed: {', '.join(POLICY_KEYS)}, name, description)"
            )
        stage = _stage_number(pol.get("stage"), f"{where}.stage")
        if stage in seen:
            raise RolloutError(f"{where}.stage: stage {stage} already has a policy (soc_data_policies[{seen[stage]}])")
        seen[stage] = idx
        if not str(pol.get("personal_data") or "").strip():
            raise RolloutError(f"{where}.personal_data: say what personal data the SOC holds from stage {stage} on")
        for key in ("retention", "access"):
            if key in pol and not isinstance(pol[key], dict):
                raise RolloutError(f"{where}.{key}: must be a mapping")
        for name, value in (pol.get("retention") or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise RolloutError(f"{where}.retention.{name}: '{value}' is not a positive number")
    if 1 not in seen:
        raise RolloutError("soc_data_policies: no policy for stage 1 (the first stage must say what it keeps)")
    first = policies[seen[1]]
    for key in ("retention", "access"):
        if not first.get(key):
            raise RolloutError(f"soc_data_policies[{seen[1]}].{key}: stage 1 must set every {key} setting")
    return [policies[seen[s]] for s in sorted(seen)]


def stage_policy(policies, stage) -> dict:
    """The policy in force at ``stage`` (None: the last declared stage): stage 1's settings with every
    later stage's changes up to ``stage`` merged over them. ``stage`` in the result is the stage
    whose changes were applied last; ``changes`` names the settings each later stage changed."""
    ordered = validate_policies(policies)
    stage = requested_stage(stage)
    known = set(ordered[0].get("retention") or {}) | set(ordered[0].get("access") or {})
    out = {"stage": 1, "retention": {}, "access": {}}
    changes = []
    for pol in ordered:
        if stage is not None and int(pol["stage"]) > stage:
            break
        for key in ("retention", "access"):
            for name in (pol.get(key) or {}).keys():
                if name not in known:
                    raise RolloutError(
                        f"soc_data_policies (stage {pol['stage']}).{key}.{name}: not set at stage 1; "
                        "every setting needs its stage-1 value"
                    )
        if int(pol["stage"]) > 1:
            changed = {
                f"{key}.{name}": value
                for key in ("retention", "access")
                for name, value in (pol.get(key) or {}).items()
                if out[key].get(name) != value
            }
            changes.append({"stage": int(pol["stage"]), "changed": changed})
        out = _merge(out, {k: v for k, v in pol.items() if k in ("retention", "access")})
        out["stage"] = int(pol["stage"])
        out["personal_data"] = str(pol["personal_data"]).strip()
        out["name"] = str(pol.get("name") or f"stage {pol['stage']}")
    out["changes"] = changes
    return out


def stage_table(site: dict, policies=None) -> list[dict]:
    """Per stage: the links it adds, the hosts it brings up, and its policy (for the plan report)."""
    links = site.get("links") or []
    hosts = site.get("hosts") or {}
    stages = sorted(
        set(link_stages(links).values())
        | {host_stage(s.get("hardware"), links, s.get("stage"), h) for h, s in hosts.items()}
    )
    rows = []
    for number in stages:
        new_links = [lk["name"] for lk in links_in_stage(links, number) if int(lk["stage"]) == number]
        new_hosts = [
            h for h, s in sorted(hosts.items()) if host_stage(s.get("hardware"), links, s.get("stage"), h) == number
        ]
        row = {"stage": number, "links": new_links, "hosts": new_hosts}
        if policies:
            row["policy"] = stage_policy(policies, number)
        rows.append(row)
    return rows


def validate_rollout(site: dict, stage=None, policies=None) -> list[str]:
    """Every problem of the rollout model: soc_stage, each host's stage, the data policies."""
    errors = []
    try:
        requested_stage(stage)
    except RolloutError as exc:
        errors.append(str(exc))
    links = site.get("links") or []
    try:
        link_stages(links)
    except RolloutError:
        return errors  # validate_site names the bad link
    for name, spec in sorted((site.get("hosts") or {}).items()):
        try:
            host_stage(spec.get("hardware"), links, spec.get("stage"), name)
        except RolloutError as exc:
            errors.append(str(exc))
    if policies is not None:
        try:
            stage_policy(policies, None)
        except RolloutError as exc:
            errors.append(str(exc))
    return errors


def _setting(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def report_section(site: dict, stage=None, policies=None) -> str:
    """The plan report's rollout section (Markdown): this plan's stage, what each stage brings up,
    and the personal data, retention and access settings in force from each stage on."""
    try:
        rows = stage_table(site, policies)
        stage = requested_stage(stage)
        in_scope = hosts_in_stage(site.get("hosts") or {}, site.get("links") or [], stage)
        links = [lk["name"] for lk in links_in_stage(site.get("links") or [], stage)]
    except RolloutError as exc:
        return f"\n## Rollout stages\n\n- ERROR: {exc}\n"
    hosts = sorted(site.get("hosts") or {})
    out = ["", "## Rollout stages", ""]
    if stage is None:
        out.append(f"This plan covers every stage ({len(hosts)} hosts, links {', '.join(links)}).")
    else:
        later = [h for h in hosts if h not in in_scope]
        out.append(
            f"This plan is for **stage {stage}** (`-e soc_stage={stage}`): links {', '.join(links)}; "
            f"{len(in_scope)} of {len(hosts)} hosts. Left untouched until a later stage: "
            f"{', '.join(later) if later else 'none'}."
        )
    out += ["", "| stage | links it adds | hosts it brings up |", "|---:|---|---|"]
    for row in rows:
        out.append(f"| {row['stage']} | {', '.join(row['links']) or '-'} | {', '.join(row['hosts']) or '-'} |")
    if policies:
        out += ["", "### Personal data, retention and access per stage", ""]
        names = list((rows[0]["policy"]["retention"] or {}).keys()) + list((rows[0]["policy"]["access"] or {}).keys())
        out.append("| setting | " + " | ".join(f"stage {r['stage']}" for r in rows) + " |")
        out.append("|---|" + "---|" * len(rows))
        out.append(
            "| personal data held | " + " | ".join(r["policy"]["personal_data"].replace("|", "/") for r in rows) + " |"
        )
        for name in names:
            kind = "retention" if name in rows[0]["policy"]["retention"] else "access"
            cells = []
            for r in rows:
                value = _setting(r["policy"][kind][name])
                this = next((c["changed"] for c in r["policy"]["changes"] if c["stage"] == r["stage"]), {})
                changed = f"{kind}.{name}" in this
                cells.append(f"**{value}**" if changed else value)
            out.append(f"| {kind}: {name} | " + " | ".join(cells) + " |")
        if stage is not None:
            current = stage_policy(policies, stage)
            out += ["", f"In force for this plan (stage {stage}): **{current['name']}**."]
    return "\n".join(out) + "\n"
