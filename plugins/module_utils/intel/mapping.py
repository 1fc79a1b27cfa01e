"""MISP attribute type -> Zeek ``Intel::Type`` mapping.

Parity with MISP's own Zeek export (``app/Lib/Export/BroExport.php``, MISP @ bb0909a3): the same
MISP types map to the same Zeek types, composite attributes export each part MISP exports
(``domain|ip`` -> DOMAIN + ADDR, ``filename|<hash>``/``malware-sample`` -> FILE_NAME + FILE_HASH,
``ip-*|port`` -> ADDR of the IP only), ``ip-*`` holding a CIDR becomes SUBNET and URLs lose their
``http(s)://`` scheme. Beyond MISP: ``ssh-fingerprint`` -> PUBKEY_HASH and ``target-user`` ->
USER_NAME, which Zeek's intel ``seen`` scripts can match.
"""

from ansible_collections.socforge.core.plugins.module_utils.intel import normalize as n

# misp type -> tuple of (part, zeek type, hash kind) where part is 0 (whole value), 1 (left of the
# last "|") or 2 (right of it). hash kind is the MISP hash type used to validate FILE_HASH parts.
_FILENAME_HASHES = (
    "md5",
    "sha1",
    "sha256",
    "authentihash",
    "ssdeep",
    "imphash",
    "pehash",
    "impfuzzy",
    "sha224",
    "sha384",
    "sha512",
    "sha512/224",
    "sha512/256",
    "tlsh",
)

MAPPING = {
    "ip-dst": ((0, n.ADDR, ""),),
    "ip-src": ((0, n.ADDR, ""),),
    "ip-dst|port": ((1, n.ADDR, ""),),
    "ip-src|port": ((1, n.ADDR, ""),),
    "email-src": ((0, n.EMAIL, ""),),
    "email-dst": ((0, n.EMAIL, ""),),
    "target-email": ((0, n.EMAIL, ""),),
    "email-attachment": ((0, n.FILE_NAME, ""),),
    "filename": ((0, n.FILE_NAME, ""),),
    "pdb": ((0, n.FILE_NAME, ""),),
    "hostname": ((0, n.DOMAIN, ""),),
    "domain": ((0, n.DOMAIN, ""),),
    "domain|ip": ((1, n.DOMAIN, ""), (2, n.ADDR, "")),
    "url": ((0, n.URL, ""),),
    "user-agent": ((0, n.SOFTWARE, ""),),
    "x509-fingerprint-sha1": ((0, n.CERT_HASH, "x509-fingerprint-sha1"),),
    "malware-sample": ((1, n.FILE_NAME, ""), (2, n.FILE_HASH, "md5")),
    # beyond MISP's export
    "ssh-fingerprint": ((0, n.PUBKEY_HASH, ""),),
    "target-user": ((0, n.USER_NAME, ""),),
}
for _h in _FILENAME_HASHES:
    MAPPING[_h] = ((0, n.FILE_HASH, _h),)
    MAPPING["filename|" + _h] = ((1, n.FILE_NAME, ""), (2, n.FILE_HASH, _h))
del _h

# the MISP types MISP's own BroExport maps (for the parity test and the docs)
MISP_BROEXPORT_TYPES = frozenset(MAPPING) - {"ssh-fingerprint", "target-user"}


def map_attribute(misp_type, value, max_length=n.DEFAULT_MAX_LENGTH):
    """Map one MISP attribute.

    Returns ``(indicators, rejections)``: a list of ``(value, zeek_type)`` and a list of reasons.
    Returns ``None`` when the MISP type is not mapped at all (the caller counts it as skipped).
    """
    spec = MAPPING.get(misp_type)
    if spec is None:
        return None
    if not isinstance(value, str):
        return [], [n.R_ENCODING]
    out = []
    rejected = []
    if spec[0][0]:
        left, bar, right = value.rpartition("|")
        if not bar:
            return out, [n.R_COMPOSITE]
        parts = (None, left, right)
    else:
        parts = (value,)
    for part, zeek_type, hash_kind in spec:
        raw = parts[part]
        if zeek_type is n.ADDR and "/" in raw:
            zeek_type = n.SUBNET
        val, reason = n.normalise(zeek_type, raw, hash_kind, max_length)
        if reason is None:
            out.append((val, zeek_type))
        else:
            rejected.append(reason)
    return out, rejected
