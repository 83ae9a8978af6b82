"""Regression tests for the reliability and safety defects a user found: crashes on an unreachable
PostgreSQL, half-pulled sections exported short, sections never reported, dropped titles, files
written through hostile names and links, numbers that trap, secrets in messages, HTTP edges."""
import http.server
import json
import os
import socket
import socketserver
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from audiotools import jsonlines
from conftest import PORT_BASE, Postgres, bin_path, free_port, make_tone, port_open, receiver_config, run_tool, wait_for

DEAD_PG = "postgres://u@127.0.0.1:1/x"


@pytest.fixture(scope="module")
def tones(media_dir):
    return {
        "a": make_tone(os.path.join(media_dir, "rel_a.mp3"), 50, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=300),
        "b": make_tone(os.path.join(media_dir, "rel_b.mp3"), 120, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=600),
    }


def assert_clean_exit(r, status):
    """Ended by itself (no signal, no trap) with the documented status."""
    assert r.returncode >= 0, f"killed by signal {-r.returncode}: {r.stderr}"
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)


def error_records(r):
    return [x for x in jsonlines(r.stdout) if x.get("type") == "error"]


def imported(tmp_path, tone, name="show", start=None):
    out = tmp_path / "rec"
    out.mkdir(exist_ok=True)
    args = [bin_path("sa-record"), "--input", tone, "--name", name, "--output-dir", str(out), "--min-free-mb", "0"]
    if start:
        args += ["--start", start]
    r = run_tool(args, timeout=300)
    assert r.returncode == 0, r.stderr
    return str(out / f"{name}.sqlite")


# 1. An unreachable PostgreSQL is an error record and exit 69 in every tool, never a crash.

def test_unreachable_postgres_is_a_clean_error_in_prune_and_export(tmp_path):
    r = run_tool([bin_path("sa-prune"), "--db", DEAD_PG])
    assert_clean_exit(r, 69)
    assert error_records(r) and error_records(r)[0]["code"] == "unavailable"
    r = run_tool([bin_path("sa-export"), "--db", DEAD_PG, "--section", "1", "--output-dir", str(tmp_path)])
    assert_clean_exit(r, 69)
    line = json.dumps({"type": "section_synced", "show": "x", "db": DEAD_PG, "section_id": 1, "complete": True})
    r = run_tool([bin_path("sa-export"), "--output-dir", str(tmp_path)], input=line + "\n")
    assert_clean_exit(r, 1)
    assert error_records(r)[0]["code"] == "unavailable"


def test_unreachable_postgres_is_a_clean_error_in_pull(tmp_path, recorder, tones):
    rec = recorder()
    rec.record_file("news", tones["a"])
    rec.start()
    cfg, _ = receiver_config(tmp_path, rec, DEAD_PG)
    r = run_tool([bin_path("sa-pull"), "--config", cfg])
    assert_clean_exit(r, 69)
    assert error_records(r)[0]["code"] == "unavailable"


def http_get(url, method="GET", headers=None, timeout=10):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def start_receiver(cfg, creds=None, extra=()):
    args = [bin_path("sa-serve"), "--config", cfg, *extra]
    if creds:
        args += ["--credentials", creds]
    log = open(cfg + ".log", "w")
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    return p


def test_receiver_survives_a_postgres_restart_and_serves_again(tmp_path, recorder, tones):
    """PostgreSQL stops under a serving receiver: no crash, 503 and the error in the sync status;
    back within seconds of PostgreSQL's return, with no restart of sa-serve."""
    pg = Postgres(PORT_BASE + 5)
    pg.start()
    serve = None
    try:
        rec = recorder()
        rec.record_file("news", tones["a"])
        rec.start()
        cfg, _ = receiver_config(tmp_path, rec, pg.url)
        port = free_port()
        text = open(cfg).read().replace("[database]", f"port = {port}\nsync_interval_seconds = 2\n[database]")
        open(cfg, "w").write(text)
        serve = start_receiver(cfg)
        base = f"http://127.0.0.1:{port}"

        def sessions_ok():
            try:
                s, _, body = http_get(base + "/api/show/news/sessions")
                return s == 200 and json.loads(body)
            except OSError:
                return False
        assert wait_for(sessions_ok, 30), open(cfg + ".log").read()

        subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "postgres.sh"), "stop", pg.dir],
                       check=True)
        time.sleep(4)  # long enough for a pass and a few requests to meet the dead server
        http_get(base + "/api/show/news/sessions")
        time.sleep(0.5)
        assert serve.poll() is None, "sa-serve died when PostgreSQL stopped"
        for _ in range(5):
            s, _, body = http_get(base + "/api/show/news/sessions")
            assert s in (503, 500) or s == 200, s  # cached answers may still come; never a dropped connection
            if s != 200:
                assert s == 503, body
                assert "error" in json.loads(body)
        assert serve.poll() is None, "sa-serve died when PostgreSQL stopped"

        def status_has_error():
            st = json.loads(http_get(base + "/api/sync/status")[2])
            return (not st["in_progress"]) and st.get("passes", 0) >= 2 and st.get("last_error") and st
        st = wait_for(status_has_error, 20)
        assert st and st["last_result"] == "failed", st
        assert serve.poll() is None

        subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "postgres.sh"), "start", pg.dir,
                        str(pg.port)], check=True)
        t0 = time.time()
        assert wait_for(sessions_ok, 15), "the receiver did not serve again after PostgreSQL came back"
        assert time.time() - t0 < 10
        assert serve.poll() is None
    finally:
        if serve:
            serve.terminate()
            serve.wait(10)
        pg.stop()


# 2–4. Completeness, reporting from stored state, titles.

class CuttingProxy:
    """Forwards HTTP to a recorder's sa-serve; after `allow` segment requests it answers 503 to the
    rest, as a connection lost in the middle of a pull would end it."""

    def __init__(self, target):
        self.target = target
        self.allow = None
        self.segment_requests = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if "/segments" in self.path:
                    proxy.segment_requests += 1
                    if proxy.allow is not None and proxy.segment_requests > proxy.allow:
                        self.send_response(503)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                req = urllib.request.Request(proxy.target + self.path, headers={k: v for k, v in self.headers.items()
                                                                                 if k.lower() in ("accept", "authorization")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, headers, body = r.status, r.headers, r.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, e.headers, e.read()
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def receiver_via(tmp_path, rec, proxy, db_url, chunk_size):
    cfg, prefix = receiver_config(tmp_path, rec, db_url, chunk_size=chunk_size)
    text = open(cfg).read().replace(rec.url, proxy.url)
    open(cfg, "w").write(text)
    return cfg, prefix


def synced(out):
    return [x for x in jsonlines(out) if x.get("type") == "section_synced"]


def stored_duration_s(db, section):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    v = con.execute("SELECT sum(duration_samples) FROM segments WHERE section_id = ?", (section,)).fetchone()[0]
    con.close()
    return v / 48000


def ffprobe_duration(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                       capture_output=True, text=True, check=True)
    return float(r.stdout.strip())


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_interrupted_pull_never_exports_a_partial_section(tmp_path, recorder, postgres, tones, store):
    """A pull cut short in the middle of a section: the section is not complete, so it is neither
    reported nor exported by --pending; once the pull completes it is reported and exported whole."""
    rec = recorder()
    rec.record_file("news", tones["a"])  # section A: 5 segments
    rec.record_file("news", tones["b"])  # section B: 12 segments
    rec.start()
    proxy = CuttingProxy(rec.url)
    try:
        db_url = f"sqlite:{tmp_path}/recv" if store == "sqlite" else postgres.url
        cfg, prefix = receiver_via(tmp_path, rec, proxy, db_url, chunk_size=4)
        con = sqlite3.connect(rec.db("news"))
        sections = [r[0] for r in con.execute("SELECT id FROM sections ORDER BY id")]
        con.close()
        a, b = sections
        proxy.allow = 3  # 12 of 17 segments: all of A, part of B
        pulled = run_tool([bin_path("sa-pull"), "--config", cfg])
        assert_clean_exit(pulled, 69)

        # The half-pulled section B is not exported; A, which is complete, is.
        out = tmp_path / "out"
        r = run_tool([bin_path("sa-export"), "--config", cfg, "--pending", "--output-dir", str(out)])
        assert r.returncode == 0, r.stderr
        exported = [x for x in jsonlines(r.stdout) if x.get("type") == "exported"]
        assert b not in [x["section_id"] for x in exported], f"a partial section was exported: {exported}"
        assert [x["section_id"] for x in exported] == [a], r.stdout

        # A is complete and reported even though the pass failed; B is not.
        first = synced(pulled.stdout)
        assert [s["section_id"] for s in first] == [a], pulled.stdout
        assert all(s["complete"] is True for s in first)

        proxy.allow = None
        r = run_tool([bin_path("sa-pull"), "--config", cfg])
        assert r.returncode == 0, r.stderr
        assert [s["section_id"] for s in synced(r.stdout)] == [b], r.stdout  # B now, A never twice
        r = run_tool([bin_path("sa-export"), "--config", cfg, "--pending", "--output-dir", str(out)])
        assert r.returncode == 0, r.stderr
        exported = [x for x in jsonlines(r.stdout) if x.get("type") == "exported"]
        assert [x["section_id"] for x in exported] == [b], r.stdout
        want = stored_duration_s(rec.db("news"), b)
        assert abs(exported[0]["duration_seconds"] - want) < 0.001
        assert abs(ffprobe_duration(exported[0]["file_path"]) - want) < 0.05
        r = run_tool([bin_path("sa-pull"), "--config", cfg])
        assert synced(r.stdout) == []
    finally:
        proxy.close()


def test_open_section_exported_with_include_open_is_not_recorded_as_exported(tmp_path, tones):
    db = imported(tmp_path, tones["a"])
    con = sqlite3.connect(db)
    con.execute("UPDATE sections SET is_open = 1")
    con.commit()
    sid = con.execute("SELECT id FROM sections").fetchone()[0]
    con.close()
    r = run_tool([bin_path("sa-export"), "--db", db, "--section", str(sid), "--include-open", "--output-dir", str(tmp_path / "o")])
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM exports").fetchone()[0] == 0
    con.close()


def test_section_that_grew_after_its_export_is_exported_again(tmp_path, tones):
    db = imported(tmp_path, tones["b"])
    cfg = tmp_path / "record.toml"
    cfg.write_text("config_type = 'record'\noutput_dir = 'rec'\n[[sessions]]\nname = 'show'\nurl = 'http://127.0.0.1:1/x'\n"
                   "[sessions.schedule]\nrecord_start = '00:00'\nrecord_end = '01:00'\n")
    con = sqlite3.connect(db)
    sid = con.execute("SELECT id FROM sections").fetchone()[0]
    # As if it had been exported when only part of it was here (by a version that did not
    # record how much audio a file holds).
    con.execute("INSERT INTO exports (section_id, file_path, format, bytes, sha256, exported_at_ms) "
                "VALUES (?, 'x', 'opus', 1, 'x', 0)", (sid,))
    con.commit()
    con.close()
    r = run_tool([bin_path("sa-export"), "--config", str(cfg), "--pending", "--output-dir", str(tmp_path / "o")])
    assert r.returncode == 0, r.stderr
    assert [x["section_id"] for x in jsonlines(r.stdout) if x.get("type") == "exported"] == [sid]
    r = run_tool([bin_path("sa-export"), "--config", str(cfg), "--pending", "--output-dir", str(tmp_path / "o")])
    assert [x for x in jsonlines(r.stdout) if x.get("type") == "exported"] == []


def test_titles_of_a_section_not_yet_pulled_are_not_dropped(tmp_path, recorder, tones):
    rec = recorder()
    rec.record_file("news", tones["a"])
    db = rec.db("news")
    con = sqlite3.connect(db)
    old = con.execute("SELECT id FROM sections").fetchone()[0]
    new = old + 1_000_000
    # A section the recorder has just opened: its title is stored, its first segment is not yet.
    con.execute("INSERT INTO sections (id, start_timestamp_ms, is_open) VALUES (?, ?, 1)", (new, new // 1000))
    con.execute("INSERT INTO titles (section_id, timestamp_ms, title) VALUES (?, ?, 'Early title')", (new, new // 1000 + 10))
    con.commit()
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, f"sqlite:{tmp_path}/recv")
    r = run_tool([bin_path("sa-pull"), "--config", cfg])
    assert r.returncode == 0, r.stderr
    # Now its first segment arrives on the recorder.
    blob, dur = con.execute("SELECT audio_data, duration_samples FROM segments ORDER BY id LIMIT 1").fetchone()
    con.execute("INSERT INTO segments (timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples) "
                "VALUES (?, 1, ?, ?, ?)", (new // 1000, blob, new, dur))
    con.execute("UPDATE sections SET is_open = 0 WHERE id = ?", (new,))
    con.commit()
    con.close()
    r = run_tool([bin_path("sa-pull"), "--config", cfg])
    assert r.returncode == 0, r.stderr
    recv = sqlite3.connect(f"{tmp_path}/recv/save_audio_{prefix}_news.sqlite")
    titles = recv.execute("SELECT section_id, title FROM titles").fetchall()
    assert (new, "Early title") in titles, titles


# 5. File safety in sa-export.

def test_show_name_from_metadata_cannot_escape_the_output_dir(tmp_path, tones):
    db = imported(tmp_path, tones["a"])
    con = sqlite3.connect(db)
    con.execute("UPDATE metadata SET value = '/../../escaped' WHERE key = 'name'")
    con.commit()
    sid = con.execute("SELECT id FROM sections").fetchone()[0]
    con.close()
    out = tmp_path / "a" / "b" / "out"
    r = run_tool([bin_path("sa-export"), "--db", db, "--section", str(sid), "--output-dir", str(out)])
    assert_clean_exit(r, 65)
    assert error_records(r)[0]["code"] == "bad_show_name"
    found = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs if "escaped" in f]
    assert found == []


def test_temporary_file_never_follows_a_planted_link_and_stale_ones_are_removed(tmp_path, tones):
    db = imported(tmp_path, tones["a"])
    con = sqlite3.connect(db)
    sid, start = con.execute("SELECT id, start_timestamp_ms FROM sections").fetchone()
    con.close()
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(start / 1000))
    name = f"show_{stamp}_{sid:x}.ogg"
    stale = out / f".{name}.tmp.1"
    stale.write_bytes(b"half a file from a killed run")
    # `exec` keeps the shell's pid, so the link sits exactly where the export writes its temporary file.
    script = f'ln -s "{victim}" "{out}/.{name}.tmp.$$" && exec "{bin_path("sa-export")}" --db "{db}" --section {sid} --output-dir "{out}"'
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "precious\n"
    assert not stale.exists()
    assert sorted(os.listdir(out)) == sorted([name, f".{name}.lock"])
    assert ffprobe_duration(str(out / name)) > 40


def test_a_sqlite_file_that_is_not_a_show_database_is_refused_untouched(tmp_path):
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (t TEXT)")
    con.execute("INSERT INTO notes VALUES ('mine')")
    con.commit()
    con.close()
    before = open(other, "rb").read()
    for args in (["sa-prune", "--db", str(other)],
                 ["sa-export", "--db", str(other), "--section", "1", "--output-dir", str(tmp_path / "o")]):
        r = run_tool([bin_path(args[0]), *args[1:]])
        assert open(other, "rb").read() == before, f"{args[0]} changed the file"
        assert sorted(os.listdir(tmp_path)) == ["other.sqlite"], f"{args[0]} left {os.listdir(tmp_path)}"
        assert_clean_exit(r, 65)
        assert error_records(r)[0]["code"] == "not_a_show_database", r.stdout


def test_recording_into_a_foreign_sqlite_file_is_refused_untouched(tmp_path, tones):
    out = tmp_path / "rec"
    out.mkdir()
    other = out / "show.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (t TEXT)")
    con.commit()
    con.close()
    before = other.read_bytes()
    r = run_tool([bin_path("sa-record"), "--input", tones["a"], "--name", "show", "--output-dir", str(out), "--min-free-mb", "0"])
    assert other.read_bytes() == before
    assert_clean_exit(r, 65)
    assert error_records(r)[0]["code"] == "not_a_show_database"


def test_a_postgres_database_that_is_not_ours_is_refused_untouched(postgres):
    postgres.psql("postgres", "DROP DATABASE IF EXISTS otherapp")
    postgres.psql("postgres", "CREATE DATABASE otherapp")
    postgres.psql("otherapp", "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO metadata VALUES ('theirs', '1')")
    for args in (["sa-prune", "--db", f"{postgres.url}/otherapp"], ["sa-export", "--db", f"{postgres.url}/otherapp", "--section", "1"]):
        r = run_tool([bin_path(args[0]), *args[1:]])
        tables = postgres.psql("otherapp", "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        assert tables == [["metadata"]], f"{args[0]} changed the database: {tables}"
        assert_clean_exit(r, 65)
        assert error_records(r)[0]["code"] == "not_a_show_database"


# 6. Bad input.

def test_out_of_range_numbers_are_usage_errors(tmp_path, tones):
    big = "9223372036854775807"
    db = imported(tmp_path, tones["a"], name="real")
    for args in (["sa-prune", "--db", db, "--retention-hours", big],
                 ["sa-record", "--input", tones["a"], "--name", "x", "--output-dir", str(tmp_path), "--start", big],
                 ["sa-record", "--input", tones["a"], "--name", "x", "--output-dir", str(tmp_path), "--min-free-mb", big],
                 ["sa-record", "--input", tones["a"], "--name", "x", "--output-dir", str(tmp_path), "--bitrate", big]):
        r = run_tool([bin_path(args[0]), *args[1:]])
        assert_clean_exit(r, 64)
    assert not os.path.exists(tmp_path / "x.sqlite")


def test_nul_in_a_json_line_is_an_error_record(tmp_path, tones):
    db = imported(tmp_path, tones["a"])
    sid = sqlite3.connect(db).execute("SELECT id FROM sections").fetchone()[0]
    good = json.dumps({"type": "section_finished", "db": db, "section_id": sid}).encode()
    lines = [b"\x00" + good, good[:-1] + b', "x": "a\\u0000b"}', b"\xff\xfe not utf-8", good]
    r = subprocess.run([bin_path("sa-export"), "--output-dir", str(tmp_path / "o")], input=b"\n".join(lines) + b"\n",
                       capture_output=True, timeout=60)
    assert r.returncode == 1, r.stderr
    recs = jsonlines(r.stdout.decode())
    assert [x["code"] for x in recs if x["type"] == "error"] == ["bad_json"] * 3
    assert [x["type"] for x in recs].count("exported") == 1


@pytest.mark.parametrize("text,what", [
    ("[database]\nprefix = \"evil\\n\"\n", "prefix"),
    ("shows = [\"news\\u0000\"]\n", "NUL"),
])
def test_config_values_with_newline_or_nul_are_refused(tmp_path, text, what):
    cfg = tmp_path / "receiver.toml"
    cfg.write_text("config_type = 'receiver'\nremote_url = 'http://127.0.0.1:1'\n" + text)
    r = run_tool([bin_path("sa-pull"), "--config", str(cfg)])
    assert_clean_exit(r, 78)
    assert what in r.stderr


def test_passwords_in_urls_are_redacted_everywhere(tmp_path):
    cfg = tmp_path / "receiver.toml"
    cfg.write_text("config_type = 'receiver'\nremote_url = 'http://alice:s3cretpw@127.0.0.1:1'\n"
                   f"[database]\nurl = 'sqlite:{tmp_path}/r'\n")
    r = run_tool([bin_path("sa-pull"), "--config", str(cfg)])
    assert r.returncode == 69, r.stderr
    assert "alice" in r.stdout + r.stderr
    assert "s3cretpw" not in r.stdout + r.stderr
    line = json.dumps({"type": "section_synced", "show": "x", "db": "postgres://bob:s3cretpw@127.0.0.1:1/x", "section_id": 1})
    r = run_tool([bin_path("sa-export"), "--output-dir", str(tmp_path / "o")], input=line + "\n")
    assert r.returncode != 0
    assert "s3cretpw" not in r.stdout + r.stderr, r.stdout + r.stderr
    r = run_tool([bin_path("sa-prune"), "--db", "postgres://bob:s3cretpw@127.0.0.1:1/x"])
    assert r.returncode in (64, 78), r.stderr
    assert "s3cretpw" not in r.stdout + r.stderr


@pytest.mark.parametrize("creds,what", [
    ("[api.rec]\ntoken = ''\n", "empty"),
    ("[api.rec]\ntoken = 'abc'\ntokn = 'abc'\n", "unknown key 'api.rec.tokn'"),
    ("[api.rec]\ntoken = 'abc'\n[postgres.main]\npassword = 'x'\nuser = 'y'\n", "unknown key 'postgres.main.user'"),
])
def test_bad_credentials_profiles_are_configuration_errors(tmp_path, creds, what):
    c = tmp_path / "credentials.toml"
    c.write_text(creds)
    c.chmod(0o600)
    cfg = tmp_path / "receiver.toml"
    cfg.write_text("config_type = 'receiver'\nremote_url = 'http://127.0.0.1:1'\napi_token_profile = 'rec'\n"
                   f"[database]\nurl = 'sqlite:{tmp_path}/r'\n")
    r = run_tool([bin_path("sa-pull"), "--config", str(cfg), "--credentials", str(c)])
    assert_clean_exit(r, 78)
    assert what in r.stderr, r.stderr


# 7. HTTP edges.

def serve_db(recorder, tones, *flags):
    rec = recorder()
    rec.record_file("news", tones["a"])
    port = free_port()
    p = subprocess.Popen([bin_path("sa-serve"), "--db", rec.db("news"), "--port", str(port), *flags],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: http_get(base + "/api/health")[0] == 200 if port_open(port) else False, 10)
    return p, (base, port, rec)


@pytest.fixture
def served(recorder, tones):
    p, v = serve_db(recorder, tones)
    yield v
    p.terminate()
    p.wait(10)


@pytest.fixture
def served_short(recorder, tones):
    p, v = serve_db(recorder, tones, "--header-timeout", "2", "--idle-timeout", "3")
    yield v
    p.terminate()
    p.wait(10)


def test_a_trickled_header_is_cut_off_by_the_header_timeout(served_short):
    _, port, _ = served_short
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    t0 = time.time()
    closed_at = None
    try:
        for ch in b"GET /api/health HTTP/1.1\r\nX-Slow: " + b"a" * 40:
            s.send(bytes([ch]))
            time.sleep(0.25)
    except (BrokenPipeError, ConnectionResetError):
        closed_at = time.time() - t0
    if closed_at is None:
        assert s.recv(100) == b""
        closed_at = time.time() - t0
    assert closed_at < 5, closed_at


def test_an_idle_keep_alive_connection_is_closed(served_short):
    _, port, _ = served_short
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(1000).startswith(b"HTTP/1.1 200")
    t0 = time.time()
    assert s.recv(100) == b""
    assert 2 < time.time() - t0 < 6


def test_head_is_answered_wherever_get_is(served):
    base, _, rec = served
    sid = sqlite3.connect(rec.db("news")).execute("SELECT id FROM sections").fetchone()[0]
    for path in ("/api/health", "/api/sync/shows", "/api/shows", "/", f"/show/news/session/{sid}/audio.ogg"):
        gs, gh, gb = http_get(base + path)
        hs, hh, hb = http_get(base + path, method="HEAD")
        assert hs == gs == 200, (path, hs, gs)
        assert hb == b""
        assert hh.get("Content-Type") == gh.get("Content-Type")
        # HEAD tells the length a GET sends (players and podcast apps size files this way).
        assert hh.get("Content-Length") == gh.get("Content-Length") == str(len(gb)), (path, hh.get("Content-Length"))


def test_an_unsatisfiable_range_answers_valid_json_without_echoing_the_header(served):
    base, _, rec = served
    sid = sqlite3.connect(rec.db("news")).execute("SELECT id FROM sections").fetchone()[0]
    evil = 'bytes=99999999-"}<script>'
    s, h, body = http_get(f"{base}/show/news/session/{sid}/audio.ogg", headers={"Range": evil})
    assert s == 416
    doc = json.loads(body)
    assert "error" in doc and "script" not in doc["error"]
    assert h.get("Content-Range", "").startswith("bytes */")


def test_bearer_scheme_is_case_insensitive(recorder, tones):
    rec = recorder(token="tok-123")
    rec.record_file("news", tones["a"])
    rec.start()
    for scheme in ("Bearer", "bearer", "BEARER"):
        s, _, _ = http_get(rec.url + "/api/sync/shows", headers={"Authorization": f"{scheme} tok-123"})
        assert s == 200, scheme
    assert http_get(rec.url + "/api/sync/shows", headers={"Authorization": "bearer wrong"})[0] == 401
    assert http_get(rec.url + "/api/sync/shows", headers={"Authorization": "Basic tok-123"})[0] == 401


# SFTP: keys others can read, and a remote copy that does not read back as sent.

def test_sftp_private_key_readable_by_others_is_refused(tmp_path, sshd):
    from test_push import Setup
    s = Setup(tmp_path, sshd, remote_dir=f"keymode{os.getpid()}")
    key = tmp_path / "id_ed25519"
    f = tmp_path / "file.ogg"
    f.write_bytes(b"x" * 1000)
    key.chmod(0o644)
    r = s.push(str(f))
    assert_clean_exit(r, 78)
    assert "accessible by group or others" in r.stderr
    assert not os.path.exists(os.path.join(s.remote, "file.ogg"))
    key.chmod(0o600)
    r = s.push(str(f))
    assert r.returncode == 0, r.stderr


def test_sa_push_refuses_file_names_that_cannot_be_archive_names(tmp_path, sshd):
    from test_push import Setup
    s = Setup(tmp_path, sshd, remote_dir=f"names{os.getpid()}")
    bad = [tmp_path / ".big.ogg.part", tmp_path / "two\nlines.ogg"]
    for f in bad:
        f.write_bytes(b"x" * 100)
    good = tmp_path / "fine.ogg"
    good.write_bytes(b"y" * 100)
    lines = "".join(json.dumps({"type": "exported", "file_path": str(f)}) + "\n" for f in [*bad, good])
    r = s.push(input=lines)
    assert_clean_exit(r, 1)
    assert [x["code"] for x in error_records(r)] == ["bad_file_name", "bad_file_name"], r.stdout
    assert sorted(os.listdir(s.remote)) == ["fine.ogg"]
