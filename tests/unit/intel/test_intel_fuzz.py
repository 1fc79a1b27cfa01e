"""Hypothesis fuzzing: hostile attribute values and event metadata never produce a line Zeek would
misread. ``test_fuzz_no_corrupt_line_slow`` runs >= 100k examples (``make fuzz``, marked slow);
``test_fuzz_no_corrupt_line`` is the small variant in the default run."""

import string

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel import events as ev
from ansible_collections.socforge.core.plugins.module_utils.intel import writer
from ansible_collections.socforge.core.plugins.module_utils.intel.filters import IntelFilter
from ansible_collections.socforge.core.plugins.module_utils.intel.mapping import MAPPING
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zeek_reader import check_line, read_intel

HOSTILE_CHARS = "\t\n\r\x00\x0b\x0c\x1b\x1c\x7f\x85\xa0\u2028\u2029\ufeff\\#|-()[]:/.@ %"
hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(HOSTILE_CHARS),
        st.characters(codec="utf-8"),
        st.characters(),  # includes lone surrogates
        st.sampled_from(string.ascii_letters + string.digits),
    ),
    max_size=80,
)
near_valid = st.one_of(
    st.ip_addresses().map(str),
    st.builds(lambda ip, p: f"{ip}/{p}", st.ip_addresses().map(str), st.integers(-1, 200)),
    st.builds(lambda a, b: f"{a}|{b}", hostile_text, st.ip_addresses().map(str)),
    st.builds(lambda s, h, p: f"{s}{h}{p}", st.sampled_from(["hxxps://", "hxxp[:]//", "https://", "", "HTTP://"]),
              st.from_regex(r"[a-zA-Z0-9\-\[\]\.]{1,30}", fullmatch=True), hostile_text),
    st.builds(lambda a, b: f"{a}@{b}", hostile_text, st.from_regex(r"[a-z0-9\.\[\]-]{1,20}", fullmatch=True)),
    st.builds(lambda n, h: f"{n}|{h}", hostile_text, st.text(alphabet="0123456789abcdefABCDEF:", max_size=70)),
    st.sampled_from(["-", "(empty)", "#fields", " ", "", "\\x09", "a\\", "xn--", "Bücher.example", "::1%eth0"]),
)  # fmt: skip
value = st.one_of(hostile_text, near_valid, st.integers(), st.none(), st.lists(st.text(), max_size=2))
attribute = st.fixed_dictionaries(
    {
        "type": st.one_of(st.sampled_from(sorted(MAPPING)), st.text(max_size=10)),
        "value": value,
        "to_ids": st.one_of(st.booleans(), st.sampled_from(["0", "1", 0, 1])),
        "Tag": st.lists(st.fixed_dictionaries({"name": hostile_text}), max_size=2),
    }
)
event = st.fixed_dictionaries(
    {
        "uuid": st.one_of(st.uuids().map(str), hostile_text.filter(bool)),
        "info": st.one_of(hostile_text, st.none(), st.integers()),
        "published": st.just(True),
        "timestamp": st.one_of(st.integers(0, 2**33), st.text(max_size=5)),
        "Orgc": st.fixed_dictionaries({"name": st.one_of(hostile_text, st.none())}),
        "Attribute": st.lists(attribute, max_size=8),
        "Object": st.lists(st.fixed_dictionaries({"Attribute": st.lists(attribute, max_size=3)}), max_size=2),
    }
)
opts = st.builds(
    ev.MetaOptions,
    instance=hostile_text,
    event_url_base=st.one_of(st.just(""), hostile_text),
    do_notice=st.booleans(),
)


def export_text(events, options):
    """The exporter's exact pipeline (map, pick winners, render) into a string."""
    stats = ev.MapStats()
    flt = IntelFilter(to_ids_only=False)
    best = {}
    for e in events:
        rec = ev.map_event({"Event": e}, flt, options, stats)
        if rec is None or not rec.selected:
            continue
        for k in rec.keys:
            if k not in best or rec.suffix < best[k]:
                best[k] = rec.suffix
    return "".join(writer.render_chunks(writer.winners_to_lines(best))), best, stats


def check(events, options):
    text, best, stats = export_text(events, options)
    rows = read_intel(text)  # raises on any line Zeek would misread
    assert len(rows) == len(best)
    for row in rows:
        check_line("\t".join(row))
    # the file is valid UTF-8 and every removals line derived from it is well-formed too
    text.encode("utf-8")
    for line in writer.winners_to_lines(best):
        rem = writer.removal_line(line)
        assert rem.count("\t") == 2 and rem.endswith("\n") and "\n" not in rem[:-1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=3), opts)
def test_fuzz_no_corrupt_line(events, options):
    check(events, options)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(event, min_size=1, max_size=3), opts)
def test_fuzz_no_corrupt_line_slow(events, options):
    check(events, options)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=3))
def test_fuzz_through_the_atomic_writer(tmp_path, events):
    text, best, _ = export_text(events, ev.MetaOptions())
    dest = tmp_path / "fuzz.intel"
    writer.atomic_write(dest, writer.render_chunks(writer.winners_to_lines(best)))
    assert dest.read_bytes() == text.encode("utf-8")
    ok, lines, _ = writer.read_lines(dest)
    assert ok and lines == writer.winners_to_lines(best)
