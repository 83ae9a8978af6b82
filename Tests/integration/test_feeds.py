"""GET /feeds/{show}.xml: RSS 2.0 with the iTunes namespace, read by a real parser (Debian's
python3-feedparser, run by the system Python); every enclosure downloads, answers HEAD and Range,
and ffprobe finds the duration the feed claims; daily episode slots; private feeds by URL token;
a new section is a new item after the next pass; guids survive a restart."""
import json
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from audiotools import jsonlines, make_chirp
from conftest import Serve, bin_path, free_port, run_tool
from test_receiver import http

FEEDPARSER = "/usr/bin/python3"


@pytest.fixture(scope="module")
def chirp(media_dir):
    return make_chirp(os.path.join(media_dir, "feedchirp20.mp3"), 20)


def imported(out, path, start, name="radio"):
    r = run_tool([bin_path("sa-record"), "--input", path, "--name", name, "--output-dir", str(out), "--min-free-mb", "0",
                  "--start", start])
    assert r.returncode == 0, r.stderr
    return [x for x in jsonlines(r.stdout) if x["type"] == "section_finished"][0]["section_id"]


def parse_feed(xml, tmp_path):
    """The feed as feedparser reads it; bozo set means it found the XML or RSS malformed."""
    path = tmp_path / "feed.xml"
    path.write_bytes(xml)
    script = ("import feedparser, json, sys\n"
              "d = feedparser.parse(sys.argv[1])\n"
              "print(json.dumps({'bozo': d.bozo, 'error': str(d.get('bozo_exception', '')), 'version': d.version,\n"
              " 'title': d.feed.get('title'), 'entries': [{'id': e.id, 'title': e.title, 'published': e.published,\n"
              " 'duration': e.itunes_duration, 'summary': e.get('summary', ''),\n"
              " 'enclosures': [dict(x) for x in e.enclosures]} for e in d.entries]}))\n")
    p = subprocess.run([FEEDPARSER, "-c", script, str(path)], capture_output=True, text=True, check=True)
    feed = json.loads(p.stdout)
    assert feed["bozo"] == 0, feed["error"]
    assert feed["version"] == "rss20"
    return feed


def seconds(duration):
    h, m, s = (int(x) for x in duration.split(":"))
    return h * 3600 + m * 60 + s


def check_enclosures(feed, tmp_path):
    """Downloads every enclosure; returns their sizes. Until a file was made, the feed gives the
    stored audio's size, which must be within 2 % of the file's."""
    sizes = []
    for entry in feed["entries"]:
        (enc,) = entry["enclosures"]
        status, headers, body = http(enc["href"])
        assert status == 200 and headers["Content-Type"] == enc["type"]
        assert abs(len(body) - int(enc["length"])) <= 0.02 * len(body), (len(body), enc["length"])
        sizes.append(str(len(body)))
        path = tmp_path / "enclosure.ogg"
        path.write_bytes(body)
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                               capture_output=True, text=True)
        assert probe.stderr == ""
        assert abs(float(probe.stdout) - seconds(entry["duration"])) <= 0.6, (probe.stdout, entry["duration"])
        status, headers, empty = http(enc["href"], method="HEAD")
        assert status == 200 and empty == b"" and int(headers["Content-Length"]) == len(body)
        status, headers, part = http(enc["href"], headers={"Range": "bytes=0-99"})
        assert status == 206 and part == body[:100]
    return sizes


def test_feed_has_an_item_per_finished_section_and_every_enclosure_plays(tmp_path, chirp):
    out = tmp_path / "rec"
    first = imported(out, chirp, "2024-05-01T06:00:00Z")
    second = imported(out, chirp, "2024-05-02T06:00:00Z")
    con = sqlite3.connect(out / "radio.sqlite")
    con.execute("INSERT INTO titles (section_id, timestamp_ms, title) VALUES (?, ?, ?)", (first, 1714543205000, "News & <weather>"))
    con.commit()
    con.close()
    serve = Serve(["--db", str(out / "radio.sqlite")], tmp_path, tmp_path / "serve.log")
    try:
        status, headers, xml = http(serve.url + "/feeds/radio.xml")
        assert status == 200 and headers["Content-Type"].startswith("application/rss+xml")
        feed = parse_feed(xml, tmp_path)
        assert feed["title"] == "radio"
        assert [e["id"] for e in feed["entries"]] == [f"radio/section/{second}", f"radio/section/{first}"]
        assert feed["entries"][0]["published"] == "Thu, 02 May 2024 06:00:00 +0000"
        assert all(e["duration"] == "0:00:20" for e in feed["entries"])
        # Escaped in the XML (feedparser then reads the description as HTML and drops the "tag").
        assert "2024-05-01 06:00:05 UTC News &amp; &lt;weather&gt;" in xml.decode()
        assert "2024-05-01 06:00:05 UTC News &" in feed["entries"][1]["summary"]
        sizes = check_enclosures(feed, tmp_path)
        # Once made, the files' exact sizes.
        again = parse_feed(http(serve.url + "/feeds/radio.xml")[2], tmp_path)
        assert [e["enclosures"][0]["length"] for e in again["entries"]] == sizes
        assert http(serve.url + "/feeds/nosuch.xml")[0] == 404
        assert http(serve.url + "/feeds/radio.json")[0] == 404
    finally:
        serve.stop()


def test_receiver_feed_by_daily_slot_private_and_stable(tmp_path, chirp, recorder, postgres):
    rec = recorder()
    # 06:00 in Berlin (summer time) is 04:00 UTC.
    imported(rec.out, chirp, "2024-05-01T04:00:00Z")
    rec.start()
    prefix = f"feed{free_port()}"
    cfg = tmp_path / "receiver.toml"
    creds = tmp_path / "credentials.toml"
    creds.write_text("[feed.pod]\ntoken = 's3cret-Token'\n")
    os.chmod(creds, 0o600)
    port = free_port()
    cfg.write_text(f"config_type = 'receiver'\nremote_url = '{rec.url}'\nport = {port}\nsync_interval_seconds = 3600\n"
                   f"[database]\nurl = '{postgres.url}'\nprefix = '{prefix}'\n"
                   "[[shows]]\nname = 'radio'\nfeed_token_profile = 'pod'\n"
                   "episodes = [{ name = 'Morning', from = '06:00:05', to = '06:00:15', timezone = 'Europe/Berlin' }]\n")
    log = tmp_path / "receiver.log"

    def start():
        p = subprocess.Popen([bin_path("sa-serve"), "--config", str(cfg), "--credentials", str(creds), "--log-level", "info"],
                             stdout=subprocess.DEVNULL, stderr=open(log, "a"))
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                s = json.loads(urllib.request.urlopen(url + "/api/sync/status", timeout=1).read())
                if s["passes"] >= 1 and not s["in_progress"]:
                    return p, url
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(open(log).read())

    proc, url = start()
    try:
        assert http(url + "/feeds/radio.xml")[0] == 401
        assert http(url + "/feeds/radio.xml?token=s3cret-Tokem")[0] == 401
        status, _, xml = http(url + "/feeds/radio.xml?token=s3cret-Token")
        assert status == 200
        feed = parse_feed(xml, tmp_path)
        (item,) = feed["entries"]
        assert item["id"] == "radio/Morning/2024-05-01" and item["title"] == "Morning 2024-05-01"
        assert item["duration"] == "0:00:10" and "s3cret" not in item["enclosures"][0]["href"]
        check_enclosures(feed, tmp_path)

        # A new day's recording becomes a new item after the next pass; the old one keeps its guid.
        imported(rec.out, chirp, "2024-05-02T04:00:00Z")
        assert http(url + "/api/sync", method="POST")[0] == 202
        deadline = time.time() + 60
        while time.time() < deadline:
            s = json.loads(http(url + "/api/sync/status")[2])
            if s["passes"] >= 2 and not s["in_progress"]:
                break
            time.sleep(0.1)
        feed = parse_feed(http(url + "/feeds/radio.xml?token=s3cret-Token")[2], tmp_path)
        ids = [e["id"] for e in feed["entries"]]
        assert ids == ["radio/Morning/2024-05-02", "radio/Morning/2024-05-01"]
    finally:
        proc.terminate()
        proc.wait(10)
    proc, url = start()
    try:
        again = parse_feed(http(url + "/feeds/radio.xml?token=s3cret-Token")[2], tmp_path)
        assert [e["id"] for e in again["entries"]] == ids
        assert [e["enclosures"] for e in again["entries"]] == [e["enclosures"] for e in feed["entries"]]
    finally:
        proc.terminate()
        proc.wait(10)
    logged = log.read_text()
    assert "feeds/radio.xml?token=***" in logged and "s3cret-Token" not in logged
