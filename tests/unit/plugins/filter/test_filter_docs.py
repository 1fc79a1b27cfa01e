"""Every filter the collection exports has its own documentation, as community.general does: a
plugins/filter/<name>.yml page, or the DOCUMENTATION of a plugin file that exports that one filter
only. `ansible-doc -t filter socforge.core.<name>` shows that filter's page, not a sibling's, and its
documented options are the filter function's parameters, in positional order."""

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
FILTER_DIR = REPO / "plugins" / "filter"


def _exported():
    out, files = {}, {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        if path.stem == "__init__":
            continue
        plugin = importlib.import_module(f"ansible_collections.socforge.core.plugins.filter.{path.stem}")
        for name, func in plugin.FilterModule().filters().items():
            assert name not in out, f"filter {name} exported twice ({files.get(name)}, {path.name})"
            out[name], files[name] = func, path
    return out, files


FILTERS, PLUGIN_FILES = _exported()
# plugin files exporting a single filter may carry its page themselves (DOCUMENTATION in the .py)
SINGLE = {name for name, path in PLUGIN_FILES.items() if list(PLUGIN_FILES.values()).count(path) == 1}


def _ansible_doc(*args):
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", "filter", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def docs():
    done = _ansible_doc("-j", *(f"socforge.core.{name}" for name in sorted(FILTERS)))
    assert done.returncode == 0, done.stderr
    return {fqcn.rsplit(".", 1)[1]: entry for fqcn, entry in json.loads(done.stdout).items()}


def test_the_collection_exports_filters():
    # the discovery above must find the filters the roles use, or every test below passes vacuously
    assert {"zeek_layout", "soc_host_vlans", "zeek_index_template"} <= set(FILTERS)


def test_listing_names_exactly_the_exported_filters():
    done = _ansible_doc("-l", "-j", "socforge.core")
    assert done.returncode == 0, done.stderr
    listed = {fqcn.rsplit(".", 1)[1] for fqcn in json.loads(done.stdout)}
    assert listed == set(FILTERS)


def test_doc_files_are_exactly_the_exported_filters():
    pages = {p.stem for p in FILTER_DIR.glob("*.yml")}
    assert pages <= set(FILTERS), f"doc pages for no filter: {sorted(pages - set(FILTERS))}"
    assert set(FILTERS) - pages <= SINGLE, "a filter sharing its plugin file needs plugins/filter/<name>.yml"


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_has_its_own_page(docs, name):
    doc = docs[name]["doc"]
    assert doc["name"] == name
    own_page = {f"{name}.yml"} | ({PLUGIN_FILES[name].name} if name in SINGLE else set())
    assert Path(doc["filename"]).name in own_page, f"{name} is documented by {doc['filename']}"
    assert doc["short_description"] and doc["description"]
    assert docs[name]["examples"] and f"socforge.core.{name}" in docs[name]["examples"]
    assert "_value" in (docs[name]["return"] or {})


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_documented_options_are_the_parameters(docs, name):
    doc = docs[name]["doc"]
    params = list(inspect.signature(FILTERS[name]).parameters.values())
    assert params and "_input" in doc["options"], f"{name}: _input undocumented"
    rest = [p for p in params[1:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    options = {k: v for k, v in doc["options"].items() if k != "_input"}
    assert sorted(options) == sorted(p.name for p in rest), f"{name}: documented options vs parameters"
    positional = [s.strip() for s in (doc.get("positional") or "").split(",") if s.strip()]
    assert positional == [p.name for p in rest], f"{name}: positional order"
    for param in rest:
        required = param.default is inspect.Parameter.empty
        assert bool(options[param.name].get("required")) == required, f"{name}: {param.name} required flag"
        if not required and param.default is not None:
            assert options[param.name].get("default") == param.default, f"{name}: {param.name} default"
