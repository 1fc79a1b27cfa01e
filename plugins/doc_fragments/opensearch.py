"""Connection options shared by the socforge.core opensearch_* modules."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  hosts:
    description:
      - OpenSearch HTTP endpoints, as C(https://host:port) URLs (all http or all https).
      - Credentials are refused over plain C(http://).
    type: list
    elements: str
    default: ["https://127.0.0.1:9200"]
  username:
    description: HTTP basic-auth user (an OpenSearch security plugin internal user).
    type: str
  password:
    description: Password of O(username). Keep it in Ansible Vault.
    type: str
  ca_path:
    description: PEM file of the CA that signed the cluster's HTTP certificate (the site CA).
    type: path
  client_cert:
    description: PEM client certificate, for certificate authentication (for example the security admin certificate).
    type: path
  client_key:
    description: PEM private key of O(client_cert).
    type: path
  validate_certs:
    description: Verify the server certificate. Only switch off in throw-away labs.
    type: bool
    default: true
  request_timeout:
    description: Seconds to wait for each HTTP request.
    type: int
    default: 30
requirements:
  - opensearch-py >= 2.4
"""
