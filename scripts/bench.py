"""Benchmarks for save_audio_stream, each beside a reference run in the same command.

1. Import one hour of 128 kbit/s 44.1 kHz stereo MP3 into Opus 16 kbit/s with sa-record, and
   the same transcode with ffmpeg (libopus, VOIP): CPU seconds, ratio, peak memory.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

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


def main():
    os.makedirs(WORK, exist_ok=True)
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
        ref = measure(["ffmpeg", "-y", "-v", "error", "-i", mp3, "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                       "-b:a", "16k", "-application", "voip", os.path.join(tmp, "ref.ogg")])
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


if __name__ == "__main__":
    main()
