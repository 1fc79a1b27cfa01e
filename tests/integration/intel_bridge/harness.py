"""Real pieces for the intel bridge tests and benchmark: a live Zeek (7.x Broker / 8.x WebSocket) on
the loopback interface, a pyzmq publisher standing in for MISP's mispzmq.py, and the bridge daemon
as a subprocess (so that it can be killed mid-stream)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "roles" / "intel_bridge" / "files" / "socforge-intel-bridge"
DAEMON = REPO / "roles" / "intel_bridge" / "files" / "usr" / "local" / "bin" / "socforge-intel-bridge"
DUMP = Path(__file__).resolve().parent / "dump.zeek"
LIB = REPO / ".collections"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zeromq_standalone_lines():
    """Zeek 8 script lines for a single process on the ZeroMQ backend (its own proxy thread on two
    free loopback ports), so the WebSocket API has a cluster backend to publish into."""
    x, p = free_port(), free_port()
    return [
        "@load frameworks/cluster/backend/zeromq",
        "redef Cluster::Backend::ZeroMQ::run_proxy_thread = T;",
        f'redef Cluster::Backend::ZeroMQ::listen_xpub_endpoint = "tcp://127.0.0.1:{x}";',
        f'redef Cluster::Backend::ZeroMQ::connect_xsub_endpoint = "tcp://127.0.0.1:{x}";',
        f'redef Cluster::Backend::ZeroMQ::listen_xsub_endpoint = "tcp://127.0.0.1:{p}";',
        f'redef Cluster::Backend::ZeroMQ::connect_xpub_endpoint = "tcp://127.0.0.1:{p}";',
    ]


def wait(cond, timeout, step=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class LiveZeek:
    """Zeek on ``lo`` (live, checksums ignored) with the bridge package listening for the daemon."""

    def __init__(self, build, workdir, snapshot_file="", prefix="127.77.", extra=""):
        self.build = build
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.snapshot_file = snapshot_file
        self.prefix = prefix
        self.extra = extra
        self.proc = None
        self.broker = build.major == "7"
        self.ticking = None

    def _tick(self):
        # live Zeek's clock is the packets' clock: with the capture filtered to the test's addresses,
        # a UDP datagram every 0.1 s keeps its timers (the state dump) running
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while self.ticking is not None and not self.ticking.is_set():
                s.sendto(b"tick", (self.prefix + "1", 9))
                self.ticking.wait(0.1)

    @property
    def transport(self):
        return "broker" if self.broker else "websocket"

    def config(self):
        if self.broker:
            return {"transport": "broker", "zeek_host": "127.0.0.1", "zeek_port": self.port,
                    "broker_python_path": str(self.build.prefix / "lib" / "zeek" / "python")}  # fmt: skip
        return {"transport": "websocket", "zeek_url": f"ws://127.0.0.1:{self.port}/v1/messages/json"}

    def script(self):
        lines = [
            "@load base/frameworks/intel",
            "@load base/frameworks/notice",
            "@load base/protocols/conn",
            "@load frameworks/intel/seen/conn-established",
            "@load frameworks/intel/do_notice",
            f"@load {PACKAGE}/main.zeek",
            f"@load {DUMP}",
        ]
        if not self.broker:
            lines += zeromq_standalone_lines()
        lines += [
            f"redef SOCForgeBridge::listen_port = {self.port}/tcp;",
            f'redef SOCForgeBridge::snapshot_file = "{self.snapshot_file}";',
            f'redef SOCForgeBridgeTest::prefix = "{self.prefix}";',
            "redef Intel::item_expiration = 1 day;",
            "redef exit_only_after_terminate = T;",
            self.extra,
        ]
        path = self.dir / "bridge-test.zeek"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self):
        script = self.script()
        # capture only the test's own addresses (the bridge's Broker/WebSocket/ZeroMQ traffic is on lo too)
        bpf = f"net {self.prefix.rstrip('.')}.0.0/16" if self.prefix.count(".") == 2 else "ip"
        self.proc = subprocess.Popen(
            [str(self.build.zeek), "-b", "-C", "-i", "lo", "-f", bpf, str(script)],
            cwd=self.dir,
            env=self.build.env(),
            stdout=open(self.dir / "zeek.out", "ab"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        self.ticking = threading.Event()
        threading.Thread(target=self._tick, daemon=True).start()
        wait(lambda: (self.dir / "intel_state.tsv").exists() or self.proc.poll() is not None, 60, what="Zeek to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"Zeek exited: {(self.dir / 'zeek.out').read_text()[-2000:]}")
        return self

    def state(self):
        """Set of (indicator, type, source) the Intel framework holds (test prefix / domain only)."""
        try:
            text = (self.dir / "intel_state.tsv").read_text()
        except FileNotFoundError:
            return set()
        return {tuple(line.split("|")) for line in text.splitlines() if line.count("|") == 2}

    def log_lines(self, name):
        path = self.dir / f"{name}.log"
        if not path.exists():
            return []
        return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]

    def stop(self):
        if self.ticking is not None:
            self.ticking.set()
            self.ticking = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        (self.dir / "intel_state.tsv").unlink(missing_ok=True)


class Publisher:
    """Binds a ZeroMQ PUB socket as MISP's mispzmq.py does and sends ``topic json`` frames."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.SNDHWM, 1000000)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.url = f"tcp://127.0.0.1:{self.port}"

    def send(self, raw):
        self.sock.send(raw)

    def close(self):
        self.sock.close(0)
        self.ctx.term()


class BridgeProc:
    """The daemon script, run from the repository (library on --lib)."""

    def __init__(self, workdir, zeek, publisher, misp=None, extra=None):
        self.dir = Path(workdir)
        self.intel_dir = self.dir / "intel"
        self.intel_dir.mkdir(parents=True, exist_ok=True)
        cfg = {
            "name": "misp-live",
            "intel_dir": str(self.intel_dir),
            "zmq_url": publisher.url,
            "coalesce_seconds": 0.01,
            "file_interval": 0.5,
            "heartbeat_timeout": 3600,
            "filters": {},
            "source_name": "MISP",
            **zeek.config(),
        }
        env = dict(os.environ)
        if misp is not None:
            cfg.update({"misp_url": misp.url, "misp_key_env": "TEST_MISP_KEY", "validate_certs": False,
                        "resync_interval": 2, "timeout": 3, "retries": 0})  # fmt: skip
            env["TEST_MISP_KEY"] = misp.key
        cfg.update(extra or {})
        self.cfg_path = self.dir / "bridge.json"
        self.cfg_path.write_text(json.dumps(cfg))
        self.env = env
        self.proc = None
        self.log = self.dir / "bridge.log"

    @property
    def intel_file(self):
        return self.intel_dir / "misp-live.intel"

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(DAEMON), "--config", str(self.cfg_path), "--lib", str(LIB), "--log-level", "DEBUG"],
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        return self

    def logtext(self):
        return self.log.read_text() if self.log.exists() else ""

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
