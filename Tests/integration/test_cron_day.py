"""The admin's day, from cron: the tools installed with `make install`, the crontab the README
recommends (a recording window per show, hourly export and push, receiver pulls every ten
minutes, a nightly prune), run by a small cron at a faster clock (one hour in twelve seconds)
against the local Icecast, PostgreSQL and sshd. At the end every section is on the receiver,
in both export directories and on the SFTP server: intact, and once."""
import glob
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import time

from audiotools import jsonlines
from conftest import ROOT, bin_path, free_port, port_open, receiver_config, wait_for

SIM_SECONDS_PER_REAL = 300.0  # one simulated hour = 12 real seconds
MOUNT = "/cronday.mp3"


class FastCron:
    """Runs crontab lines (five fields: minute, hour, day of month, month, day of week, each
    '*', '*/n', 'a-b', numbers or lists; '@reboot') on a simulated clock that starts at
    `start` and runs SIM_SECONDS_PER_REAL times as fast as the real one. Each due line runs
    through /bin/sh in the background, as cron does."""

    def __init__(self, crontab, env, start_minute):
        self.lines = []
        for raw in crontab.splitlines():
            raw = raw.strip()
            if not raw or raw.startswith("#") or re.match(r"^[A-Z_]+=", raw):
                continue
            if raw.startswith("@reboot"):
                self.lines.append(("@reboot", raw[len("@reboot"):].strip()))
            else:
                fields = raw.split(None, 5)
                self.lines.append((fields[:5], fields[5]))
        self.env = env
        self.start_minute = start_minute
        self.procs = []

    @staticmethod
    def match(field, value):
        for part in field.split(","):
            step = 1
            if "/" in part:
                part, s = part.split("/")
                step = int(s)
            if part == "*":
                lo, hi = 0, 10 ** 6
            elif "-" in part:
                lo, hi = map(int, part.split("-"))
            else:
                lo = hi = int(part)
            if lo <= value <= hi and (value - lo) % step == 0:
                return True
        return False

    def due(self, fields, minute_of_day):
        m, h, dom, mon, dow = fields
        # One simulated day, a Monday the 1st of January.
        return (self.match(m, minute_of_day % 60) and self.match(h, minute_of_day // 60) and self.match(dom, 1)
                and self.match(mon, 1) and self.match(dow, 1))

    def spawn(self, command, label):
        p = subprocess.Popen(["/bin/sh", "-c", command], env=self.env)
        self.procs.append((label, command, p))

    def real_time_of(self, minute_of_day):
        return self.t0 + (minute_of_day - self.start_minute) * 60 / SIM_SECONDS_PER_REAL

    def run(self, until_minute, t0):
        """@reboot lines at once, then the schedule from `start_minute` at real time t0 (a
        moment later, as services come up before the first cron minute after a boot)."""
        self.t0 = t0
        for fields, command in self.lines:
            if fields == "@reboot":
                self.spawn(command, "@reboot")
        for minute in range(self.start_minute, until_minute + 1):
            delay = self.real_time_of(minute) - time.time()
            if delay > 0:
                time.sleep(delay)
            for fields, command in self.lines:
                if fields != "@reboot" and self.due(fields, minute):
                    self.spawn(command, f"{minute // 60:02d}:{minute % 60:02d}")

    def wait_jobs(self, timeout=120):
        """Waits for every job but the long-lived @reboot ones; returns their exit statuses."""
        deadline = time.time() + timeout
        out = []
        for label, command, p in self.procs:
            if label == "@reboot":
                continue
            out.append((label, command, p.wait(max(1, deadline - time.time()))))
        return out

    def stop_daemons(self):
        for label, _, p in self.procs:
            if label == "@reboot" and p.poll() is None:
                p.terminate()
                p.wait(20)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def hhmmss(t):
    return time.strftime("%H:%M:%S", time.gmtime(t))


def test_a_day_from_cron(tmp_path, icecast, postgres, sshd):
    # Install as a packager would, into a prefix of our own.
    prefix = tmp_path / "usr"
    r = subprocess.run(["make", "-C", ROOT, "-o", "build", "install", f"PREFIX={prefix}", f"BUILD={os.path.dirname(bin_path('sa-record'))}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for tool in ("sa-record", "sa-serve", "sa-pull", "sa-export", "sa-prune", "sa-push", "save_audio_stream"):
        assert os.access(prefix / "bin" / tool, os.X_OK), tool
    page = subprocess.run(["man", "-M", str(prefix / "share" / "man"), "-P", "cat", "sa-record"], capture_output=True, text=True,
                          env=dict(os.environ, MANWIDTH="80"))
    assert page.returncode == 0 and "sa-record" in page.stdout

    icecast.start_source(MOUNT, freq=380)
    try:
        run_day(tmp_path, prefix, icecast, postgres, sshd)
    finally:
        icecast.stop_source(MOUNT)


def run_day(tmp_path, prefix, icecast, postgres, sshd):
    rec_dir, rcv_dir, logs = tmp_path / "recorder", tmp_path / "receiver", tmp_path / "log"
    for d in (rec_dir, rcv_dir, logs):
        d.mkdir()
    start_minute, end_minute = 3 * 60, 9 * 60 + 2  # 03:00 to 09:02, simulated
    t0 = time.time() + 2  # the first cron minute, a moment after the configs are written and the @reboot lines

    def real(minute):
        return t0 + (minute - start_minute) * 60 / SIM_SECONDS_PER_REAL

    # The recorder: two shows with overlapping windows, sa-serve for the receivers, SFTP archive.
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    sshd.authorize(str(key) + ".pub")
    (tmp_path / "known_hosts").write_text(sshd.host_key_line())
    creds = rec_dir / "credentials.toml"
    creds.write_text(f"[sftp.nas]\nprivate_key = '{key}'\n")
    os.chmod(creds, 0o600)
    api_port = free_port()
    remote_dir = f"archive/cronday-{os.getpid()}"
    (rec_dir / "record.toml").write_text(f"""config_type = 'record'
output_dir = 'rec'
api_port = {api_port}
min_free_mb = 0

[[sessions]]
name = 'morning'
url = '{icecast.url(MOUNT)}'
split_interval = 2
[sessions.schedule]
record_start = '{hhmmss(real(6 * 60))}'
record_end = '{hhmmss(real(7 * 60))}'

[[sessions]]
name = 'noon'
url = '{icecast.url(MOUNT)}'
split_interval = 2
[sessions.schedule]
record_start = '{hhmmss(real(6 * 60 + 30))}'
record_end = '{hhmmss(real(7 * 60 + 30))}'

[sftp]
host = '127.0.0.1'
port = {sshd.port}
username = '{sshd.user}'
credential_profile = 'nas'
remote_dir = '{remote_dir}'
known_hosts = '{tmp_path / "known_hosts"}'
""")

    class RemoteURL:
        url = f"http://127.0.0.1:{api_port}"
    cfg, prefix_name = receiver_config(tmp_path, RemoteURL, postgres.url)
    os.rename(cfg, rcv_dir / "receiver.toml")
    with open(rcv_dir / "receiver.toml", "a") as f:
        f.write("[[shows]]\nname = 'morning'\nretention_hours = 8760\n[[shows]]\nname = 'noon'\nretention_hours = 8760\n")

    # The crontab as the README recommends it (paths filled in).
    rec, rcv = rec_dir / "record.toml", rcv_dir / "receiver.toml"
    crontab = f"""PATH={prefix}/bin:/usr/bin:/bin
# recorder: the API for receivers, each day's windows, hourly export and archive
@reboot      sa-serve --config {rec} 2>>{logs}/serve.log
55 5 * * *   sa-record --config {rec} --once >>{logs}/record.jsonl 2>>{logs}/record.log
0 * * * *    sa-export --config {rec} --pending --output-dir {rec_dir}/files 2>>{logs}/export.log | sa-push --config {rec} --credentials {creds} >>{logs}/push.jsonl 2>>{logs}/push.log
# receiver: pull every ten minutes and export what arrived; keep a year
*/10 * * * * sa-pull --config {rcv} 2>>{logs}/pull.log | sa-export --config {rcv} --output-dir {rcv_dir}/files >>{logs}/receiver-export.jsonl 2>>{logs}/receiver-export.log
30 3 * * *   sa-prune --config {rcv} >>{logs}/prune.jsonl 2>>{logs}/prune.log
"""
    env = dict(os.environ, PATH=f"{prefix}/bin:/usr/bin:/bin")
    env.pop("SA_BIN", None)
    cron = FastCron(crontab, env, start_minute)
    delay = t0 - 1 - time.time()
    if delay > 0:
        time.sleep(delay)
    try:
        cron.run(end_minute, t0)
        statuses = cron.wait_jobs()
    finally:
        cron.stop_daemons()

    def log(name):
        p = logs / name
        return p.read_text() if p.exists() else ""
    failed = [(label, cmd.split()[0], rc) for label, cmd, rc in statuses if rc != 0]
    assert not failed, (failed, log("record.log"), log("push.log"), log("pull.log"), log("export.log"), log("prune.log"))
    assert any(cmd.startswith("sa-prune") for _, cmd, _ in statuses)
    # A pipeline's status is its last command's: what cron would mail, standard error, must be
    # empty for every job (the long-lived sa-serve's log aside).
    for name in ("record.log", "export.log", "push.log", "pull.log", "receiver-export.log", "prune.log"):
        assert log(name) == "", (name, log(name))

    # What the recorder holds: one closed section per show, at the window's length.
    sections = {}
    for show in ("morning", "noon"):
        con = sqlite3.connect(rec_dir / "rec" / f"{show}.sqlite")
        rows = con.execute("SELECT id, is_open FROM sections").fetchall()
        assert len(rows) == 1 and rows[0][1] == 0, (show, rows, log("record.log"))
        sid = rows[0][0]
        segs = con.execute("SELECT id, audio_data FROM segments WHERE section_id = ? ORDER BY id", (sid,)).fetchall()
        seconds = con.execute("SELECT sum(duration_samples) / 48000.0 FROM segments").fetchone()[0]
        con.close()
        # A simulated hour is 12 s, plus up to about 4 s of Icecast's burst: older audio the
        # server sends at connect, correctly dated before the window opened.
        assert 11 < seconds < 17, (show, seconds)
        digest = hashlib.sha256(b"".join(bytes(a) for _, a in segs)).hexdigest()
        sections[show] = (sid, len(segs), digest, seconds)

    # On the receiver (PostgreSQL): the same segments, byte for byte.
    for show, (sid, count, digest, _) in sections.items():
        db = f"save_audio_{prefix_name}_{show}"
        out = postgres.psql(db, f"SELECT encode(audio_data, 'hex') FROM segments WHERE section_id = {sid} ORDER BY id")
        blobs = [bytes.fromhex(row[0]) for row in out]
        assert len(blobs) == count and hashlib.sha256(b"".join(blobs)).hexdigest() == digest, show

    # One file per section on each side, intact (ffprobe), exported once, and the receiver's
    # copy byte-identical to the recorder's; on the SFTP server once, identical.
    rec_files = sorted(glob.glob(str(rec_dir / "files" / "*")))
    rcv_files = sorted(glob.glob(str(rcv_dir / "files" / "*")))
    assert [os.path.basename(f) for f in rec_files] == [os.path.basename(f) for f in rcv_files], (rec_files, rcv_files)
    assert len(rec_files) == 2 and all(f.endswith(".ogg") for f in rec_files), rec_files
    remote = os.path.join(sshd.home, remote_dir)
    assert sorted(os.listdir(remote)) == [os.path.basename(f) for f in rec_files]
    for f in rec_files:
        name = os.path.basename(f)
        show = name.rsplit("_", 3)[0]
        assert sha256(f) == sha256(rcv_dir / "files" / name) == sha256(os.path.join(remote, name)), name
        probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name",
                                           "-of", "json", f], capture_output=True, text=True, check=True).stdout)
        assert probe["streams"][0]["codec_name"] == "opus"
        assert abs(float(probe["format"]["duration"]) - sections[show][3]) < 0.05, (name, probe)
    exported = [x for x in jsonlines(log("receiver-export.jsonl")) if x.get("type") == "exported"]
    assert sorted(x["status"] for x in exported) == ["written", "written"], exported
    pushed = [x for x in jsonlines(log("push.jsonl")) if x.get("type") == "pushed"]
    assert sorted(x["status"] for x in pushed) == ["uploaded", "uploaded"], pushed


def test_a_show_before_its_first_window_is_no_alarm(tmp_path, postgres):
    """Receivers configured for a show the recorder has not recorded yet: sa-pull reports
    not_recorded_yet and exits 0, sa-prune passes it over; a show the recorder does not know
    at all is still an error."""
    port = free_port()
    rec_dir = tmp_path / "rec"
    rec_dir.mkdir()
    (tmp_path / "record.toml").write_text(f"config_type = 'record'\noutput_dir = 'rec'\napi_port = {port}\n[[sessions]]\n"
                                          f"name = 'future'\nurl = 'http://127.0.0.1:9/x.mp3'\n[sessions.schedule]\n"
                                          f"record_start = '{hhmmss(time.time() + 7200)}'\nrecord_end = '{hhmmss(time.time() + 9000)}'\n")
    serve = subprocess.Popen([bin_path("sa-serve"), "--config", str(tmp_path / "record.toml")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(port), 10, 0.05)

        class Remote:
            url = f"http://127.0.0.1:{port}"
        cfg, _ = receiver_config(tmp_path, Remote, postgres.url, shows=["future"])
        text = open(cfg).read().replace("shows = ['future']\n", "")
        text += "[[shows]]\nname = 'future'\nretention_hours = 24\n"
        open(cfg, "w").write(text)
        r = subprocess.run([bin_path("sa-pull"), "--config", cfg], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert [(x["show"], x["status"]) for x in jsonlines(r.stdout)] == [("future", "not_recorded_yet")]
        assert r.stderr == ""
        r = subprocess.run([bin_path("sa-prune"), "--config", cfg], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr == "" and jsonlines(r.stdout) == [], r.stderr

        typo, _ = receiver_config(tmp_path, Remote, postgres.url, shows=["futrue"])
        r = subprocess.run([bin_path("sa-pull"), "--config", typo], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        assert "unknown show 'futrue'" in r.stderr
    finally:
        serve.terminate()
        serve.wait(10)
