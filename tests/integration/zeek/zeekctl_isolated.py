"""Run a build's zeekctl against a configuration file of our own instead of <prefix>/etc/zeekctl.cfg.

zeekctl takes its configuration file from ZeekControl.version.CFGFILE (compiled in); this sets it
from SOCFORGE_ZEEKCTL_CFG before zeekctl's own script runs, so a test's spool, log and config
directories live in its temporary directory and the installed prefix stays untouched.
Usage: python3 zeekctl_isolated.py <zeek prefix> <zeekctl arguments...>
"""

import os
import runpy
import sys

prefix = sys.argv[1]
for path in (f"{prefix}/lib/zeekctl", f"{prefix}/lib/zeek/python", f"{prefix}/lib/zeek/python/zeekctl"):
    if os.path.isdir(path):
        sys.path.insert(0, path)

from ZeekControl import version  # noqa: E402 -- from the build's own Python directory

version.CFGFILE = os.environ["SOCFORGE_ZEEKCTL_CFG"]
sys.argv = ["zeekctl", *sys.argv[2:]]
runpy.run_path(f"{prefix}/bin/zeekctl", run_name="__main__")
