"""Many stations in one recorder: one `sa-record --config` with N sessions from a local Icecast
(four mounts), measured in steady state, beside the codec floor (the same decode and encode
done by ffmpeg for one stream, times N). Checks what must hold at any load: every stream has
one section, no reconnect, every segment, and none committed late; and, at 100 streams, that
sa-serve answers 10 receivers pulling at once without the recorder falling behind, every
segment arriving on every receiver."""
import glob
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MOUNTS = ["/load1.mp3", "/load2.mp3", "/load3.mp3", "/load4.mp3"]
SPLIT = 10
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """CPU seconds (user + system) of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class SegmentClock(threading.Thread):
    """Reads sa-record's JSON lines and notes, per segment, how long after its audio ended it
    was committed (the line is written right after the commit)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.delays = []
        self.errors = []

    def run(self):
        import json
        for line in self.stream:
            now = time.time()
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("type") == "segment":
                end = (rec["timestamp_ms"] + rec["duration_ms"]) / 1000
                self.delays.append(now - end)
            elif rec.get("type") == "error":
                self.errors.append(rec)


def codec_floor(bin_dir, mp3, seconds=120):
    """ffmpeg's CPU for one stream-second of the same work: decode 128 kbit/s MP3, downmix,
    resample to 48 kHz, libopus VOIP at the recorder's defaults (complexity 5, wideband)."""
    from bench import measure
    tmp = tempfile.mkdtemp(prefix="sa-bench-floor-")
    try:
        cpu, _, _ = measure(["ffmpeg", "-y", "-v", "error", "-t", str(seconds), "-i", mp3, "-ac", "1", "-ar", "48000",
                             "-c:a", "libopus", "-b:a", "16k", "-application", "voip", "-compression_level", "5", "-cutoff", "8000",
                             os.path.join(tmp, "floor.ogg")])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cpu / seconds


def run_load(bin_dir, root, mp3, streams, measure_seconds, with_receivers, saturated=False):
    """`saturated`: the codec work alone needs more than this machine has, so segments are
    committed late (the backlog waits in the socket buffers); what must still hold is that
    nothing is lost."""
    from bench import free_port
    tmp = tempfile.mkdtemp(prefix=f"sa-bench-load{streams}-")
    os.chmod(tmp, 0o755)
    ice_dir = os.path.join(tmp, "icecast")
    ice_port = free_port()
    env = dict(os.environ, SA_ICECAST_CLIENTS=str(streams + 50))
    subprocess.run(["sh", os.path.join(root, "scripts", "icecast.sh"), "start", ice_dir, str(ice_port)], check=True, env=env)
    sources = []
    rec = serve = None
    try:
        for m in MOUNTS:
            # Copying an already encoded file costs the source next to nothing.
            sources.append(subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", mp3, "-c:a", "copy",
                                             "-content_type", "audio/mpeg", "-f", "mp3",
                                             f"icecast://source:sourcepw@127.0.0.1:{ice_port}{m}"],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(5)  # the server's queue fills past one burst
        api_port = free_port()
        start = time.strftime("%H:%M:%S", time.gmtime(time.time() - 3600))
        end = time.strftime("%H:%M:%S", time.gmtime(time.time() + 3 * 3600))
        cfg = os.path.join(tmp, "record.toml")
        with open(cfg, "w") as f:
            f.write(f"config_type = 'record'\noutput_dir = 'rec'\napi_port = {api_port}\nmin_free_mb = 0\n")
            for i in range(streams):
                f.write(f"[[sessions]]\nname = 's{i:03d}'\nurl = 'http://127.0.0.1:{ice_port}{MOUNTS[i % len(MOUNTS)]}'\n"
                        f"split_interval = {SPLIT}\n[sessions.schedule]\nrecord_start = '{start}'\nrecord_end = '{end}'\n")
        rec = subprocess.Popen([os.path.join(bin_dir, "sa-record"), "--config", cfg], stdout=subprocess.PIPE,
                               stderr=open(os.path.join(tmp, "record.log"), "w"), text=True)
        clock = SegmentClock(rec.stdout)
        clock.start()
        warm = 25  # connections, the first segments, anchors settled
        time.sleep(warm)
        c0, t0, n0 = proc_cpu(rec.pid), time.time(), len(clock.delays)
        time.sleep(measure_seconds)
        c1, t1 = proc_cpu(rec.pid), time.time()
        share = (c1 - c0) / (t1 - t0) / os.cpu_count()
        delays_steady = clock.delays[n0:]

        pulls = None
        if with_receivers:
            serve = subprocess.Popen([os.path.join(bin_dir, "sa-serve"), "--config", cfg],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/mode", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            pulls = ten_receivers(bin_dir, tmp, api_port, seconds=60)
        hwm = proc_hwm(rec.pid)
        rec.send_signal(signal.SIGTERM)
        rec.wait(60)
        clock.join(10)
        problems = check_databases(os.path.join(tmp, "rec"), streams)
        if clock.errors:
            problems.append(f"{len(clock.errors)} error records, first: {clock.errors[0]}")
        late = [d for d in clock.delays if d > 3.0]
        if late and not saturated:
            problems.append(f"{len(late)} segments committed more than 3 s after their audio ended (worst {max(late):.1f} s)")
        if pulls is not None:
            problems += final_pulls(bin_dir, tmp, api_port, pulls)
        if late and saturated:
            problems_note = f"saturated: worst commit delay {max(late):.1f} s"
        else:
            problems_note = None
        return {"note": problems_note, "streams": streams, "share": share, "hwm": hwm, "seconds": t1 - t0, "problems": problems,
                "segments": len(clock.delays), "p99_delay": percentile(delays_steady, 99), "pulls": pulls}
    finally:
        for p in (rec, serve):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        for s in sources:
            s.terminate()
            s.wait(10)
        subprocess.run(["sh", os.path.join(root, "scripts", "icecast.sh"), "stop", ice_dir])
        shutil.rmtree(tmp, ignore_errors=True)


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def check_databases(out_dir, streams):
    """One section per stream, closed by the stop, with contiguous segments whose audio adds
    up to the section's span: no reconnect, nothing lost."""
    problems = []
    dbs = sorted(glob.glob(os.path.join(out_dir, "s*.sqlite")))
    if len(dbs) != streams:
        problems.append(f"{len(dbs)} databases for {streams} streams")
    for db in dbs:
        con = sqlite3.connect(db)
        sections = con.execute("SELECT id, finish_reason, start_timestamp_ms, end_timestamp_ms FROM sections").fetchall()
        ids = [r[0] for r in con.execute("SELECT id FROM segments ORDER BY id")]
        samples = con.execute("SELECT coalesce(sum(duration_samples), 0) FROM segments").fetchone()[0]
        con.close()
        name = os.path.basename(db)
        if len(sections) != 1:
            problems.append(f"{name}: {len(sections)} sections (a reconnect)")
            continue
        _, reason, start, end = sections[0]
        if reason != "signal":
            problems.append(f"{name}: section ended by {reason}")
        if ids != list(range(ids[0], ids[0] + len(ids))) if ids else True:
            problems.append(f"{name}: segment ids not contiguous or none")
        if end is not None and abs((end - start) - samples / 48) > 1000:
            problems.append(f"{name}: {samples / 48000:.1f} s of audio in a {(end - start) / 1000:.1f} s section")
    return problems


def ten_receivers(bin_dir, tmp, api_port, seconds):
    """Ten receivers (SQLite stores) pulling every show in a loop for `seconds`."""
    stop = time.time() + seconds
    counts = [0] * 10
    failures = []

    def loop(i):
        cfg = os.path.join(tmp, f"receiver{i}.toml")
        with open(cfg, "w") as f:
            f.write(f"config_type = 'receiver'\nremote_url = 'http://127.0.0.1:{api_port}'\n[database]\n"
                    f"url = 'sqlite:{tmp}/store{i}'\nprefix = 'r{i}'\n")
        while time.time() < stop:
            r = subprocess.run([os.path.join(bin_dir, "sa-pull"), "--config", cfg], capture_output=True, text=True)
            counts[i] += 1
            if r.returncode != 0:
                failures.append(r.stderr.strip().splitlines()[-1:] or [f"exit {r.returncode}"])
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"passes": sum(counts), "failures": failures}


def final_pulls(bin_dir, tmp, api_port, pulls):
    """After the recorder stopped: one more pass each, then every receiver holds every segment."""
    problems = [f"pull failed during the load: {f}" for f in pulls["failures"][:3]]
    for i in range(10):
        r = subprocess.run([os.path.join(bin_dir, "sa-pull"), "--config", os.path.join(tmp, f"receiver{i}.toml")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"receiver {i}: final pull failed: {r.stderr.strip()[-200:]}")
    for db in sorted(glob.glob(os.path.join(tmp, "rec", "s*.sqlite"))):
        show = os.path.basename(db)[:-len(".sqlite")]
        con = sqlite3.connect(db)
        want = con.execute("SELECT count(*), coalesce(sum(length(audio_data)), 0) FROM segments").fetchone()
        con.close()
        for i in range(10):
            path = os.path.join(tmp, f"store{i}", f"save_audio_r{i}_{show}.sqlite")
            if not os.path.exists(path):
                problems.append(f"receiver {i} has no database for {show}")
                continue
            con = sqlite3.connect(path)
            got = con.execute("SELECT count(*), coalesce(sum(length(audio_data)), 0) FROM segments").fetchone()
            con.close()
            if got != want:
                problems.append(f"receiver {i}, {show}: {got[0]} segments / {got[1]} bytes, the recorder has {want[0]} / {want[1]}")
    return problems


def bench_load(bin_dir, root, mp3):
    floor = codec_floor(bin_dir, mp3)
    rows = []
    cores = os.cpu_count()
    for streams, seconds, receivers in ((100, 120, True), (200, 60, False), (300, 60, False)):
        print(f"bench: {streams} streams for {seconds} s ...", file=sys.stderr)
        saturated = floor * streams / cores > 0.9
        rows.append(run_load(bin_dir, root, mp3, streams, seconds, receivers, saturated))
    print(f"load: one sa-record --config, N sessions of 128 kbit/s MP3 from a local Icecast -> Opus 16 kbit/s "
          f"(default complexity), {cores} cores")
    print("  streams  CPU share of machine  per stream  codec floor (ffmpeg x N)  ratio  peak RSS   commit delay p99")
    for r in rows:
        per = r["share"] * cores / r["streams"]
        floor_share = floor * r["streams"] / cores
        print(f"  {r['streams']:7d}  {r['share'] * 100:18.1f} %  {per * 100:8.2f} %  {floor_share * 100:21.1f} %  "
              f"{r['share'] / floor_share:5.2f}  {r['hwm']:6.0f} MiB  {r['p99_delay']:10.2f} s")
    first = rows[0]
    print(f"  target: 100 streams < 50 % of the machine ({'met' if first['share'] < 0.5 else 'NOT met'}), "
          f"RSS < 300 MiB ({'met' if first['hwm'] < 300 else 'NOT met'}); cost per stream "
          f"{rows[0]['share'] / rows[0]['streams'] * 1e4:.2f} / {rows[1]['share'] / rows[1]['streams'] * 1e4:.2f} / "
          f"{rows[2]['share'] / rows[2]['streams'] * 1e4:.2f} (x1e-4 of the machine at 100/200/300)")
    for r in rows:
        if r["note"]:
            print(f"  {r['streams']} streams: the codec work alone needs {floor * r['streams'] / cores * 100:.0f} % of this machine; "
                  f"{r['note']} (nothing lost; the machine's capacity is about {int(0.9 * cores / floor)} streams)")
    if first["pulls"] is not None:
        print(f"  with 10 receivers pulling at once (100 streams, 60 s): {first['pulls']['passes']} sa-pull passes")
    failed = False
    for r in rows:
        for p in r["problems"][:10]:
            print(f"  PROBLEM at {r['streams']} streams: {p}")
            failed = True
    if failed:
        sys.exit("bench: the load run lost or delayed audio")
    print("  every stream: one section, no reconnect, every segment; every receiver: every segment")


def speech_mp3(work):
    """About six minutes of synthetic speech (espeak-ng) as 128 kbit/s 44.1 kHz stereo MP3, and
    the same speech at 16 kHz mono as the reference for PESQ."""
    import random
    mp3, ref = os.path.join(work, "speech.mp3"), os.path.join(work, "speech16.wav")
    if os.path.exists(mp3) and os.path.exists(ref):
        return mp3, ref
    rng = random.Random(3)
    words = ("the morning news from the city council meeting about traffic weather and the football results of "
             "last night with an interview about local music festivals and the long summer ahead").split()
    text = os.path.join(work, "speech.txt")
    with open(text, "w") as f:
        f.write(" ".join(rng.choice(words) for _ in range(1200)))
    wav = os.path.join(work, "speech.wav")
    subprocess.run(["espeak-ng", "-f", text, "-w", wav, "-s", "160"], check=True)
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", wav, "-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", mp3],
                   check=True)
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", wav, "-ar", "16000", "-ac", "1", ref], check=True)
    return mp3, ref


def pesq_wb(ref_wav, ogg):
    """Mean PESQ (ITU-T P.862.2, wideband) over 8 s excerpts every 30 s."""
    import wave
    import numpy as np
    from pesq import pesq
    dec = ogg + ".16k.wav"
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", ogg, "-ar", "16000", "-ac", "1", dec], check=True)

    def read(p):
        with wave.open(p) as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
    a, b = read(ref_wav), read(dec)
    n = min(len(a), len(b))
    scores = [pesq(16000, a[i:i + 128000], b[i:i + 128000], "wb") for i in range(0, n - 128000, 480000)]
    return float(np.mean(scores))


def bench_complexity(bin_dir, work):
    from bench import measure
    mp3, ref = speech_mp3(work)
    tmp = tempfile.mkdtemp(prefix="sa-bench-cx-")
    rows = []
    try:
        seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", mp3],
                                       capture_output=True, text=True, check=True).stdout)
        for c in (3, 5, 6, 8, 10):
            out = os.path.join(tmp, f"c{c}")
            os.makedirs(out)
            cpu, _, _ = measure([os.path.join(bin_dir, "sa-record"), "--input", mp3, "--name", "speech", "--output-dir", out,
                                 "--min-free-mb", "0", "--opus-complexity", str(c)])
            sid = subprocess.run(["sqlite3", os.path.join(out, "speech.sqlite"), "SELECT id FROM sections"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            subprocess.run([os.path.join(bin_dir, "sa-export"), "--db", os.path.join(out, "speech.sqlite"), "--section", sid,
                            "--output-dir", out], check=True, stdout=subprocess.DEVNULL)
            ogg = glob.glob(os.path.join(out, "speech_*.ogg"))[0]
            rows.append((f"sa-record, opus_complexity {c}" + (" (default)" if c == 5 else ""), cpu, pesq_wb(ref, ogg)))
        # The reference: libopus as the original recorder used it (complexity 10, bandwidth left
        # to the encoder), through ffmpeg.
        ogg = os.path.join(tmp, "ffmpeg.ogg")
        cpu, _, _ = measure(["ffmpeg", "-y", "-v", "error", "-i", mp3, "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "16k",
                             "-application", "voip", "-compression_level", "10", ogg])
        rows.append(("ffmpeg libopus, complexity 10, auto bandwidth", cpu, pesq_wb(ref, ogg)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"opus_complexity: {seconds:.0f} s of synthetic speech (espeak-ng), 128 kbit/s MP3 -> Opus 16 kbit/s")
    print("  encoder                                          CPU s  per stream-hour  PESQ-WB (1-4.64)")
    for name, cpu, score in rows:
        print(f"  {name:47s} {cpu:6.2f}  {cpu / seconds * 3600:10.1f} s  {score:8.2f}")
