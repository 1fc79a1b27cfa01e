"""SOCForge's MISP test double: a small HTTP(S) server speaking the parts of MISP's REST API the project
uses, loaded with real MISP events.  See docs/misp-test-double.md and tests/misp_double/fixtures.py."""

from .data import DATASETS, SHARED_DATA, Dataset, fresh_dataset, load_event_file
from .server import MISP_VERSION, Fault, MispDouble, RequestRecord

__all__ = [
    "DATASETS",
    "MISP_VERSION",
    "SHARED_DATA",
    "Dataset",
    "Fault",
    "MispDouble",
    "RequestRecord",
    "fresh_dataset",
    "load_event_file",
]
