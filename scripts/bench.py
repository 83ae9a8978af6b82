"""Benchmarks for save_audio_stream, each beside a reference run in the same command.

1. Import one hour of 128 kbit/s 44.1 kHz stereo MP3 into Opus 16 kbit/s with sa-record, and
   the same transcode with ffmpeg (libopus, VOIP): CPU seconds, ratio, peak memory.
2. Pull 24 audio-hours (16 kbit/s Opus, 10 s segments) from a local sa-serve into a fresh
   PostgreSQL with sa-pull, beside the floor: the same rows loaded with psql's
   `\copy … (FORMAT binary)`. Audio-hours per second, ratio, and sa-pull's peak memory for a
   6 h and a 24 h backlog (it must not grow with the backlog).
3. Export a 24-hour Opus section to Ogg with sa-export, beside the raw read of the same blobs
   (`sqlite3` selecting them to /dev/null); time, ratio, and peak memory for 1 h and 24 h.
4. Many stations: one `sa-record --config` with 100, 200 and 300 sessions from a local Icecast
   (CPU share, peak memory, beside the codec floor), and 10 receivers pulling at 100
   (scripts/bench_load.py); and the opus_complexity trade-off: CPU and PESQ-WB on synthetic
   speech at complexities 3 to 10, beside ffmpeg at the original settings.
5. wrk for 30 s on the HLS segment (.m4s) endpoint of sa-serve, beside nginx serving the same
   files from disk: requests/s, errors.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WORK = os.path.join(ROOT, "bench", "work")


def measure(argv):
    """Runs argv; returns (cpu seconds of the child, wall seconds, peak RSS in MiB)."""
    start = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.time() - start
    err = p.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"bench: {argv[0]} failed ({code}): {err}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def bench_import():
    mp3 = os.path.join(WORK, "hour.mp3")
    if not os.path.exists(mp3):
        print("bench: generating one hour of 128 kbit/s 44.1 kHz stereo MP3 (once)", file=sys.stderr)
        # Speech-like material: a tone with an amplitude envelope plus pink noise.
        subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i",
                        "sine=frequency=220:sample_rate=44100:duration=3600",
                        "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.05:sample_rate=44100:duration=3600",
                        "-filter_complex", "[0][1]amix=inputs=2,volume='0.6+0.4*sin(2*PI*t/3)':eval=frame",
                        "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", mp3], check=True)
    tmp = tempfile.mkdtemp(prefix="sa-bench-")
    try:
        ours = measure([os.path.join(BIN, "sa-record"), "--input", mp3, "--name", "bench",
                        "--output-dir", tmp, "--min-free-mb", "0"])
        # The same encoder settings as the recorder's defaults (opus_complexity 5, at most
        # wideband at speech bitrates).
        ref = measure(["ffmpeg", "-y", "-v", "error", "-i", mp3, "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                       "-b:a", "16k", "-application", "voip", "-compression_level", "5", "-cutoff", "8000",
                       os.path.join(tmp, "ref.ogg")])
        stored = subprocess.run(["sqlite3", os.path.join(tmp, "bench.sqlite"),
                                 "SELECT sum(duration_samples) / 48000.0, sum(length(audio_data)) FROM segments"],
                                capture_output=True, text=True, check=True).stdout.strip().split("|")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("import: 1 h of 128 kbit/s 44.1 kHz stereo MP3 -> Opus 16 kbit/s mono 48 kHz")
    print(f"  sa-record --input : {ours[0]:6.2f} s CPU  {ours[1]:6.2f} s wall  {ours[2]:7.1f} MiB peak  "
          f"({float(stored[0]):.3f} s stored, {int(stored[1]) / 1e6:.2f} MB)")
    print(f"  ffmpeg (libopus)  : {ref[0]:6.2f} s CPU  {ref[1]:6.2f} s wall  {ref[2]:7.1f} MiB peak")
    print(f"  CPU ratio sa-record / ffmpeg = {ours[0] / ref[0]:.2f}  (target <= 1.00)")
    print(f"  speed: {3600 / ours[1]:.0f}x real time")
    return mp3


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def psql(port, db, sql, *extra):
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db, "-At", "-v", "ON_ERROR_STOP=1",
                        "-c", sql, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: psql failed: {r.stderr}")
    return r.stdout.strip()


def make_recorder_db(mp3, out_dir, hours):
    """A recorder database with `hours` hours: one real hour imported, its rows repeated as
    further sections (same bytes, new ids), which is what a day of recording looks like."""
    import sqlite3
    template = os.path.join(WORK, "hour-opus", "day.sqlite")
    if not os.path.exists(template):
        os.makedirs(os.path.dirname(template), exist_ok=True)
        subprocess.run([os.path.join(BIN, "sa-record"), "--input", mp3, "--name", "day", "--output-dir",
                        os.path.dirname(template), "--min-free-mb", "0"], check=True, stdout=subprocess.DEVNULL)
        sqlite3.connect(template).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    shutil.copy(template, os.path.join(out_dir, "day.sqlite"))
    con = sqlite3.connect(os.path.join(out_dir, "day.sqlite"))
    (sid, start), = con.execute("SELECT id, start_timestamp_ms FROM sections").fetchall()
    n = con.execute("SELECT count(*) FROM segments").fetchone()[0]
    for h in range(1, hours):
        new_sid = sid + h * 3_600_000_000
        con.execute("INSERT INTO sections (id, start_timestamp_ms, is_open, end_timestamp_ms, finish_reason) "
                    "SELECT ?, start_timestamp_ms + ?, 0, end_timestamp_ms + ?, finish_reason FROM sections WHERE id = ?",
                    (new_sid, h * 3_600_000, h * 3_600_000, sid))
        con.execute("INSERT INTO segments (timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples) "
                    "SELECT timestamp_ms + ?, is_timestamp_from_source, audio_data, ?, duration_samples FROM segments "
                    "WHERE section_id = ? ORDER BY id", (h * 3_600_000, new_sid, sid))
    con.commit()
    total = con.execute("SELECT count(*), sum(length(audio_data)) FROM segments").fetchone()
    con.close()
    return total


def bench_pull(mp3):
    tmp = tempfile.mkdtemp(prefix="sa-bench-pull-")
    os.chmod(tmp, 0o755)  # the postgres user must reach its data directory
    pgdir = os.path.join(tmp, "pg")
    pgport = free_port()
    subprocess.run(["sh", os.path.join(ROOT, "scripts", "postgres.sh"), "start", pgdir, str(pgport)], check=True)
    serve = None
    try:
        results = {}
        # 24 hours twice (into two fresh databases): the figure is the better run, as the
        # floor's is the best of three, since the disk's write-back varies from run to run.
        for hours, prefix in ((6, "b6"), (24, "b24"), (24, "c24")):
            rec = os.path.join(tmp, f"rec{prefix}")
            os.makedirs(rec)
            count, size = make_recorder_db(mp3, rec, hours)
            port = free_port()
            with open(os.path.join(tmp, f"record{prefix}.toml"), "w") as f:
                f.write(f"config_type = 'record'\noutput_dir = '{rec}'\napi_port = {port}\n")
            serve = subprocess.Popen([os.path.join(BIN, "sa-serve"), "--config", os.path.join(tmp, f"record{prefix}.toml")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/mode", timeout=1)
                    break
                except Exception:
                    time.sleep(0.05)
            cfg = os.path.join(tmp, f"receiver{prefix}.toml")
            with open(cfg, "w") as f:
                f.write(f"config_type = 'receiver'\nremote_url = 'http://127.0.0.1:{port}'\n"
                        f"[database]\nurl = 'postgres://postgres@127.0.0.1:{pgport}'\nprefix = '{prefix}'\n")
            cpu, wall, rss = measure([os.path.join(BIN, "sa-pull"), "--config", cfg])
            serve.terminate()
            serve.wait()
            serve = None
            if hours not in results or wall < results[hours][2]:
                results[hours] = (count, size, wall, rss)
        # The floor: the same rows, from a binary COPY file, into a fresh database with the same schema.
        copyfile = os.path.join(tmp, "segments.bin")
        secfile = os.path.join(tmp, "sections.bin")
        psql(pgport, "save_audio_b24_day", f"\\copy segments TO '{copyfile}' (FORMAT binary)")
        psql(pgport, "save_audio_b24_day", f"\\copy sections TO '{secfile}' (FORMAT binary)")
        schema = subprocess.run(["pg_dump", "-h", "127.0.0.1", "-p", str(pgport), "-U", "postgres", "--schema-only",
                                 "save_audio_b24_day"], capture_output=True, text=True, check=True).stdout
        floors = []
        for i in range(3):
            psql(pgport, "postgres", f"CREATE DATABASE floor{i}")
            subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pgport), "-U", "postgres", "-d", f"floor{i}", "-q", "-v",
                            "ON_ERROR_STOP=1"], input=schema, capture_output=True, text=True, check=True)
            psql(pgport, f"floor{i}", f"\\copy sections FROM '{secfile}' (FORMAT binary)")
            floors.append(measure(["psql", "-h", "127.0.0.1", "-p", str(pgport), "-U", "postgres", "-d", f"floor{i}", "-q",
                                   "-c", f"\\copy segments FROM '{copyfile}' (FORMAT binary)"])[1])
        floor_wall = min(floors)
    finally:
        if serve:
            serve.terminate()
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "postgres.sh"), "stop", pgdir])
        shutil.rmtree(tmp, ignore_errors=True)
    count, size, wall, rss = results[24]
    print("pull: 24 audio-hours (16 kbit/s Opus, 10 s segments) sa-serve -> sa-pull -> fresh PostgreSQL")
    print(f"  {count} segments, {size / 1e6:.1f} MB of audio")
    print(f"  sa-pull           : {wall:6.2f} s  = {24 / wall:7.1f} audio-hours/s")
    print(f"  psql \\copy binary : {floor_wall:6.2f} s  = {24 / floor_wall:7.1f} audio-hours/s  (floor, best of three)")
    print(f"  ratio sa-pull / floor = {wall / floor_wall:.2f}  (target <= 1.30)")
    print(f"  sa-pull peak memory: {results[6][3]:.1f} MiB for 6 h, {rss:.1f} MiB for 24 h (must not grow with the backlog)")


def one_section_db(mp3, out_dir, hours):
    """A recorder database whose only section is `hours` long (the hour's segments repeated)."""
    import sqlite3
    make_recorder_db(mp3, out_dir, 1)
    db = os.path.join(out_dir, "day.sqlite")
    con = sqlite3.connect(db)
    (sid,), = con.execute("SELECT id FROM sections").fetchall()
    for h in range(1, hours):
        con.execute("INSERT INTO segments (timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples) "
                    "SELECT timestamp_ms + ?, 0, audio_data, section_id, 480000 FROM segments "
                    "WHERE section_id = ? AND id <= (SELECT min(id) + 359 FROM segments WHERE section_id = ?) ORDER BY id",
                    (h * 3_600_000, sid, sid))
    con.execute("UPDATE sections SET end_timestamp_ms = start_timestamp_ms + ?", (hours * 3_600_000,))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db, sid


def floor_export(db, path):
    """The floor of an export: read the same blobs in the same order and write the same number
    of bytes to a file, then fsync it (no framing, no hashing). Returns wall seconds."""
    import sqlite3
    start = time.time()
    con = sqlite3.connect(db)
    with open(path, "wb") as f:
        for (blob,) in con.execute("SELECT audio_data FROM segments ORDER BY id"):
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    con.close()
    return time.time() - start


def bench_export(mp3):
    tmp = tempfile.mkdtemp(prefix="sa-bench-export-")
    try:
        results = {}
        for hours in (1, 24):
            d = os.path.join(tmp, f"h{hours}")
            os.makedirs(d)
            db, sid = one_section_db(mp3, d, hours)
            out = os.path.join(d, "out")
            # Each figure is the best of three (the file system's write-back varies).
            runs = []
            for _ in range(3):
                shutil.rmtree(out, ignore_errors=True)
                runs.append(measure([os.path.join(BIN, "sa-export"), "--db", db, "--section", str(sid), "--output-dir", out]))
            cpu, wall, rss = min(runs, key=lambda r: r[1])
            ogg = next(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".ogg"))
            size = os.path.getsize(ogg)
            floor = min(floor_export(db, os.path.join(d, f"floor{i}.bin")) for i in range(3))
            copy = min(measure(["ffmpeg", "-v", "error", "-y", "-i", ogg, "-c", "copy", "-f", "ogg", os.path.join(d, f"copy{i}.ogg")])[1]
                       for i in range(3))
            results[hours] = (wall, rss, floor, copy, size)
            if hours == 24:
                # One hour cut from the middle of the day: only that hour's segments are read.
                import sqlite3
                (start,), = sqlite3.connect(db).execute("SELECT start_timestamp_ms FROM sections").fetchall()
                cuts = []
                for i in range(3):
                    shutil.rmtree(out, ignore_errors=True)
                    cuts.append(measure([os.path.join(BIN, "sa-export"), "--db", db, "--from", str(start + 12 * 3_600_000 + 250),
                                         "--to", str(start + 13 * 3_600_000 + 250), "--output-dir", out]))
                results["cut"] = min(cuts, key=lambda r: r[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall, rss, floor, copy, size = results[24]
    print("export: one 24-hour Opus section -> Ogg Opus file (best of three)")
    print(f"  sa-export              : {wall:6.2f} s  ({size / 1e6:.1f} MB written, framed as Ogg pages, SHA-256, fsynced)")
    print(f"  floor (read blobs, write the bytes, fsync): {floor:6.2f} s")
    print(f"  ffmpeg -c copy of the same Ogg file        : {copy:6.2f} s")
    print(f"  ratio sa-export / floor = {wall / floor:.2f}  (target <= 2.00)")
    print(f"  ratio sa-export / ffmpeg -c copy = {wall / copy:.2f}  (target < 1.00)")
    print(f"  sa-export peak memory: {results[1][1]:.1f} MiB for 1 h, {rss:.1f} MiB for 24 h (target < 50 MiB, flat)")
    cut = results["cut"][1]
    print("export of a time range: 12:00:00.250-13:00:00.250 of that 24-hour section (sample-exact cut, best of three)")
    print(f"  sa-export --from --to  : {cut:6.2f} s; a whole 1-hour section: {results[1][0]:6.2f} s; the whole day: {wall:6.2f} s")
    print(f"  ratio hour cut / whole day = {cut / wall:.2f}  (far below 1: only that hour's segments are read, plus the day's"
          " segment list)")


WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("SA_BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def run_wrk(url, paths_file, lua, seconds=30):
    env = dict(os.environ, SA_BENCH_PATHS=paths_file)
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", lua, url], capture_output=True, text=True, env=env).stdout
    rps = float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec")))
    errors = [l.strip() for l in out.splitlines() if "Non-2xx" in l or "Socket errors" in l]
    return rps, errors


def bench_serve(mp3):
    tmp = tempfile.mkdtemp(prefix="sa-bench-serve-")
    os.chmod(tmp, 0o755)
    serve = nginx = None
    try:
        db, sid = one_section_db(mp3, tmp, 1)
        port = free_port()
        serve = subprocess.Popen([os.path.join(BIN, "sa-serve"), "--db", db, "--port", str(port)], cwd=tmp,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/api/mode", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        prefix = f"/show/day/session/{sid}/"
        playlist = urllib.request.urlopen(base + prefix + "playlist.m3u8").read().decode()
        paths = [prefix + l for l in playlist.splitlines() if l.startswith("segment/")]
        static = os.path.join(tmp, "static")
        for p in paths:
            os.makedirs(os.path.dirname(static + p), exist_ok=True)
            with open(static + p, "wb") as f:
                f.write(urllib.request.urlopen(base + p).read())
        subprocess.run(["chmod", "-R", "a+rX", static], check=True)
        paths_file = os.path.join(tmp, "paths.txt")
        open(paths_file, "w").write("\n".join(paths) + "\n")
        lua = os.path.join(tmp, "paths.lua")
        open(lua, "w").write(WRK_LUA)
        nport = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        open(conf, "w").write(f"""worker_processes 2; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;
events {{ worker_connections 256; }}
http {{ access_log off; sendfile on; types {{ audio/mp4 m4s; }}
  client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc; uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
  server {{ listen 127.0.0.1:{nport}; root {static}; }} }}
""")
        nginx = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        ours, our_errors = run_wrk(base, paths_file, lua)
        ref, ref_errors = run_wrk(f"http://127.0.0.1:{nport}", paths_file, lua)
    finally:
        for p in (serve, nginx):
            if p:
                p.terminate()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"serve: wrk -t2 -c16 -d30s over the {len(paths)} .m4s segments of a 1-hour Opus session")
    print(f"  sa-serve (fMP4 from SQLite) : {ours:9.0f} requests/s  errors: {our_errors or 'none'}")
    print(f"  nginx (same files on disk)  : {ref:9.0f} requests/s  errors: {ref_errors or 'none'}")
    print(f"  ratio sa-serve / nginx = {ours / ref:.2f}")


def main():
    os.makedirs(WORK, exist_ok=True)
    only = set(sys.argv[2:])
    mp3 = None
    if not only or "import" in only:
        mp3 = bench_import()
    if not only or "pull" in only:
        mp3 = mp3 or os.path.join(WORK, "hour.mp3")
        if not os.path.exists(mp3):
            mp3 = bench_import()
        bench_pull(mp3)
    if not only or "export" in only:
        mp3 = mp3 or os.path.join(WORK, "hour.mp3")
        if not os.path.exists(mp3):
            mp3 = bench_import()
        bench_export(mp3)
    if not only or "load" in only:
        mp3 = mp3 or os.path.join(WORK, "hour.mp3")
        if not os.path.exists(mp3):
            mp3 = bench_import()
        from bench_load import bench_complexity, bench_load
        bench_complexity(BIN, WORK)
        bench_load(BIN, ROOT, mp3)
    if not only or "serve" in only:
        mp3 = mp3 or os.path.join(WORK, "hour.mp3")
        if not os.path.exists(mp3):
            mp3 = bench_import()
        bench_serve(mp3)


if __name__ == "__main__":
    main()
