"""sa-serve with a receiver config: background sync, status and trigger, the playback API,
per-session audio with HTTP ranges, HLS read end to end by ffmpeg, and offline operation."""
import json
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from audiotools import jsonlines
from conftest import bin_path, free_port, make_tone, receiver_config, run_tool, sqlite_fingerprint
from faultproxy import FaultProxy


@pytest.fixture(scope="module")
def tones(media_dir):
    return {
        "a": make_tone(os.path.join(media_dir, "recv_a.mp3"), 45, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=330),
    }


def http(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Receiver:
    def __init__(self, tmp_path, cfg, extra=""):
        self.base = cfg
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        text = open(cfg).read().replace("chunk_size", f"port = {self.port}\n{extra}chunk_size")
        self.cfg = str(tmp_path / f"receiver-{self.port}.toml")
        open(self.cfg, "w").write(text)
        self.out = open(tmp_path / f"receiver-{self.port}.jsonl", "w")
        self.err = open(tmp_path / f"receiver-{self.port}.log", "w")
        self.stdout_path = self.out.name
        self.proc = None

    def start(self, argv=None):
        self.proc = subprocess.Popen(argv or [bin_path("sa-serve"), "--config", self.cfg], stdout=self.out, stderr=self.err)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.url + "/api/health", timeout=1)
                return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start: " + open(self.err.name).read())

    def wait_pass(self, passes=1, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = json.loads(http(self.url + "/api/sync/status")[2])
            if s["passes"] >= passes and not s["in_progress"]:
                return s
            time.sleep(0.1)
        raise AssertionError("no sync pass finished")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def receivers():
    made = []
    yield made
    for r in made:
        r.stop()


def setup(tmp_path, recorder, postgres, tones, receivers, files=("a",), fmt="opus", extra="", chunk_size=100):
    rec = recorder()
    for f in files:
        rec.record_file("radio", tones[f], fmt=fmt)
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=chunk_size)
    r = Receiver(tmp_path, cfg, extra)
    receivers.append(r)
    return rec, r, prefix


def test_background_sync_and_playback_api(tmp_path, recorder, postgres, tones, receivers):
    rec, r, prefix = setup(tmp_path, recorder, postgres, tones, receivers)
    r.start()
    status = r.wait_pass()
    assert status["last_result"] == "ok" and status["shows"][0]["status"] == "synced"
    assert json.loads(http(r.url + "/api/mode")[2]) == {"mode": "receiver"}
    shows = json.loads(http(r.url + "/api/shows")[2])["shows"]
    assert [s["name"] for s in shows] == ["radio"] and shows[0]["audio_format"] == "opus" and shows[0]["sessions"] == 1
    # Sessions overlapping a time range.
    start = shows[0]["first_start_ms"]
    sess = json.loads(http(r.url + f"/api/show/radio/sessions?from_ms={start + 10000}&to_ms={start + 20000}")[2])["sessions"]
    assert len(sess) == 1 and sess[0]["duration_ms"] == 45000
    assert json.loads(http(r.url + f"/api/show/radio/sessions?from_ms={start + 3600000}")[2])["sessions"] == []
    sid = sess[0]["section_id"]
    est = json.loads(http(r.url + f"/api/show/radio/session/{sid}/estimate_segment?timestamp_ms={start + 25000}")[2])
    assert est["estimated_segment_id"] == sess[0]["first_segment_id"] + 2
    assert http(r.url + f"/api/show/radio/session/{sid}/estimate_segment?timestamp_ms={start - 5000}")[0] == 400
    assert http(r.url + "/api/show/nosuch/sessions")[0] == 404
    assert http(r.url + "/api/show/radio/session/123/titles")[0] == 404
    assert http(r.url + "/show/radio/session/123/audio.ogg")[0] == 404
    # The sync pass wrote sa-pull's JSON lines on stdout.
    lines = jsonlines(open(r.stdout_path).read())
    assert any(x["type"] == "show_synced" and x["status"] == "synced" for x in lines)


def test_session_audio_answers_ranges(tmp_path, recorder, postgres, tones, receivers):
    rec, r, prefix = setup(tmp_path, recorder, postgres, tones, receivers)
    r.start()
    r.wait_pass()
    sid = json.loads(http(r.url + "/api/show/radio/sessions")[2])["sessions"][0]["section_id"]
    url = r.url + f"/show/radio/session/{sid}/audio.ogg"
    status, headers, full = http(url)
    assert status == 200 and headers["Content-Type"] == "audio/ogg" and headers["Accept-Ranges"] == "bytes"
    assert int(headers["Content-Length"]) == len(full)
    size = len(full)
    exp = run_tool([bin_path("sa-export"), "--db", rec.db("radio"), "--section", str(sid), "--output-dir", str(tmp_path / "x")])
    assert open(jsonlines(exp.stdout)[0]["file_path"], "rb").read() == full  # the same bytes as an export
    for rng, lo, hi in [("bytes=0-99", 0, 99), (f"bytes={size // 2}-{size // 2 + 999}", size // 2, size // 2 + 999),
                        ("bytes=-500", size - 500, size - 1), (f"bytes={size - 10}-", size - 10, size - 1)]:
        status, headers, body = http(url, headers={"Range": rng})
        assert status == 206, rng
        assert headers["Content-Range"] == f"bytes {lo}-{hi}/{size}"
        assert body == full[lo:hi + 1]
    status, headers, _ = http(url, headers={"Range": f"bytes={size + 5}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}"
    assert http(r.url + f"/show/radio/session/{sid}/audio.aac")[0] == 404


@pytest.mark.parametrize("fmt", ["opus", "aac"])
def test_hls_playlist_reads_end_to_end(tmp_path, recorder, postgres, tones, receivers, fmt):
    rec, r, prefix = setup(tmp_path, recorder, postgres, tones, receivers, fmt=fmt)
    r.start()
    r.wait_pass()
    s = json.loads(http(r.url + "/api/show/radio/sessions")[2])["sessions"][0]
    url = r.url + f"/show/radio/session/{s['section_id']}/playlist.m3u8"
    status, headers, body = http(url)
    assert status == 200 and body.startswith(b"#EXTM3U") and b"#EXT-X-ENDLIST" in body
    assert b"http" not in body  # relative URLs
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", url, "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0 and p.stderr == b"", p.stderr.decode()
    seconds = len(p.stdout) / 2 / 48000
    # Opus: the pre-skip is trimmed; AAC: ADTS keeps the encoder's priming (up to 3 frames).
    slack = 0.02 if fmt == "opus" else 3 * 1024 / 16000
    assert s["duration_ms"] / 1000 - 0.02 <= seconds <= s["duration_ms"] / 1000 + slack, seconds
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", url],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and probe.stderr == ""
    assert abs(float(json.loads(probe.stdout)["format"]["duration"]) - s["duration_ms"] / 1000) < 0.2


def test_recorder_unreachable_receiver_still_serves(tmp_path, recorder, postgres, tones, receivers):
    rec, r, prefix = setup(tmp_path, recorder, postgres, tones, receivers)
    r.start()
    r.wait_pass()
    r.stop()
    rec.stop()  # the recorder goes away
    r2 = Receiver(tmp_path, r.base)
    receivers.append(r2)
    r2.start()
    status = r2.wait_pass()
    assert status["last_result"] == "failed" and "cannot reach" in status["last_error"]
    shows = json.loads(http(r2.url + "/api/shows")[2])["shows"]
    sid = json.loads(http(r2.url + "/api/show/radio/sessions")[2])["sessions"][0]["section_id"]
    assert shows[0]["name"] == "radio"
    st, headers, body = http(r2.url + f"/show/radio/session/{sid}/audio.ogg", headers={"Range": "bytes=0-3"})
    assert st == 206 and body == b"OggS"


def test_two_triggers_one_202_one_409_and_passes_never_overlap(tmp_path, recorder, postgres, tones, receivers):
    """The link between receiver and recorder goes through a fault proxy, so a pass can be held
    at a known point: the status codes and the lock are then checked exactly, not by timing."""
    rec = recorder()
    rec.record_file("radio", tones["a"])
    rec.start()
    link = FaultProxy("127.0.0.1", rec.port).start()
    try:
        cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=1)
        linked = tmp_path / "linked.toml"
        linked.write_text(open(cfg).read().replace(rec.url, link.url))
        r = Receiver(tmp_path, str(linked), "sync_interval_seconds = 3600\n")
        receivers.append(r)
        db = f"save_audio_{prefix}_radio"

        def trigger():
            return http(r.url + "/api/sync", method="POST")[0]

        def status():
            return json.loads(http(r.url + "/api/sync/status")[2])

        def last_synced():
            rows = postgres.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{db}'")
            return int(postgres.psql(db, "SELECT value FROM metadata WHERE key = 'last_synced_id'")[0][0]) if rows else 0

        # The pass at start is held by the stalled link: both triggers are refused.
        link.stall()
        r.start()
        assert [trigger(), trigger()] == [409, 409]
        s = status()
        assert s["in_progress"] and s["passes"] == 0 and s["trigger"] == "schedule"
        link.clear()
        assert r.wait_pass(passes=1)["last_result"] == "ok"
        # Idle: a trigger starts a pass (202); while that pass runs, the next one is refused (409).
        link.stall()
        assert [trigger(), trigger()] == [202, 409]
        s = status()
        assert s["in_progress"] and s["passes"] == 1 and s["trigger"] == "manual"
        link.clear()
        assert r.wait_pass(passes=2)["last_result"] == "ok"
        # A cron sa-pull meanwhile skips the show instead of running beside the server's pass:
        # the server's pass is caught copying (so it holds the show's lock) and frozen there.
        rec.record_file("radio", tones["a"])
        done = last_synced()
        link.latency(100)
        assert trigger() == 202
        deadline = time.time() + 30
        while last_synced() == done and time.time() < deadline:
            time.sleep(0.02)
        link.stall()
        assert status()["in_progress"] and last_synced() > done
        cron = run_tool([bin_path("sa-pull"), "--config", cfg])
        assert cron.returncode == 0, cron.stderr
        assert [x["status"] for x in jsonlines(cron.stdout) if x["type"] == "show_synced"] == ["skipped_locked"]
        assert trigger() == 409
        link.clear()
        s = r.wait_pass(passes=3)
        assert s["last_result"] == "ok" and [x["status"] for x in s["shows"]] == ["synced"]
    finally:
        link.stop()
    lines = jsonlines(open(r.stdout_path).read())
    assert [x["status"] for x in lines if x["type"] == "show_synced"] == ["synced", "up_to_date", "synced"]
    stored = postgres.psql(db, "SELECT max(id), count(*) FROM segments")
    con = sqlite3.connect(rec.db("radio"))
    assert [[str(v) for v in con.execute("SELECT max(id), count(*) FROM segments").fetchone()]] == stored
    con.close()
    # The schedule: with a short interval, passes follow one another on their own, never two at once.
    r.stop()
    fast = Receiver(tmp_path, cfg, "sync_interval_seconds = 1\n")
    receivers.append(fast)
    fast.start()
    s = fast.wait_pass(passes=3, timeout=30)
    assert s["trigger"] == "schedule" and s["last_result"] == "ok"
    lines = jsonlines(open(fast.stdout_path).read())
    assert [x["status"] for x in lines if x["type"] == "show_synced"][:3] == ["up_to_date"] * 3


def test_seed_receiver_command_serves(tmp_path, recorder, postgres, tones, receivers):
    rec, r, prefix = setup(tmp_path, recorder, postgres, tones, receivers)
    r.start([bin_path("save_audio_stream"), "receiver", "--config", r.cfg])
    r.wait_pass()
    assert json.loads(http(r.url + "/api/mode")[2]) == {"mode": "receiver"}
    status, headers, body = http(r.url + "/")
    assert status == 200 and b"save_audio_stream" in body and headers["Content-Type"].startswith("text/html")
    from conftest import ROOT
    for name in ["app.js", "style.css"]:  # the UI served is the one in the repository
        assert http(r.url + "/" + name)[2].strip() == open(os.path.join(ROOT, "Sources", "SAServer", "Resources", "web", name), "rb").read().strip()


def test_inspect_mode_serves_the_ui_and_playback_read_only(tmp_path, recorder, tones):
    rec = recorder()
    rec.record_file("solo", tones["a"])
    before = sqlite_fingerprint(rec.db("solo"))
    port = free_port()
    p = subprocess.Popen([bin_path("sa-serve"), "--db", rec.db("solo"), "--port", str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/api/health", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        assert http(url + "/")[0] == 200
        sid = json.loads(http(url + "/api/show/solo/sessions")[2])["sessions"][0]["section_id"]
        st, _, body = http(url + f"/show/solo/session/{sid}/audio.ogg", headers={"Range": "bytes=0-3"})
        assert st == 206 and body == b"OggS"
        assert http(url + "/api/sync/status")[0] == 404  # no sync in inspect mode
    finally:
        p.terminate()
        p.wait(10)
    assert sqlite_fingerprint(rec.db("solo")) == before
