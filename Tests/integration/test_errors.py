"""Bad input gets a clear message naming what was wrong and the documented exit status,
and touches no data."""
import os
import sqlite3

from conftest import make_tone, run_tool, sqlite_fingerprint


def write(path, text, mode=0o644):
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


SESSION = """
[[sessions]]
name = 'show1'
url = 'http://127.0.0.1:9/x.mp3'
[sessions.schedule]
record_start = '06:00'
record_end = '07:00'
"""


def test_unknown_config_key_names_key_and_file(sa_record, tmp_path):
    cfg = write(tmp_path / "record.toml", "config_type = 'record'\noutput_dri = 'x'\n" + SESSION)
    r = run_tool([sa_record, "--config", cfg, "--once"])
    assert r.returncode == 78
    assert "unknown key 'output_dri'" in r.stderr and cfg in r.stderr


def test_unknown_key_inside_session_schedule(sa_record, tmp_path):
    cfg = write(tmp_path / "record.toml", "config_type = 'record'\n" + SESSION + "record_stop = '08:00'\n")
    r = run_tool([sa_record, "--config", cfg, "--once"])
    assert r.returncode == 78
    assert "sessions[0].schedule.record_stop" in r.stderr


def test_equal_start_and_end_is_a_config_error(sa_record, tmp_path):
    cfg = write(tmp_path / "record.toml", "config_type = 'record'\n" + SESSION.replace("07:00", "06:00"))
    r = run_tool([sa_record, "--config", cfg, "--once"])
    assert r.returncode == 78
    assert "daily break" in r.stderr


def test_world_readable_credentials_file_is_refused_without_leaking(sa_record, tmp_path):
    creds = write(tmp_path / "credentials.toml", "[api.main]\ntoken = 's3cr3t-token'\n", mode=0o644)
    cfg = write(tmp_path / "record.toml", "config_type = 'record'\napi_token_profile = 'main'\n" + SESSION)
    r = run_tool([sa_record, "--config", cfg, "--credentials", creds, "--once"])
    assert r.returncode == 78
    assert "readable by group or others" in r.stderr and "chmod 600" in r.stderr
    assert "s3cr3t" not in r.stderr + r.stdout


def test_bad_show_name_is_refused(sa_record, tmp_path):
    r = run_tool([sa_record, "--input", "/dev/null", "--name", "../etc/passwd", "--output-dir", str(tmp_path)])
    assert r.returncode == 64
    assert "invalid show name '../etc/passwd'" in r.stderr
    assert os.listdir(tmp_path) == []
    cfg = write(tmp_path / "record.toml", "config_type = 'record'\n" + SESSION.replace("'show1'", "'bad name'"))
    r = run_tool([sa_record, "--config", cfg, "--once"])
    assert r.returncode == 78 and "invalid show name 'bad name'" in r.stderr


def test_recipient_database_is_refused_and_untouched(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone30.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"])
    r = run_tool([sa_record, "--input", src, "--name", "rcpt", "--output-dir", str(tmp_path)])
    assert r.returncode == 0
    db = tmp_path / "rcpt.sqlite"
    con = sqlite3.connect(db)
    con.execute("UPDATE metadata SET value = 'true' WHERE key = 'is_recipient'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = sqlite_fingerprint(db)
    r = run_tool([sa_record, "--input", src, "--name", "rcpt", "--output-dir", str(tmp_path)])
    assert r.returncode == 65
    assert "Cannot record to a recipient database. This database is configured for syncing only." in r.stderr
    assert sqlite_fingerprint(db) == before
    err = [line for line in r.stdout.splitlines() if '"type":"error"' in line]
    assert err and "recipient" in err[0]


def test_unsupported_input_is_bad_data(sa_record, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 2000)
    r = run_tool([sa_record, "--input", str(junk), "--name", "junk", "--output-dir", str(tmp_path)])
    assert r.returncode == 65
    assert "unsupported" in r.stderr and "MP3 or AAC" in r.stderr


def test_missing_input_file(sa_record, tmp_path):
    r = run_tool([sa_record, "--input", str(tmp_path / "nope.mp3"), "--name", "x", "--output-dir", str(tmp_path)])
    assert r.returncode == 66 and "nope.mp3" in r.stderr


def test_format_mismatch_with_existing_database(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone30.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"])
    assert run_tool([sa_record, "--input", src, "--name", "fmt", "--output-dir", str(tmp_path)]).returncode == 0
    r = run_tool([sa_record, "--input", src, "--name", "fmt", "--output-dir", str(tmp_path), "--format", "aac"])
    assert r.returncode == 78 and "audio_format 'opus' vs 'aac'" in r.stderr


def test_disk_guard_refuses_to_start(sa_record, media_dir, tmp_path):
    src = make_tone(os.path.join(media_dir, "tone30.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"])
    r = run_tool([sa_record, "--input", src, "--name", "disk", "--output-dir", str(tmp_path), "--min-free-mb", "100000000"])
    assert r.returncode == 74 and "min_free_mb" in r.stderr
    assert not (tmp_path / "disk.sqlite").exists()


def test_usage_errors_exit_64(sa_record):
    r = run_tool([sa_record, "--url", "http://x", "--input", "y", "--name", "z"])
    assert r.returncode == 64
    r = run_tool([sa_record, "--bogus"])
    assert r.returncode == 64


def test_help_and_version(sa_record):
    r = run_tool([sa_record, "--help"])
    assert r.returncode == 0 and "--once" in r.stdout
    r = run_tool([sa_record, "--version"])
    assert r.returncode == 0 and r.stdout.strip()


def test_dispatcher_without_command_prints_usage_and_exits_64():
    from conftest import bin_path
    r = run_tool([bin_path("save_audio_stream")])
    assert r.returncode == 64 and "usage:" in r.stdout


def test_every_tool_answers_help_and_version():
    from conftest import bin_path
    for tool in ["sa-record", "sa-serve", "sa-pull", "sa-export", "sa-prune", "sa-push", "save_audio_stream"]:
        r = run_tool([bin_path(tool), "--version"])
        assert r.returncode == 0 and r.stdout.strip() == "0.1.0", tool
        r = run_tool([bin_path(tool), "--help"])
        assert r.returncode == 0 and "usage" in r.stdout.lower(), tool


def test_missing_config_file_is_named(tmp_path):
    from conftest import bin_path
    env = dict(os.environ, SAVE_AUDIO_STREAM_CONFIG_DIR=str(tmp_path))
    for tool, name in [("sa-pull", "receiver.toml"), ("sa-serve", "record.toml"), ("sa-record", "record.toml")]:
        r = run_tool([bin_path(tool)], env=env)
        assert r.returncode == 78 and str(tmp_path / name) in r.stderr, (tool, r.stderr)


def test_opus_complexity_out_of_range_is_refused(sa_record, tmp_path):
    cfg = write(tmp_path / "record.toml", "config_type = 'record'\n" + SESSION.replace("[sessions.schedule]", "opus_complexity = 11\n[sessions.schedule]"))
    r = run_tool([sa_record, "--config", cfg, "--once"])
    assert r.returncode == 78
    assert "opus_complexity" in r.stderr and cfg in r.stderr
    r = run_tool([sa_record, "--input", "x.mp3", "--name", "a", "--opus-complexity", "-1"])
    assert r.returncode == 64 and "--opus-complexity" in r.stderr


def test_session_opus_complexity_reaches_the_encoder(sa_record, stub, tmp_path):
    """A session's opus_complexity in the config (not only the command-line flag) sets the
    encoder: the first second of the same stream, recorded twice at 10 and once at 0, is the
    same Opus at equal settings and different Opus at the other."""
    import time
    first = {}
    for run, c in (("a", 10), ("b", 10), ("c", 0)):
        now = time.time()
        start = time.strftime("%H:%M:%S", time.gmtime(now - 60))
        end = time.strftime("%H:%M:%S", time.gmtime(now + 3))
        cfg = write(tmp_path / f"record-{run}.toml", f"""config_type = 'record'
output_dir = 'rec-{run}'
min_free_mb = 0

[[sessions]]
name = 'cx'
url = 'http://127.0.0.1:{stub.server_port}/stall.mp3'
split_interval = 1
opus_complexity = {c}

[sessions.schedule]
record_start = '{start}'
record_end = '{end}'
""")
        r = run_tool([sa_record, "--config", cfg, "--once"], timeout=40)
        assert r.returncode == 0, r.stderr
        con = sqlite3.connect(str(tmp_path / f"rec-{run}" / "cx.sqlite"))
        first[run] = con.execute("SELECT audio_data FROM segments ORDER BY id LIMIT 1").fetchone()[0]
        con.close()
    assert first["a"] == first["b"]
    assert first["a"] != first["c"]


def test_opus_complexity_reaches_the_encoder(sa_record, media_dir, tmp_path):
    """The same input at complexity 0 and 10 gives different Opus (the CPU it saves is a
    figure of make bench)."""
    tone = make_tone(os.path.join(media_dir, "complexity.mp3"), 60, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=300)
    sizes = {}
    for c in (0, 10):
        out = tmp_path / f"c{c}"
        r = run_tool([sa_record, "--input", tone, "--name", "cx", "--output-dir", str(out), "--min-free-mb", "0",
                      "--opus-complexity", str(c)])
        assert r.returncode == 0, r.stderr
        con = sqlite3.connect(str(out / "cx.sqlite"))
        sizes[c] = con.execute("SELECT group_concat(hex(audio_data)) FROM segments").fetchone()[0]
        con.close()
    assert sizes[0] != sizes[10]
