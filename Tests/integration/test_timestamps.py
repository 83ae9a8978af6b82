"""Timestamps true to air time, against a real Icecast with its default burst-on-connect (about
4 s of a 128 kbit/s stream sent at once to a new listener) and with the burst off."""
import sqlite3
import subprocess
import time

import pytest

from audiotools import jsonlines
from conftest import PORT_BASE, Icecast, bin_path


@pytest.fixture(scope="module", params=["burst", "no_burst"])
def ice(request):
    """One Icecast with the default burst, one without; both insert ICY metadata every 2000
    bytes (1/8 s of the 128 kbit/s stream), so a title's dating can be checked to that."""
    if request.param == "burst":
        server = Icecast(PORT_BASE + 7, metaint=2000)
    else:
        server = Icecast(PORT_BASE + 8, burst_size=0, metaint=2000)
    server.start()
    server.start_source("/clock.mp3")
    time.sleep(6)  # the server's queue fills past one burst
    yield server
    server.stop()


def record(ice, tmp_path, seconds, name="clock"):
    t0 = time.time()
    p = subprocess.Popen([bin_path("sa-record"), "--url", ice.url("/clock.mp3"), "--name", name, "--output-dir", str(tmp_path),
                          "--duration", f"{seconds}s", "--split-interval", "2", "--min-free-mb", "0", "--log-level", "info"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return t0, p


def finish(p):
    try:
        return p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_a_duration_run_ends_when_the_recorder_stopped_receiving(ice, tmp_path):
    t0, p = record(ice, tmp_path, 12)
    out, err = finish(p)
    exited = time.time()
    assert p.returncode == 0, err
    fin = [x for x in jsonlines(out) if x["type"] == "section_finished"]
    assert len(fin) == 1, out
    start = fin[0]["start_timestamp_ms"] / 1000
    end = start + fin[0]["duration_ms"] / 1000
    # The --duration clock starts with the process (t0 is taken just before it starts): it
    # stopped receiving 12 s later. The section id is its clock when the connection opened.
    connected = fin[0]["section_id"] / 1e6
    assert t0 <= connected <= exited
    stopped = t0 + 12
    # No audio is dated later than it arrived, and the end is within 300 ms of the stop.
    assert end <= exited + 0.05, (end - exited)
    assert abs(end - stopped) < 0.3, f"section ends {end - stopped:+.3f} s from the moment receiving stopped"
    # The burst's older audio is dated before the connection opened, not after it.
    if ice.burst_size is None:
        assert start < connected - 2, start - connected
    else:
        assert abs(start - connected) < 0.5, start - connected


def test_segment_timestamps_follow_the_anchor(ice, tmp_path):
    t0, p = record(ice, tmp_path, 7, name="segs")
    out, err = finish(p)
    assert p.returncode == 0, err
    con = sqlite3.connect(str(tmp_path / "segs.sqlite"))
    (start,) = con.execute("SELECT start_timestamp_ms FROM sections").fetchone()
    rows = con.execute("SELECT timestamp_ms, duration_samples, is_timestamp_from_source FROM segments ORDER BY id").fetchall()
    con.close()
    assert rows[0][0] == start and rows[0][2] == 1
    at = start * 48
    for ts, dur, _ in rows:
        assert ts == at // 48, (ts, at // 48)
        at += dur


def test_a_title_is_dated_by_when_it_aired(ice, tmp_path):
    """A title set at a known instant is stored at that instant, up to one ICY metadata
    interval later (2000 bytes, 1/8 s at 128 kbit/s: the server inserts it at the next
    interval of the listener's stream) and never before it."""
    t0, p = record(ice, tmp_path, 14, name="titles")
    time.sleep(8)
    a = time.time()
    ice.set_title("/clock.mp3", "Dated title")
    b = time.time()
    out, err = finish(p)
    assert p.returncode == 0, err
    titles = [x for x in jsonlines(out) if x["type"] == "title" and x["title"] == "Dated title"]
    assert len(titles) == 1, out
    ts = titles[0]["timestamp_ms"] / 1000
    assert a - 0.3 < ts < b + 0.125 + 0.3, (ts - a, b - a)
