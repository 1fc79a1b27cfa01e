"""Filters turning what a tier reports into status checks for playbooks/status.yml
(plugins/module_utils/soc_status.py). Each filter is documented in plugins/filter/<filter name>.yml."""

from __future__ import annotations

from ansible_collections.socforge.core.plugins.module_utils import soc_status


def soc_status_zeekctl(text, host, node_cfg=""):
    return soc_status.zeekctl_status_checks(text, host, soc_status.node_cfg_sections(node_cfg))


def soc_status_capture_loss(lines, host, warn_pct=0.1, fail_pct=1.0):
    return soc_status.capture_loss_checks(lines, host, float(warn_pct), float(fail_pct))


def soc_status_kafka_lag(text, host, warn_lag=10_000, fail_lag=1_000_000):
    return soc_status.kafka_lag_checks(text, host, int(warn_lag), int(fail_lag))


class FilterModule:
    def filters(self):
        return {
            "soc_status_zeekctl": soc_status_zeekctl,
            "soc_status_capture_loss": soc_status_capture_loss,
            "soc_status_kafka_lag": soc_status_kafka_lag,
        }
