"""sa-serve (recorder sync API) and sa-pull against a real PostgreSQL and a real sa-serve on loopback."""
import base64
import hashlib
import json
import os
import signal
import sqlite3
import struct
import subprocess
import time
import urllib.error
import urllib.request
import zlib

import pytest

from audiotools import jsonlines
from conftest import bin_path, make_tone, receiver_config, run_tool, sqlite_fingerprint
from faultproxy import FaultProxy


@pytest.fixture(scope="module")
def tones(media_dir):
    return {
        "a": make_tone(os.path.join(media_dir, "sync_a.mp3"), 70, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=300),
        "b": make_tone(os.path.join(media_dir, "sync_b.mp3"), 40, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=500),
        "long": make_tone(os.path.join(media_dir, "sync_long.mp3"), 1200, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=400),
    }


def sqlite_checksums(db):
    con = sqlite3.connect(db)
    out = {}
    for sid, in con.execute("SELECT DISTINCT section_id FROM segments ORDER BY section_id"):
        h = hashlib.sha256()
        for blob, in con.execute("SELECT audio_data FROM segments WHERE section_id = ? ORDER BY id", (sid,)):
            h.update(blob)
        out[sid] = h.hexdigest()
    con.close()
    return out


def pg_checksums(pg, db):
    rows = pg.psql(db, "SELECT section_id, encode(sha256(string_agg(audio_data, ''::bytea ORDER BY id)), 'hex') "
                       "FROM segments GROUP BY section_id ORDER BY section_id")
    return {int(a): b for a, b in rows}


def pg_meta(pg, db):
    return dict(pg.psql(db, "SELECT key, value FROM metadata"))


def max_id(db):
    return sqlite3.connect(db).execute("SELECT max(id) FROM segments").fetchone()[0]


def last_synced(pg, db):
    return int(pg_meta(pg, db)["last_synced_id"])


def pull(config, *args, timeout=300):
    return run_tool([bin_path("sa-pull"), "--config", config, *args], timeout=timeout)


def get(url, accept="application/json", token=None):
    req = urllib.request.Request(url, headers={"Accept": accept})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def test_new_show_syncs_completely(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("news", tones["a"])
    rec.record_file("news", tones["b"])  # a second section
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=4)
    r = pull(cfg)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    db = f"save_audio_{prefix}_news"
    assert pg_checksums(postgres, db) == sqlite_checksums(rec.db("news"))
    meta = pg_meta(postgres, db)
    src = sqlite3.connect(rec.db("news")).execute("SELECT value FROM metadata WHERE key = 'unique_id'").fetchone()[0]
    assert meta["is_recipient"] == "true" and meta["source_unique_id"] == src
    assert meta["unique_id"] != src and meta["unique_id"].startswith("db_")
    assert meta["audio_format"] == "opus" and meta["bitrate"] == "16" and meta["encoder_delay_samples"] == "312"
    n = max_id(rec.db("news"))
    assert int(meta["last_synced_id"]) == n
    # Every column of every segment is the recorder's.
    con = sqlite3.connect(rec.db("news"))
    want = con.execute("SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples FROM segments ORDER BY id").fetchall()
    got = postgres.psql(db, "SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples FROM segments ORDER BY id")
    assert [tuple(int(x) for x in row) for row in got] == want
    records = jsonlines(r.stdout)
    synced = [x for x in records if x["type"] == "section_synced"]
    assert len(synced) == 2 and all(x["complete"] for x in synced)
    assert synced[0]["db"] == f"postgres://postgres@127.0.0.1:{postgres.port}/{db}"
    assert [x["duration_ms"] for x in synced] == [70000, 40000]
    shows = [x for x in records if x["type"] == "show_synced"]
    # Where the recorder's newest audio ends (from its sections: whole-ms rounding aside).
    newest = max(row[1] + row[4] * 1000 // 48000 for row in want)
    assert abs(shows[0].pop("recorder_newest_ms") - newest) <= 1
    assert shows == [{"type": "show_synced", "show": "news", "db": synced[0]["db"], "from_id": 1, "to_id": n,
                      "segments": n, "bytes": shows[0]["bytes"], "status": "synced"}]
    # The number of segment requests is ceil(new segments / chunk_size).
    assert rec.requests("/segments") == -(-n // 4)
    again = pull(cfg)
    assert again.returncode == 0
    assert [x["status"] for x in jsonlines(again.stdout) if x["type"] == "show_synced"] == ["up_to_date"]
    assert rec.requests("/segments") == -(-n // 4)


def test_sqlite_receiver_store_behaves_the_same(recorder, tmp_path, tones):
    rec = recorder()
    rec.record_file("local", tones["a"])
    rec.start()
    store = tmp_path / "store"
    cfg, prefix = receiver_config(tmp_path, rec, f"sqlite:{store}", chunk_size=3)
    r = pull(cfg)
    assert r.returncode == 0, r.stderr
    local = str(store / f"save_audio_{prefix}_local.sqlite")
    assert sqlite_checksums(local) == sqlite_checksums(rec.db("local"))
    meta = dict(sqlite3.connect(local).execute("SELECT key, value FROM metadata").fetchall())
    assert meta["is_recipient"] == "true" and meta["last_synced_id"] == str(max_id(rec.db("local")))
    assert jsonlines(r.stdout)[-1]["db"] == local
    # A receiver database is a recipient: recording into it is refused.
    rr = run_tool([bin_path("sa-record"), "--input", "/dev/null", "--name", f"save_audio_{prefix}_local", "--output-dir", str(store)])
    assert rr.returncode == 65 and "Cannot record to a recipient database" in rr.stderr


def test_kill_9_during_pull_resumes_without_duplicates_or_holes(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("big", tones["long"])  # 121 segments
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=1)
    db = f"save_audio_{prefix}_big"
    kills = 0
    for threshold in (5, 40, 80):
        p = subprocess.Popen([bin_path("sa-pull"), "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            try:
                rows = postgres.psql(db, "SELECT value FROM metadata WHERE key = 'last_synced_id'")
            except AssertionError:
                rows = []
            if rows and int(rows[0][0]) >= threshold:
                break
            time.sleep(0.02)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        count, last = postgres.psql(db, "SELECT count(*), (SELECT value FROM metadata WHERE key = 'last_synced_id') FROM segments")[0]
        # What is committed is exactly the prefix up to last_synced_id.
        assert int(count) == int(last)
    assert kills >= 2
    r = pull(cfg)
    assert r.returncode == 0, r.stderr
    assert pg_checksums(postgres, db) == sqlite_checksums(rec.db("big"))
    ids = [int(x[0]) for x in postgres.psql(db, "SELECT id FROM segments ORDER BY id")]
    assert ids == list(range(1, max_id(rec.db("big")) + 1))


def test_pull_while_recording_converges(recorder, postgres, icecast, tmp_path):
    rec = recorder()
    rec.start()
    mount = "/conv.mp3"
    icecast.start_source(mount, "mp3")
    p = None
    try:
        p = subprocess.Popen([bin_path("sa-record"), "--url", icecast.url(mount), "--name", "onair", "--output-dir", rec.out,
                              "--split-interval", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=2)
        time.sleep(4)
        first = pull(cfg)
        assert first.returncode == 0, first.stderr
        time.sleep(3)
        second = pull(cfg)
        assert second.returncode == 0, second.stderr
        assert [x["status"] for x in jsonlines(second.stdout) if x["type"] == "show_synced"] == ["synced"]
        # A section still being recorded is not complete: it is not reported, and stays open here.
        assert [x for x in jsonlines(first.stdout) + jsonlines(second.stdout) if x["type"] == "section_synced"] == []
        assert postgres.psql(f"save_audio_{prefix}_onair", "SELECT is_open FROM sections") == [["1"]]
        p.send_signal(signal.SIGTERM)
        p.wait(20)
    finally:
        if p and p.poll() is None:  # a failed assertion above must not leave the recorder running
            p.kill()
            p.wait(10)
        icecast.stop_source(mount)
    final = pull(cfg)
    assert final.returncode == 0
    db = f"save_audio_{prefix}_onair"
    assert pg_checksums(postgres, db) == sqlite_checksums(rec.db("onair"))
    assert postgres.psql(db, "SELECT is_open, finish_reason FROM sections") == [["0", "signal"]]
    assert [x["complete"] for x in jsonlines(final.stdout) if x["type"] == "section_synced"] == [True]


@pytest.mark.parametrize("field", ["source_unique_id", "audio_format", "bitrate"])
def test_metadata_mismatch_stops_and_changes_nothing(recorder, postgres, tmp_path, tones, field):
    rec = recorder()
    rec.record_file("one", tones["b"])
    rec.record_file("two", tones["b"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, shows=["one", "two"])
    assert pull(cfg).returncode == 0
    db = f"save_audio_{prefix}_one"
    if field == "source_unique_id":
        os.remove(rec.db("one"))  # the recorder's database was replaced
        rec.record_file("one", tones["a"])
    else:
        postgres.psql(db, f"UPDATE metadata SET value = '{ {'audio_format': 'aac', 'bitrate': '24'}[field] }' WHERE key = '{field}'")
    rec.record_file("two", tones["a"])  # new data on the other show
    before = (pg_checksums(postgres, db), pg_meta(postgres, db))
    r = pull(cfg)
    assert r.returncode == 65
    assert "one" in r.stderr and field in r.stderr
    err = [x for x in jsonlines(r.stdout) if x["type"] == "error"]
    assert err and err[0]["code"] == "mismatch" and err[0]["show"] == "one"
    assert (pg_checksums(postgres, db), pg_meta(postgres, db)) == before
    # Fail-fast: the show after it was not touched either.
    assert len(pg_checksums(postgres, f"save_audio_{prefix}_two")) == 1
    # --keep-going syncs the other show and exits 1.
    r = pull(cfg, "--keep-going")
    assert r.returncode == 1
    assert len(pg_checksums(postgres, f"save_audio_{prefix}_two")) == 2
    assert (pg_checksums(postgres, db), pg_meta(postgres, db)) == before


def test_recipient_database_is_never_served_or_pulled(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("mirror", tones["b"])
    rec.record_file("real", tones["b"])
    con = sqlite3.connect(rec.db("mirror"))
    con.execute("UPDATE metadata SET value = 'true' WHERE key = 'is_recipient'")
    con.commit()
    con.close()
    rec.start()
    status, _, body = get(rec.url + "/api/sync/shows/mirror/metadata")
    assert status == 403 and "recipient" in json.loads(body)["error"]
    assert get(rec.url + "/api/sync/shows/mirror/segments?start_id=1")[0] == 403
    shows = [s["name"] for s in json.loads(get(rec.url + "/api/sync/shows")[2])["shows"]]
    assert shows == ["real"]
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, shows=["mirror"])
    r = pull(cfg)
    assert r.returncode == 77 and "403" in r.stderr
    assert postgres.psql("postgres", f"SELECT count(*) FROM pg_database WHERE datname = 'save_audio_{prefix}_mirror'") == [["0"]]


def test_concurrent_pulls_one_syncs_other_skips_and_crash_does_not_block(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("busy", tones["long"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=1)
    db = f"save_audio_{prefix}_busy"
    first = subprocess.Popen([bin_path("sa-pull"), "--config", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if int(postgres.psql(db, "SELECT value FROM metadata WHERE key = 'last_synced_id'")[0][0]) > 2:
                break
        except (AssertionError, IndexError):
            pass
        time.sleep(0.02)
    second = pull(cfg)
    out1, _ = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0
    assert [x["status"] for x in jsonlines(out1) if x["type"] == "show_synced"] == ["synced"]
    assert [x["status"] for x in jsonlines(second.stdout) if x["type"] == "show_synced"] == ["skipped_locked"]
    # A holder killed with -9 does not block the next run. The holder pulls through a slow link,
    # so it is caught in the middle of its pass (a chunk committed, more to come), frozen there,
    # and shown to hold the lock before it is killed.
    rec.record_file("busy", tones["a"])
    done = last_synced(postgres, db)
    slow = FaultProxy("127.0.0.1", rec.port).start()
    holder = None
    try:
        slow.latency(150)
        slow_cfg = tmp_path / "slow.toml"
        slow_cfg.write_text(open(cfg).read().replace(rec.url, slow.url))
        holder = subprocess.Popen([bin_path("sa-pull"), "--config", str(slow_cfg)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while last_synced(postgres, db) == done and holder.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        holder.send_signal(signal.SIGSTOP)
        assert holder.poll() is None and last_synced(postgres, db) > done, "the holder was not caught mid-pass"
        blocked = pull(cfg)
        assert blocked.returncode == 0, blocked.stderr
        assert [x["status"] for x in jsonlines(blocked.stdout) if x["type"] == "show_synced"] == ["skipped_locked"]
    finally:
        if holder:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        slow.stop()
    assert last_synced(postgres, db) < max_id(rec.db("busy"))  # it died with work left
    r = pull(cfg)
    assert r.returncode == 0, r.stderr
    assert [x["status"] for x in jsonlines(r.stdout) if x["type"] == "show_synced"] == ["synced"]
    assert pg_checksums(postgres, db) == sqlite_checksums(rec.db("busy"))


def test_pruned_segments_give_a_gap_and_the_pull_completes(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("gappy", tones["b"])  # ids 1-5
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    assert pull(cfg).returncode == 0
    rec.record_file("gappy", tones["b"])  # ids 6-10
    rec.record_file("gappy", tones["b"])  # ids 11-15
    con = sqlite3.connect(rec.db("gappy"))
    con.execute("PRAGMA foreign_keys = ON")
    sections = [s for s, in con.execute("SELECT id FROM sections ORDER BY id")]
    con.execute("DELETE FROM sections WHERE id IN (?, ?)", (sections[0], sections[1]))  # pruned on the recorder
    con.commit()
    con.close()
    r = pull(cfg)
    assert r.returncode == 0, r.stderr
    gaps = [x for x in jsonlines(r.stdout) if x["type"] == "gap"]
    assert len(gaps) == 1 and gaps[0]["missing_from_id"] == 6 and gaps[0]["missing_to_id"] == 10
    db = f"save_audio_{prefix}_gappy"
    assert [int(x[0]) for x in postgres.psql(db, "SELECT id FROM segments ORDER BY id")] == [1, 2, 3, 4, 5, 11, 12, 13, 14, 15]
    assert pg_meta(postgres, db)["last_synced_id"] == "15"


def test_replace_source_continues_after_newest_section(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("moved", tones["b"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    assert pull(cfg).returncode == 0
    db = f"save_audio_{prefix}_moved"
    old = pg_checksums(postgres, db)
    # The recorder's database is replaced: an old section copied over, then new recordings.
    os.remove(rec.db("moved"))
    rec.record_file("moved", tones["a"])
    con = sqlite3.connect(rec.db("moved"))
    first_new = con.execute("SELECT min(id) FROM sections").fetchone()[0]
    con.close()
    rec.record_file("moved", tones["b"])
    assert pull(cfg).returncode == 65  # refused without the flag
    r = pull(cfg, "--replace-source", "moved")
    assert r.returncode == 0, r.stderr
    got = pg_checksums(postgres, db)
    new = sqlite_checksums(rec.db("moved"))
    assert got == {**old, **new}
    assert first_new in got
    assert pg_meta(postgres, db)["source_unique_id"] == dict(
        sqlite3.connect(rec.db("moved")).execute("SELECT key, value FROM metadata").fetchall())["unique_id"]
    assert pull(cfg).returncode == 0  # and from now on without the flag


def test_token_is_required_and_sent(recorder, postgres, tmp_path, tones):
    rec = recorder(token="tok-123-secret")
    rec.record_file("private", tones["b"])
    rec.start()
    assert get(rec.url + "/api/sync/shows")[0] == 401
    assert get(rec.url + "/api/sync/shows", token="wrong")[0] == 401
    assert get(rec.url + "/api/sync/shows", token="tok-123-secret")[0] == 200
    assert get(rec.url + "/api/health")[0] == 200
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, token=True)
    creds = tmp_path / "recv-creds.toml"
    creds.write_text("[api.rec]\ntoken = 'tok-123-secret'\n")
    os.chmod(creds, 0o600)
    r = run_tool([bin_path("sa-pull"), "--config", cfg, "--credentials", str(creds)])
    assert r.returncode == 0, r.stderr
    env = dict(os.environ, CRED_API_REC_TOKEN="nope")
    r = run_tool([bin_path("sa-pull"), "--config", cfg, "--credentials", str(creds)], env=env)
    assert r.returncode == 77 and "401" in r.stderr
    assert "nope" not in r.stderr + r.stdout and "tok-123" not in r.stderr + r.stdout


def decode_segment_stream(body):
    """An independent reader of application/x-segment-stream (see docs/openapi.json)."""
    assert body[:8] == b"SASEGS1\n"
    assert zlib.crc32(body[:-4]) == struct.unpack("<I", body[-4:])[0]
    (count,) = struct.unpack_from("<I", body, 8)
    pos, out = 12, []
    for _ in range(count):
        sid, ts = struct.unpack_from("<qq", body, pos)
        src = body[pos + 16]
        section, duration, n = struct.unpack_from("<qqI", body, pos + 17)
        pos += 37
        out.append({"id": sid, "timestamp_ms": ts, "is_timestamp_from_source": src, "section_id": section,
                    "duration_samples": duration, "audio_data": base64.b64encode(body[pos:pos + n]).decode()})
        pos += n
    assert pos == len(body) - 4
    return out


def test_json_and_binary_bodies_carry_the_same_data(recorder, tones):
    rec = recorder()
    rec.record_file("both", tones["a"])
    rec.start()
    url = rec.url + "/api/sync/shows/both/segments?start_id=2&end_id=6&limit=3"
    status, ctype, body = get(url)
    assert status == 200 and ctype.startswith("application/json")
    js = json.loads(body)
    status, ctype, raw = get(url, accept="application/x-segment-stream")
    assert status == 200 and ctype == "application/x-segment-stream"
    assert decode_segment_stream(raw) == js
    assert [x["id"] for x in js] == [2, 3, 4]


def test_corrupted_binary_body_is_rejected_before_anything_is_written(recorder, postgres, tmp_path, tones):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    rec = recorder()
    rec.record_file("fragile", tones["a"])
    rec.start()
    mode = {"how": "flip"}

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            req = urllib.request.Request(rec.url + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
            with urllib.request.urlopen(req) as r:
                body, ctype = r.read(), r.headers.get("Content-Type")
            if "/segments" in self.path:
                if mode["how"] == "flip":
                    body = body[:100] + bytes([body[100] ^ 0x01]) + body[101:]
                else:
                    body = body[:len(body) // 2]
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        class Via:
            url = f"http://127.0.0.1:{srv.server_port}"
        for how in ("flip", "truncate"):
            mode["how"] = how
            cfg, prefix = receiver_config(tmp_path, Via, postgres.url)
            r = pull(cfg)
            assert r.returncode == 65, r.stderr
            assert "segment stream rejected" in r.stderr
            db = f"save_audio_{prefix}_fragile"
            assert postgres.psql(db, "SELECT count(*) FROM segments") == [["0"]]
            assert pg_meta(postgres, db)["last_synced_id"] == "0"
    finally:
        srv.shutdown()


def test_api_errors_and_empty_database(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("empty", tones["b"])
    con = sqlite3.connect(rec.db("empty"))
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("DELETE FROM sections")
    con.commit()
    con.close()
    rec.start()
    status, _, body = get(rec.url + "/api/sync/shows/empty/metadata")
    meta = json.loads(body)
    assert status == 200 and meta["min_id"] is None and meta["max_id"] is None and meta["is_recipient"] is False
    assert json.loads(get(rec.url + "/api/sync/shows")[2]) == {"shows": []}
    assert get(rec.url + "/api/sync/shows/nosuch/metadata")[0] == 404
    assert json.loads(get(rec.url + "/api/sync/shows/nosuch/sections")[2]) == {"error": "unknown show 'nosuch'", "code": "not_found"}
    assert get(rec.url + "/api/sync/shows/bad%20name/metadata")[0] == 400
    for q in ["start_id=x", "limit=0", "start_id=5&end_id=2", "end_id=-1"]:
        assert get(rec.url + "/api/sync/shows/empty/segments?" + q)[0] == 400, q
    assert json.loads(get(rec.url + "/api/sync/shows/empty/segments?start_id=1")[2]) == []
    assert json.loads(get(rec.url + "/api/mode")[2]) == {"mode": "record"}
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, shows=["empty"])
    r = pull(cfg)
    assert r.returncode == 0, r.stderr
    assert [x["status"] for x in jsonlines(r.stdout)] == ["up_to_date"]


def test_openapi_document_is_served_and_kept_in_the_repository(recorder):
    rec = recorder()
    rec.start()
    status, ctype, body = get(rec.url + "/api/openapi.json")
    assert status == 200 and ctype.startswith("application/json")
    from conftest import ROOT
    with open(os.path.join(ROOT, "docs", "openapi.json"), "rb") as f:
        assert body.strip() == f.read().strip()
    doc = json.loads(body)
    from openapi_spec_validator import validate
    validate(doc)  # a valid OpenAPI 3 document
    for path in ["/api/shows", "/api/show/{name}/sessions", "/show/{name}/session/{id}/audio.ogg",
                 "/show/{name}/session/{id}/playlist.m3u8", "/api/sync/status", "/api/sync", "/api/sync/shows", "/api/sync/shows/{name}/metadata", "/api/sync/shows/{name}/sections",
                 "/api/sync/shows/{name}/segments", "/api/sync/shows/{name}/titles", "/api/mode", "/api/health",
                 "/show/{name}/range.ogg", "/show/{name}/range.aac", "/feeds/{file}"]:
        assert path in doc["paths"], path


def test_inspect_one_database_read_only(recorder, tones):
    rec = recorder()
    rec.record_file("solo", tones["b"])
    before = sqlite_fingerprint(rec.db("solo"))
    from conftest import free_port
    port = free_port()
    p = subprocess.Popen([bin_path("sa-serve"), "--db", rec.db("solo"), "--port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        assert json.loads(get(f"http://127.0.0.1:{port}/api/mode")[2]) == {"mode": "inspect"}
        assert len(json.loads(get(f"http://127.0.0.1:{port}/api/sync/shows/solo/sections")[2])) == 1
    finally:
        p.terminate()
        p.wait(10)
    assert sqlite_fingerprint(rec.db("solo")) == before


def test_seed_command_lines(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("seed", tones["b"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    r = run_tool([bin_path("save_audio_stream"), "receiver", "--config", cfg, "--sync-only"])
    assert r.returncode == 0, r.stderr
    assert [x["status"] for x in jsonlines(r.stdout) if x["type"] == "show_synced"] == ["synced"]
    r = run_tool([bin_path("save_audio_stream"), "bogus"])
    assert r.returncode == 64


@pytest.mark.parametrize("form", ["long", "short"])
def test_seed_record_command_records_and_serves(icecast, tmp_path, form):
    from conftest import free_port
    mount = "/seedrec.mp3"
    icecast.start_source(mount, "mp3")
    port = free_port()
    now = time.time()
    cfg = tmp_path / "record.toml"
    cfg.write_text(f"""config_type = 'record'
output_dir = 'rec'
api_port = {port}
min_free_mb = 1
[[sessions]]
name = 'both'
url = '{icecast.url(mount)}'
split_interval = 1
[sessions.schedule]
record_start = '{time.strftime("%H:%M:%S", time.gmtime(now - 60))}'
record_end = '{time.strftime("%H:%M:%S", time.gmtime(now + 8))}'
""")
    try:
        if form == "short":
            # The original's -c and -p: the API on the port given, not the config's.
            port = free_port()
            argv = ["record", "-c", str(cfg), "-p", str(port), "--once"]
        else:
            argv = ["record", "--config", str(cfg), "--once"]
        p = subprocess.Popen([bin_path("save_audio_stream"), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(5)
        status, _, body = get(f"http://127.0.0.1:{port}/api/sync/shows/both/metadata")
        assert status == 200 and json.loads(body)["max_id"] >= 1
        out, err = p.communicate(timeout=30)
    finally:
        icecast.stop_source(mount)
    assert p.returncode == 0, err
    assert [x["reason"] for x in jsonlines(out) if x["type"] == "section_finished"] == ["window_end"]
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)


def test_original_receiver_inspect_and_replace_source_command_lines(recorder, postgres, tmp_path, tones):
    from conftest import free_port, sqlite_fingerprint
    rec = recorder()
    rec.record_file("orig", tones["b"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    r = run_tool([bin_path("save_audio_stream"), "receiver", "-c", cfg, "--sync-only"])
    assert r.returncode == 0, r.stderr
    assert [x["status"] for x in jsonlines(r.stdout) if x["type"] == "show_synced"] == ["synced"]

    # inspect FILE -p PORT --immutable: the database served read-only, left byte for byte.
    before = sqlite_fingerprint(rec.db("orig"))
    port = free_port()
    p = subprocess.Popen([bin_path("save_audio_stream"), "inspect", rec.db("orig"), "-p", str(port), "--immutable"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        status = None
        while time.time() < deadline:
            try:
                status, _, body = get(f"http://127.0.0.1:{port}/api/sync/shows")
                break
            except Exception:
                time.sleep(0.05)
        assert status == 200 and [x["name"] for x in json.loads(body)["shows"]] == ["orig"]
        assert get(f"http://127.0.0.1:{port}/api/mode")[2] == b'{"mode":"inspect"}\n'
    finally:
        p.terminate()
        p.wait(10)
    assert sqlite_fingerprint(rec.db("orig")) == before

    # replace-source -c F --show NAME: the recorder's database was replaced; a plain pull is
    # refused, the original's command re-points the show and pulls it.
    os.remove(rec.db("orig"))
    rec.record_file("orig", tones["a"])
    assert pull(cfg).returncode == 65
    r = run_tool([bin_path("save_audio_stream"), "replace-source", "-c", cfg, "--show", "orig"])
    assert r.returncode == 0, r.stderr
    db = f"save_audio_{prefix}_orig"
    assert pg_meta(postgres, db)["source_unique_id"] == dict(
        sqlite3.connect(rec.db("orig")).execute("SELECT key, value FROM metadata").fetchall())["unique_id"]
    assert pull(cfg).returncode == 0
    r = run_tool([bin_path("save_audio_stream"), "replace-source", "-c", cfg])
    assert r.returncode == 64 and "--show" in r.stderr
