"""kill -9 at random moments, 20 times per tool, with the invariants checked after every kill and
after the run that follows: nothing committed is lost, nothing is duplicated, no partial file sits
under a final name, and nothing is recorded as done that is not."""
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest

from audiotools import jsonlines
from conftest import bin_path, make_tone, receiver_config, run_tool
from test_push import Setup, sha

KILLS = int(os.environ.get("SA_KILLS", "20"))
SEED = int(os.environ.get("SA_KILL_SEED", str(int(time.time()))))


@pytest.fixture(scope="module")
def long_tone(media_dir):
    return make_tone(os.path.join(media_dir, "kill_long.mp3"), 600, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=350)


def kill_at(args, delay, **kw):
    """Starts the tool, sends SIGKILL after `delay` seconds (if it still runs); returns its status."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    try:
        p.wait(delay)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    return p.returncode, out, err


def integrity(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def segment_hashes(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {i: (s, hashlib.sha256(a).hexdigest()) for i, s, a in
                con.execute("SELECT id, section_id, audio_data FROM segments ORDER BY id")}
    finally:
        con.close()


def test_sa_record_killed_at_random_moments_keeps_every_committed_segment(tmp_path, long_tone):
    rng = random.Random(SEED)
    out = tmp_path / "rec"
    db = str(out / "show.sqlite")
    args = [bin_path("sa-record"), "--input", long_tone, "--name", "show", "--output-dir", str(out), "--min-free-mb", "0"]
    before = {}
    for i in range(KILLS):
        rc, _, err = kill_at(args, rng.uniform(0.05, 1.5))
        assert rc in (0, -signal.SIGKILL), (i, rc, err)
        if not os.path.exists(db):
            continue
        assert integrity(db) == "ok", i
        now = segment_hashes(db)
        # Everything committed before stays, byte for byte; ids only grow.
        assert all(now.get(k) == v for k, v in before.items()), f"kill {i}: a committed segment changed or vanished (seed {SEED})"
        before = now
    r = run_tool(args, timeout=300)
    assert r.returncode == 0, r.stderr
    after = segment_hashes(db)
    assert all(after.get(k) == v for k, v in before.items())
    con = sqlite3.connect(db)
    # The run after the kills closed what the killed runs left open.
    assert con.execute("SELECT count(*) FROM sections WHERE is_open = 1").fetchone()[0] == 0
    # Every section's segments are numbered without holes (one writer, one commit per segment).
    for sid, n, lo, hi in con.execute("SELECT section_id, count(*), min(id), max(id) FROM segments GROUP BY section_id"):
        assert hi - lo + 1 == n, sid
    con.close()


def test_sa_pull_killed_at_random_moments_converges_without_loss_or_duplicate(tmp_path, recorder, postgres, long_tone):
    rng = random.Random(SEED + 1)
    rec = recorder()
    rec.record_file("news", long_tone)  # 60 segments
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url, chunk_size=3)
    dbname = f"save_audio_{prefix}_news"
    want = segment_hashes(rec.db("news"))
    for i in range(KILLS):
        rc, out, err = kill_at([bin_path("sa-pull"), "--config", cfg], rng.uniform(0.02, 0.6))
        assert rc in (0, -signal.SIGKILL), (i, rc, err)
        rows = postgres.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'")
        if not rows:
            continue
        # Killed between CREATE DATABASE and the first migration: an empty database, which the
        # next run takes up.
        if postgres.psql(dbname, "SELECT to_regclass('public.segments') IS NOT NULL") != [["t"]]:
            continue
        got = {int(a): (int(b), c) for a, b, c in postgres.psql(
            dbname, "SELECT id, section_id, encode(sha256(audio_data), 'hex') FROM segments ORDER BY id")}
        meta = dict(postgres.psql(dbname, "SELECT key, value FROM metadata"))
        last = int(meta.get("last_synced_id", "0"))
        # Exactly the recorder's segments 1..last_synced_id, each identical: no hole, no extra.
        assert sorted(got) == [k for k in sorted(want) if k <= last], f"kill {i} (seed {SEED})"
        assert all(got[k] == want[k] for k in got)
        # A section is complete (closed here) only when all its segments are here.
        for sid, is_open in postgres.psql(dbname, "SELECT id, is_open FROM sections"):
            have = [k for k in got if got[k][0] == int(sid)]
            full = [k for k in want if want[k][0] == int(sid)]
            if is_open == "0":
                assert have == full, f"kill {i}: section {sid} closed with {len(have)} of {len(full)} segments"
    r = run_tool([bin_path("sa-pull"), "--config", cfg])
    assert r.returncode == 0, r.stderr
    got = {int(a): (int(b), c) for a, b, c in postgres.psql(
        dbname, "SELECT id, section_id, encode(sha256(audio_data), 'hex') FROM segments ORDER BY id")}
    assert got == want
    assert postgres.psql(dbname, "SELECT count(*) FROM sections WHERE is_open = 1") == [["0"]]


def test_sa_export_killed_at_random_moments_never_leaves_a_partial_file(tmp_path, long_tone):
    rng = random.Random(SEED + 2)
    out = tmp_path / "rec"
    r = run_tool([bin_path("sa-record"), "--input", long_tone, "--name", "show", "--output-dir", str(out), "--min-free-mb", "0"],
                 timeout=300)
    assert r.returncode == 0, r.stderr
    db = str(out / "show.sqlite")
    sid = sqlite3.connect(db).execute("SELECT id FROM sections").fetchone()[0]
    t = time.time()
    ref = run_tool([bin_path("sa-export"), "--db", db, "--section", str(sid), "--output-dir", str(tmp_path / "ref")])
    took = time.time() - t  # kills fall across the whole run, start to finish
    ref_sha = jsonlines(ref.stdout)[0]["sha256"]
    con = sqlite3.connect(db)
    con.execute("DELETE FROM exports")
    con.commit()
    con.close()
    files = tmp_path / "files"
    args = [bin_path("sa-export"), "--db", db, "--section", str(sid), "--output-dir", str(files)]
    for i in range(KILLS):
        if files.exists():
            for f in os.listdir(files):
                if not f.startswith("."):
                    os.unlink(files / f)
        con = sqlite3.connect(db)
        con.execute("DELETE FROM exports")
        con.commit()
        con.close()
        rc, _, err = kill_at(args, rng.uniform(0.0, took * 1.1))
        assert rc in (0, -signal.SIGKILL), (i, rc, err)
        finals = [f for f in os.listdir(files) if not f.startswith(".")] if files.exists() else []
        for f in finals:
            assert sha(str(files / f)) == ref_sha, f"kill {i}: a partial file under its final name (seed {SEED})"
        rows = sqlite3.connect(db).execute("SELECT file_path, sha256 FROM exports").fetchall()
        for path, digest in rows:
            assert os.path.exists(path) and digest == ref_sha, f"kill {i}: recorded as exported but not there"
    r = run_tool(args)
    assert r.returncode == 0, r.stderr
    assert [f for f in os.listdir(files) if ".tmp." in f] == []
    assert jsonlines(r.stdout)[0]["sha256"] == ref_sha


def test_sa_push_killed_at_random_moments_never_leaves_a_partial_remote_file(tmp_path, sshd, media_dir):
    rng = random.Random(SEED + 3)
    s = Setup(tmp_path, sshd, remote_dir=f"kill{os.getpid()}")
    big = tmp_path / "big.ogg"
    big.write_bytes(os.urandom(6 << 20))
    want = sha(str(big))
    final = os.path.join(s.remote, "big.ogg")
    for i in range(KILLS):
        if os.path.exists(final):
            os.unlink(final)
        p = subprocess.Popen([bin_path("sa-push"), "--config", str(s.config), "--credentials", s.creds, str(big)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.wait(rng.uniform(0.05, 0.8))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        assert p.returncode in (0, -signal.SIGKILL), p.returncode
        if os.path.exists(final):
            assert sha(final) == want, f"kill {i}: a partial remote file under its final name (seed {SEED})"
    r = s.push(str(big))
    assert r.returncode == 0, r.stderr
    assert sha(final) == want
