"""sa-push against a real OpenSSH sshd on loopback: integrity, authentication, host keys,
interrupted uploads, the hourly export | push pipeline, and bad input."""
import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from audiotools import jsonlines
from conftest import bin_path, make_tone, run_tool


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Setup:
    def __init__(self, tmp_path, sshd, auth="key", known_hosts="file", port=None, remote_dir="archive/radio"):
        self.tmp = tmp_path
        self.remote_dir = remote_dir
        self.remote = os.path.join(sshd.home, remote_dir)
        kh = tmp_path / "known_hosts"
        kh.write_text(sshd.host_key_line())
        self.known_hosts = str(kh) if known_hosts == "file" else known_hosts
        creds = tmp_path / "credentials.toml"
        if auth == "key":
            key = tmp_path / "id_ed25519"
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
                sshd.authorize(str(key) + ".pub")
            creds.write_text(f"[sftp.nas]\nprivate_key = '{key}'\n")
        else:
            creds.write_text(f"[sftp.nas]\npassword = '{auth}'\n")
        os.chmod(creds, 0o600)
        self.creds = str(creds)
        self.config = tmp_path / "record.toml"
        self.config.write_text(f"""config_type = 'record'
output_dir = 'rec'
[sftp]
host = '127.0.0.1'
port = {port or sshd.port}
username = '{sshd.user}'
credential_profile = 'nas'
remote_dir = '{remote_dir}'
known_hosts = '{self.known_hosts}'
""")

    def push(self, *args, input=None, env=None):
        return subprocess.run([bin_path("sa-push"), "--config", str(self.config), "--credentials", self.creds, *args],
                              input=input, capture_output=True, text=True, timeout=300, env=env)


def random_file(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return str(path)


@pytest.fixture(autouse=True)
def clean_remote(sshd):
    yield
    shutil.rmtree(os.path.join(sshd.home, "archive"), ignore_errors=True)


@pytest.mark.parametrize("auth", ["key", "password"])
def test_files_arrive_byte_identical(tmp_path, sshd, auth):
    s = Setup(tmp_path, sshd, auth="key" if auth == "key" else sshd.password)
    small = random_file(tmp_path / "small.ogg", 1024)
    big = random_file(tmp_path / "big.ogg", 50 * 1024 * 1024)
    t0 = time.time()
    r = s.push(small, big)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    recs = jsonlines(r.stdout)
    assert [x["status"] for x in recs] == ["uploaded", "uploaded"]
    for local, rec in zip([small, big], recs):
        remote = os.path.join(s.remote, os.path.basename(local))
        assert sha(remote) == sha(local) == rec["sha256"]  # checked on the server's side
        assert rec["remote_path"] == f"{s.remote_dir}/{os.path.basename(local)}" and rec["host"] == "127.0.0.1"
        assert rec["bytes"] == os.path.getsize(local)
    assert sorted(os.listdir(s.remote)) == ["big.ogg", "small.ogg"]  # no temporary files left
    assert time.time() - t0 < 120
    again = s.push(small)
    assert [x["status"] for x in jsonlines(again.stdout)] == ["exists"]


class CuttingProxy:
    """Forwards to sshd and cuts the connection after `limit` bytes from the client."""

    def __init__(self, target_port, limit):
        self.target = target_port
        self.limit = limit
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self.pipe, args=(u, c, None), daemon=True).start()
            threading.Thread(target=self.pipe, args=(c, u, self.limit), daemon=True).start()

    def pipe(self, src, dst, limit):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
                if limit is not None and sent > limit:
                    break
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_cut_connection_leaves_no_final_file_and_next_run_completes(tmp_path, sshd):
    proxy = CuttingProxy(sshd.port, limit=8 * 1024 * 1024)
    kh = tmp_path / "known_hosts"
    s = Setup(tmp_path, sshd, port=proxy.port)
    kh.write_text(sshd.host_key_line().replace(f"]:{sshd.port}", f"]:{proxy.port}"))
    big = random_file(tmp_path / "cut.ogg", 30 * 1024 * 1024)
    r = s.push(big)
    assert r.returncode == 69, r.stderr  # the connection broke (sa-push(1) EXIT STATUS)
    errors = [x for x in jsonlines(r.stdout) if x["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "unavailable", r.stdout
    assert not os.path.exists(os.path.join(s.remote, "cut.ogg"))
    # The next run (with a working connection) completes it.
    proxy.limit = None
    r = s.push(big)
    assert r.returncode == 0, r.stderr
    assert sha(os.path.join(s.remote, "cut.ogg")) == sha(big)
    assert os.listdir(s.remote) == ["cut.ogg"]


def test_changed_host_key_is_refused(tmp_path, sshd):
    s = Setup(tmp_path, sshd)
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pub = open(str(other) + ".pub").read().split()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {pub[0]} {pub[1]}\n")
    f = random_file(tmp_path / "x.ogg", 2048)
    r = s.push(f)
    assert r.returncode == 77
    assert "CHANGED" in r.stderr and "SHA256:" in r.stderr
    assert not os.path.exists(s.remote)


def test_unknown_host_key_refused_unless_accept_new(tmp_path, sshd):
    s = Setup(tmp_path, sshd)
    (tmp_path / "known_hosts").write_text("")
    f = random_file(tmp_path / "y.ogg", 2048)
    r = s.push(f)
    assert r.returncode == 77 and "not in" in r.stderr
    fp = subprocess.run(["ssh-keygen", "-l", "-f", os.path.join(sshd.dir, "host_ed25519.pub")], capture_output=True,
                        text=True).stdout.split()[1]
    assert fp in r.stderr  # the offered fingerprint, as ssh-keygen shows it
    assert not os.path.exists(s.remote)
    home = tmp_path / "home"
    home.mkdir()
    s2 = Setup(tmp_path, sshd, known_hosts="accept-new")
    r = s2.push(f, env=dict(os.environ, HOME=str(home)))
    assert r.returncode == 0, r.stderr
    assert f"[127.0.0.1]:{sshd.port}" in (home / ".ssh" / "known_hosts").read_text()


def test_wrong_password_or_key_is_77_without_secrets(tmp_path, sshd):
    s = Setup(tmp_path, sshd, auth="not-the-password-42")
    f = random_file(tmp_path / "z.ogg", 2048)
    r = s.push(f)
    assert r.returncode == 77 and "refused the password" in r.stderr
    assert "not-the-password-42" not in r.stderr + r.stdout
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    creds = tmp_path / "credentials.toml"
    creds.write_text(f"[sftp.nas]\nprivate_key = '{stranger}'\n")
    r = s.push(f)
    assert r.returncode == 77 and "refused the key" in r.stderr
    assert not os.path.exists(s.remote)


def test_hourly_pipeline_uploads_each_section_once_and_retries_failures(tmp_path, sshd, media_dir):
    tone = make_tone(os.path.join(media_dir, "push12.mp3"), 12, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=620)
    s = Setup(tmp_path, sshd)
    for _ in range(2):
        assert run_tool([bin_path("sa-record"), "--input", tone, "--name", "arch", "--output-dir", str(tmp_path / "rec"),
                         "--min-free-mb", "0"]).returncode == 0

    def pipeline():
        e = subprocess.Popen([bin_path("sa-export"), "--config", str(s.config), "--pending", "--output-dir", str(tmp_path / "files")],
                             stdout=subprocess.PIPE)
        p = subprocess.run([bin_path("sa-push"), "--config", str(s.config), "--credentials", s.creds], stdin=e.stdout,
                           capture_output=True, text=True, timeout=120)
        e.wait()
        return p

    first = pipeline()
    assert first.returncode == 0, first.stderr
    assert [x["status"] for x in jsonlines(first.stdout)] == ["uploaded", "uploaded"]
    second = pipeline()
    assert second.returncode == 0 and jsonlines(second.stdout) == []
    db = tmp_path / "rec" / "arch.sqlite"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM pushes").fetchone()[0] == 2
    # A third section whose upload fails (the archive is read-only for a moment) goes up next run.
    assert run_tool([bin_path("sa-record"), "--input", tone, "--name", "arch", "--output-dir", str(tmp_path / "rec"),
                     "--min-free-mb", "0"]).returncode == 0
    os.chmod(s.remote, 0o555)
    try:
        failed = pipeline()
    finally:
        os.chmod(s.remote, 0o755)
    assert failed.returncode == 77, failed.stderr  # permission denied on the server (sa-push(1) EXIT STATUS)
    assert [x["type"] for x in jsonlines(failed.stdout)] == ["error"] and "permission denied" in failed.stderr
    retry = pipeline()
    assert retry.returncode == 0, retry.stderr
    assert [x["status"] for x in jsonlines(retry.stdout)] == ["uploaded"]
    assert len(os.listdir(s.remote)) == 3
    assert sqlite3.connect(db).execute("SELECT count(*) FROM pushes").fetchone()[0] == 3


def test_missing_file_and_bad_line_do_not_stop_the_others(tmp_path, sshd):
    s = Setup(tmp_path, sshd)
    good = random_file(tmp_path / "good.ogg", 4096)
    lines = "\n".join([
        '{"type":"exported","file_path":"' + str(tmp_path / "gone.ogg") + '"}',
        "{broken",
        '{"type":"exported","file_path":"' + good + '"}',
        '{"type":"segment","segment_id":3}',
    ]) + "\n"
    r = s.push(input=lines)
    assert r.returncode == 1
    recs = jsonlines(r.stdout)
    assert [x["type"] for x in recs] == ["error", "error", "pushed"]
    assert recs[0]["code"] == "not_found" and recs[1]["code"] == "bad_json"
    assert os.listdir(s.remote) == ["good.ogg"]


def test_sftp_read_back_mismatch_is_an_error_and_leaves_no_final_file(tmp_path, sshd):
    """The server's copy changes after the upload (a faulty disk or a meddling process): the
    read-back catches it, the copy is removed, exit 74 with code mismatch; the next run uploads."""
    s = Setup(tmp_path, sshd, remote_dir=f"mismatch{os.getpid()}")
    f = tmp_path / "big.ogg"
    f.write_bytes(os.urandom(24 << 20))
    size = f.stat().st_size
    part = os.path.join(s.remote, ".big.ogg.part")
    flipped = []

    def meddle():
        deadline = time.time() + 60
        while time.time() < deadline and not flipped:
            try:
                if os.path.getsize(part) == size:
                    with open(part, "r+b") as p:
                        p.seek(size - 1)
                        b = p.read(1)
                        p.seek(size - 1)
                        p.write(bytes([b[0] ^ 0xFF]))
                    flipped.append(True)
            except OSError:
                pass
            time.sleep(0.0005)
    t = __import__("threading").Thread(target=meddle)
    t.start()
    r = s.push(str(f))
    t.join()
    assert flipped, "the test never saw the uploaded copy"
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert [x["code"] for x in jsonlines(r.stdout) if x.get("type") == "error"] == ["mismatch"], r.stdout
    assert not os.path.exists(os.path.join(s.remote, "big.ogg"))
    assert not os.path.exists(part)
    r = s.push(str(f))
    assert r.returncode == 0, r.stderr
    assert sha(os.path.join(s.remote, "big.ogg")) == sha(str(f))
