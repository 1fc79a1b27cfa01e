"""Connection settings shared by the socforge.core kafka_* modules that use confluent-kafka's AdminClient.

Plain Python (no Ansible imports): the argument spec that matches the ``socforge.core.kafka`` doc
fragment, and the librdkafka settings built from a module's parameters.
"""

from __future__ import annotations


def connection_argument_spec() -> dict:
    """Options of the ``socforge.core.kafka`` doc fragment, as an Ansible argument spec."""
    return {
        "bootstrap_servers": {"type": "str", "required": True},
        "client_config": {"type": "dict", "default": {}},
        "sasl_password": {"type": "str", "no_log": True},
    }


def admin_settings(params: dict) -> dict:
    """librdkafka settings for an AdminClient: ``client_config`` (values as strings, as librdkafka
    wants them), the bootstrap servers and, when given, the SASL password."""
    settings = {str(k): str(v) for k, v in (params.get("client_config") or {}).items()}
    settings["bootstrap.servers"] = params["bootstrap_servers"]
    if params.get("sasl_password"):
        settings["sasl.password"] = params["sasl_password"]
    return settings
