"""Monitoring an admin can alert on: GET /metrics in the Prometheus text format, checked by
Debian's promtool and scraped by a real Prometheus, and /api/health failing with the name of a
show that should be recording and is not."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import bin_path, free_port, port_open, receiver_config, stop_tool, wait_for

MOUNT = "/monitored.mp3"


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def parse(text):
    """{(name, labels-string): value} from the exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? (\S+)$', line)
        assert m, f"not an exposition line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def show(name):
    return '{show="%s"}' % name


def promtool_check(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def recording(icecast, tmp_path):
    """sa-record --config with three shows (one live, one whose server refuses, one outside its
    window) and sa-serve over the same config."""
    icecast.start_source(MOUNT)
    port = free_port()
    now = time.gmtime(time.time() + 3 * 3600)
    later = time.strftime("%H:%M", now)
    later_end = time.strftime("%H:%M", time.gmtime(time.time() + 4 * 3600))
    # Windows that hold now (sessions always have one).
    window = (f"[sessions.schedule]\nrecord_start = '{time.strftime('%H:%M', time.gmtime(time.time() - 3600))}'\n"
              f"record_end = '{time.strftime('%H:%M', time.gmtime(time.time() + 3600))}'\n")
    cfg = tmp_path / "record.toml"
    cfg.write_text(f"""config_type = 'record'
output_dir = 'rec'
api_port = {port}
min_free_mb = 0

[[sessions]]
name = 'live'
url = '{icecast.url(MOUNT)}'
split_interval = 2
{window}
[[sessions]]
name = 'refused'
url = 'http://127.0.0.1:9/nothing.mp3'
split_interval = 2
{window}
[[sessions]]
name = 'later'
url = '{icecast.url(MOUNT)}'
split_interval = 2
[sessions.schedule]
record_start = '{later}'
record_end = '{later_end}'
""")
    started = time.time()
    serve = subprocess.Popen([bin_path("sa-serve"), "--config", str(cfg)], stdout=subprocess.DEVNULL,
                             stderr=open(tmp_path / "serve.log", "w"))
    rec = subprocess.Popen([bin_path("sa-record"), "--config", str(cfg), "--log-level", "info"],
                           stdout=open(tmp_path / "record.jsonl", "w"), stderr=open(tmp_path / "record.log", "w"))
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: get(base + "/api/mode")[0] == 200 if port_open(port) else False, 10)
    yield {"base": base, "rec": rec, "dir": tmp_path / "rec", "cfg": cfg, "tmp": tmp_path, "started": started}
    stop_tool(rec)
    stop_tool(serve)
    icecast.stop_source(MOUNT)


def test_recorder_metrics_health_and_a_real_prometheus(recording, icecast, tmp_path):
    base, db = recording["base"], str(recording["dir"] / "live.sqlite")
    # Within two split intervals of sa-serve's start nothing is due yet: healthy.
    if time.time() - recording["started"] < 3:
        assert get(base + "/api/health")[0] == 200
    # Wait for live audio: a few committed segments.
    assert wait_for(lambda: parse(get(base + "/metrics")[1]).get(("sa_show_segments", show("live")), 0) >= 3, 30), \
        open(recording["tmp"] / "record.log").read()
    status, text, headers = get(base + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    rc, out = promtool_check(text)
    assert rc == 0, out + text
    m = parse(text)

    # Recording now, in its window, fresh, and the counts are the database's.
    assert m[("sa_show_recording", show("live"))] == 1
    assert m[("sa_show_in_window", show("live"))] == 1
    assert m[("sa_show_in_window", show("later"))] == 0
    assert m[("sa_show_recording", show("refused"))] == 0
    assert m[("sa_show_last_segment_age_seconds", show("live"))] < 4, text  # two split intervals
    con = sqlite3.connect(db)
    count, size = con.execute("SELECT count(*), sum(length(audio_data)) FROM segments").fetchone()
    end_ms = con.execute("SELECT timestamp_ms + duration_samples * 1000 / 48000 FROM segments ORDER BY id DESC LIMIT 1").fetchone()[0]
    sections = con.execute("SELECT count(*) FROM sections").fetchone()[0]
    con.close()
    # Segments keep arriving between the scrape and the query: the scrape saw at most as many.
    assert 3 <= m[("sa_show_segments", show("live"))] <= count
    assert m[("sa_show_bytes", show("live"))] <= size
    assert m[("sa_show_sections", show("live"))] == sections == 1
    assert m[("sa_show_reconnects", show("live"))] == 0
    assert abs(m[("sa_show_last_segment_end_timestamp_seconds", show("live"))] - end_ms / 1000) <= 4

    # The show whose server refuses is inside its window and has committed nothing: health
    # names it (and only it) once two split intervals have passed since sa-serve started.
    status, body, _ = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(get(base + "/api/health")), 10)
    assert status == 503, body
    answer = json.loads(body)
    assert [s["show"] for s in answer["shows"]] == ["refused"], body
    assert "'refused'" in answer["error"] and "'live'" not in answer["error"]
    assert m[("sa_show_healthy", show("live"))] == 1
    assert parse(get(base + "/metrics")[1])[("sa_show_healthy", show("refused"))] == 0

    # The source goes away: the section ends with a lost connection (a reconnect), the age grows.
    icecast.stop_source(MOUNT)
    assert wait_for(lambda: parse(get(base + "/metrics")[1]).get(("sa_show_reconnects", show("live"))) == 1, 15)
    assert wait_for(lambda: parse(get(base + "/metrics")[1])[("sa_show_recording", show("live"))] == 0, 10)
    assert wait_for(lambda: parse(get(base + "/metrics")[1])[("sa_show_last_segment_age_seconds", show("live"))] >= 4, 10)
    status, body, _ = get(base + "/api/health")
    assert status == 503 and sorted(s["show"] for s in json.loads(body)["shows"]) == ["live", "refused"], body
    icecast.start_source(MOUNT)
    assert wait_for(lambda: parse(get(base + "/metrics")[1])[("sa_show_recording", show("live"))] == 1, 20)
    assert wait_for(lambda: parse(get(base + "/metrics")[1])[("sa_show_last_segment_age_seconds", show("live"))] < 4, 20)

    # A real Prometheus scrapes sa-serve, and its query API returns the series.
    prom_port = free_port()
    prom_dir = tempfile.mkdtemp(prefix="sa-prom-")
    host = base.split("//")[1]
    with open(os.path.join(prom_dir, "prometheus.yml"), "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sa\n    static_configs:\n"
                f"      - targets: ['{host}']\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={prom_dir}/prometheus.yml", f"--storage.tsdb.path={prom_dir}/data",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(prom_dir, "log"), "w"))
    try:
        def query(q):
            try:
                s, body, _ = get(f"http://127.0.0.1:{prom_port}/api/v1/query?query=" + urllib.parse.quote(q))
            except OSError:
                return None  # not listening yet
            if s != 200:
                return None
            result = json.loads(body)["data"]["result"]
            return result or None
        result = wait_for(lambda: query('sa_show_segments{show="live"}'), 30, 0.5)
        assert result, open(os.path.join(prom_dir, "log")).read()
        assert float(result[0]["value"][1]) >= 3
        assert result[0]["metric"]["job"] == "sa"
        up = query('up{job="sa"}')
        assert up and up[0]["value"][1] == "1"
        healthy = wait_for(lambda: query('sa_show_healthy{show="refused"}'), 10, 0.5)
        assert healthy[0]["value"][1] == "0"
    finally:
        prom.terminate()
        prom.wait(15)
        shutil.rmtree(prom_dir, ignore_errors=True)


def test_a_recorder_killed_is_no_longer_recording(recording):
    base = recording["base"]
    assert wait_for(lambda: parse(get(base + "/metrics")[1]).get(("sa_show_recording", show("live"))) == 1, 30)
    recording["rec"].kill()
    recording["rec"].wait(10)
    # The kernel releases the lock with the process: no longer recording, though the killed
    # recorder left its section open.
    m = parse(get(base + "/metrics")[1])
    assert m[("sa_show_recording", show("live"))] == 0
    assert m[("sa_show_open_sections", show("live"))] == 1


def test_health_is_ok_outside_windows_and_with_fresh_segments(icecast, tmp_path):
    """A show outside its window never fails the check, even with nothing recorded."""
    port = free_port()
    cfg = tmp_path / "record.toml"
    start = time.strftime("%H:%M", time.gmtime(time.time() + 7200))
    end = time.strftime("%H:%M", time.gmtime(time.time() + 9000))
    cfg.write_text(f"config_type = 'record'\noutput_dir = 'rec'\napi_port = {port}\n[[sessions]]\nname = 'night'\n"
                   f"url = 'http://127.0.0.1:9/x.mp3'\nsplit_interval = 1\n[sessions.schedule]\nrecord_start = '{start}'\n"
                   f"record_end = '{end}'\n")
    serve = subprocess.Popen([bin_path("sa-serve"), "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: port_open(port), 10)
        time.sleep(2.5)  # past two split intervals since sa-serve started
        status, body, _ = get(f"http://127.0.0.1:{port}/api/health")
        assert status == 200 and json.loads(body)["status"] == "ok", body
        m = parse(get(f"http://127.0.0.1:{port}/metrics")[1])
        assert m[("sa_show_in_window", show("night"))] == 0
        assert m[("sa_show_healthy", show("night"))] == 1
    finally:
        stop_tool(serve)


def test_receiver_metrics(recorder, tmp_path, media_dir):
    """A pass cut short leaves a lag; a later pass from cron (sa-pull, not sa-serve) clears it,
    and /metrics sees it because the figures come from the show's database."""
    from conftest import make_tone
    from faultproxy import FaultProxy
    rec = recorder().start()
    tone = make_tone(os.path.join(media_dir, "monitor.mp3"), 60, ["-c:a", "libmp3lame", "-b:a", "128k"])
    rec.record_file("mon", tone)
    con = sqlite3.connect(rec.db("mon"))
    end_ms = con.execute("SELECT timestamp_ms + duration_samples * 1000 / 48000 FROM segments ORDER BY id DESC LIMIT 1").fetchone()[0]
    total = con.execute("SELECT count(*) FROM segments").fetchone()[0]
    con.close()

    # Through a proxy that closes each connection after 40 kB: the pass fetches the sections,
    # then fails part way through the segments.
    proxy = FaultProxy("127.0.0.1", rec.port).start()
    proxy.close_after(40_000)

    class ViaProxy:
        url = f"http://127.0.0.1:{proxy.port}"
    cfg, prefix = receiver_config(tmp_path, ViaProxy, f"sqlite:{tmp_path}/store", chunk_size=1)
    port = free_port()
    text = open(cfg).read().replace("config_type = 'receiver'\n", f"config_type = 'receiver'\nport = {port}\nsync_interval_seconds = 3600\n")
    open(cfg, "w").write(text)
    serve = subprocess.Popen([bin_path("sa-serve"), "--config", cfg], stdout=subprocess.DEVNULL, stderr=open(tmp_path / "recv.log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: port_open(port), 10)
        assert wait_for(lambda: parse(get(base + "/metrics")[1]).get(("sa_receiver_passes_total", "")) == 1, 30), \
            open(tmp_path / "recv.log").read()
        text = get(base + "/metrics")[1]
        rc, out = promtool_check(text)
        assert rc == 0, out + text
        m = parse(text)
        assert m[("sa_receiver_pass_failures_total", "")] == 1
        assert m[("sa_receiver_last_good_pass_timestamp_seconds", "")] == 0
        assert m[("sa_receiver_show_errors_total", show("mon"))] == 1
        stored = sqlite3.connect(f"{tmp_path}/store/save_audio_{prefix}_mon.sqlite").execute("SELECT count(*) FROM segments").fetchone()[0]
        assert 0 < stored < total, (stored, total)
        # The recorder's newest audio minus the newest stored: the segments that did not come.
        con = sqlite3.connect(rec.db("mon"))
        missing = con.execute("SELECT sum(duration_samples) / 48000.0 FROM segments WHERE id > ?", (stored,)).fetchone()[0]
        con.close()
        lag = m[("sa_receiver_show_lag_seconds", show("mon"))]
        assert abs(lag - missing) < 0.01, (lag, missing, stored, total)
        assert ("sa_receiver_show_last_good_pass_age_seconds", show("mon")) not in m
        assert m[("sa_receiver_database_up", show("mon"))] == 1

        # The network heals; cron's sa-pull completes the show.
        proxy.clear()
        r = subprocess.run([bin_path("sa-pull"), "--config", cfg], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        m = parse(get(base + "/metrics")[1])
        assert m[("sa_receiver_show_lag_seconds", show("mon"))] < 0.05  # caught up (ms rounding aside)
        assert m[("sa_receiver_show_last_good_pass_age_seconds", show("mon"))] < 10
        age = m[("sa_receiver_show_newest_audio_age_seconds", show("mon"))]
        assert abs(age - max(0, time.time() - end_ms / 1000)) < 5, age
        # sa-serve's own counters are its passes only.
        assert m[("sa_receiver_passes_total", "")] == 1
    finally:
        stop_tool(serve)
        proxy.stop()


def test_the_readme_alert_rules_are_valid(tmp_path):
    """The rules file the README shows loads in Prometheus's own checker."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    block = re.search(r"```yaml\n(# rules file\n.*?)```", readme, re.S)
    assert block, "no rules block in the README"
    path = tmp_path / "rules.yml"
    path.write_text(block.group(1))
    r = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "SUCCESS: 3 rules found" in r.stdout, r.stdout + r.stderr
