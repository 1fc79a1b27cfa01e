"""The bridge daemon at DEBUG never logs pymisp's request headers (the MISP API key): pymisp logs
them at DEBUG, which the lab's trace at DEBUG showed in the journal."""

import importlib.machinery
import importlib.util
import logging
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[3] / "roles/intel_bridge/files/usr/local/bin/socforge-intel-bridge"


def load_daemon():
    loader = importlib.machinery.SourceFileLoader("socforge_intel_bridge_daemon", str(DAEMON))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_debug_level_keeps_the_api_key_out_of_the_log(caplog):
    daemon = load_daemon()
    root = logging.getLogger()
    saved = root.level, {n: logging.getLogger(n).level for n in daemon.SECRET_BEARING_LOGGERS}
    try:
        daemon.configure_logging("DEBUG")
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("socforge-intel-bridge").debug("sent batch 1: 1 inserts, 0 removes")
            # what pymisp logs before each request (pymisp/api.py: logger.debug of the headers)
            logging.getLogger("pymisp").debug("{'Authorization': 'SECRET-MISP-KEY'}")
            logging.getLogger("urllib3.connectionpool").debug("POST /events/restSearch")
        text = caplog.text
        assert "sent batch 1" in text  # the bridge's own DEBUG lines stay
        assert "SECRET-MISP-KEY" not in text
        assert "restSearch" not in text
    finally:
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)
