#!/usr/bin/python
"""Validate a SOCForge site model and write the site plan (Markdown report + Graphviz topology)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: soc_site_plan
short_description: Validate a SOC site inventory and write its plan
version_added: 0.1.0
description:
  - Validates the site model built from the inventory (networks, border links, hosts and groups)
    with C(netaddr) - subnets valid and non-overlapping, addresses inside their subnets and unique,
    VLAN ids unique, admin and IPMI networks separate and IPMI never routed, every link assigned a
    deployment stage, Zeek workers with declared hardware, every required group non-empty.
  - Checks the staged rollout (C(soc_host_stage) of the hosts, O(data_policies) per stage, O(stage)).
  - With O(dest), writes C(report.md) (with the rollout stages, the hosts each brings up and the
    personal data, retention and access of each), C(topology.dot) and C(topology.svg) (Graphviz
    C(dot) - the whole SOC, what stage O(stage) brings up solid, later stages grey and dashed) there,
    atomically; files whose content is unchanged are left alone.
  - Fails listing every problem found, each naming the host or variable and what is wrong.
author: SOCForge team
options:
  site:
    description:
      - The site model - C(name), C(networks) (C(soc_networks)), C(links) (C(soc_links)),
        C(hosts) (from the C(socforge.core.soc_site_hosts) filter) and C(groups).
    type: dict
    required: true
  stage:
    description:
      - The rollout stage this plan is for (C(-e soc_stage=N)); omitted, every stage.
    type: int
  data_policies:
    description:
      - The site's C(soc_data_policies) - per stage, the personal data held, retention and access
        settings (see the C(socforge.core.soc_stage_policy) filter). Omitted, the report has no policy columns.
    type: list
    elements: dict
  required_groups:
    description: Inventory groups that must each hold at least one host.
    type: list
    elements: str
    default: [tap_aggregators, zeek_managers, zeek_loggers, zeek_proxies, zeek_workers, misp_hubs, kafka_brokers, opensearch_nodes, log_shippers]
  dest:
    description: Plan directory to write; created when missing. Without it the module only validates.
    type: path
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - netaddr
  - graphviz (the C(dot) program) when O(dest) is set
"""

EXAMPLES = r"""
- name: Validate the inventory and write the plan
  socforge.core.soc_site_plan:
    site:
      name: "{{ soc_site_name }}"
      networks: "{{ soc_networks }}"
      links: "{{ soc_links }}"
      hosts: "{{ hostvars | socforge.core.soc_site_hosts(groups) }}"
      groups: "{{ groups }}"
    dest: "{{ soc_plan_dir }}"
"""

RETURN = r"""
errors:
  description: Every validation error (the module fails when there is one).
  returned: always
  type: list
  elements: str
warnings_found:
  description:
    - Problems that do not stop a rollout (for example a link no worker captures).
    - Each is also reported as an Ansible warning (C(warnings) is Ansible's own result key, hence this name).
  returned: always
  type: list
  elements: str
files:
  description: Files in O(dest) that were (or in check mode would be) written.
  returned: when O(dest) is set
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.socforge.core.plugins.module_utils import site_model, soc_diagram, soc_rollout
from ansible_collections.socforge.core.plugins.module_utils.atomic_file import read_or_none, write_atomic


def main():
    module = AnsibleModule(
        argument_spec={
            "site": {"type": "dict", "required": True},
            "required_groups": {"type": "list", "elements": "str", "default": list(site_model.DEFAULT_REQUIRED_GROUPS)},
            "dest": {"type": "path"},
            "stage": {"type": "int"},
            "data_policies": {"type": "list", "elements": "dict"},
        },
        supports_check_mode=True,
    )
    site = module.params["site"]
    report = site_model.validate_site(site, module.params["required_groups"])
    stage, policies = module.params["stage"], module.params["data_policies"]
    report.errors.extend(soc_rollout.validate_rollout(site, stage, policies))
    result = {"changed": False, "errors": report.errors, "warnings_found": report.warnings}
    for warning in report.warnings:
        module.warn(warning)

    dest = module.params["dest"]
    if dest:
        dot_bin = module.get_bin_path("dot", required=True)
        dot_text = soc_diagram.topology_dot(site, stage if not report.errors else None)
        rc, svg, err = module.run_command([dot_bin, "-Tsvg"], data=dot_text, binary_data=True)
        if rc != 0 or not site_model.svg_is_well_formed(svg):
            module.fail_json(msg=f"graphviz could not render the topology: {err.strip()}", **result)
        outputs = {
            "report.md": site_model.plan_report(site, report)
            + soc_rollout.report_section(site, stage, policies if not report.errors else None),
            "topology.dot": dot_text,
            "topology.svg": svg,
        }
        written = []
        for name, text in outputs.items():
            path = os.path.join(dest, name)
            if read_or_none(path) != text.encode("utf-8"):
                written.append(path)
                if not module.check_mode:
                    os.makedirs(dest, exist_ok=True)
                    write_atomic(path, text, mode=0o644)
        result.update(changed=bool(written), files=written)

    if report.errors:
        module.fail_json(msg="The site inventory is not valid:\n- " + "\n- ".join(report.errors), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
