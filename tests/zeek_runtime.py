"""Find a real Zeek for the tests (and benchmarks), one build per major line (7.x, 8.x).

Where a build is looked for, first hit per major line wins:

1. ``ZEEK_PREFIX`` (one prefix, or several separated by ``:``), e.g. ``ZEEK_PREFIX=/usr/local/zeek``;
2. ``zeek`` on ``PATH``;
3. ``/opt/zeek`` (the shared 7.2.2 build) and ``/opt/zeek8`` (the shared 8.1.2 build), where
   ``scripts/bootstrap`` installs them from ``../shared/artifacts`` (zeekctl needs these prefixes);
4. the shared artifact unpacked into ``.cache/zeek/<version>`` (done here on demand, sha256-checked):
   ``zeek`` runs from there with ``LD_LIBRARY_PATH``/``ZEEK_PLUGIN_PATH``/``ZEEKPATH`` pointing into
   it (zeekctl does not: its paths are compiled in).

Policy (CI runs a fresh clone beside ``../shared`` as root, so the tier must run there, not skip):
when ``../shared/artifacts/<zeek|zeek8>`` exists and its line cannot be found or does not run, the
tests FAIL naming what is missing; only without ``../shared`` do they skip, with the reason.

Use from pytest::

    from tests.zeek_runtime import zeek_build_params, require_zeek

    @pytest.fixture(params=zeek_build_params())
    def zeek(request):
        return require_zeek(request.param)      # a ZeekBuild, or fail/skip per the policy

and ``build.run(["-r", pcap, "local"], cwd=tmp)`` / ``build.env()`` / ``build.zeekctl``.
Outside pytest (benchmarks): ``find_zeek(line)`` returns a ZeekBuild or raises ZeekNotFound.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ARTIFACTS = SHARED / "artifacts"
PCAPS = SHARED / "data" / "pcaps"
CACHE = REPO / ".cache" / "zeek"

# major line -> (artifact directory under ../shared/artifacts, the prefix the build is compiled for)
LINES = {"7": ("zeek", Path("/opt/zeek")), "8": ("zeek8", Path("/opt/zeek8"))}

_VERSION = re.compile(r"version (\d+)\.(\d+)\.(\d+)")


class ZeekNotFound(RuntimeError):
    """No usable Zeek of the requested line."""


@dataclass(frozen=True)
class ZeekBuild:
    """One runnable Zeek installation."""

    version: str  # "7.2.2"
    prefix: Path  # where bin/zeek lives
    relocated: bool = False  # True: not at its compiled-in prefix (env() points zeek into it)
    origin: str = ""  # how it was found (for messages)
    extra_env: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    @property
    def minor_line(self) -> str:  # "7.2", the form roles/zeek's zeek_version takes
        return ".".join(self.version.split(".")[:2])

    @property
    def zeek(self) -> Path:
        return self.prefix / "bin" / "zeek"

    @property
    def zeekctl(self) -> Path | None:
        """zeekctl, only where it can run (the build sits at its compiled-in prefix)."""
        path = self.prefix / "bin" / "zeekctl"
        return path if path.is_file() and not self.relocated else None

    @property
    def site_dir(self) -> Path:
        return self.prefix / "share" / "zeek" / "site"

    def zeekpath(self, *extra: str | os.PathLike) -> str:
        """ZEEKPATH with ``extra`` directories first (a test's own site dir), then the build's."""
        share = self.prefix / "share" / "zeek"
        dirs = [*map(str, extra), ".", str(share), str(share / "policy"), str(share / "site"),
                str(share / "builtin-plugins")]  # fmt: skip
        return ":".join(dirs)

    def env(self, *site_dirs: str | os.PathLike, **extra: str) -> dict:
        """Environment for running this zeek, with ``site_dirs`` searched before the build's own."""
        env = dict(os.environ)
        env.update(self.extra_env)
        if self.relocated or site_dirs:
            env["ZEEKPATH"] = self.zeekpath(*site_dirs)
        if self.relocated:
            env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(self.prefix / "lib"), env.get("LD_LIBRARY_PATH")]))
            env["ZEEK_PLUGIN_PATH"] = str(self.prefix / "lib" / "zeek" / "plugins")
        env.update(extra)
        return env

    def run(self, args, *, cwd, site_dirs=(), timeout=120, env=None, check=False):
        """Run ``zeek args`` in ``cwd``; returns the CompletedProcess (text)."""
        return subprocess.run(
            [str(self.zeek), *map(str, args)],
            cwd=cwd,
            env=env or self.env(*site_dirs),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def __str__(self) -> str:
        return f"Zeek {self.version} at {self.prefix} ({self.origin})"


def _probe(prefix: Path, *, relocated: bool, origin: str) -> ZeekBuild | None:
    """A ZeekBuild when ``prefix/bin/zeek --version`` runs, else None."""
    zeek = prefix / "bin" / "zeek"
    if not os.access(zeek, os.X_OK):
        return None
    build = ZeekBuild("0.0.0", prefix, relocated, origin)
    try:
        out = subprocess.run(
            [str(zeek), "--version"], env=build.env(), capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out.stdout + out.stderr)
    if out.returncode != 0 or not m:
        return None
    return ZeekBuild(".".join(m.groups()), prefix, relocated, origin)


def _compiled_prefix(prefix: Path) -> Path:
    """The prefix the build in ``prefix`` was compiled for (zeek-config's prefix= line)."""
    try:
        text = (prefix / "bin" / "zeek-config").read_text(errors="replace")
    except OSError:
        return prefix
    m = re.search(r'^prefix="([^"]+)"', text, re.M)
    return Path(m.group(1)) if m else prefix


def _artifact(line: str) -> tuple[Path, str] | None:
    """(archive, sha256) of the shared build of ``line``, or None when ../shared lacks it."""
    directory = ARTIFACTS / LINES[line][0]
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return None
    for text in sums.read_text().splitlines():
        parts = text.split()
        if len(parts) == 2 and parts[1].lstrip("*").endswith("-bookworm-amd64.tar.xz"):
            return directory / parts[1].lstrip("*"), parts[0]
    return None


def artifact_expected(line: str) -> bool:
    """True when ../shared/artifacts holds the build of ``line``: the tests must run, not skip."""
    return (ARTIFACTS / LINES[line][0]).is_dir()


def _unpack(line: str) -> ZeekBuild | None:
    """Unpack the shared artifact of ``line`` into .cache/zeek/<name> (once; sha256-checked)."""
    found = _artifact(line)
    if not found:
        return None
    archive, sha = found
    target = CACHE / archive.name.split("-")[1]  # zeek-7.2.2-kafka-bookworm-amd64.tar.xz -> 7.2.2
    marker = target / ".socforge-archive.sha256"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:  # pytest-xdist or two sessions: unpack once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.is_file() and marker.read_text().strip() == sha):
            digest = hashlib.sha256()
            with open(archive, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != sha:
                raise ZeekNotFound(f"{archive}: sha256 {digest.hexdigest()} does not match SHA256SUMS ({sha})")
            shutil.rmtree(target, ignore_errors=True)
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            strip = LINES[line][1].relative_to("/").as_posix() + "/"  # members are opt/zeek[8]/...
            with tarfile.open(archive, "r:xz") as tar:
                members = []
                for m in tar.getmembers():
                    if m.name.startswith(strip):
                        m.name = m.name[len(strip) :]
                        members.append(m)
                tar.extractall(tmp, members=members, filter="tar")
            tmp.rename(target)
            marker.write_text(sha + "\n")
    return _probe(target, relocated=True, origin=f"unpacked from {archive}")


def _candidates(line: str):
    for prefix in filter(None, os.environ.get("ZEEK_PREFIX", "").split(":")):
        yield Path(prefix), "ZEEK_PREFIX"
    on_path = shutil.which("zeek")
    if on_path:
        yield Path(on_path).resolve().parent.parent, "PATH"
    for other in LINES.values():
        yield other[1], "installed prefix"


@cache
def find_zeek(line: str) -> ZeekBuild:
    """The first runnable Zeek of major line ``line`` ("7" or "8"); raises ZeekNotFound saying why."""
    if line not in LINES:
        raise ValueError(f"unknown Zeek line {line!r} (known: {', '.join(LINES)})")
    tried = []
    for prefix, origin in _candidates(line):
        build = _probe(prefix, relocated=_compiled_prefix(prefix) != prefix, origin=origin)
        tried.append(f"{prefix} ({origin}): {build.version if build else 'no runnable zeek'}")
        if build and build.major == line:
            return build
    try:
        build = _unpack(line)
    except (OSError, tarfile.TarError) as exc:
        raise ZeekNotFound(f"unpacking the shared Zeek {line}.x build failed: {exc}") from exc
    if build and build.major == line:
        return build
    if _artifact(line):
        tried.append(f"{CACHE} (the shared artifact unpacked): zeek does not run - missing runtime libraries?")
    raise ZeekNotFound(
        f"no Zeek {line}.x found; tried: " + "; ".join(tried) + ". Install it with scripts/bootstrap (step 7, "
        "from ../shared/artifacts) or set ZEEK_PREFIX."
    )


def zeek_build_params():
    """The Zeek lines a test runs on: "7" and "8" (ids zeek7, zeek8), for pytest parametrize."""
    import pytest

    return [pytest.param(line, id=f"zeek{line}") for line in LINES]


def require_zeek(line: str) -> ZeekBuild:
    """The build of ``line`` for a test; pytest.fail when ../shared has it but it cannot run,
    pytest.skip (with the reason) when ../shared is absent and none is installed."""
    import pytest

    try:
        return find_zeek(line)
    except ZeekNotFound as exc:
        if artifact_expected(line):
            pytest.fail(f"real-Zeek tier: {ARTIFACTS / LINES[line][0]} exists, so this must run: {exc}")
        pytest.skip(f"REAL ZEEK {line}.x NOT TESTED: {SHARED} is absent and {exc}")


def require_zeekctl(build: ZeekBuild) -> Path:
    """zeekctl of ``build`` (needs the compiled-in prefix); fail/skip like require_zeek."""
    import pytest

    if build.zeekctl:
        return build.zeekctl
    why = f"zeekctl of {build} cannot run away from its compiled-in prefix {LINES[build.major][1]}"
    if artifact_expected(build.major):
        pytest.fail(f"real-Zeek tier: {why}: run scripts/bootstrap (step 7) to install it there")
    pytest.skip(f"ZEEKCTL NOT TESTED: {why}")
