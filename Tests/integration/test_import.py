"""sa-record --input: real MP3 and AAC (LC, HE) files of known length are stored without drift
and the stored audio decodes with ffmpeg to the same length."""
import os
import sqlite3
import subprocess

import pytest

from audiotools import decoded_samples, export_section, ffprobe_duration, jsonlines, metadata, segments
from conftest import make_tone, run_tool


def source_samples(path):
    """The source's length as ffmpeg decodes it, in samples at 44.1 kHz."""
    n, err = decoded_samples(path, 44100)
    assert err == ""
    return n


def import_file(sa_record, tmp_path, path, fmt="opus", name="imp"):
    r = run_tool([sa_record, "--input", path, "--name", name, "--output-dir", str(tmp_path), "--format", fmt], timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", "a successful import is silent on stderr"
    return jsonlines(r.stdout), os.path.join(tmp_path, f"{name}.sqlite")


@pytest.mark.parametrize("kind,seconds,frame", [
    ("mp3", 3600, 1152),  # one hour: drift would show here
    ("aac-lc", 600, 1024),
    ("aac-he", 600, 2048),
])
def test_import_stores_known_length_without_drift(sa_record, media_dir, tmp_path, kind, seconds, frame):
    if kind == "mp3":
        src = make_tone(os.path.join(media_dir, f"tone{seconds}.mp3"), seconds, ["-c:a", "libmp3lame", "-b:a", "128k"])
    elif kind == "aac-lc":
        src = make_tone(os.path.join(media_dir, f"tone{seconds}.aac"), seconds, ["-c:a", "aac", "-b:a", "128k", "-f", "adts"])
    else:
        wav = make_tone(os.path.join(media_dir, f"tone{seconds}.wav"), seconds, [])
        src = os.path.join(media_dir, f"tone{seconds}_he.aac")
        if not os.path.exists(src):
            subprocess.run(["fdkaac", "-p", "5", "-b", "48k", "-f", "2", "-o", src, wav], check=True, capture_output=True)
    records, db = import_file(sa_record, tmp_path, src)
    rows = segments(db)
    stored = sum(r[5] for r in rows)
    expected = source_samples(src) * 48000 / 44100
    # Within one input frame (at 48 kHz) of what an independent decoder gets from the source.
    assert abs(stored - expected) <= frame * 48000 / 44100 + 2, (stored, expected)
    if kind == "mp3":
        # ffmpeg honours the LAME gapless header: the tone is exactly `seconds` long.
        assert abs(stored - seconds * 48000) <= 960
    finished = [r for r in records if r["type"] == "section_finished"]
    assert len(finished) == 1 and finished[0]["reason"] == "input_end"
    assert finished[0]["segments"] == len(rows)
    # Every segment but the last is 10 s (the first minus the encoder delay).
    pre_skip = int(metadata(db)["encoder_delay_samples"])
    assert rows[0][5] == 480000 - pre_skip
    assert all(r[5] == 480000 for r in rows[1:-1])
    assert rows[0][2] == 1 and all(r[2] == 0 for r in rows[1:])
    # Timestamps follow the sample counts exactly (no drift between segments).
    t0 = rows[0][1]
    acc = 0
    for r in rows:
        assert r[1] == t0 + acc * 1000 // 48000
        acc += r[5]
    # Wrapped in Ogg, the stored audio decodes to the stored length.
    ogg = os.path.join(tmp_path, "out.ogg")
    export_section(db, rows[0][4], ogg)
    n, err = decoded_samples(ogg, 48000)
    assert err == ""
    assert abs(n - stored) <= 1, (n, stored)
    assert abs(ffprobe_duration(ogg) - stored / 48000) < 0.021


def test_import_mp3_as_aac_decodes_to_stored_length(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone120.mp3"), 120, ["-c:a", "libmp3lame", "-b:a", "128k"])
    records, db = import_file(sa_record, tmp_path, src, fmt="aac")
    meta = metadata(db)
    assert meta["audio_format"] == "aac" and meta["sample_rate"] == "16000" and meta["bitrate"] == "32"
    rows = segments(db)
    stored = sum(r[5] for r in rows)
    assert abs(stored - 120 * 16000) <= 1024
    aac = os.path.join(tmp_path, "out.aac")
    export_section(db, rows[0][4], aac)
    n, err = decoded_samples(aac, 16000)
    assert err == ""
    # ADTS cannot carry the encoder delay, so the decoder also outputs the priming samples.
    delay = int(meta["encoder_delay_samples"])
    assert abs(n - (stored + delay)) <= 1024, (n, stored, delay)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,profile,sample_rate,channels",
                            "-of", "csv=p=0", aac], capture_output=True, text=True, check=True).stdout.strip()
    assert probe == "aac,LC,16000,1"


def test_import_from_stdin_with_id3_and_junk_prefix(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone30.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"])
    data = open(src, "rb").read()
    assert data.startswith(b"ID3")
    junk = bytes(range(1, 200))  # a stream cut in the middle of a frame
    r = subprocess.run([sa_record, "--input", "-", "--name", "pipe", "--output-dir", str(tmp_path)],
                       input=junk + data, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    db = os.path.join(tmp_path, "pipe.sqlite")
    stored = sum(r[5] for r in segments(db))
    assert abs(stored - 30 * 48000) <= 1152 * 48000 // 44100 + 2


def test_import_aac_with_junk_prefix_finds_adts_sync(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone20.aac"), 20, ["-c:a", "aac", "-b:a", "128k", "-f", "adts"])
    data = open(src, "rb").read()
    r = subprocess.run([sa_record, "--input", "-", "--name", "adts", "--output-dir", str(tmp_path)],
                       input=b"\xff\xf1garbage" + data[137:], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    stored = sum(r[5] for r in segments(os.path.join(tmp_path, "adts.sqlite")))
    assert abs(stored - 20 * 48000) <= 2 * 1024 * 48000 // 44100


def test_schema_and_sqlite_settings(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone30.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"])
    _, db = import_file(sa_record, tmp_path, src, name="schema")
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    cols = {r[1] for r in con.execute("PRAGMA table_info(segments)")}
    assert {"id", "timestamp_ms", "is_timestamp_from_source", "audio_data", "section_id", "duration_samples"} <= cols
    idx = {r[1] for r in con.execute("PRAGMA index_list(segments)")}
    assert {"segments_section_id", "segments_timestamp_ms"} <= idx
    meta = metadata(db)
    assert meta["version"] == "4" and meta["is_recipient"] == "false" and meta["name"] == "schema"
    assert meta["unique_id"].startswith("db_") and len(meta["unique_id"]) == 15
    assert con.execute("SELECT is_open, finish_reason FROM sections").fetchall() == [(0, "input_end")]
