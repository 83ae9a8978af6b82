"""Fixtures: the built tools, a real Icecast with ffmpeg sources, and small stub servers for
what Debian has no server for (Shoutcast v1 `ICY 200 OK`, a stalling stream, failing URLs)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

# Fixed loopback ports; SA_TEST_PORT_BASE moves them all, so two test runs can share a machine.
PORT_BASE = int(os.environ.get("SA_TEST_PORT_BASE", "18610"))
ICECAST_PORT = PORT_BASE + 1
STUB_PORT = PORT_BASE + 2


def bin_path(tool):
    d = os.environ.get("SA_BIN") or os.path.join(ROOT, ".build", "release")
    return os.path.join(d, tool)


@pytest.fixture(scope="session")
def sa_record():
    path = bin_path("sa-record")
    assert os.access(path, os.X_OK), f"{path} is not built; run make build"
    return path


@pytest.fixture(scope="session")
def media_dir():
    d = tempfile.mkdtemp(prefix="sa-media-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_tone(path, seconds, codec_args, freq=440, extra_input=None):
    """Generates a real encoded file of known length with ffmpeg (44.1 kHz stereo)."""
    if not os.path.exists(path):
        subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i",
                        f"sine=frequency={freq}:sample_rate=44100:duration={seconds}",
                        "-ac", "2", *codec_args, path], check=True)
    return path


class Icecast:
    def __init__(self, port, burst_size=None, metaint=None):
        self.port = port
        self.metaint = metaint
        self.dir = tempfile.mkdtemp(prefix="sa-icecast-")
        self.sources = {}
        self.burst_size = burst_size

    def start(self):
        env = dict(os.environ)
        if self.burst_size is not None:
            env["SA_ICECAST_BURST_SIZE"] = str(self.burst_size)
        if self.metaint is not None:
            env["SA_ICECAST_METAINT"] = str(self.metaint)
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "icecast.sh"), "start", self.dir, str(self.port)], check=True, env=env)

    def stop(self):
        for mount in list(self.sources):
            self.stop_source(mount)
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "icecast.sh"), "stop", self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, mount):
        return f"http://127.0.0.1:{self.port}{mount}"

    def start_source(self, mount, kind="mp3", freq=330):
        if kind == "mp3":
            codec = ["-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg", "-f", "mp3"]
        else:
            codec = ["-c:a", "aac", "-b:a", "96k", "-content_type", "audio/aac", "-f", "adts"]
        p = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=44100",
                              "-ac", "2", *codec, f"icecast://source:sourcepw@127.0.0.1:{self.port}{mount}"],
                             stdin=subprocess.DEVNULL)
        self.sources[mount] = p
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url(mount), timeout=2) as r:
                    if r.read(1000):
                        return p
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"icecast source {mount} did not come up")

    def stop_source(self, mount):
        p = self.sources.pop(mount, None)
        if p:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    def set_title(self, mount, title):
        q = urllib.parse.urlencode({"mount": mount, "mode": "updinfo", "song": title})
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/admin/metadata?{q}")
        import base64
        req.add_header("Authorization", "Basic " + base64.b64encode(b"admin:adminpw").decode())
        with urllib.request.urlopen(req, timeout=5) as r:
            assert b"successful" in r.read()


@pytest.fixture(scope="session")
def icecast():
    ice = Icecast(ICECAST_PORT)
    ice.start()
    yield ice
    ice.stop()


@pytest.fixture(scope="session")
def stub(media_dir):
    import stubserver
    mp3 = make_tone(os.path.join(media_dir, "stub.mp3"), 120, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=550)
    server = stubserver.start(STUB_PORT, mp3, icecast_port=ICECAST_PORT)
    yield server
    server.shutdown()


SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")


def sqlite_fingerprint(path):
    """What a database holds, as a reader sees it, plus the raw bytes of its -wal, -shm and
    -journal files: a write that is still only in the WAL changes it, although the main file
    does not change. The files are copied first (without the -shm, which SQLite rebuilds from
    the WAL), and the copy is read, because even a read-only open of a WAL database leaves
    -wal and -shm files behind. Returns a dict of digests, so a failing comparison shows which
    part changed."""
    import hashlib
    import sqlite3

    def sha(b):
        return hashlib.sha256(b).hexdigest()
    path = str(path)
    out = {"file:main": "present" if os.path.exists(path) else "missing"}
    for suffix in SQLITE_SIBLINGS:
        if os.path.exists(path + suffix):
            with open(path + suffix, "rb") as f:
                out["file:" + suffix] = sha(f.read())
    if not os.path.exists(path):
        return out
    with tempfile.TemporaryDirectory(prefix="sa-fingerprint-") as d:
        copy = os.path.join(d, "db.sqlite")
        for suffix in ("", "-wal", "-journal"):
            if os.path.exists(path + suffix):
                shutil.copyfile(path + suffix, copy + suffix)
        con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            schema = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
            out["schema"] = sha(repr(schema).encode())
            out["user_version"] = con.execute("PRAGMA user_version").fetchone()[0]
            for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
                q = '"' + name.replace('"', '""') + '"'
                rows = sorted(repr(r) for r in con.execute(f"SELECT * FROM {q}"))
                out["table:" + name] = f"{len(rows)} rows " + sha("\n".join(rows).encode())
        finally:
            con.close()
    return out


def run_tool(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def start_tool(args, **kw):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def stop_tool(p, sig=signal.SIGTERM, timeout=20):
    p.send_signal(sig)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


PG_PORT = PORT_BASE + 3


class Postgres:
    def __init__(self, port):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="sa-pg-")
        self.url = f"postgres://postgres@127.0.0.1:{port}"

    def start(self):
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "postgres.sh"), "start", self.dir, str(self.port)], check=True)

    def stop(self):
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "postgres.sh"), "stop", self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)

    def psql(self, db, sql):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-At", "-F", "|",
                            "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return [line.split("|") for line in r.stdout.splitlines()]


@pytest.fixture(scope="session")
def postgres():
    pg = Postgres(PG_PORT)
    pg.start()
    yield pg
    pg.stop()


def wait_for(cond, timeout, step=0.2):
    """Polls cond until it returns something true or timeout seconds pass; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def port_open(port):
    """Whether something accepts connections on the loopback port."""
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Recorder:
    """A recorder's output directory with sa-serve running over it."""

    def __init__(self, base, token=None):
        self.dir = base
        self.out = os.path.join(base, "rec")
        os.makedirs(self.out, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(base, "record.toml")
        self.creds = os.path.join(base, "credentials.toml")
        self.token = token
        with open(self.config, "w") as f:
            f.write(f"config_type = 'record'\noutput_dir = 'rec'\napi_port = {self.port}\n")
            if token:
                f.write("api_token_profile = 'rec'\n")
        if token:
            with open(self.creds, "w") as f:
                f.write(f"[api.rec]\ntoken = '{token}'\n")
            os.chmod(self.creds, 0o600)
        self.proc = None
        self.log = os.path.join(base, "serve.log")

    def start(self):
        args = [bin_path("sa-serve"), "--config", self.config, "--log-level", "info"]
        if self.token:
            args += ["--credentials", self.creds]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/api/health", timeout=1).read()
                return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("sa-serve did not start: " + open(self.log).read())

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def db(self, show):
        return os.path.join(self.out, f"{show}.sqlite")

    def record_file(self, show, path, fmt="opus"):
        r = run_tool([bin_path("sa-record"), "--input", path, "--name", show, "--output-dir", self.out, "--format", fmt,
                      "--min-free-mb", "0"], timeout=600)
        assert r.returncode == 0, r.stderr
        return r

    def requests(self, fragment):
        return sum(1 for line in open(self.log) if "hb.request.path=" in line and fragment in line)


@pytest.fixture
def recorder(tmp_path):
    made = []

    def make(token=None):
        r = Recorder(str(tmp_path / f"recorder{len(made)}"), token=token)
        os.makedirs(r.dir, exist_ok=True)
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()


_prefix_counter = [0]


def receiver_config(tmp_path, recorder, db_url, shows=None, chunk_size=100, token=None, prefix=None):
    """Writes a receiver config with a prefix of its own, so every test has its own databases."""
    if prefix is None:
        _prefix_counter[0] += 1
        prefix = f"t{os.getpid()}x{_prefix_counter[0]}"
    path = tmp_path / f"receiver-{prefix}.toml"
    text = f"config_type = 'receiver'\nremote_url = '{recorder.url}'\nchunk_size = {chunk_size}\n"
    if shows is not None:
        text += "shows = [" + ", ".join(f"'{s}'" for s in shows) + "]\n"
    if token:
        text += "api_token_profile = 'rec'\n"
    text += f"[database]\nurl = '{db_url}'\nprefix = '{prefix}'\n"
    path.write_text(text)
    return str(path), prefix


SSHD_PORT = PORT_BASE + 4
SFTP_USER = "sapush"


class SSHServer:
    def __init__(self, port):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="sa-sshd-")
        self.home = os.path.join(self.dir, "home")
        self.user = SFTP_USER
        self.password = "pw-" + os.urandom(6).hex()

    def start(self):
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "sshd.sh"), "start", self.dir, str(self.port), self.user], check=True)
        subprocess.run(["chpasswd"], input=f"{self.user}:{self.password}", text=True, check=True)

    def stop(self):
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "sshd.sh"), "stop", self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)

    def host_key_line(self):
        pub = open(os.path.join(self.dir, "host_ed25519.pub")).read().split()
        return f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n"

    def authorize(self, pubkey_path):
        with open(os.path.join(self.dir, "authorized_keys"), "a") as f:
            f.write(open(pubkey_path).read())


@pytest.fixture(scope="session")
def sshd():
    s = SSHServer(SSHD_PORT)
    s.start()
    yield s
    s.stop()


DRIFT_PORT = PORT_BASE + 11
DRIFT_SECONDS = int(os.environ.get("SA_DRIFT_SECONDS", "600"))  # shorter only to try the test itself


class DriftRun:
    """A 10-minute live recording that runs beside the rest of the suite (it needs wall time,
    not CPU): its own Icecast and source, sa-record --duration, and the moment each JSON line
    arrived."""

    def __init__(self):
        import threading
        self.dir = tempfile.mkdtemp(prefix="sa-drift-")
        self.ice = Icecast(DRIFT_PORT)
        self.ice.start()
        self.ice.start_source("/drift.mp3", freq=440)
        time.sleep(5)  # the server's queue fills past one burst
        self.lines = []
        self.started = time.time()
        self.proc = subprocess.Popen([bin_path("sa-record"), "--url", self.ice.url("/drift.mp3"), "--name", "drift",
                                      "--output-dir", self.dir, "--duration", f"{DRIFT_SECONDS}s", "--split-interval", "2",
                                      "--min-free-mb", "0"], stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.dir, "stderr"), "w"), text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        import json
        for line in self.proc.stdout:
            self.lines.append((time.time(), json.loads(line)))

    def finish(self):
        rc = self.proc.wait(DRIFT_SECONDS + 120)
        self.reader.join(10)
        return rc, open(os.path.join(self.dir, "stderr")).read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.ice.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def drift_run(request):
    """Started with the session when the drift test is among the collected tests, so its ten
    minutes pass while the other tests run."""
    if not any(item.name.startswith("test_a_ten_minute_run") for item in request.session.items):
        yield None
        return
    run = DriftRun()
    yield run
    run.stop()


class Serve:
    """sa-serve with the given arguments on a free port, started and answering /api/health."""

    def __init__(self, args, cwd, log):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([bin_path("sa-serve"), *args, "--port", str(self.port), "--log-level", "info"], cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/api/health", timeout=1)
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(open(log).read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
