"""Normalisation (trim, re-fang, IDNA, canonical IPs) and every rejection reason."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import normalize as n
from ansible_collections.socforge.core.plugins.module_utils.intel.mapping import map_attribute


@pytest.mark.parametrize(
    ("zeek_type", "raw", "expected"),
    [
        (n.DOMAIN, "  evil.example \t", "evil.example"),
        (n.DOMAIN, "evil[.]example", "evil.example"),
        (n.DOMAIN, "EVIL.Example.", "evil.example"),
        (n.URL, "hxxps://evil[.]example/a", "evil.example/a"),
        (n.URL, "hXXp://evil.example:8080/a", "evil.example:8080/a"),
        (n.URL, "hxxp[:]//evil.example/", "evil.example/"),
        (n.URL, "https://[2001:DB8::1]/x", "[2001:db8::1]/x"),
        (n.ADDR, "192.0.2[.]1", "192.0.2.1"),
        (n.ADDR, "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        (n.ADDR, "2001:DB8::A", "2001:db8::a"),
        (n.SUBNET, "2001:db8::1/64", "2001:db8::/64"),
        (n.EMAIL, "x@evil[.]example", "x@evil.example"),
        (n.FILE_NAME, " a b.exe ", "a b.exe"),
    ],
)
def test_normalise(zeek_type, raw, expected):
    assert n.normalise(zeek_type, raw) == (expected, None)


# One case (at least) per rejection reason, through the public mapping entry point.
REJECTIONS = [
    ("domain", "   ", n.R_EMPTY),
    ("filename", "", n.R_EMPTY),
    ("filename", "a\tb", n.R_CONTROL),
    ("filename", "a\nb", n.R_CONTROL),
    ("filename", "a\rb", n.R_CONTROL),
    ("filename", "a\x00b", n.R_CONTROL),
    ("user-agent", "Mozilla\x1b[31m", n.R_CONTROL),
    ("user-agent", "x\x85y", n.R_CONTROL),
    ("user-agent", "x\u2028y", n.R_CONTROL),
    ("filename", "a" * 3000, n.R_TOO_LONG),
    ("filename", "-", n.R_RESERVED),
    ("filename", "(empty)", n.R_RESERVED),
    ("filename", "#fields", n.R_RESERVED),
    ("filename", "bad\ud800surrogate", n.R_ENCODING),
    ("filename", 42, n.R_ENCODING),
    ("ip-dst", "256.1.1.1", n.R_IP),
    ("ip-dst", "1.2.3", n.R_IP),  # inet_aton would accept this; Zeek's reader does not
    ("ip-dst", "010.1.1.1", n.R_IP),
    ("ip-dst", "fe80::1%eth0", n.R_IP),
    ("ip-dst", "example.org", n.R_IP),
    ("ip-dst", "10.0.0.0/33", n.R_CIDR),
    ("ip-dst", "10.0.0.0/", n.R_CIDR),
    ("ip-dst", "10.0.0.0/x", n.R_CIDR),
    ("domain", "localhost", n.R_DOMAIN),
    ("domain", "bad domain.example", n.R_DOMAIN),
    ("domain", "-bad.example", n.R_DOMAIN),
    ("domain", "a..example", n.R_DOMAIN),
    ("domain", "x" * 64 + ".example", n.R_DOMAIN),
    ("url", "https://", n.R_URL),
    ("url", "https://evil.example/a b", n.R_URL),
    ("url", "https://evil.example:http/", n.R_URL),
    ("email-src", "no-at-sign.example", n.R_EMAIL),
    ("email-src", "@evil.example", n.R_EMAIL),
    ("email-src", "a@bad_domain", n.R_EMAIL),
    ("md5", "xyz", n.R_HASH),
    ("sha256", "e3b0c442", n.R_HASH),
    ("x509-fingerprint-sha1", "zz" * 20, n.R_HASH),
    ("ssdeep", "3:a b:c", n.R_HASH),
    ("ssh-fingerprint", "SHA256:abcdef", n.R_PUBKEY),
    ("filename|md5", "no-bar", n.R_COMPOSITE),
]


def test_every_reason_is_covered():
    assert {reason for _, _, reason in REJECTIONS} == set(n.REASONS)


@pytest.mark.parametrize(("misp_type", "value", "reason"), REJECTIONS)
def test_rejection(misp_type, value, reason):
    found, rejected = map_attribute(misp_type, value)
    assert found == []
    assert rejected == [reason]


def test_max_length_is_configurable():
    assert map_attribute("filename", "a" * 50, max_length=49) == ([], [n.R_TOO_LONG])
    assert map_attribute("filename", "a" * 49, max_length=49) == ([("a" * 49, n.FILE_NAME)], [])
