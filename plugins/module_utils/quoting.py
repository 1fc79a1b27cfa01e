"""Quoting of secrets for the files the roles write them into, so that any password works - one with
a quote, a backslash, a ``$`` or spaces included. Each function names the syntax it targets and is
checked against the real parser (systemd, Kafka's JaasConfig, java.util.Properties, curl) by
``tests/integration/test_secret_quoting.py``; Zeek's string literals by the real Zeek
(``tests/integration/zeek/test_zeek_kafka_login.py``).
"""

from __future__ import annotations


class QuotingError(ValueError):
    """A value that the target syntax cannot carry (a line break, a NUL)."""


def _one_line(value, what: str) -> str:
    if not isinstance(value, str):
        raise QuotingError(f"{what}: expected a string, got {type(value).__name__}")
    for bad, name in (("\n", "a line break"), ("\r", "a carriage return"), ("\0", "a NUL byte")):
        if bad in value:
            raise QuotingError(f"{what}: the value contains {name}, which this file format cannot carry")
    return value


def systemd_env_quote(value) -> str:
    """A double-quoted value for a systemd ``EnvironmentFile=`` line (``KEY=<this>``): backslash,
    double quote, ``$`` and backquote escaped (systemd takes them literally after a backslash and does
    no variable expansion in environment files)."""
    value = _one_line(value, "systemd environment value")
    out = []
    for char in value:
        if char in '\\"$`':
            out.append("\\")
        out.append(char)
    return '"' + "".join(out) + '"'


def jaas_quote(value, quote: str = '"') -> str:
    """A quoted JAAS option value (``password=<this>``), as Kafka's JaasConfig (a Java StreamTokenizer)
    reads it: backslash and the quote character escaped, inside that quote character."""
    if quote not in ('"', "'"):
        raise QuotingError(f"jaas_quote: the quote character must be \" or ', got {quote!r}")
    value = _one_line(value, "JAAS option value")
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def java_properties_escape(value) -> str:
    """A value for a ``key=<this>`` line of a Java properties file (java.util.Properties.load):
    backslashes doubled and leading whitespace escaped, so the value reads back unchanged."""
    value = _one_line(value, "Java properties value")
    escaped = value.replace("\\", "\\\\")
    stripped = escaped.lstrip(" \t\f")
    leading = escaped[: len(escaped) - len(stripped)]
    return "".join("\\" + c for c in leading) + stripped


def curl_config_quote(value) -> str:
    """A double-quoted value for a curl ``--config`` file (``user = <this>``): backslash and double
    quote escaped."""
    value = _one_line(value, "curl config value")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def zeek_string_quote(value) -> str:
    """A Zeek script string literal (``"..."``): backslash and double quote escaped; bytes outside
    printable ASCII (UTF-8 of anything beyond it, tabs and other controls) as ``\\xNN``, which Zeek reads
    as exactly that byte (two hex digits, never more). ``$``, ``%`` and the rest are literal in Zeek."""
    value = _one_line(value, "Zeek string value")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        raise QuotingError(f"Zeek string value: not encodable as UTF-8 ({exc.reason})") from exc
    out = []
    for byte in data:
        char = chr(byte)
        if char in '\\"':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'
