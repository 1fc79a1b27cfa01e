"""Polling options shared by the socforge.core modules that wait for a cluster state."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  timeout:
    description: Seconds to keep polling; C(0) reads once and fails if a condition does not hold.
    type: int
    default: 180
  interval:
    description: Seconds between two polls.
    type: int
    default: 2
"""
