"""An independent model of how Zeek's ASCII input reader reads an Intel file, for the tests.

Written from Zeek's reader rules (``#fields`` header; TAB separator; LF-terminated lines; ``-`` is
unset, ``(empty)`` the empty field; lines starting with ``#`` are comments; ``\\xHH`` unescaped in
strings), with per-type checks done by the standard library (``ipaddress``), not by the code under
test. ``read_intel`` raises ``AssertionError`` on the first line Zeek would misread.
"""

import ipaddress
import re

FIELDS = ["indicator", "indicator_type", "meta.source", "meta.desc", "meta.url", "meta.do_notice", "meta.if_in"]
TYPES = {
    "Intel::ADDR",
    "Intel::SUBNET",
    "Intel::URL",
    "Intel::SOFTWARE",
    "Intel::EMAIL",
    "Intel::DOMAIN",
    "Intel::USER_NAME",
    "Intel::CERT_HASH",
    "Intel::PUBKEY_HASH",
    "Intel::FILE_HASH",
    "Intel::FILE_NAME",
}
_CTRL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HEX = re.compile(r"\\x([0-9a-fA-F]{2})")


def unescape(value):
    return _HEX.sub(lambda m: chr(int(m.group(1), 16)), value)


def check_line(line, lineno=0):
    assert "\n" not in line and "\r" not in line, f"line {lineno}: embedded line break"
    assert not line.startswith("#"), f"line {lineno}: data line would be read as a comment: {line!r}"
    fields = line.split("\t")
    assert len(fields) == len(FIELDS), f"line {lineno}: {len(fields)} fields: {line!r}"
    for f in fields:
        assert f, f"line {lineno}: empty field: {line!r}"
        assert not _CTRL.search(f), f"line {lineno}: control character: {line!r}"
        assert f == f.strip(), f"line {lineno}: surrounding whitespace: {line!r}"
    ind, typ, src, desc, url, notice, if_in = fields
    assert ind not in ("-", "(empty)"), f"line {lineno}: indicator is a reserved marker: {line!r}"
    assert typ in TYPES, f"line {lineno}: unknown type {typ!r}"
    assert notice in ("T", "F"), f"line {lineno}: do_notice {notice!r}"
    value = unescape(ind)
    if typ == "Intel::ADDR":
        assert str(ipaddress.ip_address(value)) == value, f"line {lineno}: non-canonical address {value!r}"
    elif typ == "Intel::SUBNET":
        assert str(ipaddress.ip_network(value, strict=True)) == value, f"line {lineno}: bad subnet {value!r}"
    elif typ == "Intel::DOMAIN":
        assert value == value.lower() and value.isascii() and " " not in value, f"line {lineno}: domain {value!r}"
    elif typ == "Intel::URL":
        assert not value.lower().startswith(("http://", "https://")), f"line {lineno}: URL keeps its scheme"
    return fields


def read_intel(text):
    """Parse a whole intel file; returns the list of field lists."""
    assert text.endswith("\n"), "file does not end with a newline"
    lines = text.split("\n")[:-1]
    assert lines[0] == "#fields\t" + "\t".join(FIELDS), f"bad header {lines[0]!r}"
    rows = [check_line(line, n) for n, line in enumerate(lines[1:], 2)]
    data = lines[1:]
    assert data == sorted(data), "lines are not sorted"
    keys = [tuple(r[:2]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate indicator+type"
    return rows
