"""Fixtures of the real-Zeek tier: ``zeek`` is a :class:`tests.zeek_runtime.ZeekBuild`, parametrized
over the 7.x (Broker) and 8.x (ZeroMQ) lines; it fails when ../shared has a build that cannot run and
skips (saying so) only when ../shared is absent."""

import pytest

from tests.zeek_runtime import require_zeek, zeek_build_params


@pytest.fixture(scope="session", params=zeek_build_params())
def zeek(request):
    return require_zeek(request.param)
