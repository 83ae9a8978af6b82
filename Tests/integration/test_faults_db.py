"""Disk full while recording and while exporting (a small tmpfs), and PostgreSQL stopped and
restarted in the middle of a pull."""
import glob
import hashlib
import os
import sqlite3
import subprocess
import tempfile
import time

import pytest

from audiotools import jsonlines
from conftest import PORT_BASE, ROOT, Postgres, bin_path, make_tone, receiver_config, run_tool
from faultproxy import FaultProxy


@pytest.fixture(scope="module")
def long_tone(media_dir):
    return make_tone(os.path.join(media_dir, "full_long.mp3"), 1200, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=450)


@pytest.fixture
def small_fs():
    """A 1 MiB filesystem of its own (needs root, as the tests run in CI)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tempfile.mkdtemp(prefix="sa-full-")
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d], capture_output=True, text=True)
    if m.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"this machine does not let us mount a tmpfs: {m.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", d])
    os.rmdir(d)


def test_recording_onto_a_full_disk_exits_74_and_keeps_what_was_committed(small_fs, long_tone):
    r = run_tool([bin_path("sa-record"), "--input", long_tone, "--name", "show", "--output-dir", small_fs,
                  "--min-free-mb", "0"], timeout=300)
    assert r.returncode == 74, (r.returncode, r.stderr)
    errors = [x for x in jsonlines(r.stdout) if x.get("type") == "error"]
    assert errors and errors[-1]["code"] == "io", r.stdout
    committed = [x for x in jsonlines(r.stdout) if x.get("type") == "segment"]
    assert committed, "nothing was committed before the disk filled"
    db = os.path.join(small_fs, "show.sqlite")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [i for i, in con.execute("SELECT id FROM segments ORDER BY id")]
    con.close()
    # Every segment reported as committed is there.
    assert {x["segment_id"] for x in committed} <= set(ids)


def test_exporting_onto_a_full_disk_leaves_no_file_and_no_bookkeeping(tmp_path, small_fs, long_tone):
    out = tmp_path / "rec"
    r = run_tool([bin_path("sa-record"), "--input", long_tone, "--name", "show", "--output-dir", str(out), "--min-free-mb", "0"],
                 timeout=300)
    assert r.returncode == 0, r.stderr
    db = str(out / "show.sqlite")
    sid = sqlite3.connect(db).execute("SELECT id FROM sections").fetchone()[0]
    r = run_tool([bin_path("sa-export"), "--db", db, "--section", str(sid), "--output-dir", small_fs])
    assert r.returncode == 74, (r.returncode, r.stdout, r.stderr)
    assert [x["code"] for x in jsonlines(r.stdout) if x.get("type") == "error"] == ["io"]
    assert [f for f in os.listdir(small_fs) if not f.endswith(".lock")] == []
    assert sqlite3.connect(db).execute("SELECT count(*) FROM exports").fetchone()[0] == 0


def test_postgres_stopped_in_the_middle_of_a_pull_then_the_next_pull_converges(tmp_path, recorder, long_tone):
    pg = Postgres(PORT_BASE + 6)
    pg.start()
    try:
        rec = recorder()
        rec.record_file("news", long_tone)  # 120 segments
        rec.start()
        # 50 ms each way on every request: 120 chunks of one segment take many seconds, so
        # PostgreSQL surely stops in the middle of the pull.
        proxy = FaultProxy("127.0.0.1", rec.port).start()
        proxy.latency(50)
        cfg, prefix = receiver_config(tmp_path, rec, pg.url, chunk_size=1)
        text = open(cfg).read().replace(rec.url, f"http://127.0.0.1:{proxy.port}")
        open(cfg, "w").write(text)
        p = subprocess.Popen([bin_path("sa-pull"), "--config", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dbname = f"save_audio_{prefix}_news"

        def progress():
            try:
                rows = pg.psql(dbname, "SELECT value FROM metadata WHERE key = 'last_synced_id'")
                return int(rows[0][0]) if rows else 0
            except AssertionError:
                return 0
        deadline = time.time() + 30
        while progress() < 5 and time.time() < deadline and p.poll() is None:
            time.sleep(0.02)
        pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
        assert p.poll() is None, "the pull ended before PostgreSQL could be stopped under it"
        stopped = subprocess.run(["runuser", "-u", "postgres", "--", pg_ctl, "-D", os.path.join(pg.dir, "data"),
                                  "stop", "-m", "immediate"], capture_output=True, text=True)
        assert stopped.returncode == 0, stopped.stderr
        out, err = p.communicate(timeout=60)
        proxy.stop()
        assert p.returncode == 69, (p.returncode, err)
        assert [x["code"] for x in jsonlines(out) if x.get("type") == "error"] == ["unavailable"], out
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "postgres.sh"), "start", pg.dir, str(pg.port)], check=True)
        open(cfg, "w").write(text.replace(f"http://127.0.0.1:{proxy.port}", rec.url))  # the direct link again
        r = run_tool([bin_path("sa-pull"), "--config", cfg])
        assert r.returncode == 0, r.stderr
        con = sqlite3.connect(rec.db("news"))
        want = {i: hashlib.sha256(a).hexdigest() for i, a in con.execute("SELECT id, audio_data FROM segments")}
        con.close()
        got = {int(a): b for a, b in pg.psql(dbname, "SELECT id, encode(sha256(audio_data), 'hex') FROM segments")}
        assert got == want
    finally:
        pg.stop()
