"""Connection options shared by the socforge.core kafka_* modules that use confluent-kafka's AdminClient."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - confluent-kafka (Debian python3-confluent-kafka) on the host that runs the module
options:
  bootstrap_servers:
    description: Brokers to ask, C(host:port[,host:port]).
    type: str
    required: true
  client_config:
    description:
      - Extra librdkafka settings for the admin connection, for example C(security.protocol),
        C(ssl.ca.location), C(sasl.mechanism), C(sasl.username).
      - Keep the password out of here; use O(sasl_password).
    type: dict
    default: {}
  sasl_password:
    description: SASL password for the admin connection. Keep it in Ansible Vault.
    type: str
"""
