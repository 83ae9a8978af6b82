"""sa-record against live servers: a real Icecast (MP3 and AAC mounts), a Shoutcast-style
`ICY 200 OK` stub, playlists, a stalling stream, failing URLs, kill -9 and SIGTERM."""
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from audiotools import decoded_samples, export_section, jsonlines, segments, split_opus_packets, write_ogg_opus
from conftest import run_tool, start_tool, stop_tool


def sections(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, start_timestamp_ms, is_open, finish_reason FROM sections ORDER BY id").fetchall()
    con.close()
    return rows


def titles(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT section_id, timestamp_ms, title FROM titles ORDER BY id").fetchall()
    con.close()
    return rows


@pytest.mark.parametrize("kind", ["mp3", "aac"])
def test_icecast_records_segments_sections_and_titles(sa_record, icecast, tmp_path, kind):
    mount = f"/live.{kind}"
    icecast.start_source(mount, kind)
    try:
        p = start_tool([sa_record, "--url", icecast.url(mount), "--name", f"ice_{kind}", "--output-dir", str(tmp_path),
                        "--duration", "16", "--split-interval", "4"])
        time.sleep(4)
        t1 = time.time()
        icecast.set_title(mount, "First Title")
        time.sleep(5)
        t2 = time.time()
        icecast.set_title(mount, "Zweiter Titel – Ünïcödé")
        out, err = p.communicate(timeout=40)
        assert p.returncode == 0, err
    finally:
        icecast.stop_source(mount)
    db = os.path.join(tmp_path, f"ice_{kind}.sqlite")
    records = jsonlines(out)
    rows = segments(db)
    secs = sections(db)
    assert len(secs) == 1 and secs[0][3] == "duration"
    # Segments every split_interval: all but the last are 4 s (the first minus the encoder delay).
    durations = [r[5] for r in rows]
    assert len(rows) >= 4
    assert all(d == 4 * 48000 for d in durations[1:-1])
    assert 4 * 48000 - 400 < durations[0] <= 4 * 48000
    seg_records = [r for r in records if r["type"] == "segment"]
    assert [r["segment_id"] for r in seg_records] == [r[0] for r in rows]
    # Titles set during the recording, with their times (the burst shifts audio time by a few seconds).
    got = titles(db)
    names = [t[2] for t in got]
    assert "First Title" in names and "Zweiter Titel – Ünïcödé" in names
    by_name = {t[2]: t[1] / 1000 for t in got}
    assert abs(by_name["First Title"] - t1) < 8
    assert abs(by_name["Zweiter Titel – Ünïcödé"] - t2) < 8
    assert by_name["Zweiter Titel – Ünïcödé"] - by_name["First Title"] == pytest.approx(t2 - t1, abs=3)
    assert [r["title"] for r in records if r["type"] == "title"] == names
    # Every stored segment decodes.
    out_file = os.path.join(tmp_path, "check.ogg" if kind == "mp3" else "check.ogg")
    total = export_section(db, secs[0][0], out_file)
    n, errors = decoded_samples(out_file, 48000)
    assert errors == "" and abs(n - total) <= 1


def test_reconnect_after_source_drop_opens_new_section(sa_record, icecast, tmp_path):
    mount = "/drop.mp3"
    icecast.start_source(mount, "mp3")
    p = start_tool([sa_record, "--url", icecast.url(mount), "--name", "drop", "--output-dir", str(tmp_path),
                    "--duration", "20", "--split-interval", "2", "--log-level", "info"])
    try:
        time.sleep(6)
        icecast.stop_source(mount)  # Icecast drops its listeners; the mount answers 404 meanwhile
        time.sleep(3)
        icecast.start_source(mount, "mp3")
        out, err = p.communicate(timeout=40)
    finally:
        icecast.stop_source(mount)
    assert p.returncode == 0, err
    secs = sections(os.path.join(tmp_path, "drop.sqlite"))
    assert len(secs) >= 2, (secs, err)
    assert secs[0][3] in ("stream_ended", "error")
    assert secs[-1][3] == "duration"
    started = [r for r in jsonlines(out) if r["type"] == "section_started"]
    assert [r["section_id"] for r in started] == [s[0] for s in secs]
    # Each reconnect is a new section whose first segment is a natural boundary.
    for s in secs:
        rows = segments(os.path.join(tmp_path, "drop.sqlite"), s[0])
        assert rows[0][2] == 1 and all(r[2] == 0 for r in rows[1:])


def test_shoutcast_icy_200_ok_records_with_titles(sa_record, stub, tmp_path):
    r = run_tool([sa_record, "--url", f"http://127.0.0.1:{stub.server_port}/icy.mp3", "--name", "shout",
                  "--output-dir", str(tmp_path), "--duration", "8", "--split-interval", "2"], timeout=60)
    assert r.returncode == 0, r.stderr
    db = os.path.join(tmp_path, "shout.sqlite")
    assert len(segments(db)) >= 3
    # Latin-1 and UTF-8 titles both arrive as text.
    assert [t[2] for t in titles(db)] == ["Café Latin-1", "Zweiter Titel ü"]


@pytest.mark.parametrize("playlist", ["list.pls", "list.m3u"])
def test_playlist_url_records_first_working_entry(sa_record, stub, tmp_path, playlist):
    r = run_tool([sa_record, "--url", f"http://127.0.0.1:{stub.server_port}/{playlist}", "--name", "pl",
                  "--output-dir", str(tmp_path), "--duration", "6", "--split-interval", "2"], timeout=60)
    assert r.returncode == 0, r.stderr
    started = [x for x in jsonlines(r.stdout) if x["type"] == "section_started"]
    assert started and started[0]["url"].endswith("/icy.mp3")
    assert len(segments(os.path.join(tmp_path, "pl.sqlite"))) >= 2


def test_stalled_stream_is_abandoned_and_reconnected(sa_record, stub, tmp_path):
    before = len(stub.count("/stall.mp3"))
    r = run_tool([sa_record, "--url", f"http://127.0.0.1:{stub.server_port}/stall.mp3", "--name", "stall",
                  "--output-dir", str(tmp_path), "--duration", "14", "--split-interval", "1",
                  "--stall-timeout", "2"], timeout=60)
    assert r.returncode == 0, r.stderr
    secs = sections(os.path.join(tmp_path, "stall.sqlite"))
    assert len(secs) >= 2
    assert secs[0][3] == "stalled"
    assert len(stub.count("/stall.mp3")) - before >= 2
    assert "stalled" in r.stderr  # the reconnect is reported at the default log level


@pytest.mark.parametrize("path", ["/503", "/404"])
def test_failing_url_is_retried_with_growing_delays(sa_record, stub, tmp_path, path):
    before = len(stub.count(path))
    r = run_tool([sa_record, "--url", f"http://127.0.0.1:{stub.server_port}{path}", "--name", "fail",
                  "--output-dir", str(tmp_path), "--duration", "9"], timeout=60)
    times = stub.count(path)[before:]
    # 0.5 + 1 + 2 + 4 s of backoff fit in 9 s: five requests, not a tight loop.
    assert 4 <= len(times) <= 6, times
    gaps = [b - a for a, b in zip(times, times[1:])]
    for a, b in zip(gaps, gaps[1:]):
        assert b > a * 1.5, gaps
    assert r.returncode == 69
    assert f"HTTP {path[1:]}" in r.stderr
    assert not os.path.exists(os.path.join(tmp_path, "fail.sqlite")) or segments(os.path.join(tmp_path, "fail.sqlite")) == []


def test_unsupported_stream_content_is_retried_then_reported(sa_record, stub, tmp_path):
    r = run_tool([sa_record, "--url", f"http://127.0.0.1:{stub.server_port}/noise", "--name", "noise",
                  "--output-dir", str(tmp_path), "--duration", "5"], timeout=60)
    assert r.returncode == 69
    assert "unsupported stream" in r.stderr


def test_kill_9_leaves_consistent_database_with_decodable_segments(sa_record, icecast, tmp_path):
    mount = "/kill.mp3"
    icecast.start_source(mount, "mp3")
    try:
        p = start_tool([sa_record, "--url", icecast.url(mount), "--name", "kill", "--output-dir", str(tmp_path),
                        "--split-interval", "1"])
        time.sleep(7)
        p.kill()
        out, _ = p.communicate(timeout=10)
        db = os.path.join(tmp_path, "kill.sqlite")
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        rows = segments(db)
        committed = [r["segment_id"] for r in jsonlines(out) if r["type"] == "segment"]
        assert len(rows) >= 3 and set(committed) <= {r[0] for r in rows}
        delay = 312
        for r in rows:
            packets = split_opus_packets(r[3])
            f = os.path.join(tmp_path, f"seg{r[0]}.ogg")
            write_ogg_opus(f, packets, delay if r[2] else 0, 960 * len(packets) - (delay if r[2] else 0))
            n, err = decoded_samples(f, 48000)
            assert err == "" and n > 0, err
        assert sections(db)[0][2] == 1  # left open by the killed recorder
        # The next run closes the abandoned section and records a new one.
        r2 = run_tool([sa_record, "--url", icecast.url(mount), "--name", "kill", "--output-dir", str(tmp_path),
                       "--duration", "3", "--split-interval", "1"], timeout=30)
        assert r2.returncode == 0, r2.stderr
        secs = sections(db)
        assert len(secs) == 2 and secs[0][2:] == (0, "interrupted") and secs[1][2:] == (0, "duration")
    finally:
        icecast.stop_source(mount)


def test_sigterm_commits_and_closes_section(sa_record, icecast, tmp_path):
    mount = "/term.mp3"
    icecast.start_source(mount, "mp3")
    try:
        p = start_tool([sa_record, "--url", icecast.url(mount), "--name", "term", "--output-dir", str(tmp_path)])
        time.sleep(6)
        code, out, err = stop_tool(p, signal.SIGTERM)
    finally:
        icecast.stop_source(mount)
    assert code == 0, err
    records = jsonlines(out)
    fin = [r for r in records if r["type"] == "section_finished"]
    assert len(fin) == 1 and fin[0]["reason"] == "signal"
    db = os.path.join(tmp_path, "term.sqlite")
    assert sections(db)[0][2:] == (0, "signal")
    # The partial segment in progress was committed: stored audio covers the reported duration.
    assert sum(r[5] for r in segments(db)) * 1000 // 48000 == fin[0]["duration_ms"]


def test_second_recorder_on_same_show_is_refused(sa_record, icecast, tmp_path):
    mount = "/lock.mp3"
    icecast.start_source(mount, "mp3")
    try:
        p = start_tool([sa_record, "--url", icecast.url(mount), "--name", "locked", "--output-dir", str(tmp_path)])
        time.sleep(2)
        r = run_tool([sa_record, "--url", icecast.url(mount), "--name", "locked", "--output-dir", str(tmp_path),
                      "--duration", "2"], timeout=20)
        stop_tool(p)
    finally:
        icecast.stop_source(mount)
    assert r.returncode == 75
    assert "being recorded by another process" in r.stderr


def test_config_once_records_window_to_the_second(sa_record, icecast, tmp_path):
    mount = "/sched.mp3"
    icecast.start_source(mount, "mp3")
    try:
        now = time.time()
        start = time.strftime("%H:%M:%S", time.gmtime(now - 60))
        end_ts = int(now) + 8
        end = time.strftime("%H:%M:%S", time.gmtime(end_ts))
        cfg = tmp_path / "record.toml"
        cfg.write_text(f"""config_type = 'record'
output_dir = 'rec'
min_free_mb = 1

[[sessions]]
name = 'morning'
url = '{icecast.url(mount)}'
split_interval = 2

[sessions.schedule]
record_start = '{start}'
record_end = '{end}'
""")
        r = run_tool([sa_record, "--config", str(cfg), "--once"], timeout=40)
        finished_at = time.time()
    finally:
        icecast.stop_source(mount)
    assert r.returncode == 0, r.stderr
    fin = [x for x in jsonlines(r.stdout) if x["type"] == "section_finished"]
    assert len(fin) == 1 and fin[0]["reason"] == "window_end"
    assert end_ts <= finished_at < end_ts + 3
    assert os.path.exists(tmp_path / "rec" / "morning.sqlite")


def test_record_until_stops_at_the_given_time_of_day(tmp_path, icecast):
    from conftest import bin_path
    icecast.start_source("/until.mp3")
    try:
        stop_at = time.time() + 8
        hhmmss = time.strftime("%H:%M:%S", time.gmtime(stop_at))
        r = run_tool([bin_path("sa-record"), "--url", icecast.url("/until.mp3"), "--name", "until", "--output-dir", str(tmp_path),
                      "--until", hhmmss, "--min-free-mb", "0"], timeout=60)
        ended = time.time()
        assert r.returncode == 0, r.stderr
        assert abs(ended - stop_at) < 2.5, (ended, stop_at)
        fin = [x for x in jsonlines(r.stdout) if x.get("type") == "section_finished"]
        assert fin and fin[-1]["segments"] >= 1
    finally:
        icecast.stop_source("/until.mp3")
