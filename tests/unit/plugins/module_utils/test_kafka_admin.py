"""The AdminClient settings the kafka_* modules build from their connection options."""

from ansible_collections.socforge.core.plugins.module_utils.kafka_admin import admin_settings, connection_argument_spec


def test_settings_carry_client_config_as_strings_and_the_bootstrap_servers():
    params = {
        "bootstrap_servers": "k1:9093,k2:9093",
        "client_config": {"security.protocol": "sasl_ssl", "socket.timeout.ms": 2000},
        "sasl_password": None,
    }
    assert admin_settings(params) == {
        "security.protocol": "sasl_ssl",
        "socket.timeout.ms": "2000",
        "bootstrap.servers": "k1:9093,k2:9093",
    }


def test_password_is_added_only_when_given_and_bootstrap_option_wins():
    params = {
        "bootstrap_servers": "k1:9093",
        "client_config": {"bootstrap.servers": "elsewhere:1"},
        "sasl_password": "s3cret",
    }
    settings = admin_settings(params)
    assert settings["bootstrap.servers"] == "k1:9093"
    assert settings["sasl.password"] == "s3cret"


def test_password_option_is_no_log():
    spec = connection_argument_spec()
    assert spec["sasl_password"]["no_log"] is True
    assert spec["bootstrap_servers"]["required"] is True
