"""sa-export: Ogg Opus (RFC 7845) and ADTS files without re-encoding, checked with opusinfo,
opusdec, ffprobe and ffmpeg; pipelines from sa-record and sa-pull; --pending; conflicts."""
import fcntl
import hashlib
import json
import os
import sqlite3
import subprocess
import urllib.error
import urllib.request

import pytest

from audiotools import decoded_samples, ffprobe_duration, jsonlines, metadata, segments
from conftest import bin_path, make_tone, receiver_config, run_tool


@pytest.fixture(scope="module")
def tones(media_dir):
    return {
        "mp3": make_tone(os.path.join(media_dir, "exp65.mp3"), 65, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=350),
        "short": make_tone(os.path.join(media_dir, "exp12.mp3"), 12, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=450),
    }


def imported(tmp_path, path, name="show", fmt="opus", start=None):
    args = [bin_path("sa-record"), "--input", path, "--name", name, "--output-dir", str(tmp_path / "rec"), "--format", fmt,
            "--min-free-mb", "0"]
    if start:
        args += ["--start", start]
    r = run_tool(args)
    assert r.returncode == 0, r.stderr
    fin = [x for x in jsonlines(r.stdout) if x["type"] == "section_finished"][0]
    return str(tmp_path / "rec" / f"{name}.sqlite"), fin["section_id"], r.stdout


def export(*args, input=None):
    return subprocess.run([bin_path("sa-export"), *args], input=input, capture_output=True, text=True, timeout=120)


def test_ogg_opus_export_is_valid_and_has_the_stored_length(tmp_path, tones):
    db, section, _ = imported(tmp_path, tones["mp3"], start="2024-05-01T06:00:00Z")
    out = tmp_path / "out"
    r = export("--db", db, "--section", str(section), "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    stored = sum(s[5] for s in segments(db))
    name = f"show_20240501_060000_{section:x}.ogg"
    assert rec["type"] == "exported" and rec["status"] == "written" and rec["format"] == "opus"
    assert rec["file_path"] == str(out / name)
    assert sorted(os.listdir(out)) in ([name], sorted([name, f".{name}.lock"]))
    data = open(rec["file_path"], "rb").read()
    assert rec["bytes"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert rec["duration_seconds"] == pytest.approx(stored / 48000, abs=0.001)
    info = subprocess.run(["opusinfo", rec["file_path"]], capture_output=True, text=True)
    assert info.returncode == 0 and "WARNING" not in info.stdout + info.stderr and "ERROR" not in info.stdout + info.stderr, info.stdout
    assert f"Pre-skip: {metadata(db)['encoder_delay_samples']}" in info.stdout
    assert abs(ffprobe_duration(rec["file_path"]) - stored / 48000) <= 0.020
    n, err = decoded_samples(rec["file_path"], 48000)
    assert err == "" and n == stored
    wav = tmp_path / "dec.wav"
    subprocess.run(["opusdec", "--quiet", "--rate", "48000", rec["file_path"], str(wav)], check=True)
    assert (os.path.getsize(wav) - 44) // 2 == stored
    # Page granules rise and the last page carries end-of-stream.
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream_tags", "-of", "json", rec["file_path"]],
                           capture_output=True, text=True, check=True).stdout
    tags = {k.upper(): v for k, v in json.loads(probe)["streams"][0]["tags"].items()}
    assert tags["SHOW"] == "show" and tags["START_TIME"] == "2024-05-01T06:00:00Z"
    # The same section always gives the same bytes.
    again = export("--db", db, "--section", str(section), "--output-dir", str(out))
    assert jsonlines(again.stdout)[0]["status"] == "exists"
    other = export("--db", db, "--section", str(section), "--output-dir", str(tmp_path / "elsewhere"))
    assert open(jsonlines(other.stdout)[0]["file_path"], "rb").read() == data


def test_icy_titles_become_opus_comments(stub, tmp_path):
    r = run_tool([bin_path("sa-record"), "--url", f"http://127.0.0.1:{stub.server_port}/icy.mp3", "--name", "titled",
                  "--output-dir", str(tmp_path / "rec"), "--duration", "6", "--split-interval", "2"], timeout=60)
    assert r.returncode == 0, r.stderr
    e = export("--output-dir", str(tmp_path / "out"), input=r.stdout)
    assert e.returncode == 0, e.stderr
    (rec,) = [x for x in jsonlines(e.stdout) if x["type"] == "exported"]
    info = subprocess.run(["opusinfo", rec["file_path"]], capture_output=True, text=True).stdout
    assert "ICY_TITLE=" in info and "Café Latin-1" in info and "Zweiter Titel ü" in info


def test_aac_export_decodes_to_the_stored_length(tmp_path, tones):
    db, section, _ = imported(tmp_path, tones["mp3"], fmt="aac")
    r = export("--db", db, "--section", str(section), "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    assert rec["file_path"].endswith(".aac") and rec["format"] == "aac"
    stored = sum(s[5] for s in segments(db))
    delay = int(metadata(db)["encoder_delay_samples"])
    n, err = decoded_samples(rec["file_path"], 16000)
    assert err == ""
    # ADTS has no field for the encoder delay: decoders also output those priming samples, so
    # the decoded length is the stored length plus the delay, within one frame.
    assert abs(n - delay - stored) <= 1024
    assert abs(ffprobe_duration(rec["file_path"]) - (stored + delay) / 16000) <= 1024 / 16000


def test_record_pipe_into_export(tmp_path, tones):
    p1 = subprocess.Popen([bin_path("sa-record"), "--input", tones["short"], "--name", "piped", "--output-dir",
                           str(tmp_path / "rec")], stdout=subprocess.PIPE)
    r = subprocess.run([bin_path("sa-export"), "--output-dir", str(tmp_path / "out")], stdin=p1.stdout,
                       capture_output=True, text=True, timeout=60)
    p1.wait()
    assert p1.returncode == 0 and r.returncode == 0, r.stderr
    (rec,) = jsonlines(r.stdout)
    assert rec["show"] == "piped" and os.path.exists(rec["file_path"])


def test_pull_pipe_into_export(recorder, postgres, tmp_path, tones):
    rec = recorder()
    rec.record_file("pulled", tones["short"])
    rec.record_file("pulled", tones["short"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    pull = run_tool([bin_path("sa-pull"), "--config", cfg])
    assert pull.returncode == 0, pull.stderr
    r = export("--output-dir", str(tmp_path / "out"), input=pull.stdout)
    assert r.returncode == 0, r.stderr
    recs = jsonlines(r.stdout)
    assert len(recs) == 2 and all(x["db"].startswith("postgres://") for x in recs)
    # The same bytes as exporting from the recorder's own database.
    for x in recs:
        direct = export("--db", rec.db("pulled"), "--section", str(x["section_id"]), "--output-dir", str(tmp_path / "direct"))
        assert jsonlines(direct.stdout)[0]["sha256"] == x["sha256"]


def test_pending_exports_each_finished_section_once(tmp_path, tones):
    db, s1, _ = imported(tmp_path, tones["short"], name="pend")
    imported(tmp_path, tones["short"], name="pend")
    con = sqlite3.connect(db)
    con.execute("UPDATE sections SET is_open = 1 WHERE id = (SELECT max(id) FROM sections)")  # still recording
    con.commit()
    con.close()
    cfg = tmp_path / "record.toml"
    cfg.write_text("config_type = 'record'\noutput_dir = 'rec'\n")
    r = export("--config", str(cfg), "--pending", "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert [x["section_id"] for x in jsonlines(r.stdout)] == [s1]
    r = export("--config", str(cfg), "--pending", "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0 and jsonlines(r.stdout) == []


def test_open_section_is_skipped_unless_included(tmp_path, tones):
    db, section, _ = imported(tmp_path, tones["short"], name="openone")
    con = sqlite3.connect(db)
    con.execute("UPDATE sections SET is_open = 1")
    con.commit()
    con.close()
    r = export("--db", db, "--section", str(section), "--output-dir", str(tmp_path / "out"))
    assert r.returncode == 0 and r.stdout == "" and "still being recorded" in r.stderr
    r = export("--db", db, "--section", str(section), "--output-dir", str(tmp_path / "out"), "--include-open")
    assert r.returncode == 0 and jsonlines(r.stdout)[0]["status"] == "written"


def test_concurrent_export_of_a_section_is_a_conflict(tmp_path, tones, recorder):
    db, section, _ = imported(tmp_path, tones["short"], name="busy")
    out = tmp_path / "out"
    out.mkdir()
    start = sqlite3.connect(db).execute("SELECT start_timestamp_ms FROM sections").fetchone()[0]
    import datetime
    stamp = datetime.datetime.fromtimestamp(start / 1000, datetime.timezone.utc).strftime("%Y%m%d_%H%M%S")
    name = f"busy_{stamp}_{section:x}.ogg"
    with open(out / f".{name}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # an export of this section is running
        r = export("--db", db, "--section", str(section), "--output-dir", str(out))
        assert r.returncode == 75
        (err,) = jsonlines(r.stdout)
        assert err["code"] == "conflict" and err["section_id"] == section
        assert not (out / name).exists()
        # The recorder's API answers 409 for the same reason.
        rec = recorder()
        os.makedirs(rec.out, exist_ok=True)
        os.replace(db, rec.db("busy"))
        os.symlink(out, os.path.join(rec.dir, "tmp"))
        rec.start()
        url = f"{rec.url}/api/sync/shows/busy/sections/{section}/export"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=10)
        assert e.value.code == 409 and "exported by another process" in json.loads(e.value.read())["error"]
    body = json.loads(urllib.request.urlopen(url, timeout=10).read())
    assert body["file_path"].endswith(name) and body["format"] == "opus" and body["section_id"] == section
    assert body["duration_seconds"] == pytest.approx(12, abs=0.03)


def test_bad_lines_unknown_sections_and_unreadable_databases_do_not_stop_the_others(tmp_path, tones):
    db, section, _ = imported(tmp_path, tones["short"], name="mixed")
    notdb = tmp_path / "garbage.sqlite"
    notdb.write_bytes(b"this is not a database" * 100)
    lines = "\n".join([
        "{not json",
        json.dumps({"type": "section_finished", "show": "mixed", "db": db, "section_id": 12345}),
        json.dumps({"type": "section_finished", "show": "x", "db": str(notdb), "section_id": 1}),
        json.dumps({"type": "section_finished", "show": "x", "db": str(tmp_path / "missing.sqlite"), "section_id": 1}),
        json.dumps({"type": "section_finished", "show": "mixed", "section_id": section}),
        json.dumps({"type": "segment", "show": "mixed", "db": db, "section_id": section, "segment_id": 1}),
        json.dumps({"type": "section_finished", "show": "mixed", "db": db, "section_id": section}),
    ]) + "\n"
    r = export("--output-dir", str(tmp_path / "out"), input=lines)
    assert r.returncode == 1
    recs = jsonlines(r.stdout)
    errors = [x for x in recs if x["type"] == "error"]
    assert [x["code"] for x in errors] == ["bad_json", "not_found", "corrupt", "not_found", "missing_field"]
    assert errors[1]["section_id"] == 12345
    assert [x["section_id"] for x in recs if x["type"] == "exported"] == [section]
