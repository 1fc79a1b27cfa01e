"""MispRestSource logic with a scripted pymisp stand-in: windows, paging, retries, errors."""

import ssl

import pytest
from ansible_collections.socforge.core.plugins.module_utils.intel.sources import MispRestSource, SourceError


class FakeMisp:
    """Answers ``search(controller="events", timestamp=[lo, hi], limit, page)`` like MISP."""

    def __init__(self, timestamps, script=()):
        self.events = [{"Event": {"uuid": f"e{i}", "timestamp": str(ts)}} for i, ts in enumerate(timestamps)]
        self.calls = []
        self.script = list(script)  # exceptions or answers served before the real ones

    def search(self, controller, return_format, limit, page, pythonify, **query):
        self.calls.append((query, page))
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        bound = query.get("timestamp", query.get("publish_timestamp"))
        lo, hi = bound if isinstance(bound, list) else (bound, 1 << 62)
        hits = [e for e in self.events if lo <= int(e["Event"]["timestamp"]) <= hi]
        return hits[(page - 1) * limit : page * limit]


def source(fake, **kw):
    kw.setdefault("retries", 0)
    return MispRestSource("https://misp.example", "k", client=fake, now=lambda: 2_000_000_000, **kw)


def test_full_walk_returns_every_event_once_with_shallow_pages():
    stamps = [1_500_000_000 + i * 3600 for i in range(40)] + [1_600_000_000] * 5  # 5 share one second
    fake = FakeMisp(stamps)
    src = source(fake, page_limit=2, window=86400)
    got = [e["Event"]["uuid"] for e in src.fetch({}, None)]
    assert sorted(got) == sorted(f"e{i}" for i in range(45)) and len(got) == 45
    deep = [(q, p) for q, p in fake.calls if p > 1]
    assert deep and all(q["timestamp"][0] == q["timestamp"][1] == 1_600_000_000 for q, _ in deep)
    assert src.sync_point == 1_600_000_000


def test_incremental_asks_timestamp_and_publish_timestamp():
    fake = FakeMisp([1_900_000_000])
    src = source(fake)
    assert [e["Event"]["uuid"] for e in src.fetch({}, 1_899_999_000)] == ["e0"]
    fields = [sorted(set(q) & {"timestamp", "publish_timestamp"}) for q, _ in fake.calls]
    assert fields == [["timestamp"], ["publish_timestamp"]]
    assert all(q["published"] is True for q, _ in fake.calls)  # published events only
    assert fake.calls[0][0]["timestamp"] == 1_899_999_000 - 120  # overlap


def test_transient_errors_are_retried_with_backoff():
    sleeps = []
    fake = FakeMisp([1_900_000_000], script=[ConnectionError("refused"), TimeoutError("slow")])
    src = source(fake, retries=3, backoff=0.5, sleep=sleeps.append)
    assert len(list(src.fetch({}, 1_899_999_999))) == 1
    assert sleeps == [0.5, 1.0]


def test_retries_exhausted_is_a_clear_error():
    fake = FakeMisp([], script=[ConnectionError("refused")] * 3)
    src = source(fake, retries=2, backoff=0, sleep=lambda s: None)
    with pytest.raises(SourceError, match=r"cannot connect to MISP at https://misp.example: refused"):
        list(src.fetch({}, 1))


def test_http_4xx_is_not_retried():
    fake = FakeMisp([], script=[{"errors": (403, {"message": "Authentication failed"})}])
    src = source(fake, retries=5, sleep=lambda s: pytest.fail("must not retry"))
    with pytest.raises(SourceError, match="refused the search .HTTP 403"):
        list(src.fetch({}, 1))


def test_tls_errors_are_not_retried():
    fake = FakeMisp([], script=[ssl.SSLCertVerificationError("certificate verify failed")])
    src = source(fake, retries=5, sleep=lambda s: pytest.fail("must not retry"))
    with pytest.raises(SourceError, match="TLS error talking to MISP"):
        list(src.fetch({}, 1))


def test_not_a_list_is_an_error():
    fake = FakeMisp([], script=[{"something": "else"}])
    with pytest.raises(SourceError, match="not a list of events"):
        list(source(fake).fetch({}, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "misp.example"}, "not an http"),
        ({"key": ""}, "misp_key is empty"),
        ({"ca_path": "/nonexistent/ca.pem"}, "does not exist"),
    ],
)
def test_bad_settings(kwargs, message):
    args = {"url": "https://misp.example", "key": "k", **kwargs}
    with pytest.raises(SourceError, match=message):
        MispRestSource(args.pop("url"), args.pop("key"), **args)
