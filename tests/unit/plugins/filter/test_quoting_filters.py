"""The quoting filters (module_utils/quoting.py) refuse what their file formats cannot carry, naming
the format; the real parsers' round trips are in tests/integration/test_secret_quoting.py."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.socforge.core.plugins.filter.quoting import FilterModule

FILTERS = FilterModule().filters()


@pytest.mark.parametrize("name", sorted(FILTERS))
@pytest.mark.parametrize("bad", ["two\nlines", "cr\rhere", "nul\0byte"])
def test_line_breaks_and_nul_are_refused(name, bad):
    with pytest.raises(AnsibleFilterError, match=name):
        FILTERS[name](bad)


def test_exact_forms():
    assert FILTERS["systemd_env_quote"]('a"b$c\\d`e') == '"a\\"b\\$c\\\\d\\`e"'
    assert FILTERS["jaas_quote"]("it's") == '"it\'s"'
    assert FILTERS["jaas_quote"]("it's", "'") == "'it\\'s'"
    assert FILTERS["java_properties_escape"]("  a\\b ") == "\\ \\ a\\\\b "
    assert FILTERS["curl_config_quote"]('u:p"\\') == '"u:p\\"\\\\"'
    # Zeek: \\ and \" escaped, $ and % literal, the UTF-8 of a non-ASCII character and a tab as \\xNN
    assert FILTERS["zeek_string_quote"]('a"b\\c$d%s\tä') == '"a\\"b\\\\c$d%s\\x09\\xc3\\xa4"'
    with pytest.raises(AnsibleFilterError, match="zeek_string_quote.*UTF-8"):
        FILTERS["zeek_string_quote"]("lone \udc80 surrogate")
    with pytest.raises(AnsibleFilterError, match="quote character"):
        FILTERS["jaas_quote"]("x", "`")
