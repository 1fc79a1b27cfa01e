"""Shared documentation of the MISP connection options (see module_utils/misp.py for the spec)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  misp_url:
    description:
      - Base URL of the MISP instance, for example C(https://misp.example.org).
    type: str
  misp_key:
    description:
      - MISP automation (API) key. Keep it in Ansible Vault.
    type: str
  validate_certs:
    description:
      - Verify the MISP server's TLS certificate.
      - Only set to C(false) in a lab; prefer O(ca_path) for a private CA.
    type: bool
    default: true
  ca_path:
    description:
      - PEM CA bundle used to verify the MISP server (for a site-internal CA).
    type: path
  timeout:
    description:
      - Seconds to wait for MISP to answer one request.
    type: int
    default: 60
  retries:
    description:
      - How many times a failed request (connection error, timeout, HTTP 5xx) is retried, with
        exponential backoff (2, 4, 8 ... seconds). HTTP 4xx and TLS errors are not retried.
    type: int
    default: 3
  retry_backoff:
    description:
      - First backoff delay in seconds; it doubles after every retry.
    type: float
    default: 2.0
"""
