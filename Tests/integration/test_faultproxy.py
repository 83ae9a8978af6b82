"""Self-tests of the fault-injecting proxy against tiny local servers: every fault is measured
from the client's side (bytes really stop at the cut, the delay is really there, exactly the
chosen bit is flipped), so a proxy that silently relays would fail them."""
import hashlib
import socket
import socketserver
import threading
import time

import pytest

from faultproxy import FaultProxy


FAST = 0.2  # a round trip on loopback without faults, with room for a busy machine


def pattern(n):
    """Deterministic, non-repeating-looking bytes."""
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(block.to_bytes(8, "big")).digest()
        block += 1
    return bytes(out[:n])


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    break
                self.request.sendall(data)
        except OSError:
            pass


class _Source(socketserver.BaseRequestHandler):
    """Reads one line `N\\n` and answers with pattern(N), then closes."""

    def handle(self):
        line = b""
        while not line.endswith(b"\n"):
            chunk = self.request.recv(1)
            if not chunk:
                return
            line += chunk
        try:
            self.request.sendall(pattern(int(line)))
            self.request.shutdown(socket.SHUT_WR)
            while self.request.recv(65536):
                pass
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture(scope="module")
def echo():
    srv = _Server(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def source():
    srv = _Server(("127.0.0.1", 0), _Source)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def proxy_to():
    made = []

    def make(port):
        p = FaultProxy("127.0.0.1", port).start()
        made.append(p)
        return p
    yield make
    for p in made:
        p.stop()


def connect(proxy, timeout=5):
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def fetch(proxy, n, timeout=10):
    """Asks the source server for n bytes through the proxy; returns (bytes received, how it ended)."""
    s = connect(proxy, timeout)
    s.sendall(f"{n}\n".encode())
    got = bytearray()
    end = "eof"
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        end = "timeout"
    finally:
        s.close()
    return bytes(got), end


def eventually(cond, timeout=5):
    """Counters are updated by the proxy's thread just after the bytes left it."""
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        time.sleep(0.01)
    return cond()


def echo_rtt(s, payload=b"ping"):
    t = time.monotonic()
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = s.recv(65536)
        assert data, "connection closed"
        got += data
    assert got == payload
    return time.monotonic() - t


def test_plain_relay_is_transparent_and_counts(proxy_to, echo, source):
    p = proxy_to(source)
    data, end = fetch(p, 1_000_000)
    assert end == "eof" and data == pattern(1_000_000)
    assert p.connections == 1 and p.bytes_down == 1_000_000 and p.bytes_up == len(b"1000000\n")
    e = proxy_to(echo)
    s = connect(e)
    blob = pattern(300_000)
    got = bytearray()
    threading.Thread(target=lambda: s.sendall(blob), daemon=True).start()
    while len(got) < len(blob):
        got += s.recv(65536)
    s.close()
    assert bytes(got) == blob
    assert eventually(lambda: e.bytes_up == e.bytes_down == len(blob)), (e.bytes_up, e.bytes_down)
    assert eventually(lambda: e.active == 0 and p.active == 0)


def test_latency_delays_each_way_and_clear_removes_it(proxy_to, echo):
    p = proxy_to(echo)
    s = connect(p)
    assert echo_rtt(s) < FAST
    p.latency(150)  # applies to the open connection too
    rtts = [echo_rtt(s) for _ in range(3)]
    assert all(0.29 <= r < 1.0 for r in rtts), rtts  # 150 ms up and 150 ms down
    p.clear()
    assert echo_rtt(s) < FAST
    s.close()


def test_bandwidth_cap_paces_the_transfer(proxy_to, source):
    p = proxy_to(source)
    p.bandwidth(100_000)
    t = time.monotonic()
    data, end = fetch(p, 150_000)
    took = time.monotonic() - t
    assert end == "eof" and data == pattern(150_000)
    assert 1.3 <= took <= 3.0, took  # 1.5 s at 100 kB/s
    p.clear()
    t = time.monotonic()
    assert fetch(p, 150_000)[0] == pattern(150_000)
    assert time.monotonic() - t < 0.5


def test_stall_stops_both_ways_keeps_the_socket_open_and_resumes(proxy_to, echo):
    p = proxy_to(echo)
    s = connect(p)
    assert echo_rtt(s) < FAST
    assert eventually(lambda: p.bytes_down == 4)
    p.stall()
    up, down = p.bytes_up, p.bytes_down
    s.sendall(b"held")
    s.settimeout(1.0)
    with pytest.raises(socket.timeout):  # nothing comes back, and the connection is not closed either
        s.recv(100)
    assert (p.bytes_up, p.bytes_down) == (up, down) and p.active == 1
    p.clear()
    s.settimeout(5)
    assert s.recv(100) == b"held"
    s.close()


def test_stall_mid_download_then_resume_delivers_everything(proxy_to, source):
    p = proxy_to(source)
    p.bandwidth(400_000)
    s = connect(p)
    s.sendall(b"2000000\n")
    got = bytearray()
    while len(got) < 100_000:
        got += s.recv(65536)
    p.stall()
    time.sleep(0.1)  # what was in flight arrives
    s.settimeout(0.3)
    try:
        while True:
            data = s.recv(65536)
            assert data
            got += data
    except socket.timeout:
        pass
    frozen = len(got)
    s.settimeout(1.0)
    with pytest.raises(socket.timeout):
        s.recv(65536)
    assert len(got) == frozen < 2_000_000
    p.clear()
    s.settimeout(10)
    while True:
        data = s.recv(65536)
        if not data:
            break
        got += data
    s.close()
    assert bytes(got) == pattern(2_000_000)


@pytest.mark.parametrize("n", [1, 5_000, 300_001])
def test_reset_after_n_bytes(proxy_to, source, n):
    p = proxy_to(source)
    p.reset_after(n)
    data, end = fetch(p, 1_000_000)
    assert end == "reset"
    assert data == pattern(n)  # exactly n bytes, then the reset
    assert p.resets == 1 and p.bytes_down == n


@pytest.mark.parametrize("n", [1, 5_000, 300_001])
def test_close_after_n_bytes_is_a_clean_eof(proxy_to, source, n):
    p = proxy_to(source)
    p.close_after(n)
    data, end = fetch(p, 1_000_000)
    assert end == "eof"
    assert data == pattern(n)
    assert p.closes == 1 and p.resets == 0 and p.bytes_down == n


@pytest.mark.parametrize("at", [0, 12_345, 999_999])
def test_flip_byte_flips_exactly_one_bit(proxy_to, source, at):
    p = proxy_to(source)
    p.flip_byte(at)
    data, end = fetch(p, 1_000_000)
    want = pattern(1_000_000)
    assert end == "eof" and len(data) == len(want)
    diffs = [i for i in range(len(want)) if data[i] != want[i]]
    assert diffs == [at] and data[at] ^ want[at] == 0x01
    assert p.flips == 1
    # Every connection gets its own flip at the same offset.
    data2, _ = fetch(p, 1_000_000)
    assert data2 == data and p.flips == 2
    p.clear()
    assert fetch(p, 1_000_000)[0] == want


def test_flip_beyond_the_transfer_changes_nothing(proxy_to, source):
    p = proxy_to(source)
    p.flip_byte(5_000)
    assert fetch(p, 4_000) == (pattern(4_000), "eof") and p.flips == 0


def test_scope_new_leaves_open_connections_alone(proxy_to, echo):
    p = proxy_to(echo)
    old = connect(p)
    assert echo_rtt(old) < FAST
    p.latency(200, scope="new")
    new = connect(p)
    assert echo_rtt(new) >= 0.39
    assert echo_rtt(old) < FAST
    p.stall(scope="all")
    old.settimeout(0.5)
    old.sendall(b"x")
    with pytest.raises(socket.timeout):
        old.recv(1)
    p.clear()
    old.settimeout(5)
    assert old.recv(1) == b"x"
    assert p.connections == 2
    old.close()
    new.close()


def test_stop_returns_with_stalled_connections_and_refused_upstream(proxy_to, echo):
    p = FaultProxy("127.0.0.1", echo).start()
    s = connect(p)
    p.stall()
    s.sendall(b"stuck")
    t = time.monotonic()
    p.stop()
    assert time.monotonic() - t < 2
    s.settimeout(2)
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    s.close()
    # Nothing listens upstream: the client's connection is closed at once, and counted.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    q = proxy_to(port)
    c = connect(q)
    c.settimeout(5)
    try:
        assert c.recv(10) == b""
    except ConnectionResetError:
        pass
    c.close()
    assert q.upstream_failures == 1


def test_capture_keeps_what_each_connection_sent_down(source):
    with FaultProxy("127.0.0.1", source, capture=True) as p:
        p.flip_byte(3)
        a, _ = fetch(p, 5_000)
        b, _ = fetch(p, 7)
    assert [bytes(c) for c in p.captured] == [a, b]  # as delivered, the flip included
    assert a[3] != pattern(5_000)[3] and b[:3] == pattern(7)[:3]
