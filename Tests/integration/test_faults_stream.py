"""Network faults on the two long-lived connections of the recorder side, through the
fault-injecting proxy (faultproxy.py):

* sa-record <-> Icecast: a slow link (latency, a bandwidth cap just above the stream's rate), a
  stall longer or shorter than the stall timeout, a reset or a clean close mid-stream, a flipped
  byte in an MP3 frame (header or data) or in the ICY framing. sa-record never hangs, ends by
  itself at --duration with exit 0, reconnects after a cut or a stall (a new section, the old one
  closed with the matching reason), and what it stored is sound: the database passes
  `PRAGMA integrity_check`, every section's segments are gapless and sa-export turns every
  section into an Ogg Opus file that decodes cleanly to exactly the stored length.
* sa-push <-> sshd: an 8 MB upload over a slow link, a stall, a reset or a clean close (during
  the handshake, the upload or the read-back), a flipped byte (the SSH MAC must catch it).
  sa-push ends by itself, with exit 0 or 69 and one `error` record, never by a signal; no file
  sits under the final name unless it is complete and byte-identical; over a repaired link the
  next run completes and leaves exactly one byte-identical file.

Defects these tests found, and that stay fixed: sa-record noticed a stall ~6 s after
--stall-timeout; sa-push ended ~120 s (4 x its 30 s timeout) after its link stalled for good,
reported a link broken during authentication as a refused key (77, not 69), and died of SIGABRT
when a bit of an encrypted packet's length flipped.

The recordings run in real time, so they all start together with the module (each on its own
proxy, all listening to one Icecast mount) and are checked one by one while the push tests run;
a push over a stalled link, which only sa-push's own timer can end, overlaps with them as well.
"""
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import threading
import time

import pytest

from audiotools import decoded_samples, ffprobe_duration, jsonlines, split_opus_packets
from conftest import ICECAST_PORT, bin_path
from faultproxy import FaultProxy
from test_push import Setup, random_file, sha

# --- sa-record between Icecast and the proxy -----------------------------------------------------

MOUNT = "/faults-stream.mp3"
DURATION = 20  # --duration, seconds
STALL_TIMEOUT = 3  # --stall-timeout, seconds
# A run ends at its deadline; what may follow is one reconnect attempt that is already under way
# (bounded by the stall and connect timeouts) and the last segment's commit.
RECORD_TIMEOUT = DURATION + 15
RATE = 48000  # Opus sample rate: duration_samples are at 48 kHz
SEGMENT = 10 * RATE  # the default split interval
STREAM_BYTES_PER_S = 128_000 // 8
BURST = 65535  # Icecast's burst-size (scripts/icecast.sh): sent at once on connect


class Recording:
    """One sa-record --url run through its own proxy; stdout and stderr are read as they come, with
    the time each line arrived, so a driver can react to what the recorder says."""

    def __init__(self, case, base, capture=False):
        self.case = case
        self.dir = os.path.join(base, case)
        os.makedirs(self.dir)
        self.proxy = FaultProxy("127.0.0.1", ICECAST_PORT, capture=capture).start()
        self.lines = []  # (monotonic time, record)
        self.err = []
        self.marks = {}  # what the driver did, and when
        self.driver_error = None
        self.result = None
        self.hung = False
        self.took = None
        self.ended = None

    @property
    def db(self):
        return os.path.join(self.dir, "show.sqlite")

    def start(self, driver):
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [bin_path("sa-record"), "--url", f"{self.proxy.url}{MOUNT}", "--name", "show", "--output-dir", self.dir,
             "--duration", f"{DURATION}s", "--stall-timeout", str(STALL_TIMEOUT), "--min-free-mb", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.readers = [threading.Thread(target=self._read_out, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for t in self.readers:
            t.start()
        self.driver = threading.Thread(target=self._drive, args=(driver,), daemon=True)
        self.driver.start()
        return self

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line))
        self.ended = time.monotonic()  # stdout closes when the process exits

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def _drive(self, driver):
        try:
            driver(self)
        except Exception as e:  # reported by the test of this case
            self.driver_error = e

    def mark(self, what):
        self.marks[what] = time.monotonic()

    def running(self):
        return self.proc.poll() is None

    def records(self, type_=None):
        out = jsonlines("".join(line for _, line in self.lines))
        return [x for x in out if type_ is None or x["type"] == type_]

    def said(self, type_, **fields):
        """When the first record of that type (with those fields) arrived, or None."""
        for t, line in list(self.lines):
            x = jsonlines(line)[0]
            if x["type"] == type_ and all(x.get(k) == v for k, v in fields.items()):
                return t
        return None

    def wait_until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.case}: {what} within {timeout} s")
            if not self.running():
                raise AssertionError(f"{self.case}: sa-record ended before {what}")
            time.sleep(0.005)

    def finish(self):
        """Waits for the run (at most RECORD_TIMEOUT from its start); a run still going then is
        killed and marked hung."""
        if self.result is None:
            try:
                self.proc.wait(timeout=max(self.t0 + RECORD_TIMEOUT - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.hung = True
                self.proc.kill()
                self.proc.wait()
            for t in self.readers:
                t.join(5)
            self.took = (self.ended or time.monotonic()) - self.t0
            self.driver.join(10)
            self.result = self.proc.returncode
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proxy.stop()


# --- where to aim a flipped byte: the MP3 frames and ICY framing of a live connection -------------

def mp3_frame_length(b, i):
    """Length of the MPEG-1 Layer III frame whose header starts at b[i], or None (the source is
    MPEG-1 Layer III, so nothing else is accepted as a header)."""
    if i + 4 > len(b) or b[i] != 0xFF or b[i + 1] & 0xFE != 0xFA:
        return None
    bitrate_index, rate_index, padding = b[i + 2] >> 4, (b[i + 2] >> 2) & 3, (b[i + 2] >> 1) & 1
    if bitrate_index in (0, 15) or rate_index == 3:
        return None
    kbps = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[bitrate_index]
    return 144 * kbps * 1000 // (44100, 48000, 32000)[rate_index] + padding


class Wire:
    """The bytes sent to sa-record so far on one connection, split into the HTTP head, the audio
    and the ICY metadata blocks (every `icy-metaint` audio bytes: a length byte L, then 16 L bytes)."""

    def __init__(self, wire):
        wire = bytes(wire)
        self.head_end = wire.index(b"\r\n\r\n") + 4
        self.metaint = int(re.search(rb"(?i)\r\nicy-metaint:\s*(\d+)", wire[:self.head_end]).group(1))
        self.audio = bytearray()
        self.audio_at = []  # wire offset of every audio byte
        self.length_bytes = []  # wire offsets of the metadata length bytes
        i = self.head_end
        self.in_audio_left = None  # audio bytes still to come in the current block, or None in metadata
        while True:
            n = min(self.metaint, len(wire) - i)
            self.audio += wire[i:i + n]
            self.audio_at.extend(range(i, i + n))
            i += n
            if n < self.metaint:
                self.in_audio_left = self.metaint - n
                break
            if i >= len(wire):
                self.next_length_byte = i
                break
            self.length_bytes.append(i)
            end = i + 1 + wire[i] * 16
            if end > len(wire):
                break
            i = end
        self.wire_len = len(wire)

    def wire_offset(self, audio_index):
        """Wire offset of a future audio byte, when it falls in the current audio block."""
        if audio_index < len(self.audio):
            return self.audio_at[audio_index]
        ahead = audio_index - len(self.audio)
        if self.in_audio_left is None or ahead >= self.in_audio_left:
            return None
        return self.wire_len + ahead

    def next_frame_header(self):
        """Audio index of the next MP3 frame header not received yet: the frame chain is followed
        from a header confirmed by the one after it."""
        a = self.audio
        for start in range(max(len(a) - 8000, 0), len(a)):
            n = mp3_frame_length(a, start)
            if n and mp3_frame_length(a, start + n):
                break
        else:
            return None
        i = start
        while True:
            n = mp3_frame_length(a, i)
            if n is None:
                return None  # lost the chain (a partial header at the end): try later
            if i + n >= len(a):
                return i + n
            i += n


def aim_flip(rec, pick, mask):
    """Flips one byte of the live stream, at the wire offset `pick(Wire)` returns, and repeats
    with a later target until the proxy has really flipped one; then the link is clean again."""
    p = rec.proxy
    rec.wait_until(lambda: p.bytes_down > BURST + 2 * STREAM_BYTES_PER_S, 15, "the live part of the stream did not arrive")
    deadline = time.monotonic() + 8
    while p.flips == 0:
        assert time.monotonic() < deadline, "could not aim the flip"
        w = Wire(p.captured[0])
        target = pick(w)
        if target is not None and target > w.wire_len:
            p.flip_byte(target, mask=mask)
            rec.marks["flip_at"] = target
            time.sleep(0.3)
        else:
            time.sleep(0.02)
    p.clear()
    rec.mark("flipped")


def pick_frame_header(w):
    i = w.next_frame_header()
    return None if i is None else w.wire_offset(i)


def pick_frame_data(w):
    i = w.next_frame_header()
    return None if i is None else w.wire_offset(i + 200)


def pick_icy_length_byte(w):
    if w.in_audio_left is None or w.in_audio_left > 6000:
        return None  # the length byte must not be sent before the flip is set
    return w.wire_len + w.in_audio_left


# --- the cases: a driver each, and the section end reasons expected -------------------------------

def drive_latency(rec):
    rec.proxy.latency(200)


def drive_bandwidth(rec):
    rec.proxy.bandwidth(24_000)  # 1.5 x the 16 kB/s of a 128 kbit/s stream


def drive_stall(rec, hold):
    p = rec.proxy
    rec.wait_until(lambda: p.bytes_down > BURST + 2 * STREAM_BYTES_PER_S, 15, "the stream did not start")
    p.stall()
    rec.mark("stalled")
    if hold is None:
        # Held until the recorder gives up on the connection, and one more second (so a
        # reconnect attempt also meets the stall), or for at most 15 s.
        try:
            rec.wait_until(lambda: rec.said("section_finished", reason="stalled"), 15, "no stall detected")
        finally:
            time.sleep(1)
            p.unstall()
            rec.mark("unstalled")
    else:
        time.sleep(hold)
        p.unstall()
        rec.mark("unstalled")


def drive_cut(rec, how, once):
    p = rec.proxy
    at = BURST + 3 * STREAM_BYTES_PER_S  # past the burst, three seconds into the live stream
    (p.reset_after if how == "reset" else p.close_after)(at)
    rec.mark("armed")
    if once:
        rec.wait_until(lambda: p.resets + p.closes >= 1, 20, "the cut did not happen")
        p.clear()
        rec.mark("cut")


ONE = ["duration"]
RECORD_CASES = {
    "latency-200ms": (drive_latency, ONE),
    "bandwidth-24kBps": (drive_bandwidth, ONE),
    "stall-shorter-than-timeout": (lambda r: drive_stall(r, hold=STALL_TIMEOUT / 2), ONE),
    "stall-longer-than-timeout": (lambda r: drive_stall(r, hold=None), ["stalled", "duration"]),
    "reset-once": (lambda r: drive_cut(r, "reset", once=True), ["error", "duration"]),
    "close-once": (lambda r: drive_cut(r, "close", once=True), ["stream_ended", "duration"]),
    "reset-every-connection": (lambda r: drive_cut(r, "reset", once=False), "error..."),
    "flip-frame-header": (lambda r: aim_flip(r, pick_frame_header, 0x01), ONE),
    "flip-frame-data": (lambda r: aim_flip(r, pick_frame_data, 0xFF), ONE),
    "flip-icy-length-byte": (lambda r: aim_flip(r, pick_icy_length_byte, 0x01), ONE),
}
CAPTURE = {"flip-frame-header", "flip-frame-data", "flip-icy-length-byte"}
# Links on which no audio byte ever arrives: sa-record keeps trying, with backoff, until the deadline.
NOTHING_CASES = {
    "stalled-from-the-start": lambda r: r.proxy.stall(),
    "reset-in-headers-every-connection": lambda r: r.proxy.reset_after(100),
}


# --- sa-push between sshd and the proxy -----------------------------------------------------------

PUSH_SIZE = 8 << 20
PUSH_TIMEOUT = 120  # for a run that should not wait for any timer
SSH_TIMEOUT = 30  # sa-push's own timer: SFTPClient's socket and libssh2 session timeout
STALL_PUSH_LIMIT = SSH_TIMEOUT + 15  # a push over a stalled link still running this long after the stall is hung


class PushSetup:
    """An [sftp] config that goes through a proxy (its own remote directory, and the server's key
    listed under the proxy's port), and one 8 MB random file."""

    def __init__(self, tmp_path, sshd, case):
        self.proxy = FaultProxy("127.0.0.1", sshd.port).start()
        self.remote_dir = f"faults-stream/{case}"
        self.setup = Setup(tmp_path, sshd, port=self.proxy.port, remote_dir=self.remote_dir)
        (tmp_path / "known_hosts").write_text(sshd.host_key_line().replace(f"]:{sshd.port}", f"]:{self.proxy.port}"))
        self.remote = self.setup.remote
        self.file = random_file(tmp_path / "archive.ogg", PUSH_SIZE)
        self.name = os.path.basename(self.file)
        self.final = os.path.join(self.remote, self.name)

    def start(self):
        s = self.setup
        return subprocess.Popen([bin_path("sa-push"), "--config", str(s.config), "--credentials", s.creds, self.file],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def push(self, during=None, timeout=PUSH_TIMEOUT):
        p = self.start()
        t0 = time.monotonic()
        try:
            if during:
                during(self.proxy, p)
            out, err = p.communicate(timeout=max(t0 + timeout - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            pytest.fail(f"sa-push hung: still running {timeout} s after it started; stderr: {err!r}")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        r.took = time.monotonic() - t0
        return r

    def listing(self):
        return sorted(os.listdir(self.remote)) if os.path.isdir(self.remote) else []

    def stop(self):
        self.proxy.stop()
        shutil.rmtree(self.remote, ignore_errors=True)


def check_push_failed(ps, r):
    """A push over a broken link: exit 69 with one `error` record (sa-push(1) EXIT STATUS), said on
    stderr too; nothing under the final name unless complete and byte-identical."""
    assert r.returncode >= 0, f"sa-push died of signal {-r.returncode}: {r.stderr}"
    assert r.returncode == 69, f"exit {r.returncode}, not 69 (connection broke): {r.stderr}"
    records = jsonlines(r.stdout)
    assert [x["type"] for x in records] == ["error"], r.stdout
    assert records[0]["code"] == "unavailable" and records[0]["message"], records
    assert r.stderr.strip()
    if os.path.exists(ps.final):
        assert sha(ps.final) == sha(ps.file), "a damaged file under the final name"
    assert set(ps.listing()) <= {ps.name, f".{ps.name}.part"}, ps.listing()


def check_push_converges(ps):
    """Over the repaired link the next run ends with exactly one byte-identical file."""
    ps.proxy.clear()
    had_final = os.path.exists(ps.final)
    r = ps.push()
    assert r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    assert rec["type"] == "pushed" and rec["status"] == ("exists" if had_final else "uploaded"), rec
    assert rec["sha256"] == sha(ps.file) == sha(ps.final)
    assert ps.listing() == [ps.name]
    return r


def when_uploading(then, fraction=0.4):
    """A `during` hook: once `fraction` of the file went up, applies `then(proxy)`. The link is
    capped at 8 MB/s so that the upload lasts about a second, whatever the load."""
    def during(proxy, p):
        proxy.bandwidth(8_000_000)
        deadline = time.monotonic() + 60
        while proxy.bytes_up < PUSH_SIZE * fraction:
            assert p.poll() is None, "sa-push ended before the upload was under way"
            assert time.monotonic() < deadline, "the upload did not get under way"
            time.sleep(0.002)
        then(proxy)
    return during


def at_once(then):
    return lambda proxy, p: then(proxy)


class SSHLayout:
    """Where the server's side of an SSH connection changes phase. The plaintext start of a clean
    connection gives the identification line, then binary packets (uint32 length, padding length,
    message type …) up to SSH_MSG_NEWKEYS; everything after that is encrypted. The first encrypted
    answer ends libssh2's handshake (the userauth service accepted); where it ends, the
    authentication's answers begin: the first pause in the server's bytes after it, on a link with
    latency, tells where."""

    KEXINIT, NEWKEYS = 20, 21

    def __init__(self, wire, plateaus):
        wire = bytes(wire)
        i = wire.index(b"\r\n") + 2  # the identification string, "SSH-2.0-…" (RFC 4253 4.2)
        assert wire.startswith(b"SSH-2.0-"), wire[:40]
        self.kexinit = None
        while True:
            length = struct.unpack(">I", wire[i:i + 4])[0]
            assert 0 < length < 35000, (i, length)
            msg = wire[i + 5]
            if msg == self.KEXINIT and self.kexinit is None:
                self.kexinit = i
            i += 4 + length
            if msg == self.NEWKEYS:
                break
        self.encrypted = i  # the first encrypted packet
        self.auth = min(v for v in plateaus if v > self.encrypted)  # the first answer to the authentication

    def safe(self, offset):
        """The next offset from `offset` that is never in an encrypted packet's length field:
        packets (length + payload + padding, a multiple of the 16-byte block, then a 32-byte MAC)
        all start at `encrypted` modulo 16, so +8 modulo 16 is mid-block."""
        return offset + (self.encrypted + 8 - offset) % 16


@pytest.fixture(scope="module")
def ssh_layout(sshd, tmp_path_factory):
    """Learnt from one clean push of a small file over a link with 30 ms of latency each way, the
    proxy keeping what the server sent and the test noting where the server's bytes paused."""
    base = tmp_path_factory.mktemp("ssh-layout")
    proxy = FaultProxy("127.0.0.1", sshd.port, capture=True).start()
    proxy.latency(30)
    setup = Setup(base, sshd, port=proxy.port, remote_dir="faults-stream/layout")
    (base / "known_hosts").write_text(sshd.host_key_line().replace(f"]:{sshd.port}", f"]:{proxy.port}"))
    small = random_file(base / "small.ogg", 4096)
    p = None
    try:
        p = subprocess.Popen([bin_path("sa-push"), "--config", str(setup.config), "--credentials", setup.creds, small],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        plateaus, last, since = set(), -1, time.monotonic()
        while p.poll() is None:
            now, down = time.monotonic(), proxy.bytes_down
            if down != last:
                last, since = down, now
            elif now - since > 0.02:
                plateaus.add(down)
            time.sleep(0.001)
        assert p.wait(60) == 0, p.stderr.read()
        return SSHLayout(proxy.captured[0], plateaus)
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        proxy.stop()
        shutil.rmtree(setup.remote, ignore_errors=True)


# What each fault does, given the layout; the offsets count the server's bytes to sa-push: the
# handshake (identification, KEXINIT, key exchange), the authentication, the SFTP status answers
# during the upload (a few tens of kB in all), the read-back of the copy (the file again).
PUSH_FAULTS = {
    "reset-in-handshake": lambda L: at_once(lambda px: px.reset_after(L.kexinit + 100)),
    "reset-in-auth": lambda L: at_once(lambda px: px.reset_after(L.auth + 1)),
    "reset-mid-upload": lambda L: when_uploading(lambda px: px.reset_after(px.bytes_down + 1)),
    "reset-in-read-back": lambda L: at_once(lambda px: px.reset_after(PUSH_SIZE // 2)),
    "close-in-handshake": lambda L: at_once(lambda px: px.close_after(L.kexinit + 100)),
    "close-in-auth": lambda L: at_once(lambda px: px.close_after(L.auth + 1)),
    "close-mid-upload": lambda L: when_uploading(lambda px: px.close_after(px.bytes_down + 1)),
    "close-in-read-back": lambda L: at_once(lambda px: px.close_after(PUSH_SIZE // 2)),
    "flip-in-banner": lambda L: at_once(lambda px: px.flip_byte(4)),  # "SSH-2.0" becomes "SSH-3.0"
    "flip-in-kexinit": lambda L: at_once(lambda px: px.flip_byte(L.kexinit + 100)),
    "flip-in-auth": lambda L: at_once(lambda px: px.flip_byte(L.safe(L.auth + 1))),
    "flip-in-packet-length": lambda L: at_once(lambda px: px.flip_byte(L.encrypted + 3)),
    "flip-mid-upload": lambda L: when_uploading(lambda px: px.flip_byte(L.safe(px.bytes_down + 1))),
    "flip-in-read-back": lambda L: at_once(lambda px: px.flip_byte(L.safe(PUSH_SIZE // 2))),
}


# --- the fixtures that run in the background --------------------------------------------------------

def selected(request, prefix):
    """Which parameters of this module's tests named `prefix…` were selected to run."""
    out = set()
    for item in request.session.items:
        if item.module is request.module and item.name.startswith(prefix):
            out.add(item.callspec.params.get("case") if hasattr(item, "callspec") else item.name)
    return out


@pytest.fixture(scope="module")
def recordings(request, icecast, tmp_path_factory):
    cases = selected(request, "test_record_")
    if "test_record_stall_is_noticed_after_the_stall_timeout" in cases:
        cases.add("stall-longer-than-timeout")
    runs = {}
    if not cases:
        yield runs
        return
    icecast.start_source(MOUNT, freq=440)
    base = str(tmp_path_factory.mktemp("recordings"))
    try:
        drivers = {case: driver for case, (driver, _) in RECORD_CASES.items()}
        drivers.update(NOTHING_CASES)
        for case, driver in drivers.items():
            if case in cases:
                runs[case] = Recording(case, base, capture=case in CAPTURE).start(driver)
        yield runs
    finally:
        for r in runs.values():
            r.stop()
        icecast.stop_source(MOUNT)


@pytest.fixture(scope="module")
def stalled_push(request, sshd, tmp_path_factory):
    """An upload whose link stops moving for good (sockets open, no byte either way) when 40 % of
    the file is up. Only sa-push's own timer can end it, so it starts with the module and is
    checked by the last test."""
    if not selected(request, "test_push_over_a_link_stalled_for_good"):
        yield None
        return
    ps = PushSetup(tmp_path_factory.mktemp("stalled-push"), sshd, "stalled-for-good")
    p = ps.start()
    try:
        when_uploading(lambda px: px.stall())(ps.proxy, p)
        yield {"setup": ps, "proc": p, "since": time.monotonic()}
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        ps.stop()


@pytest.fixture(scope="module", autouse=True)
def background(recordings, stalled_push):
    """Starts the real-time work first, so it overlaps with the quick tests."""
    yield


@pytest.fixture
def push_setup(tmp_path, sshd, request):
    ps = PushSetup(tmp_path, sshd, request.node.callspec.id if hasattr(request.node, "callspec") else request.node.name)
    yield ps
    ps.stop()


# --- sa-push tests (quick: they run while the recordings go on) ------------------------------------


def test_push_over_a_slow_link_completes(push_setup):
    ps = push_setup
    ps.proxy.latency(20)  # every SFTP round trip becomes 40 ms longer
    ps.proxy.bandwidth(3_000_000)  # each way: the upload and the read-back take ~3 s each at least
    r = ps.push()
    assert r.returncode == 0, r.stderr
    assert r.took >= 2 * PUSH_SIZE / 3_000_000 * 0.8, r.took  # the cap was really there
    (rec,) = jsonlines(r.stdout)
    assert rec["status"] == "uploaded" and rec["sha256"] == sha(ps.file) == sha(ps.final)
    assert ps.listing() == [ps.name]
    again = ps.push()  # and the next run finds it there: no second copy
    assert again.returncode == 0 and [x["status"] for x in jsonlines(again.stdout)] == ["exists"]
    assert ps.listing() == [ps.name]


@pytest.mark.parametrize("case", list(PUSH_FAULTS))
def test_push_over_a_broken_link(push_setup, ssh_layout, case):
    ps = push_setup
    r = ps.push(during=PUSH_FAULTS[case](ssh_layout))
    px = ps.proxy
    assert px.resets + px.closes + px.flips == 1, "the fault did not happen"
    if case == "flip-in-auth" and r.returncode == 0:
        # The SSH library drops the damaged answer; sa-push asks again and the push goes through.
        assert sha(ps.final) == sha(ps.file), "a damaged file under the final name"
        return
    # It happened where it was aimed.
    if case.endswith("-upload"):
        assert PUSH_SIZE * 0.4 <= px.bytes_up < PUSH_SIZE, px.bytes_up
    elif case.endswith("-read-back"):
        assert px.bytes_up > PUSH_SIZE and px.bytes_down >= PUSH_SIZE // 2, (px.bytes_up, px.bytes_down)
    else:
        assert px.bytes_up < 64 << 10, px.bytes_up
    check_push_failed(ps, r)
    assert not os.path.exists(ps.final)  # every fault here comes before the rename
    check_push_converges(ps)


def test_push_over_a_briefly_stalled_link_completes(push_setup):
    """A stall much shorter than sa-push's timer only delays the upload."""
    ps = push_setup

    def stall_briefly(px):
        px.stall()
        time.sleep(3)
        px.unstall()
    r = ps.push(during=when_uploading(stall_briefly))
    assert r.returncode == 0, r.stderr
    assert r.took >= 3
    assert [x["status"] for x in jsonlines(r.stdout)] == ["uploaded"]
    assert sha(ps.final) == sha(ps.file) and ps.listing() == [ps.name]


# --- sa-record tests -------------------------------------------------------------------------------


def reasons_match(got, expected):
    if expected == "error...":
        # Every connection is reset: a section per connection, each closed with `error`, except
        # the last, which the deadline may end first.
        return len(got) >= 3 and all(x == "error" for x in got[:-1]) and got[-1] in ("error", "duration")
    return got == expected


def check_store(rec, finished):
    """The database is sound and holds exactly the sections the recorder reported, each gapless."""
    con = sqlite3.connect(f"file:{rec.db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        sections = con.execute("SELECT id, start_timestamp_ms, is_open, end_timestamp_ms, finish_reason FROM sections "
                               "ORDER BY id").fetchall()
        assert [(s[0], s[4]) for s in sections] == [(f["section_id"], f["reason"]) for f in finished]
        assert all(s[2] == 0 for s in sections), "a section left open"
        rows = con.execute("SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples, audio_data "
                           "FROM segments ORDER BY id").fetchall()
        delay = int(con.execute("SELECT value FROM metadata WHERE key = 'encoder_delay_samples'").fetchone()[0])
    finally:
        con.close()
    # Sections follow each other in id order; each section's segments form one run of ids.
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)
    stored = {}
    for sid, start, _, end, _ in sections:
        segs = [r for r in rows if r[3] == sid]
        assert segs, f"section {sid} has no segment"
        assert [r[2] for r in segs] == [1] + [0] * (len(segs) - 1)
        total = 0
        for i, (_, ts, _, _, dur, blob) in enumerate(segs):
            assert ts == start + total * 1000 // RATE, f"section {sid} segment {i}: a gap or an overlap"
            packets = split_opus_packets(blob)
            assert packets and all(packets), "empty Opus packets"
            if i < len(segs) - 1:
                # Full segments; the first one without the encoder's delay (the Opus pre-skip).
                assert dur == SEGMENT - (delay if i == 0 else 0), f"section {sid} segment {i}: {dur} samples"
            else:
                assert 0 < dur <= SEGMENT
            total += dur
        assert end == start + total * 1000 // RATE
        fin = next(f for f in finished if f["section_id"] == sid)
        assert fin["segments"] == len(segs) and fin["duration_ms"] == total * 1000 // RATE
        stored[sid] = total
    return stored


def check_export(rec, stored, out):
    """Every section exported with sa-export is valid Ogg Opus of the stored length."""
    for sid, samples in stored.items():
        r = subprocess.run([bin_path("sa-export"), "--db", rec.db, "--section", str(sid), "--output-dir", out],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        (x,) = jsonlines(r.stdout)
        assert x["type"] == "exported" and x["format"] == "opus", x
        assert abs(ffprobe_duration(x["file_path"]) - samples / RATE) <= 0.1, (sid, samples)
        n, err = decoded_samples(x["file_path"], RATE)
        assert err == "", f"section {sid} does not decode cleanly: {err}"
        assert n == samples, f"section {sid}: {n} samples decoded, {samples} stored"


@pytest.mark.parametrize("case", list(RECORD_CASES))
def test_record_through_a_faulty_link(recordings, case, tmp_path):
    rec = recordings[case].finish()
    expected = RECORD_CASES[case][1]
    assert rec.driver_error is None, f"the fault was not applied as planned: {rec.driver_error}"
    assert not rec.hung, f"sa-record hung: still running {RECORD_TIMEOUT} s after it started; stderr: {''.join(rec.err)}"
    assert rec.result >= 0, f"sa-record died of signal {-rec.result}: {''.join(rec.err)}"
    assert rec.result == 0, f"exit {rec.result}: {''.join(rec.err)}"
    assert DURATION - 1 <= rec.took <= DURATION + 8, rec.took  # it recorded until the deadline, and stopped there
    records = rec.records()
    assert not [x for x in records if x["type"] == "error"], records
    started, finished = rec.records("section_started"), rec.records("section_finished")
    got = [f["reason"] for f in finished]
    assert reasons_match(got, expected), f"section end reasons {got}, expected {expected}; stderr: {''.join(rec.err)}"
    # Each section is started before it is finished, and the next one starts after that.
    order = [(x["type"], x["section_id"]) for x in records if x["type"] in ("section_started", "section_finished")]
    assert order == [(t, f["section_id"]) for f in finished for t in ("section_started", "section_finished")], order
    assert [s["section_id"] for s in started] == sorted(s["section_id"] for s in started)
    if len(finished) > 1:
        assert rec.proxy.connections >= len(finished)  # a reconnect per new section
        assert "reconnecting" in "".join(rec.err)  # reconnects are reported as warnings (sa-record(1))
    stored = check_store(rec, finished)
    check_export(rec, stored, str(tmp_path / "export"))
    seconds = sum(stored.values()) / RATE
    if expected == ONE:
        # One connection all along: the deadline's worth of audio, plus Icecast's burst on connect.
        assert DURATION - 3 <= seconds <= DURATION + BURST / STREAM_BYTES_PER_S + 2, seconds
    if case.startswith("flip-"):
        assert rec.proxy.flips == 1
        w = Wire(rec.proxy.captured[0])
        at = rec.marks["flip_at"]
        if case == "flip-icy-length-byte":
            assert at in w.length_bytes
        else:
            assert at in w.audio_at
            if case == "flip-frame-header":
                assert rec.proxy.captured[0][at] == 0xFE  # a frame's 0xFF sync byte, broken
    if case == "stall-longer-than-timeout":
        stalled_at = rec.said("section_finished", reason="stalled")
        waited = stalled_at - rec.marks["stalled"]
        assert waited >= STALL_TIMEOUT - 0.5, f"gave up after {waited:.1f} s of stall"
        # (A section's first record comes with its first segment, at the latest when it closes.)
        assert rec.marks["stalled"] < stalled_at < rec.marks["unstalled"]
        second = rec.records("section_started")[1]
        assert rec.said("section_started", section_id=second["section_id"]) > rec.marks["unstalled"]
    if case.endswith("-once"):
        assert rec.proxy.resets + rec.proxy.closes == 1 and rec.proxy.connections == 2


@pytest.mark.parametrize("case", list(NOTHING_CASES))
def test_record_when_no_audio_ever_arrives(recordings, case):
    """Every connection fails before the first audio byte: sa-record retries with backoff (no
    tight loop), stops at the deadline and exits 69, "nothing could be recorded" (sa-record(1))."""
    rec = recordings[case].finish()
    assert rec.driver_error is None, rec.driver_error
    assert not rec.hung, f"sa-record hung: still running {RECORD_TIMEOUT} s after it started; stderr: {''.join(rec.err)}"
    assert rec.result >= 0, f"sa-record died of signal {-rec.result}: {''.join(rec.err)}"
    assert rec.result == 69, f"exit {rec.result}: {''.join(rec.err)}"
    assert DURATION - 1 <= rec.took <= DURATION + 8, rec.took
    assert not [x for x in rec.records() if x["type"] != "error"], rec.records()
    err = "".join(rec.err)
    assert "nothing recorded" in err and "reconnecting" in err, err
    # Backoff 0.5 s, 1 s, 2 s, 4 s, 8 s … between attempts: a handful of connections, not hundreds.
    assert 3 <= rec.proxy.connections <= 8, rec.proxy.connections
    if os.path.exists(rec.db):
        con = sqlite3.connect(f"file:{rec.db}?mode=ro", uri=True)
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert con.execute("SELECT count(*) FROM sections").fetchone()[0] == 0
            assert con.execute("SELECT count(*) FROM segments").fetchone()[0] == 0
        finally:
            con.close()


def test_record_stall_is_noticed_after_the_stall_timeout(recordings):
    """sa-record(1): a stall is "no bytes for stall_timeout_seconds"; the connection is given up
    within a couple of seconds of that, not much later."""
    rec = recordings["stall-longer-than-timeout"].finish()
    stalled_at = rec.said("section_finished", reason="stalled")
    assert stalled_at, "no section ended as stalled"
    waited = stalled_at - rec.marks["stalled"]
    assert STALL_TIMEOUT - 0.5 <= waited <= STALL_TIMEOUT + 2.5, f"the stall was noticed after {waited:.1f} s"


# --- kept last: the push over a link stalled for good ------------------------------------------------


def test_push_over_a_link_stalled_for_good(stalled_push):
    """Kept last in the file (see stalled_push)."""
    ps, p = stalled_push["setup"], stalled_push["proc"]
    left = stalled_push["since"] + STALL_PUSH_LIMIT - time.monotonic()
    try:
        out, err = p.communicate(timeout=max(left, 1))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail(f"sa-push hung on a stalled link: still running {STALL_PUSH_LIMIT} s after the stall "
                    f"(its own timeout is {SSH_TIMEOUT} s)")
    waited = time.monotonic() - stalled_push["since"]
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    check_push_failed(ps, r)
    assert waited >= SSH_TIMEOUT - 5, waited  # it waited for its timer, it did not give up at once
    assert not os.path.exists(ps.final)
    check_push_converges(ps)
