"""sa-prune: boundary-preserving retention on SQLite and PostgreSQL, dry runs, and the disk
space coming back."""
import datetime
import json
import os
import sqlite3
import time

import pytest

from audiotools import jsonlines
from conftest import bin_path, make_tone, receiver_config, run_tool

H = 3600


def iso(offset_seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def tone12(media_dir):
    return make_tone(os.path.join(media_dir, "prune12.mp3"), 12, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=610)


def build(out_dir, tone, starts, name="ret", open_index=None):
    """One section per start offset (seconds from now); returns the section ids in order."""
    ids = []
    for off in starts:
        r = run_tool([bin_path("sa-record"), "--input", tone, "--name", name, "--output-dir", str(out_dir),
                      "--start", iso(off), "--min-free-mb", "0"])
        assert r.returncode == 0, r.stderr
        ids.append([x for x in jsonlines(r.stdout) if x["type"] == "section_finished"][0]["section_id"])
        time.sleep(0.002)
    db = os.path.join(out_dir, f"{name}.sqlite")
    if open_index is not None:
        con = sqlite3.connect(db)
        con.execute("UPDATE sections SET is_open = 1 WHERE id = ?", (ids[open_index],))
        con.commit()
        con.close()
    return db, ids


def prune(*args):
    r = run_tool([bin_path("sa-prune"), *args])
    assert r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    return rec


def remaining(db):
    return [x for x, in sqlite3.connect(db).execute("SELECT id FROM sections ORDER BY id")]


CASES = [
    # name, section starts (seconds from now), open section index, retention hours, kept indexes, boundary index
    ("cutoff inside a session keeps it whole", [-30 * H, -20 * H, -10 * H - 5], None, 10, [2], 2),
    ("nothing before the cutoff", [-2 * H, -1 * H], None, 10, [0, 1], None),
    ("several old sessions", [-40 * H, -30 * H, -20 * H, -15 * H, -1 * H], None, 10, [3, 4], 3),
    ("the open section is never deleted", [-40 * H, -30 * H, -1 * H], 0, 10, [0, 1, 2], 1),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_retention_cases(tmp_path, tone12, case):
    _, starts, open_index, hours, kept, boundary = case
    db, ids = build(tmp_path, tone12, starts, open_index=open_index)
    dry = prune("--db", db, "--retention-hours", str(hours), "--dry-run")
    assert remaining(db) == ids  # a dry run deletes nothing
    rec = prune("--db", db, "--retention-hours", str(hours))
    assert remaining(db) == [ids[i] for i in kept]
    deleted = len(ids) - len(kept)
    assert rec["sections_deleted"] == deleted and rec["segments_deleted"] == 2 * deleted
    assert rec["boundary_section_id"] == (ids[boundary] if boundary is not None else None)
    assert rec["dry_run"] is False and dry["dry_run"] is True
    for k in ("sections_deleted", "segments_deleted", "bytes_freed", "boundary_section_id"):
        assert dry[k] == rec[k], k
    assert rec["cutoff_ms"] == pytest.approx(time.time() * 1000 - hours * H * 1000, abs=60_000)


def test_postgres_and_sqlite_agree(tmp_path, tone12, recorder, postgres):
    rec = recorder()
    db, ids = build(rec.out, tone12, [-40 * H, -30 * H, -20 * H, -9 * H - 5, -1 * H], name="both")
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    assert run_tool([bin_path("sa-pull"), "--config", cfg]).returncode == 0
    pg_db = f"{postgres.url}/save_audio_{prefix}_both"
    dry_pg = prune("--db", pg_db, "--retention-hours", "9", "--dry-run")
    got_pg = prune("--db", pg_db, "--retention-hours", "9")
    got_sqlite = prune("--db", db, "--retention-hours", "9")
    for k in ("sections_deleted", "segments_deleted", "bytes_freed", "boundary_section_id"):
        assert got_pg[k] == got_sqlite[k] == dry_pg[k], k
    assert got_pg["db"] == pg_db and got_pg["sections_deleted"] == 3
    pg_left = [int(x[0]) for x in postgres.psql(f"save_audio_{prefix}_both", "SELECT id FROM sections ORDER BY id")]
    assert pg_left == remaining(db) == ids[3:]
    # The receiver config's per-show retention drives `sa-prune --config`.
    text = open(cfg).read().replace("chunk_size", "shows = [{ name = 'both', retention_hours = 1 }]\nchunk_size")
    open(cfg, "w").write(text)
    r = run_tool([bin_path("sa-prune"), "--config", cfg])
    assert r.returncode == 0, r.stderr
    assert jsonlines(r.stdout)[0]["sections_deleted"] == 1


def test_pruning_half_a_large_database_shrinks_the_file(tmp_path, media_dir):
    tone = make_tone(os.path.join(media_dir, "prune600.mp3"), 600, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=530)
    db, ids = build(tmp_path, tone, [-50 * H], name="large")
    build(tmp_path, make_tone(os.path.join(media_dir, "prune12.mp3"), 12, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=610),
          [-30 * H], name="large")
    build(tmp_path, tone, [-1 * H], name="large")
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    before = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    rec = prune("--db", db, "--retention-hours", "24")
    assert rec["sections_deleted"] == 1 and rec["bytes_freed"] > 500_000
    after = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    assert after < before * 0.6, (before, after)
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_recorder_prunes_after_each_window(tmp_path, tone12, icecast):
    out = tmp_path / "rec"
    db, ids = build(out, tone12, [-5 * H, -3 * H], name="daily")
    mount = "/daily.mp3"
    icecast.start_source(mount, "mp3")
    try:
        now = time.time()
        cfg = tmp_path / "record.toml"
        cfg.write_text(f"""config_type = 'record'
output_dir = 'rec'
min_free_mb = 1
[[sessions]]
name = 'daily'
url = '{icecast.url(mount)}'
retention_hours = 1
split_interval = 2
[sessions.schedule]
record_start = '{time.strftime("%H:%M:%S", time.gmtime(now - 60))}'
record_end = '{time.strftime("%H:%M:%S", time.gmtime(now + 4))}'
""")
        r = run_tool([bin_path("sa-record"), "--config", str(cfg), "--once"], timeout=40)
    finally:
        icecast.stop_source(mount)
    assert r.returncode == 0, r.stderr
    recs = jsonlines(r.stdout)
    pruned = [x for x in recs if x["type"] == "pruned"]
    assert len(pruned) == 1 and pruned[0]["show"] == "daily"
    # The session 3 h ago is the last boundary before the cutoff: the one before it goes.
    left = remaining(db)
    assert pruned[0]["sections_deleted"] == 1 and left[:1] == [ids[1]] and ids[0] not in left and len(left) == 2


def test_config_without_retention_for_a_show_is_refused(tmp_path):
    cfg = tmp_path / "receiver.toml"
    cfg.write_text("config_type = 'receiver'\nremote_url = 'http://127.0.0.1:9'\n[database]\nurl = 'sqlite:store'\n")
    r = run_tool([bin_path("sa-prune"), "--config", str(cfg), "--show", "x"])
    assert r.returncode == 64 and "retention_hours" in r.stderr


def test_postgres_prune_makes_the_freed_space_reusable(tmp_path, media_dir, recorder, postgres):
    """Pruning a receiver's old sections gives their space back to PostgreSQL (VACUUM): audio
    pulled afterwards fills it instead of growing the database by its own size."""
    tone = make_tone(os.path.join(media_dir, "prune_big.mp3"), 300, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=640)
    rec = recorder()
    for off in (-31 * 86400, -30 * 86400, -29 * 86400):
        r = run_tool([bin_path("sa-record"), "--input", tone, "--name", "big", "--output-dir", rec.out,
                      "--start", iso(off), "--min-free-mb", "0"], timeout=300)
        assert r.returncode == 0, r.stderr
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    dbname = f"save_audio_{prefix}_big"

    def size():
        postgres.psql(dbname, "CHECKPOINT")
        return int(postgres.psql(dbname, "SELECT pg_total_relation_size('segments')")[0][0])
    assert run_tool([bin_path("sa-pull"), "--config", cfg]).returncode == 0
    before = size()
    audio = int(postgres.psql(dbname, "SELECT sum(length(audio_data)) FROM segments")[0][0])
    # The two oldest sections go; the third is the boundary that starts before the cutoff.
    r = run_tool([bin_path("sa-record"), "--input", tone, "--name", "big", "--output-dir", rec.out,
                  "--start", iso(-60), "--min-free-mb", "0"], timeout=300)
    assert r.returncode == 0
    assert run_tool([bin_path("sa-pull"), "--config", cfg]).returncode == 0
    grown = size()
    out = prune("--db", f"{postgres.url}/{dbname}", "--retention-hours", "24")
    assert out["sections_deleted"] == 2
    # Two more recent sections of the same length arrive: they fit in the reclaimed space.
    for off in (-50, -40):
        r = run_tool([bin_path("sa-record"), "--input", tone, "--name", "big", "--output-dir", rec.out,
                      "--start", iso(off), "--min-free-mb", "0"], timeout=300)
        assert r.returncode == 0
    assert run_tool([bin_path("sa-pull"), "--config", cfg]).returncode == 0
    after = size()
    assert after < grown + audio * 0.25, (before, grown, after, audio)
