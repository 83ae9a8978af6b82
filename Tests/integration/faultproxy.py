"""A TCP proxy that injects network faults between a client and a server on loopback.

    proxy = FaultProxy("127.0.0.1", server_port).start()
    ... point the client at 127.0.0.1:proxy.port ...
    proxy.latency(200)          # every chunk, both ways, is held back 200 ms
    proxy.bandwidth(50_000)     # each direction of each connection at most 50 kB/s
    proxy.stall()               # nothing moves either way; sockets stay open
    proxy.reset_after(10_000)   # after 10 000 bytes to the client: RST (SO_LINGER 0)
    proxy.close_after(10_000)   # after 10 000 bytes to the client: a clean FIN
    proxy.flip_byte(5_000)      # bit 0 of the 5 000th byte (0-based) sent to the client is flipped
    proxy.clear()               # back to a plain relay
    proxy.stop()

Faults combine (latency together with a bandwidth cap, say); each setter changes one of them.
Byte offsets count per connection, downstream (server to client) only. By default a change
applies at once to the open connections as well; with `scope="new"` it applies only to the
connections accepted after the call (the open ones keep the faults they had).

One thread runs every connection with non-blocking sockets and a selector, so a stall or a
latency never blocks the other connections and `stop()` always returns. Counters:
`connections` (accepted), `active`, `bytes_up` (client to server), `bytes_down`, `resets`,
`closes`, `flips`. With `capture=True` the bytes sent to the client on each connection are kept
in `captured` (one bytearray per connection, in accept order), to see where an offset falls.
"""
import collections
import dataclasses
import fcntl
import selectors
import socket
import struct
import termios
import threading
import time

CHUNK = 65536
MAX_QUEUED = 256 * 1024  # stop reading a side while this much waits to be written to the other


@dataclasses.dataclass(frozen=True)
class Faults:
    latency_ms: float = 0
    bandwidth: float = None  # bytes per second per direction per connection
    stalled: bool = False
    reset_after: int = None
    close_after: int = None
    flip_at: int = None
    flip_mask: int = 0x01


class _Direction:
    def __init__(self, src, dst, name):
        self.src, self.dst, self.name = src, dst, name
        self.queue = collections.deque()  # [release_time, bytes]
        self.queued = 0
        self.src_eof = False
        self.dst_shut = False
        self.sent = 0  # bytes written to dst
        self.tokens = 0.0
        self.token_time = time.monotonic()


class _Conn:
    def __init__(self, seq, client, upstream, faults):
        self.seq = seq
        self.client, self.upstream = client, upstream
        self.faults = faults
        self.up = _Direction(client, upstream, "up")
        self.down = _Direction(upstream, client, "down")
        self.closed = False
        self.cut = False  # closed cleanly toward the client; what it still sends is discarded


class FaultProxy:
    def __init__(self, target_host, target_port, listen_port=0, listen_host="127.0.0.1", capture=False):
        self.target = (target_host, target_port)
        self.capture = capture
        self.captured = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((listen_host, listen_port))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.host = listen_host
        self._lock = threading.Lock()
        self._faults = Faults()
        self._conns = []
        self._seq = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._running = False
        self._thread = None
        self.connections = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.resets = 0
        self.closes = 0
        self.flips = 0
        self.upstream_failures = 0

    # --- control -------------------------------------------------------------------------

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def active(self):
        with self._lock:
            return sum(1 for c in self._conns if not c.closed)

    @property
    def faults(self):
        return self._faults

    def start(self):
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=f"faultproxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._running = False
        self._wake()
        if self._thread:
            self._thread.join(10)
            assert not self._thread.is_alive(), "fault proxy thread did not stop"
        for c in list(self._conns):
            self._close_conn(c)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _set(self, scope="all", **changes):
        assert scope in ("all", "new"), scope
        with self._lock:
            self._faults = dataclasses.replace(self._faults, **changes)
            if scope == "all":
                for c in self._conns:
                    c.faults = dataclasses.replace(c.faults, **changes)
        self._wake()
        return self

    def latency(self, ms, scope="all"):
        return self._set(scope, latency_ms=float(ms))

    def bandwidth(self, bytes_per_s, scope="all"):
        assert bytes_per_s is None or bytes_per_s > 0
        return self._set(scope, bandwidth=bytes_per_s)

    def stall(self, scope="all"):
        return self._set(scope, stalled=True)

    def unstall(self, scope="all"):
        return self._set(scope, stalled=False)

    def reset_after(self, n_bytes, scope="all"):
        return self._set(scope, reset_after=int(n_bytes))

    def close_after(self, n_bytes, scope="all"):
        return self._set(scope, close_after=int(n_bytes))

    def flip_byte(self, at_offset, mask=0x01, scope="all"):
        assert 0 < mask < 256
        return self._set(scope, flip_at=int(at_offset), flip_mask=mask)

    def clear(self, scope="all"):
        with self._lock:
            self._faults = Faults()
            if scope == "all":
                for c in self._conns:
                    c.faults = Faults()
        self._wake()
        return self

    def wait_connections(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connections >= n:
                return True
            time.sleep(0.01)
        return False

    # --- event loop ----------------------------------------------------------------------

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                self.upstream_failures += 1
                client.close()
                continue
            for s in (client, upstream):
                s.setblocking(False)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._seq += 1
                self.connections += 1
                conn = _Conn(self._seq, client, upstream, self._faults)
                if self.capture:
                    conn.captured = bytearray()
                    self.captured.append(conn.captured)
                self._conns.append(conn)

    def _loop(self):
        sel = selectors.DefaultSelector()
        try:
            while self._running:
                now = time.monotonic()
                timeout = 0.5
                sel_map = {}
                with self._lock:
                    conns = [c for c in self._conns if not c.closed]
                for c in conns:
                    f = c.faults
                    if c.cut:
                        sel_map[c.client] = [selectors.EVENT_READ, c]
                        continue
                    if f.stalled:
                        continue
                    for d in (c.up, c.down):
                        if not d.src_eof and d.queued < MAX_QUEUED:
                            sel_map.setdefault(d.src, [0, c])[0] |= selectors.EVENT_READ
                        if d.queue and not d.dst_shut:
                            release = d.queue[0][0]
                            wait = release - now
                            if f.bandwidth:
                                self._refill(d, f, now)
                                if d.tokens < 1:
                                    wait = max(wait, (1 - d.tokens) / f.bandwidth)
                            if wait <= 0:
                                sel_map.setdefault(d.dst, [0, c])[0] |= selectors.EVENT_WRITE
                            else:
                                timeout = min(timeout, wait)
                sel.register(self._listener, selectors.EVENT_READ, None)
                sel.register(self._wake_r, selectors.EVENT_READ, None)
                for s, (ev, c) in sel_map.items():
                    try:
                        sel.register(s, ev, c)
                    except (ValueError, OSError):
                        pass
                try:
                    events = sel.select(max(timeout, 0))
                finally:
                    for key in list(sel.get_map().values()):
                        sel.unregister(key.fileobj)
                for key, mask in events:
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, OSError):
                            pass
                    else:
                        c = key.data
                        if c.closed:
                            continue
                        if mask & selectors.EVENT_READ:
                            for d in (c.up, c.down):
                                if d.src is key.fileobj:
                                    self._read(c, d)
                        if mask & selectors.EVENT_WRITE and not c.closed:
                            for d in (c.up, c.down):
                                if d.dst is key.fileobj:
                                    self._write(c, d)
                with self._lock:
                    self._conns = [c for c in self._conns if not c.closed]
        finally:
            sel.close()

    def _refill(self, d, f, now):
        burst = max(1.0, f.bandwidth / 20)  # at most 50 ms worth of data at once
        d.tokens = min(burst, d.tokens + (now - d.token_time) * f.bandwidth)
        d.token_time = now

    def _read(self, c, d):
        if c.cut:
            try:
                data = c.client.recv(CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._close_conn(c)
            return
        try:
            data = d.src.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
            # A reset from one side is passed on as a reset to the other.
            self._close_conn(c, rst=True)
            return
        if not data:
            d.src_eof = True
            if not d.queue:
                self._shut(c, d)
            return
        d.queue.append([time.monotonic() + c.faults.latency_ms / 1000.0, data])
        d.queued += len(data)

    def _write(self, c, d):
        f = c.faults
        now = time.monotonic()
        while d.queue and d.queue[0][0] <= now and not c.closed:
            data = d.queue[0][1]
            n = len(data)
            if f.bandwidth:
                self._refill(d, f, now)
                n = min(n, int(d.tokens))
                if n <= 0:
                    return
            limit = None
            if d is c.down:
                for cut in (f.reset_after, f.close_after):
                    if cut is not None:
                        limit = cut if limit is None else min(limit, cut)
                if limit is not None:
                    n = min(n, max(0, limit - d.sent))
            piece = data[:n]
            if d is c.down and f.flip_at is not None and d.sent <= f.flip_at < d.sent + n:
                i = f.flip_at - d.sent
                piece = piece[:i] + bytes([piece[i] ^ f.flip_mask]) + piece[i + 1:]
            written = 0
            if piece:
                try:
                    written = d.dst.send(piece)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    self._close_conn(c, rst=True)
                    return
                if d is c.down and f.flip_at is not None and d.sent <= f.flip_at < d.sent + written:
                    self.flips += 1
                d.sent += written
                if d is c.up:
                    self.bytes_up += written
                else:
                    self.bytes_down += written
                    if self.capture:
                        c.captured += piece[:written]
                if f.bandwidth:
                    d.tokens -= written
                if written == len(data):
                    d.queue.popleft()
                else:
                    d.queue[0][1] = data[written:]
                d.queued -= written
            if d is c.down and limit is not None and d.sent >= limit:
                if f.reset_after is not None and d.sent >= f.reset_after:
                    self._drain(d.dst)
                    self.resets += 1
                    self._close_conn(c, rst=True)
                else:
                    self._drain(d.dst)
                    self.closes += 1
                    self._cut(c)
                return
            if written < len(piece):
                return
        if d.src_eof and not d.queue:
            self._shut(c, d)

    @staticmethod
    def _drain(sock, timeout=1.0):
        """Waits (briefly) until the peer has acknowledged what was sent, so bytes before a cut
        arrive before the cut does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                outq = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            except OSError:
                return
            if outq == 0:
                return
            time.sleep(0.002)

    def _cut(self, c):
        """A clean end toward the client: FIN now; the client's side is read and dropped until it
        closes too, so closing never turns into a reset because of unread data."""
        c.cut = True
        try:
            c.upstream.close()
        except OSError:
            pass
        try:
            c.client.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        c.down.queue.clear()
        c.down.queued = 0
        c.up.queue.clear()
        c.up.queued = 0
        c.down.dst_shut = True

    def _shut(self, c, d):
        if d.dst_shut:
            return
        d.dst_shut = True
        try:
            d.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if c.up.dst_shut and c.down.dst_shut:
            self._close_conn(c)

    def _close_conn(self, c, rst=False):
        if c.closed:
            return
        c.closed = True
        for s in (c.client, c.upstream):
            if rst and not c.cut:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            try:
                s.close()
            except OSError:
                pass
