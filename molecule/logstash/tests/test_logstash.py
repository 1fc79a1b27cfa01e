"""Verify the rendered Logstash configuration (Logstash itself cannot be installed in this environment).

The pipeline files are parsed with the Logstash config grammar (sections of plugins of settings;
strings, numbers, arrays, hashes, barewords, comments), then checked for what the site needs.
"""

import re

import yaml

testinfra_hosts = ["podman://logstash-shipper1"]

LOGS = ["conn", "dns", "notice"]
TOKEN = re.compile(
    r'\s*(?:(?P<comment>#[^\n]*)|(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<arrow>=>)|'
    r"(?P<punct>[{}\[\],])|(?P<word>[A-Za-z0-9_.@:+-]+))"
)


def tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        assert m, f"unexpected character at {pos}: {text[pos : pos + 40]!r}"
        pos = m.end()
        if not m.group("comment"):
            out.append(m.group(0).strip())
    return out


def parse_value(toks, i):
    tok = toks[i]
    if tok == "[":
        items, i = [], i + 1
        while toks[i] != "]":
            value, i = parse_value(toks, i)
            items.append(value)
            if toks[i] == ",":
                i += 1
        return items, i + 1
    if tok == "{":
        return parse_settings(toks, i + 1)
    if tok[0] in "\"'":
        return tok[1:-1], i + 1
    return tok, i + 1


def parse_settings(toks, i):
    """Inside a plugin: name => value ... up to the closing brace."""
    settings = {}
    while toks[i] != "}":
        name, arrow = toks[i], toks[i + 1]
        assert arrow == "=>", f"expected => after {name!r}, got {arrow!r}"
        settings[name.strip("\"'")], i = parse_value(toks, i + 2)
    return settings, i + 1


def parse_config(text):
    """{section: [(plugin, settings), ...]} for input/filter/output."""
    toks, i, config = tokens(text), 0, {}
    while i < len(toks):
        section = toks[i]
        assert section in ("input", "filter", "output") and toks[i + 1] == "{", f"bad section {section!r}"
        i, plugins = i + 2, []
        while toks[i] != "}":
            plugin = toks[i]
            assert toks[i + 1] == "{", f"plugin {plugin!r} must be followed by a block"
            settings, i = parse_settings(toks, i + 2)
            plugins.append((plugin, settings))
        config[section] = plugins
        i += 1
    return config


def test_pipelines_yml(host):
    f = host.file("/etc/logstash/pipelines.yml")
    assert f.mode == 0o640 and f.group == "logstash"
    pipelines = {p["pipeline.id"]: p for p in yaml.safe_load(f.content_string)}
    assert set(pipelines) == {f"zeek-{log}" for log in LOGS}
    for log in LOGS:
        p = pipelines[f"zeek-{log}"]
        assert p["path.config"] == f"/etc/logstash/conf.d/zeek-{log}.conf"
        assert p["queue.type"] == "persisted" and p["dead_letter_queue.enable"] is True
        assert host.file(p["path.config"]).exists
    assert pipelines["zeek-conn"]["pipeline.workers"] == 4 and pipelines["zeek-dns"]["pipeline.workers"] == 2


def test_logstash_yml_layers(host):
    settings = yaml.safe_load(host.file("/etc/logstash/logstash.yml").content_string)
    assert settings["queue.type"] == "persisted"
    assert settings["queue.max_bytes"] == "8gb"  # host layer over the default
    assert settings["dead_letter_queue.enable"] is True
    assert settings["api.http.host"] == "127.0.0.1"
    assert settings["pipeline.ecs_compatibility"] == "disabled"


def test_jvm_heap(host):
    lines = host.file("/etc/logstash/jvm.options").content_string.splitlines()
    assert "-Xms1024m" in lines and "-Xmx1024m" in lines


def test_pipeline_files_parse_and_do_what_the_site_needs(host):
    for log in LOGS:
        f = host.file(f"/etc/logstash/conf.d/zeek-{log}.conf")
        assert f.mode == 0o640 and f.group == "logstash"
        text = f.content_string
        assert "molecule-" not in text, "a secret leaked into a pipeline file"
        config = parse_config(text)
        ((kind, kafka),) = config["input"]
        assert kind == "kafka"
        assert kafka["topics"] == [f"zeek-{log}"] and kafka["codec"] == "json"
        assert kafka["bootstrap_servers"] == "kafka1:9092,kafka2:9092"
        assert kafka["security_protocol"] == "SASL_SSL" and kafka["ssl_truststore_type"] == "PEM"
        assert "password=${LOGSTASH_KAFKA_JAAS_PASSWORD};" in kafka["sasl_jaas_config"]
        filters = dict(config["filter"])
        assert filters["date"]["match"] == ["ts", "UNIX", "ISO8601"] and filters["date"]["target"] == "@timestamp"
        assert filters["fingerprint"]["target"] == "[@metadata][doc_id]"
        ((kind, out),) = config["output"]
        assert kind == "opensearch"
        assert out["index"] == f"zeek-{log}-%{{+YYYY.MM.dd}}"
        assert out["document_id"] == "%{[@metadata][doc_id]}" and out["action"] == "index"
        assert out["hosts"] == ["https://os1:9200", "https://os2:9200"]
        assert out["cacert"] == "/etc/ssl/socforge/ca.pem" and out["ssl_certificate_verification"] == "true"
        assert out["password"] == "${LOGSTASH_OPENSEARCH_PASSWORD}"  # noqa: S105 -- a reference, not a secret
        assert out["manage_template"] == "false"


def test_secrets_only_in_the_root_env_file(host):
    env = host.file("/etc/logstash/socforge-secrets.env")
    assert env.mode == 0o600 and env.user == "root"
    # systemd itself reads the file: the service gets the passwords exactly (quotes, $, backslash)
    seen = host.check_output(
        "systemd-run --wait --pipe --quiet -p EnvironmentFile=/etc/logstash/socforge-secrets.env "
        '/bin/sh -c \'printf "%s\\n%s" "$LOGSTASH_OPENSEARCH_PASSWORD" "$LOGSTASH_KAFKA_JAAS_PASSWORD"\''
    ).split("\n")
    assert seen == ["molecule-logstash-Pw-1\"q'$HOME\\z", "'molecule-kafka-Pw-1\\'q\"$x\\\\y'"]
    dropin = host.file("/etc/systemd/system/logstash.service.d/socforge.conf").content_string
    assert "EnvironmentFile=/etc/logstash/socforge-secrets.env" in dropin
