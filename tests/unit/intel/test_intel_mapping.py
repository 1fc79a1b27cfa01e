"""Every row of the MISP type -> Zeek Intel::Type mapping, and parity with MISP's BroExport."""

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import normalize as n
from ansible_collections.socforge.core.plugins.module_utils.intel.mapping import (
    MAPPING,
    MISP_BROEXPORT_TYPES,
    map_attribute,
)

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA224 = "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA384 = "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
SHA512 = (
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)
SSDEEP = "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"
TLSH = "T1A0B12345"
FP_COLONS = "7b:e5:6f:a7:f4:f9:81:62:5c:e3:1f:bf:8b:57:6c:5a"

# MISP type -> (MISP value, expected [(indicator, Intel type)]). One row per mapped type.
ROWS = {
    "ip-dst": ("198.51.100.7", [("198.51.100.7", n.ADDR)]),
    "ip-src": ("2001:DB8:0:0::1", [("2001:db8::1", n.ADDR)]),
    "ip-dst|port": ("198.51.100.7|8443", [("198.51.100.7", n.ADDR)]),
    "ip-src|port": ("2001:db8::2|22", [("2001:db8::2", n.ADDR)]),
    "email-src": ("Phish@Example.ORG", [("phish@example.org", n.EMAIL)]),  # lower-cased as MISP stores it
    "email-dst": ("victim@example.org", [("victim@example.org", n.EMAIL)]),
    "target-email": ("ceo@example.org", [("ceo@example.org", n.EMAIL)]),
    "email-attachment": ("invoice.pdf.exe", [("invoice.pdf.exe", n.FILE_NAME)]),
    "filename": ("evil.dll", [("evil.dll", n.FILE_NAME)]),
    "pdb": ("C:\\build\\x.pdb", [("C:\\build\\x.pdb", n.FILE_NAME)]),
    "hostname": ("C2.Example.COM.", [("c2.example.com", n.DOMAIN)]),
    "domain": ("bad.example", [("bad.example", n.DOMAIN)]),
    "domain|ip": ("bad.example|203.0.113.9", [("bad.example", n.DOMAIN), ("203.0.113.9", n.ADDR)]),
    "url": ("https://bad.example/x?y=1", [("bad.example/x?y=1", n.URL)]),
    "user-agent": ("TeslaBrowser/5.5", [("TeslaBrowser/5.5", n.SOFTWARE)]),
    "x509-fingerprint-sha1": (SHA1.upper(), [(SHA1, n.CERT_HASH)]),
    "malware-sample": ("a.exe|" + MD5, [("a.exe", n.FILE_NAME), (MD5, n.FILE_HASH)]),
    "ssh-fingerprint": (
        "7B:E5:6F:A7:F4:F9:81:62:5C:E3:1F:BF:8B:57:6C:5A",
        [("7b:e5:6f:a7:f4:f9:81:62:5c:e3:1f:bf:8b:57:6c:5a", n.PUBKEY_HASH)],
    ),
    "target-user": ("svc-backup", [("svc-backup", n.USER_NAME)]),
    "md5": (MD5, [(MD5, n.FILE_HASH)]),
    "sha1": (SHA1, [(SHA1, n.FILE_HASH)]),
    "sha224": (SHA224, [(SHA224, n.FILE_HASH)]),
    "sha256": (SHA256, [(SHA256, n.FILE_HASH)]),
    "sha384": (SHA384, [(SHA384, n.FILE_HASH)]),
    "sha512": (SHA512, [(SHA512, n.FILE_HASH)]),
    "sha512/224": (SHA224, [(SHA224, n.FILE_HASH)]),
    "sha512/256": (SHA256, [(SHA256, n.FILE_HASH)]),
    "imphash": (MD5, [(MD5, n.FILE_HASH)]),
    "authentihash": (SHA256, [(SHA256, n.FILE_HASH)]),
    "ssdeep": (SSDEEP, [(SSDEEP.lower(), n.FILE_HASH)]),
    "pehash": (SHA1, [(SHA1, n.FILE_HASH)]),
    "impfuzzy": ("48:x+y:z", [("48:x+y:z", n.FILE_HASH)]),
    "tlsh": (TLSH, [(TLSH.lower(), n.FILE_HASH)]),
}
_HASH_SAMPLE = {
    "md5": MD5,
    "sha1": SHA1,
    "sha224": SHA224,
    "sha256": SHA256,
    "sha384": SHA384,
    "sha512": SHA512,
    "sha512/224": SHA224,
    "sha512/256": SHA256,
    "imphash": MD5,
    "authentihash": SHA256,
    "ssdeep": SSDEEP,
    "pehash": SHA1,
    "impfuzzy": "48:x+y:z",
    "tlsh": TLSH,
}
for _h, _v in _HASH_SAMPLE.items():
    ROWS["filename|" + _h] = ("dropper.exe|" + _v, [("dropper.exe", n.FILE_NAME), (_v.lower(), n.FILE_HASH)])


def test_every_mapping_row_has_a_test():
    assert set(ROWS) == set(MAPPING)


@pytest.mark.parametrize("misp_type", sorted(ROWS))
def test_mapping_row(misp_type):
    value, expected = ROWS[misp_type]
    found, rejected = map_attribute(misp_type, value)
    assert rejected == []
    assert found == expected


# MISP's BroExport.php ($mapping) at MISP @ bb0909a3, the types it exports (checked by hand).
BROEXPORT = {
    "ip-dst", "ip-src", "ip-dst|port", "ip-src|port", "email-src", "email-dst", "target-email",
    "email-attachment", "filename", "hostname", "domain", "domain|ip", "url", "user-agent", "md5",
    "malware-sample", "filename|md5", "sha1", "filename|sha1", "sha256", "filename|sha256",
    "x509-fingerprint-sha1", "pdb", "authentihash", "ssdeep", "imphash", "pehash", "impfuzzy",
    "sha224", "sha384", "sha512", "sha512/224", "sha512/256", "tlsh", "filename|authentihash",
    "filename|ssdeep", "filename|imphash", "filename|pehash", "filename|impfuzzy", "filename|sha224",
    "filename|sha384", "filename|sha512", "filename|sha512/224", "filename|sha512/256", "filename|tlsh",
}  # fmt: skip


def test_parity_with_misp_broexport():
    assert MISP_BROEXPORT_TYPES == BROEXPORT
    assert set(MAPPING) - BROEXPORT == {"ssh-fingerprint", "target-user"}


@pytest.mark.parametrize(
    ("misp_type", "value", "expected"),
    [
        ("ip-dst", "10.1.2.3/8", [("10.0.0.0/8", n.SUBNET)]),  # CIDR -> SUBNET, host bits cleared
        ("ip-src", "2001:db8::/32", [("2001:db8::/32", n.SUBNET)]),
        ("ip-dst|port", "192.0.2.0/24|53", [("192.0.2.0/24", n.SUBNET)]),
        ("url", "HTTP://Bad.Example/Path", [("bad.example/Path", n.URL)]),  # host lower, path kept
        ("domain", "xn--bcher-kva.example", [("xn--bcher-kva.example", n.DOMAIN)]),
        ("domain", "Bücher.example", [("xn--bcher-kva.example", n.DOMAIN)]),  # IDNA
        ("email-src", "a@Bücher.example", [("a@xn--bcher-kva.example", n.EMAIL)]),
        ("ip-dst", "::ffff:192.0.2.1", [("192.0.2.1", n.ADDR)]),  # Zeek: the same addr as 192.0.2.1
        ("ip-dst", "::1:0", [("::1:0", n.ADDR)]),  # not the deprecated "::0.1.0.0" (found by the fuzzer)
        ("ip-dst", "2001:db8:0:0:1:0:0:1", [("2001:db8::1:0:0:1", n.ADDR)]),  # RFC 5952: first longest run
        ("ssh-fingerprint", "7be56fa7f4f981625ce31fbf8b576c5a", [(FP_COLONS, n.PUBKEY_HASH)]),
    ],
)  # fmt: skip
def test_mapping_variants(misp_type, value, expected):
    assert map_attribute(misp_type, value) == (expected, [])


def test_non_http_url_is_rejected():
    # Zeek matches URL intel against HTTP host+URI only; MISP would write "ftp://..." verbatim, which can
    # never match, so the export counts it as invalid instead.
    assert map_attribute("url", "ftp://bad.example/x") == ([], [n.R_URL])


def test_composite_keeps_the_valid_part():
    found, rejected = map_attribute("domain|ip", "bad.example|999.1.1.1")
    assert found == [("bad.example", n.DOMAIN)]
    assert rejected == [n.R_IP]


@pytest.mark.parametrize("misp_type", ["regkey", "vulnerability", "text", "ja3-fingerprint-md5", "comment", "AS"])
def test_unmapped_types_return_none(misp_type):
    assert map_attribute(misp_type, "anything") is None
