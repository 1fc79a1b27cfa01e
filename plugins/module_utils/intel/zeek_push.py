"""Push intel changes into a running Zeek: one interface, two transports.

- :class:`BrokerTransport` (Zeek 7.x): Broker's Python bindings, shipped with the Zeek build
  (``<prefix>/lib/zeek/python``); the bridge peers with the manager's Broker port (a standalone
  Zeek: the port its ``SOCForgeBridge::listen_port`` opens).
- :class:`WebSocketTransport` (Zeek >= 8.1, ZeroMQ cluster backend): Zeek's WebSocket API through
  ``zeekpy`` (a small, typed client over ``websockets``; it speaks Broker's JSON v1 format and does
  the subscribe/ack handshake). Broker::peer / Broker::publish do nothing under ZeroMQ, so the
  Broker transport cannot serve 8.x clusters.

Both carry the same events (``SOCForgeBridge::apply``, ``::ping`` out; ``::applied``, ``::hello``
back) of the Zeek package ``socforge-intel-bridge``. :class:`ZeekLink` adds what both need on top:
batches with sequence numbers, acknowledgements, resending what was not acknowledged in time (or
when the ZeroMQ backend's drop counters moved), and a rate limit for bulk pushes.
"""

import abc
import json
import logging
import os
import sys
import time
from collections import OrderedDict, deque

APPLY = "SOCForgeBridge::apply"
PING = "SOCForgeBridge::ping"
RELOAD = "SOCForgeBridge::reload"
APPLIED = "SOCForgeBridge::applied"
HELLO = "SOCForgeBridge::hello"
LOG = logging.getLogger("socforge-intel-bridge")
DEFAULT_TOPIC = "/socforge/intel/bridge/apply"
DEFAULT_REPLY_TOPIC = "/socforge/intel/bridge/reply"


class PushError(Exception):
    """Zeek cannot be reached or refused the connection (the message says which and why)."""


class Reply:
    __slots__ = ("name", "args")

    def __init__(self, name, args):
        self.name = name
        self.args = args

    def __repr__(self):
        return f"Reply({self.name}, {self.args!r})"


class Transport(abc.ABC):
    """connect() / publish(event name, args) / poll(timeout) -> [Reply] / close()."""

    kind = "?"

    @abc.abstractmethod
    def connect(self):
        """Open the connection to the Zeek manager."""

    @abc.abstractmethod
    def publish(self, name, args):
        """Send one event (name, args) to the manager's topic."""

    @abc.abstractmethod
    def poll(self, timeout):
        """Replies received within ``timeout`` seconds, as a list of Reply."""

    def close(self):  # noqa: B027 -- optional hook: a transport without a connection to close needs nothing
        """Close the connection (nothing to do by default)."""


# -- Broker (Zeek 7.x) ------------------------------------------------------------------------
def import_broker(python_path):
    """Import Broker's bindings from the Zeek build (``/opt/zeek/lib/zeek/python``)."""
    if python_path and python_path not in sys.path:
        sys.path.insert(0, python_path)
    try:
        import broker  # noqa: PLC0415 - from the Zeek build, only where this transport is used
        import broker.zeek  # noqa: PLC0415,F401
    except ImportError as exc:
        raise PushError(f"Broker's Python bindings are not importable from {python_path!r}: {exc}") from None
    return broker


class BrokerTransport(Transport):
    kind = "broker"

    def __init__(
        self,
        host,
        port,
        topic=DEFAULT_TOPIC,
        reply_topic=DEFAULT_REPLY_TOPIC,
        python_path="/opt/zeek/lib/zeek/python",
        timeout=10.0,
    ):
        self.host, self.port = host, int(port)
        self.topic, self.reply_topic = topic, reply_topic
        self.python_path = python_path
        self.timeout = timeout
        self.broker = None
        self.ep = self.sub = self.status = None

    def connect(self):
        broker = self.broker = import_broker(self.python_path)
        self.close()
        self.ep = broker.Endpoint()
        self.sub = self.ep.make_subscriber(self.reply_topic)
        self.status = self.ep.make_status_subscriber(True)
        if not self.ep.peer(self.host, self.port, 0):  # blocks until peered or failed (no retry)
            self.close()
            raise PushError(f"cannot peer with Zeek's Broker at {self.host}:{self.port}")
        self.status.poll()  # drop the PeerAdded status of this peering

    def publish(self, name, args):
        broker = self.broker
        self._check_status()
        conv = [broker.Count(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in args]
        self.ep.publish(self.topic, broker.zeek.Event(name, *conv))

    def _check_status(self):
        broker = self.broker
        for s in self.status.poll():
            if isinstance(s, broker.Status) and s.code() in (broker.SC.PeerLost, broker.SC.PeerRemoved):
                raise PushError(f"lost the Broker peering with Zeek at {self.host}:{self.port}")

    def poll(self, timeout):
        broker = self.broker
        self._check_status()
        out = []
        msgs = self.sub.get(64, timeout) if timeout else self.sub.poll()
        for _, data in msgs:
            ev = broker.zeek.Event(data)
            out.append(Reply(ev.name(), [_from_broker(a) for a in ev.args()]))
        return out

    def close(self):
        if self.ep is not None:
            try:
                self.ep.shutdown()
            except Exception as exc:  # noqa: BLE001 - closing a broken endpoint
                LOG.debug("closing the Broker endpoint: %s", exc)
        self.ep = self.sub = self.status = None


def _from_broker(value):
    if hasattr(value, "timestamp") and callable(getattr(value, "timestamp", None)):
        return value.timestamp()
    if hasattr(value, "value") and not isinstance(value, (str, bytes)):
        return value.value
    return value


# -- WebSocket (Zeek >= 8.1) ------------------------------------------------------------------
class WebSocketTransport(Transport):
    kind = "websocket"

    def __init__(
        self, url, topic=DEFAULT_TOPIC, reply_topic=DEFAULT_REPLY_TOPIC, timeout=10.0, app_name="socforge-intel-bridge"
    ):
        self.url = url
        self.topic, self.reply_topic = topic, reply_topic
        self.timeout = timeout
        self.app_name = app_name
        self.client = None

    def connect(self):
        import zeekpy  # noqa: PLC0415 - only where this transport is used

        self.close()
        client = zeekpy.Zeek(self.url, topics=[self.reply_topic], app_name=self.app_name, timeout=self.timeout)
        try:
            client.__enter__()
        except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, bad ack: one message
            raise PushError(f"cannot open Zeek's WebSocket API at {self.url}: {type(exc).__name__}: {exc}") from None
        self.client = client

    def publish(self, name, args):
        import zeekpy  # noqa: PLC0415

        conv = [zeekpy.count(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in args]
        try:
            self.client.publish(self.topic, name, conv)
        except Exception as exc:  # noqa: BLE001
            raise PushError(f"Zeek's WebSocket API at {self.url}: {type(exc).__name__}: {exc}") from None

    def poll(self, timeout):
        import zeekpy  # noqa: PLC0415

        out = []
        wait = timeout
        while True:
            try:
                msg = self.client.ws.recv(timeout=wait, decode=False)
            except TimeoutError:
                return out
            except Exception as exc:  # noqa: BLE001 - closed, reset
                raise PushError(f"Zeek's WebSocket API at {self.url}: {type(exc).__name__}: {exc}") from None
            wait = 0
            try:
                _, name, args = zeekpy.load_json_msg(msg)
            except Exception:  # noqa: BLE001 - an error message from Zeek, not an event
                try:
                    err = json.loads(msg)
                except ValueError:
                    err = msg
                raise PushError(f"Zeek's WebSocket API at {self.url} answered an error: {err}") from None
            out.append(Reply(name, [a.get("data") if isinstance(a, dict) else a for a in args]))

    def close(self):
        if self.client is not None:
            try:
                self.client.__exit__(None, None, None)
            except Exception as exc:  # noqa: BLE001 - closing a broken connection
                LOG.debug("closing the WebSocket: %s", exc)
        self.client = None


def make_transport(kind, **kw):
    if kind == "broker":
        return BrokerTransport(
            kw["host"],
            kw["port"],
            kw.get("topic", DEFAULT_TOPIC),
            kw.get("reply_topic", DEFAULT_REPLY_TOPIC),
            kw.get("python_path", "/opt/zeek/lib/zeek/python"),
            kw.get("timeout", 10.0),
        )
    if kind == "websocket":
        return WebSocketTransport(
            kw["url"],
            kw.get("topic", DEFAULT_TOPIC),
            kw.get("reply_topic", DEFAULT_REPLY_TOPIC),
            kw.get("timeout", 10.0),
        )
    raise PushError(f"unknown Zeek transport {kind!r} (broker or websocket)")


# -- the link: batches, acks, resends, rate limit ----------------------------------------------
class ZeekLink:
    """Send desired item states to Zeek in acknowledged batches.

    ``want(item, line_or_None)``: item ``(key, source)`` must be present with this intel line, or
    absent. Later wants of the same item replace earlier unsent ones (coalescing). ``pump()``
    sends what the rate limit allows; ``poll()`` reads acknowledgements. A batch not acknowledged
    within ``ack_timeout`` - or any batch in flight when the ZeroMQ backend's drop counters move -
    is re-sent with the items' *current* wanted state (so a late resend never undoes a newer change).
    """

    def __init__(self, transport, batch_size=500, rate=20000.0, max_inflight=8, ack_timeout=5.0, clock=time.monotonic):
        self.t = transport
        self.batch_size = batch_size
        self.rate = float(rate)  # items per second (bulk pushes); small batches go at once
        self.max_inflight = max_inflight
        self.ack_timeout = ack_timeout
        self.clock = clock
        self.pending = OrderedDict()  # item -> line or None
        self.current = {}  # item -> last wanted state (for resends), only for items in flight
        self.inflight = OrderedDict()  # seq -> (sent_at, items, first_want_times)
        self.seq = 0
        self.want_time = {}
        self.tokens = float(batch_size)
        self.last_refill = clock()
        self.drops = 0.0
        self.resent = 0
        self.acked = 0
        self.latencies = deque(maxlen=100000)
        self.hello = None
        self.on_applied = None  # callback(seq, items) after an ack

    def want(self, item, line, at=None):
        self.pending.pop(item, None)
        self.pending[item] = line
        self.current[item] = line
        self.want_time.setdefault(item, at if at is not None else time.time())

    def backlog(self):
        return len(self.pending)

    def _refill(self):
        now = self.clock()
        self.tokens = min(max(self.rate, self.batch_size), self.tokens + (now - self.last_refill) * self.rate)
        self.last_refill = now

    def pump(self):
        """Send pending items; returns how many were sent."""
        sent = 0
        self._refill()
        while self.pending and len(self.inflight) < self.max_inflight:
            n = min(self.batch_size, len(self.pending))
            if self.tokens < n and self.tokens < self.batch_size:
                n = int(self.tokens)
                if n <= 0:
                    break
            items = [self.pending.popitem(last=False) for _ in range(n)]
            self._send(items)
            self.tokens -= n
            sent += n
        return sent

    def _send(self, items):
        self.seq += 1
        inserts = [line for _, line in items if line is not None]
        removes = [_removal(item) for item, line in items if line is None]
        self.inflight[self.seq] = (
            self.clock(),
            [it for it, _ in items],
            {it: self.want_time.pop(it, None) for it, _ in items},
        )
        self.t.publish(APPLY, [self.seq, inserts, removes])
        LOG.debug("sent batch %d: %d inserts, %d removes", self.seq, len(inserts), len(removes))

    def ping(self, nonce):
        self.t.publish(PING, [nonce])

    def poll(self, timeout=0.0):
        replies = self.t.poll(timeout)
        now_wall = time.time()
        for r in replies:
            if r.name == APPLIED:
                seq = int(r.args[0])
                drops = float(r.args[3] or 0) if len(r.args) > 3 else 0.0
                entry = self.inflight.pop(seq, None)
                LOG.debug("Zeek applied batch %d (%s)", seq, r.args[1:])
                if entry is not None:
                    self.acked += 1
                    for it, t0 in entry[2].items():
                        if t0 is not None:
                            self.latencies.append(now_wall - t0)
                        if it not in self.pending and not any(it in e[1] for e in self.inflight.values()):
                            self.current.pop(it, None)
                    if self.on_applied is not None:
                        self.on_applied(seq, entry[1])
                if drops > self.drops:
                    # the ZeroMQ backend dropped events: everything in flight may be lost; re-send it
                    # and halve the bulk rate
                    self.drops = drops
                    self.rate = max(500.0, self.rate / 2)
                    self.resend_all()
            elif r.name == HELLO:
                self.hello = r.args
        self._expire()
        return replies

    def _expire(self):
        now = self.clock()
        late = [seq for seq, (sent, _, _) in self.inflight.items() if now - sent > self.ack_timeout]
        if late:
            self.resend_all()

    def resend_all(self):
        """Re-queue every item in flight with its current wanted state (idempotent in Zeek)."""
        for _, (_, items, _) in list(self.inflight.items()):
            for it in items:
                if it not in self.pending and it in self.current:
                    self.pending[it] = self.current[it]
                    self.resent += 1
        self.inflight.clear()

    def reset(self, transport=None):
        """After a reconnect: what was in flight is re-sent."""
        if transport is not None:
            self.t = transport
        self.resend_all()

    def idle(self):
        return not self.pending and not self.inflight


def _removal(item):
    key, src = item
    return f"{key}\t{src}"


def wait_for(link, cond, timeout, step=0.05):
    """Poll ``link`` until ``cond()`` or ``timeout`` seconds (tests, the daemon's start)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        link.pump()
        link.poll(step)
        if cond():
            return True
    return cond()


def env_python_path(prefix):
    return os.path.join(prefix, "lib", "zeek", "python")
