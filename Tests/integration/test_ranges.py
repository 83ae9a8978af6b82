"""Time-range export: sa-export --from/--to and range JSON lines, and GET /show/{name}/range.ogg|aac.
Ogg Opus cuts are checked sample by sample against the whole section decoded by ffmpeg (a chirp, so
a cut at the wrong offset does not correlate); AAC cuts at frame boundaries; ranges across gaps and
past the end of a recording; nothing recorded; HEAD, Range and Content-Disposition over HTTP."""
import array
import hashlib
import math
import os
import subprocess
from datetime import datetime

import pytest

from audiotools import ffprobe_duration, jsonlines, make_chirp
from conftest import Serve, bin_path, run_tool
from test_receiver import http


@pytest.fixture(scope="module")
def chirps(media_dir):
    return {"long": make_chirp(os.path.join(media_dir, "chirp40.mp3"), 40),
            "short": make_chirp(os.path.join(media_dir, "chirp12.mp3"), 12)}


def imported(out, path, start, name="show", fmt="opus"):
    r = run_tool([bin_path("sa-record"), "--input", path, "--name", name, "--output-dir", str(out), "--format", fmt,
                  "--min-free-mb", "0", "--start", start])
    assert r.returncode == 0, r.stderr
    fin = [x for x in jsonlines(r.stdout) if x["type"] == "section_finished"][0]
    return str(out / f"{name}.sqlite"), fin["section_id"]


def export(*args, input=None):
    return subprocess.run([bin_path("sa-export"), *args], input=input, capture_output=True, text=True, timeout=120)


def pcm(path, rate=48000):
    """Mono 16-bit samples ffmpeg decodes (it honours the Opus pre-skip and end trim)."""
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"], capture_output=True)
    assert p.stderr == b"", p.stderr
    a = array.array("h")
    a.frombytes(p.stdout)
    return a


def correlation(whole, cut, offset):
    n = len(cut)
    seg = whole[offset:offset + n]
    assert len(seg) == n
    sxy = sum(x * y for x, y in zip(seg, cut))
    sxx = sum(x * x for x in seg)
    syy = sum(y * y for y in cut)
    return sxy / math.sqrt(sxx * syy)


def opusinfo_ok(path):
    info = subprocess.run(["opusinfo", path], capture_output=True, text=True)
    text = info.stdout + info.stderr
    assert info.returncode == 0 and "WARNING" not in text and "ERROR" not in text, text
    return info.stdout


def test_opus_range_inside_one_section_is_cut_sample_exactly(tmp_path, chirps):
    db, section = imported(tmp_path / "rec", chirps["long"], "2024-05-01T06:00:00Z")
    whole = export("--db", db, "--section", str(section), "--output-dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    whole_pcm = pcm(jsonlines(whole.stdout)[0]["file_path"])

    out = tmp_path / "out"
    r = export("--db", db, "--from", "2024-05-01T06:00:10.250Z", "--to", "2024-05-01T06:00:31.730Z", "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    assert rec["type"] == "exported" and rec["cut"] == "sample" and rec["section_id"] == section
    assert rec["from"] == "2024-05-01T06:00:10.250Z" and rec["to"] == "2024-05-01T06:00:31.730Z"
    assert rec["duration_seconds"] == pytest.approx(21.48, abs=0.001)
    assert os.path.basename(rec["file_path"]) == "show_20240501_060010.250_21.48s.ogg"
    data = open(rec["file_path"], "rb").read()
    assert rec["bytes"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()

    info = opusinfo_ok(rec["file_path"])
    pre_skip = int(info.split("Pre-skip: ")[1].split()[0])
    assert pre_skip >= 3840, "at least 80 ms of pre-roll is decoded and discarded"
    assert "Playback length: 0m:21.48" in info
    assert ffprobe_duration(rec["file_path"]) == pytest.approx(21.48, abs=0.110)  # ffprobe counts the pre-skip in

    cut = pcm(rec["file_path"])
    assert len(cut) == round(21.48 * 48000), "the requested length to the sample"
    offset = 10250 * 48
    assert correlation(whole_pcm, cut, offset) > 0.99, "the cut's samples are the section's at the right offset"
    for wrong in (offset - 960, offset + 960, offset - 48, offset + 48):
        assert correlation(whole_pcm, cut, wrong) < 0.9

    # A cut whose 80 ms of pre-roll starts in the segment before (segments are 10 s here).
    r = export("--db", db, "--from", "2024-05-01T06:00:10.050Z", "--to", "2024-05-01T06:00:13Z", "--output-dir", str(tmp_path / "edge"))
    assert r.returncode == 0, r.stderr
    edge = pcm(jsonlines(r.stdout)[0]["file_path"])
    assert len(edge) == round(2.95 * 48000)
    assert correlation(whole_pcm, edge, 10050 * 48) > 0.99
    assert correlation(whole_pcm, edge, 10050 * 48 + 960) < 0.9

    # The same range again: the same bytes, left alone.
    again = export("--db", db, "--from", "2024-05-01T06:00:10.250Z", "--to", "2024-05-01T06:00:31.730Z", "--output-dir", str(out))
    assert again.returncode == 0 and jsonlines(again.stdout)[0]["status"] == "exists"
    assert jsonlines(again.stdout)[0]["sha256"] == rec["sha256"]


def test_opus_range_at_the_section_start_keeps_the_encoder_pre_skip(tmp_path, chirps):
    db, section = imported(tmp_path / "rec", chirps["short"], "2024-05-01T06:00:00Z")
    whole = export("--db", db, "--section", str(section), "--output-dir", str(tmp_path / "whole"))
    whole_pcm = pcm(jsonlines(whole.stdout)[0]["file_path"])
    r = export("--db", db, "--from", "2024-05-01T05:59:00Z", "--to", "2024-05-01T06:00:05Z", "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    gap, part = jsonlines(r.stdout)
    assert gap["type"] == "gap" and gap["from"] == "2024-05-01T05:59:00Z" and gap["to"] == "2024-05-01T06:00:00Z"
    assert part["from"] == "2024-05-01T06:00:00Z" and part["duration_seconds"] == 5.0
    # Nothing before the start to decode: the stream starts as the recording did.
    delay = int(subprocess.run(["sqlite3", db, "SELECT value FROM metadata WHERE key = 'encoder_delay_samples'"],
                               capture_output=True, text=True).stdout)
    assert f"Pre-skip: {delay}\n" in opusinfo_ok(part["file_path"])
    cut = pcm(part["file_path"])
    assert len(cut) == 5 * 48000
    assert correlation(whole_pcm, cut, 0) > 0.99 and correlation(whole_pcm, cut, 960) < 0.9


def test_aac_range_is_cut_at_frame_boundaries_and_says_so(tmp_path, chirps):
    db, section = imported(tmp_path / "rec", chirps["long"], "2024-05-01T06:00:00Z", fmt="aac")
    r = export("--db", db, "--from", "2024-05-01T06:00:10.250Z", "--to", "2024-05-01T06:00:20.100Z", "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    assert rec["cut"] == "frame" and rec["format"] == "aac" and rec["file_path"].endswith(".aac")
    start = datetime.fromisoformat("2024-05-01T06:00:00+00:00")
    frm = round((datetime.fromisoformat(rec["from"]) - start).total_seconds() * 1000)
    to = round((datetime.fromisoformat(rec["to"]) - start).total_seconds() * 1000)
    # Widened to whole 1024-sample frames (64 ms at 16 kHz), never narrowed.
    assert 10250 - 64 < frm <= 10250 and 20100 <= to < 20100 + 64, (rec["from"], rec["to"])
    assert rec["duration_seconds"] == pytest.approx((to - frm) / 1000, abs=0.001)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", rec["file_path"]],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "aac" and probe.stderr == ""
    # The instants the record gives are frame boundaries, and the file holds exactly that span.
    delay = int(subprocess.run(["sqlite3", db, "SELECT value FROM metadata WHERE key = 'encoder_delay_samples'"],
                               capture_output=True, text=True).stdout)
    assert (frm * 16 + delay) % 1024 == 0 and (to * 16 + delay) % 1024 == 0, (frm, to, delay)
    assert len(pcm(rec["file_path"], 16000)) == pytest.approx(rec["duration_seconds"] * 16000, abs=16)


def test_range_across_a_gap_gives_one_file_per_part_and_gap_records(tmp_path, chirps):
    out = tmp_path / "rec"
    db, first = imported(out, chirps["short"], "2024-05-01T06:00:00Z")
    _, second = imported(out, chirps["short"], "2024-05-01T06:00:30Z")
    r = export("--db", db, "--from", "2024-05-01T06:00:05Z", "--to", "2024-05-01T06:00:40Z", "--output-dir", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr
    recs = jsonlines(r.stdout)
    assert [x["type"] for x in recs] == ["exported", "gap", "exported"]
    a, gap, b = recs
    assert (a["section_id"], a["from"], a["to"]) == (first, "2024-05-01T06:00:05Z", "2024-05-01T06:00:12Z")
    assert (gap["from"], gap["to"], gap["duration_seconds"], gap["reason"]) == ("2024-05-01T06:00:12Z", "2024-05-01T06:00:30Z", 18.0, "not_recorded")
    assert (b["section_id"], b["from"], b["to"]) == (second, "2024-05-01T06:00:30Z", "2024-05-01T06:00:40Z")
    assert os.path.basename(a["file_path"]) == "show_20240501_060005_7s.ogg"
    assert os.path.basename(b["file_path"]) == "show_20240501_060030_10s.ogg"
    assert len(pcm(a["file_path"])) == 7 * 48000 and len(pcm(b["file_path"])) == 10 * 48000

    # Past the end of the recording: what there is, and the rest as a gap.
    r = export("--db", db, "--from", "2024-05-01T06:00:35Z", "--to", "2024-05-01T06:01:30Z", "--output-dir", str(tmp_path / "y"))
    assert r.returncode == 0, r.stderr
    part, tail = jsonlines(r.stdout)
    assert part["to"] == "2024-05-01T06:00:42Z" and part["duration_seconds"] == 7.0
    assert (tail["type"], tail["from"], tail["to"]) == ("gap", "2024-05-01T06:00:42Z", "2024-05-01T06:01:30Z")


def test_overlapping_sections_are_not_exported_twice(tmp_path, chirps):
    # A reconnect's burst: the second section starts 2 s before the first one's audio ends.
    out = tmp_path / "rec"
    db, first = imported(out, chirps["short"], "2024-05-01T06:00:00Z")
    _, second = imported(out, chirps["short"], "2024-05-01T06:00:10Z")
    r = export("--db", db, "--from", "2024-05-01T06:00:05Z", "--to", "2024-05-01T06:00:20Z", "--output-dir", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr
    a, b = jsonlines(r.stdout)
    assert (a["section_id"], a["from"], a["to"]) == (first, "2024-05-01T06:00:05Z", "2024-05-01T06:00:12Z")
    assert (b["section_id"], b["from"], b["to"]) == (second, "2024-05-01T06:00:12Z", "2024-05-01T06:00:20Z")
    assert len(pcm(b["file_path"])) == 8 * 48000


def test_range_with_nothing_recorded_is_a_clear_error(tmp_path, chirps):
    db, _ = imported(tmp_path / "rec", chirps["short"], "2024-05-01T06:00:00Z")
    out = tmp_path / "out"
    r = export("--db", db, "--from", "2024-05-01T07:00:00Z", "--to", "2024-05-01T08:00:00Z", "--output-dir", str(out))
    assert r.returncode == 65, (r.returncode, r.stderr)
    (err,) = jsonlines(r.stdout)
    assert err["type"] == "error" and err["code"] == "not_found"
    assert "nothing of 'show' was recorded between 2024-05-01T07:00:00Z and 2024-05-01T08:00:00Z" in r.stderr
    assert not out.exists() or [f for f in os.listdir(out) if f.endswith(".ogg")] == []
    # Backwards and malformed ranges are refused before anything is read.
    r = export("--db", db, "--from", "2024-05-01T07:00:00Z", "--to", "2024-05-01T06:00:00Z", "--output-dir", str(out))
    assert r.returncode != 0 and "before it starts" in r.stderr
    r = export("--db", db, "--from", "yesterday", "--to", "2024-05-01T06:00:00Z")
    assert r.returncode == 64 and "--from must be ISO 8601" in r.stderr
    r = export("--db", db, "--from", "2024-05-01T07:00:00Z")
    assert r.returncode == 64 and "--from and --to go together" in r.stderr


def test_range_lines_name_a_show_of_the_config_in_its_time_zone(tmp_path, chirps):
    imported(tmp_path / "rec", chirps["long"], "2024-05-01T06:00:00Z")
    cfg = tmp_path / "record.toml"
    cfg.write_text("config_type = 'record'\noutput_dir = 'rec'\n")
    lines = ('{"show": "show", "from": "2024-05-01T08:00:05", "to": "2024-05-01T08:00:15", "timezone": "Europe/Berlin"}\n'
             '{"show": "nosuch", "from": "2024-05-01T06:00:05Z", "to": "2024-05-01T06:00:15Z"}\n'
             '{"show": "show", "from": "2024-05-01T06:00:20Z"}\n')
    r = export("--config", str(cfg), "--output-dir", str(tmp_path / "out"), input=lines)
    assert r.returncode == 1, r.stderr  # two of three lines failed; the good one was exported
    recs = jsonlines(r.stdout)
    assert [x["type"] for x in recs] == ["exported", "error", "error"]
    assert recs[0]["from"] == "2024-05-01T06:00:05Z" and recs[0]["to"] == "2024-05-01T06:00:15Z"
    assert recs[1]["code"] == "not_found" and recs[1]["show"] == "nosuch"
    assert recs[2]["code"] == "missing_field"
    # The command-line form with --config and one --show, zone-less times in --timezone.
    r = export("--config", str(cfg), "--show", "show", "--from", "2024-05-01T08:00:20", "--to", "2024-05-01T08:00:25",
               "--timezone", "Europe/Berlin", "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert jsonlines(r.stdout)[0]["from"] == "2024-05-01T06:00:20Z"


def test_range_endpoint_streams_with_head_range_and_a_file_name(tmp_path, chirps):
    out = tmp_path / "rec"
    db, _ = imported(out, chirps["short"], "2024-05-01T06:00:00Z")
    imported(out, chirps["short"], "2024-05-01T06:00:30Z")
    serve = Serve(["--db", db], tmp_path, tmp_path / "serve.log")
    try:
        base = serve.url
        url = base + "/show/show/range.ogg?from=2024-05-01T06:00:02.500Z&to=2024-05-01T06:00:09Z"
        status, headers, body = http(url)
        assert status == 200 and headers["Content-Type"] == "audio/ogg"
        assert headers["Content-Disposition"] == 'inline; filename="show_20240501_060002.500_6.5s.ogg"'
        path = tmp_path / "range.ogg"
        path.write_bytes(body)
        opusinfo_ok(str(path))
        assert len(pcm(str(path))) == round(6.5 * 48000)
        status, headers, head_body = http(url, method="HEAD")
        assert status == 200 and head_body == b"" and int(headers["Content-Length"]) == len(body)
        status, headers, part = http(url, headers={"Range": "bytes=100-199"})
        assert status == 206 and part == body[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(body)}"
        # Across the gap: both parts, one after the other (a chained Ogg stream), the gap left out.
        status, headers, body = http(base + "/show/show/range.ogg?from=2024-05-01T06:00:10Z&to=2024-05-01T06:00:35Z")
        assert status == 200
        path.write_bytes(body)
        assert len(pcm(str(path))) == (2 + 5) * 48000
        assert http(base + "/show/show/range.ogg?from=2024-05-01T09:00:00Z&to=2024-05-01T10:00:00Z")[0] == 404
        assert http(base + "/show/show/range.ogg?from=2024-05-01T00:00:00Z&to=2024-05-03T00:00:00Z")[0] == 400  # > 25 h
        assert http(base + "/show/show/range.ogg?from=soon&to=2024-05-01T10:00:00Z")[0] == 400
        assert http(base + "/show/show/range.ogg?from=2024-05-01T06:00:00Z")[0] == 400
        assert http(base + "/show/show/range.aac?from=2024-05-01T06:00:00Z&to=2024-05-01T06:00:05Z")[0] == 404
        assert http(base + "/show/nosuch/range.ogg?from=2024-05-01T06:00:00Z&to=2024-05-01T06:00:05Z")[0] == 404
    finally:
        serve.stop()


def test_range_endpoint_joins_many_parts(tmp_path, chirps):
    out = tmp_path / "rec"
    for i in range(10):
        db, _ = imported(out, chirps["short"], f"2024-05-01T06:{i:02d}:00Z")
    serve = Serve(["--db", db], tmp_path, tmp_path / "serve.log")
    try:
        base = serve.url
        status, headers, body = http(base + "/show/show/range.ogg?from=2024-05-01T06:00:00Z&to=2024-05-01T06:10:00Z")
        assert status == 200, body
        assert headers["Content-Disposition"] == 'inline; filename="show_20240501_060000_120s.ogg"'
        path = tmp_path / "ten.ogg"
        path.write_bytes(body)
        # A chained Ogg stream: ten logical streams, each the whole 12 s, by opusinfo.
        info = opusinfo_ok(str(path))
        assert info.count("New logical stream") == 10 and info.count("Playback length: 0m:12.000s") == 10
        # ffmpeg decodes every link; probing a long chain's length it says it could not
        # "replace stream", which is about its length estimate, not the audio.
        p = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "48000", "-f", "s16le", "-"], capture_output=True)
        assert all("failed to create or replace stream" in line for line in p.stderr.decode().splitlines()), p.stderr
        assert len(p.stdout) // 2 == 10 * 12 * 48000
    finally:
        serve.stop()
