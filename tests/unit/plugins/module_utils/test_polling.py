"""Validation of the shared timeout/interval polling options."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.polling import polling_argument_spec, polling_problem


def test_defaults_are_usable():
    defaults = {name: spec["default"] for name, spec in polling_argument_spec().items()}
    assert defaults == {"timeout": 180, "interval": 2}
    assert polling_problem(defaults) is None


def test_zero_timeout_means_read_once_and_is_allowed():
    assert polling_problem({"timeout": 0, "interval": 1}) is None


@pytest.mark.parametrize(
    ("params", "named"),
    [({"timeout": -1, "interval": 2}, "timeout"), ({"timeout": 10, "interval": 0}, "interval")],
)
def test_bad_values_are_named(params, named):
    assert polling_problem(params).startswith(f"{named} must be")
