"""pytest fixtures for the MISP test double (registered by ``pytest_plugins`` in tests/conftest.py).

Fixtures
--------
``misp_double``
    Function-scoped, plain HTTP on 127.0.0.1 (free port), fresh data for every test: the PyMISP/MISP
    test events and the Infoblox MISP feed from ../shared/data (JSON parsed once per session, then
    copied).  Stopped at teardown.
``misp_double_tls``
    The same over HTTPS with a throw-away CA; ``.ca_path`` is the CA bundle a client must trust.
``misp_double_factory``
    For tests that need something else, e.g. ``misp_double_factory(datasets=("pymisp",), tls=True,
    tls_mode="expired", tls_names=("misp.lab",), now=1700000000, openapi="strict", log_limit=None,
    keep_responses=True)`` (``tls_mode``: valid | expired | wrong_host; ``datasets``: any of "pymisp",
    "infoblox").  Every double it made is stopped at teardown; with ``openapi="strict"`` the test fails
    at teardown if any request or response broke MISP's OpenAPI
    spec (see tests/misp_double/openapi.py; checking costs under 1 ms per attribute served).

Interface of a double (class ``tests.misp_double.MispDouble``)
--------------------------------------------------------------
- ``.url`` (``http(s)://127.0.0.1:<port>``), ``.key`` (the API key: ``Authorization`` header; a missing
  or wrong key gets 403), ``.ca_path`` (TLS only), ``.port``, ``.data`` (live dataset).
- ``.requests``: list of ``RequestRecord(method, path, query, body, headers, authorized, status, fault,
  duration, response)``; ``.requests_to(path_regex, method=None)``; ``.clear_requests()``.
- Data, with MISP's edit semantics (an edit sets the attribute's and the event's ``timestamp`` to now
  and unpublishes the event; ``publish_event`` sets ``publish_timestamp``):
  ``add_event(event_json, published=None)``, ``replace_event(event_json, bump=True)``,
  ``delete_event(ref)``, ``add_attribute(event, type, value, to_ids=True, category=None, tags=(),
  comment="", object_id=None)``, ``edit_attribute(ref, **fields)``, ``set_to_ids(ref, flag)``,
  ``soft_delete_attribute(ref)``, ``set_tags(ref, tags, on="auto"|"event"|"attribute")``,
  ``add_tag``/``remove_tag``, ``publish_event(ref)``, ``unpublish_event(ref)``,
  ``add_warninglist(name, values, list_type="string"|"hostname"|"cidr")``, ``add_server(name, url)``.
  Inspect with ``event(ref)``, ``attribute(ref)``, ``attributes(event=None, include_deleted=False)``,
  ``sightings``, ``proposals``.  ``ref`` is an id or a uuid.
- Clock: ``now``, ``set_time(epoch | None)``, ``advance(seconds)``.
- ``.errors``: tracebacks of bugs in the double itself (answered with 500); the fixtures fail the test
  at teardown when there are any, so a bug in the double never passes for an injected "MISP down".
- Faults (``path`` is a regex on the request path; ``count`` None = until ``clear_faults()``):
  ``fail(status=500, count=None, path=None)``, ``hang(seconds=None, ...)`` (None: never answers),
  ``garbage(...)`` (200 with an HTML page), ``truncate(...)`` (half a JSON body, then close),
  ``stop()`` / ``start()`` (connection refused in between; same port).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .server import MispDouble


@pytest.fixture
def misp_double_factory() -> Iterator[Any]:
    made: list[MispDouble] = []

    def make(**kwargs: Any) -> MispDouble:
        double = MispDouble(**kwargs).start()
        made.append(double)
        return double

    yield make
    for double in made:
        double.stop()
    for double in made:
        if double.errors:
            pytest.fail("MISP double: internal error(s) while serving the test:\n" + "\n".join(double.errors))
        if double.openapi_mode == "strict" and double.openapi.violations:
            pytest.fail("MISP double: traffic does not match MISP's OpenAPI spec:\n" + double.openapi.report())


@pytest.fixture
def misp_double(misp_double_factory: Any) -> MispDouble:
    return misp_double_factory()


@pytest.fixture
def misp_double_tls(misp_double_factory: Any) -> MispDouble:
    return misp_double_factory(tls=True)
