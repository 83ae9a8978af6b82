"""Fuzzing: the JSON-lines readers get random and mutated records, huge lines, invalid UTF-8 and
NUL; the HTTP APIs get schemathesis (generated from /api/openapi.json), bounded in time. Every
run must end by itself, never by a signal, never with a 500 for bad input, never hang."""
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import bin_path, free_port, make_tone, run_tool

SEED = int(os.environ.get("SA_FUZZ_SEED", str(int(time.time()))))


@pytest.fixture(scope="module")
def show_db(tmp_path_factory, media_dir):
    tone = make_tone(os.path.join(media_dir, "fuzz.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=520)
    d = tmp_path_factory.mktemp("fuzz")
    r = run_tool([bin_path("sa-record"), "--input", tone, "--name", "news", "--output-dir", str(d), "--min-free-mb", "0"], timeout=120)
    assert r.returncode == 0, r.stderr
    return str(d / "news.sqlite")


def mutations(rng, seeds):
    """Random bytes, huge lines, NUL, broken UTF-8, and records with fields changed, dropped or
    given values of the wrong type, far out of range or hostile as paths."""
    hostile = ["../../etc/passwd", "/dev/zero", "a\u0000b", "", " ", "\u202e", "x" * 5000, "postgres://u:pw@127.0.0.1:1/x",
               "sqlite:", "%s%n", "😀"]
    numbers = [0, -1, 2**63 - 1, -2**63, 2**64, 1e308, -1e308, 0.5, "1", None, True, [], {}]
    out = []
    for _ in range(300):
        kind = rng.randrange(8)
        if kind == 0:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" "))
        elif kind == 1:
            out.append(b'{"type": "section_finished", "db": "' + b"A" * (2 << 20) + b'"}')
        elif kind == 2:
            s = json.dumps(rng.choice(seeds)).encode()
            i = rng.randrange(len(s))
            out.append(s[:i] + bytes([rng.choice([0, 0xFF, 0xC3, 0x80, 0x22, 0x7B])]) + s[i + 1:])
        else:
            rec = dict(rng.choice(seeds))
            key = rng.choice(list(rec) + ["section_id", "db", "file_path", "type", "show"])
            choice = rng.randrange(3)
            if choice == 0:
                rec.pop(key, None)
            elif choice == 1:
                rec[key] = rng.choice(numbers)
            else:
                rec[key] = rng.choice(hostile)
            out.append(json.dumps(rec).encode())
    return out


@pytest.mark.parametrize("tool", ["sa-export", "sa-push"])
def test_json_lines_readers_survive_random_and_mutated_input(tmp_path, show_db, tool):
    rng = random.Random(SEED)
    sid = sqlite3.connect(show_db).execute("SELECT id FROM sections").fetchone()[0]
    seeds = [{"type": "section_finished", "show": "news", "db": show_db, "section_id": sid},
             {"type": "section_synced", "show": "news", "db": show_db, "section_id": sid, "complete": True},
             {"type": "exported", "show": "news", "db": show_db, "section_id": sid, "file_path": str(tmp_path / "x.ogg")}]
    lines = mutations(rng, seeds)
    cfg = tmp_path / "record.toml"
    # A push target that refuses at once: what is checked here is the reader, not the upload.
    cfg.write_text("config_type = 'record'\noutput_dir = 'rec'\n[sftp]\nhost = '127.0.0.1'\nport = 1\nusername = 'u'\n"
                   "credential_profile = 'p'\nremote_dir = 'r'\nknown_hosts = 'accept-new'\n")
    creds = tmp_path / "credentials.toml"
    creds.write_text("[sftp.p]\npassword = 'x'\n")
    creds.chmod(0o600)
    args = {"sa-export": [bin_path("sa-export"), "--output-dir", str(tmp_path / "out")],
            "sa-push": [bin_path("sa-push"), "--config", str(cfg), "--credentials", str(creds)]}[tool]
    r = subprocess.run(args, input=b"\n".join(lines) + b"\n", capture_output=True, timeout=300)
    assert r.returncode >= 0, f"{tool} killed by signal {-r.returncode} (seed {SEED}): {r.stderr[-2000:]}"
    assert r.returncode in (0, 1, 69, 75, 77), (r.returncode, r.stderr[-2000:])
    records = [json.loads(x) for x in r.stdout.decode().splitlines()]  # every output line is JSON
    assert all(x.get("type") in ("error", "exported", "pushed") for x in records)
    assert not any("code" in x and x["code"] == "internal" for x in records), [x for x in records if x.get("code") == "internal"][:3]
    # Nothing was written outside the output directory.
    assert not os.path.exists("/etc/passwd.ogg")


@pytest.mark.skipif(shutil.which("st") is None, reason="schemathesis is installed by make deps")
@pytest.mark.parametrize("mode", ["inspect", "record"])
def test_http_api_fuzzed_from_its_openapi_document_never_answers_500(tmp_path, show_db, mode):
    port = free_port()
    if mode == "inspect":
        args = [bin_path("sa-serve"), "--db", show_db, "--port", str(port)]
    else:
        cfg = tmp_path / "record.toml"
        cfg.write_text(f"config_type = 'record'\noutput_dir = '{os.path.dirname(show_db)}'\napi_port = {port}\n")
        args = [bin_path("sa-serve"), "--config", str(cfg)]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        r = subprocess.run(["st", "run", f"http://127.0.0.1:{port}/api/openapi.json", "--checks", "not_a_server_error",
                            "--max-examples", "25", "--request-timeout", "10", "--max-response-time", "5",
                            "--seed", str(SEED % (2**32)), "--workers", "2"],
                           capture_output=True, text=True, timeout=420, cwd=tmp_path)
        assert p.poll() is None, "sa-serve died under fuzzing"
        assert r.returncode == 0, r.stdout[-6000:]
    finally:
        p.terminate()
        p.wait(10)
