"""MISP config.php vs wanted settings: only real differences, typed like setSetting, secrets hidden."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.filter.misp_config import FilterModule
from ansible_collections.socforge.core.plugins.module_utils import misp_config

CURRENT = {
    "debug": 0,
    "MISP": {"baseurl": "https://misp.example.org", "live": True, "org": "ORGNAME"},
    "Security": {"salt": "a" * 48, "password_policy_length": 12},
    "Plugin": {"ZeroMQ_enable": False, "ZeroMQ_port": 50000},
    "SimpleBackgroundJobs": {"supervisor_password": ""},
}


def test_unchanged_settings_are_not_returned():
    wanted = {
        "MISP.baseurl": "https://misp.example.org",
        "MISP.live": True,
        "debug": 0,
        "Plugin.ZeroMQ_port": "50000",
        "Plugin.ZeroMQ_enable": False,
    }
    assert misp_config.changes(CURRENT, wanted) == []


def test_changes_keep_order_and_use_setsetting_values():
    wanted = {
        "Plugin.ZeroMQ_enable": True,
        "MISP.org": "STFC",
        "Security.password_policy_length": 16,
        "MISP.python_bin": "/var/www/MISP/venv/bin/python",
    }
    got = misp_config.changes(CURRENT, wanted)
    assert [(c["name"], c["value"], c["before"]) for c in got] == [
        ("Plugin.ZeroMQ_enable", "true", "false"),
        ("MISP.org", "STFC", "ORGNAME"),
        ("Security.password_policy_length", "16", "12"),
        ("MISP.python_bin", "/var/www/MISP/venv/bin/python", None),
    ]
    assert not any(c["secret"] for c in got)
    assert [c["json"] for c in got] == ["true", '"STFC"', "16", '"/var/www/MISP/venv/bin/python"']
    assert got[0]["show"] == "Plugin.ZeroMQ_enable: false -> true"
    assert got[0]["request"] == {"name": "Plugin.ZeroMQ_enable", "value": "true", "force": False}


def test_forced_settings_are_marked():
    got = misp_config.changes(CURRENT, {"MISP.disable_emailing": True, "MISP.org": "X"}, ["MISP.disable_emailing"])
    assert [c["request"]["force"] for c in got] == [True, False]


def test_booleans_rendered_as_text_compare_as_booleans():
    assert misp_config.changes(CURRENT, {"MISP.live": "True", "Plugin.ZeroMQ_enable": "False"}) == []
    got = misp_config.changes(CURRENT, {"Plugin.ZeroMQ_supervisor_managed": "True"})
    assert (got[0]["value"], got[0]["json"]) == ("true", "true")


def test_secrets_are_flagged_and_their_old_value_hidden():
    got = misp_config.changes(CURRENT, {"Security.salt": "b" * 48, "SimpleBackgroundJobs.supervisor_password": "pw-1"})
    assert [(c["name"], c["before"], c["secret"]) for c in got] == [
        ("Security.salt", "(set)", True),
        ("SimpleBackgroundJobs.supervisor_password", "", True),
    ]
    assert got[0]["value"] == "b" * 48
    assert [c["show"] for c in got] == [
        "Security.salt: (set) -> (secret)",
        "SimpleBackgroundJobs.supervisor_password:  -> (secret)",
    ]


def test_no_config_yet_means_everything_changes():
    got = misp_config.changes(None, {"MISP.baseurl": "https://x", "MISP.live": True})
    assert [c["before"] for c in got] == [None, None]


def test_bad_names_and_values_fail_naming_the_setting():
    with pytest.raises(misp_config.MispConfigError, match="'baseurl' is not a MISP setting name"):
        misp_config.changes(CURRENT, {"baseurl": "x"})
    with pytest.raises(misp_config.MispConfigError, match="MISP.org: list values cannot be set"):
        misp_config.changes(CURRENT, {"MISP.org": ["a"]})
    with pytest.raises(misp_config.MispConfigError, match="Security.auth: is a group of settings"):
        misp_config.changes({"Security": {"auth": {"a": 1}}}, {"Security.auth": "x"})


def test_filter_wraps_errors():
    f = FilterModule().filters()["misp_setting_changes"]
    assert f(CURRENT, {"MISP.org": "ORGNAME"}) == []
    assert f(CURRENT, {"MISP.org": "X"}, ["MISP.org"])[0]["request"]["force"] is True
    with pytest.raises(AnsibleFilterError, match="misp_setting_changes: 'x' is not"):
        f(CURRENT, {"x": 1})
