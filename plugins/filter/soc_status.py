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


def soc_status_kafka_health(result, host, expected_brokers):
    return soc_status.kafka_health_checks(result, host, int(expected_brokers))


def soc_status_misp_workers(workers, host):
    return soc_status.misp_worker_checks(workers, host)


def soc_status_misp_sync(servers, logs, host, now, max_age_seconds=86400, holds_links=True):
    return soc_status.misp_sync_checks(servers, logs, host, float(now), int(max_age_seconds), bool(holds_links))


def soc_status_aggregator_ports(links, host, ports=None):
    return soc_status.aggregator_port_checks(links, host, ports)


def soc_status_opensearch(health, newest, host, now, stale_seconds=900, quiet_logs=None):
    return soc_status.opensearch_checks(health, newest, host, float(now), int(stale_seconds), tuple(quiet_logs or ()))


class FilterModule:
    def filters(self):
        return {
            "soc_status_zeekctl": soc_status_zeekctl,
            "soc_status_capture_loss": soc_status_capture_loss,
            "soc_status_kafka_lag": soc_status_kafka_lag,
            "soc_status_kafka_health": soc_status_kafka_health,
            "soc_status_misp_workers": soc_status_misp_workers,
            "soc_status_misp_sync": soc_status_misp_sync,
            "soc_status_aggregator_ports": soc_status_aggregator_ports,
            "soc_status_opensearch": soc_status_opensearch,
        }
