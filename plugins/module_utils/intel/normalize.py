"""Normalise and validate indicator values for Zeek's Intel framework.

Every value that reaches the writer goes through :func:`normalise`. It either returns the
canonical value or a rejection *reason* (a short, stable string the callers count). The rule
is simple: the writer must never emit a line Zeek's ASCII input reader would misread.
"""

import ipaddress
import re
import unicodedata

import netaddr

# Zeek Intel::Type names used by this library.
ADDR = "Intel::ADDR"
SUBNET = "Intel::SUBNET"
URL = "Intel::URL"
SOFTWARE = "Intel::SOFTWARE"
EMAIL = "Intel::EMAIL"
DOMAIN = "Intel::DOMAIN"
USER_NAME = "Intel::USER_NAME"
CERT_HASH = "Intel::CERT_HASH"
PUBKEY_HASH = "Intel::PUBKEY_HASH"
FILE_HASH = "Intel::FILE_HASH"
FILE_NAME = "Intel::FILE_NAME"

ZEEK_TYPES = frozenset(
    (ADDR, SUBNET, URL, SOFTWARE, EMAIL, DOMAIN, USER_NAME, CERT_HASH, PUBKEY_HASH, FILE_HASH, FILE_NAME)
)

# Rejection reasons (stable identifiers, reported by the module and the CLI).
R_EMPTY = "empty"
R_CONTROL = "control_character"
R_TOO_LONG = "too_long"
R_RESERVED = "reserved_value"
R_ENCODING = "invalid_encoding"
R_IP = "invalid_ip"
R_CIDR = "invalid_cidr"
R_DOMAIN = "invalid_domain"
R_URL = "invalid_url"
R_EMAIL = "invalid_email"
R_HASH = "invalid_hash"
R_PUBKEY = "invalid_pubkey_hash"
R_COMPOSITE = "invalid_composite"

REASONS = (
    R_EMPTY,
    R_CONTROL,
    R_TOO_LONG,
    R_RESERVED,
    R_ENCODING,
    R_IP,
    R_CIDR,
    R_DOMAIN,
    R_URL,
    R_EMAIL,
    R_HASH,
    R_PUBKEY,
    R_COMPOSITE,
)

DEFAULT_MAX_LENGTH = 2048
# "-" is Zeek's unset marker and "(empty)" its empty-field marker; a leading "#" makes a line a
# comment/header line for the ASCII reader.
RESERVED_VALUES = frozenset(("-", "(empty)"))

# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators. TAB, CR, LF and NUL
# are in C0. Zeek splits on TAB and LF; the rest would corrupt the log lines Zeek writes later.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
# Unicode whitespace that str.strip() removes but a TSV reader would keep inside a field.
_INNER_SPACE_RE = re.compile(r"\s")
_REFANG = (
    (re.compile(r"^hxxps://", re.IGNORECASE), "https://"),
    (re.compile(r"^hxxp://", re.IGNORECASE), "http://"),
    (re.compile(r"^hxxp(s?)\[:\]//", re.IGNORECASE), r"http\1://"),
)
_SCHEME_RE = re.compile(r"^https?://", re.IGNORECASE)
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_ASCII_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)+[a-z0-9-]{1,63}$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
    "sha512/224": 56,
    "sha512/256": 64,
    "x509-fingerprint-sha1": 40,
    "imphash": 32,
}


def refang(value):
    """Undo the usual defanging: ``hxxp(s)://``, ``[.]``, ``[:]``."""
    if "[" in value:
        value = value.replace("[.]", ".").replace("[:]", ":")
    if value[:4].lower() == "hxxp":
        for pattern, repl in _REFANG:
            value = pattern.sub(repl, value, count=1)
    return value


def check_text(value, max_length=DEFAULT_MAX_LENGTH):
    """Checks every field value must pass. Returns a reason string or ``None``."""
    if not value:
        return R_EMPTY
    if len(value) > max_length:
        return R_TOO_LONG
    if _CONTROL_RE.search(value):
        return R_CONTROL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return R_ENCODING
    return None


def canonical_ip(value):
    """Canonical text of one IPv4/IPv6 address (strict inet_pton parsing), or ``None``."""
    if "%" in value:  # IPv6 zone ids never appear on the wire Zeek sees
        return None
    try:
        ip = netaddr.IPAddress(value, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if ip.version == 4:
        return str(ip)
    if ip.is_ipv4_mapped():
        return str(ip.ipv4())  # Zeek stores IPv4 as v4-mapped IPv6: the same addr, shown as IPv4
    # RFC 5952 text (netaddr/inet_ntop would print "::1:0" as the deprecated "::0.1.0.0")
    return str(ipaddress.IPv6Address(int(ip)))


def canonical_cidr(value):
    """Canonical network text of ``addr/prefix`` (host bits cleared), or ``None``."""
    addr, _, prefix = value.partition("/")
    ip = canonical_ip(addr)
    if ip is None or not prefix.isascii() or not prefix.isdigit() or len(prefix) > 3:
        return None
    try:
        net = netaddr.IPNetwork(f"{ip}/{int(prefix)}").cidr
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if net.version == 6:
        return f"{ipaddress.IPv6Address(int(net.network))}/{net.prefixlen}"
    return str(net)


def canonical_domain(value):
    """Lower-case, IDNA (UTS 46) encoded domain name without trailing dot, or ``None``."""
    value = value.rstrip(".")
    if value.isascii():
        value = value.lower()
        if _ASCII_DOMAIN_RE.match(value):
            return value
        # a single-label name (e.g. "localhost") is a valid MISP hostname but never useful intel
        return None
    try:
        import idna  # requests depends on it; imported lazily because it is only needed for IDNs

        encoded = idna.encode(value, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return encoded if _ASCII_DOMAIN_RE.match(encoded) else None


def canonical_url(value):
    """Zeek URL indicator: scheme stripped (as MISP's export does), host lower-cased."""
    value = _SCHEME_RE.sub("", value, count=1)
    if not value or value[0] == "/" or _INNER_SPACE_RE.search(value):
        return None
    host, sep, rest = value.partition("/")
    hostname, colon, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if colon and not port.isdigit():
        return None
    name = hostname if colon else host
    if name.startswith("["):
        ip = canonical_ip(name[1:-1]) if name.endswith("]") else None
        if ip is None:
            return None
        name = f"[{ip}]"
    elif not name.isascii():
        name = canonical_domain(name)
        if name is None:
            return None
    else:
        name = name.lower()
    return name + (":" + port if colon else "") + sep + rest


def canonical_email(value):
    local, at, domain = value.rpartition("@")
    if not at or not local or _INNER_SPACE_RE.search(value):
        return None
    dom = canonical_domain(domain)
    if dom is None:
        ip = canonical_ip(domain.strip("[]"))
        if ip is None:
            return None
        dom = f"[{ip}]"
    # MISP lower-cases e-mail attributes on import (local part included: checked on MISP 2.5.1)
    return f"{local.lower()}@{dom}"


def canonical_hash(value, misp_type):
    value = value.lower()
    want = _HASH_LENGTHS.get(misp_type)
    if want is None:  # fuzzy hashes (ssdeep, tlsh, impfuzzy, pehash, authentihash): format-free
        return None if _INNER_SPACE_RE.search(value) else value
    if len(value) != want or not _HEX_RE.match(value):
        return None
    return value


def canonical_pubkey_hash(value):
    """ssh-fingerprint (MD5, with or without colons) as Zeek logs it: ``xx:xx:...`` lower-case."""
    raw = value.lower().replace(":", "")
    if raw.startswith("md5"):
        raw = raw[3:]
    if len(raw) != 32 or not _HEX_RE.match(raw):
        return None
    return ":".join(raw[i : i + 2] for i in range(0, 32, 2))


def normalise(zeek_type, value, misp_type="", max_length=DEFAULT_MAX_LENGTH):
    """Return ``(canonical_value, None)`` or ``(None, reason)`` for one indicator value."""
    if not isinstance(value, str):
        return None, R_ENCODING
    value = value.strip()
    if not value:
        return None, R_EMPTY
    value = unicodedata.normalize("NFC", value) if not value.isascii() else value
    value = refang(value)
    reason = check_text(value, max_length)
    if reason is not None:
        return None, reason
    if value in RESERVED_VALUES or value[0] == "#":
        return None, R_RESERVED
    if zeek_type == ADDR:
        out = canonical_ip(value)
        return (out, None) if out else (None, R_IP)
    if zeek_type == SUBNET:
        out = canonical_cidr(value)
        return (out, None) if out else (None, R_CIDR)
    if zeek_type == DOMAIN:
        out = canonical_domain(value)
        return (out, None) if out else (None, R_DOMAIN)
    if zeek_type == URL:
        out = canonical_url(value)
        return (out, None) if out else (None, R_URL)
    if zeek_type == EMAIL:
        out = canonical_email(value)
        return (out, None) if out else (None, R_EMAIL)
    if zeek_type in (FILE_HASH, CERT_HASH):
        out = canonical_hash(value, misp_type)
        return (out, None) if out else (None, R_HASH)
    if zeek_type == PUBKEY_HASH:
        out = canonical_pubkey_hash(value)
        return (out, None) if out else (None, R_PUBKEY)
    # FILE_NAME, SOFTWARE, USER_NAME: free text, only the generic checks apply.
    return value, None
