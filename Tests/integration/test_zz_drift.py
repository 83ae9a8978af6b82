"""A ten-minute live recording does not drift from wall time. The recording starts with the
test session (conftest's drift_run) and this file runs last, so the ten minutes overlap the
other tests."""
from conftest import DRIFT_SECONDS


def test_a_ten_minute_run_keeps_to_wall_time(drift_run):
    rc, err = drift_run.finish()
    assert rc == 0, err
    segments = [(t, r) for t, r in drift_run.lines if r["type"] == "segment"]
    finished = [r for _, r in drift_run.lines if r["type"] == "section_finished"]
    assert len(finished) == 1, "a reconnect split the run: " + err
    audio = sum(r["duration_ms"] for _, r in segments) / 1000
    assert audio > DRIFT_SECONDS - 10, audio

    # How late each segment was committed after its audio ended. Processing delays come and go
    # (the rest of the suite shares the machine), so compare the least lateness of the first
    # and the last two minutes: a clock or sample-count drift moves it, a busy moment does not.
    lateness = [(t, t - (r["timestamp_ms"] + r["duration_ms"]) / 1000) for t, r in segments]
    t0, t1 = lateness[0][0], lateness[-1][0]
    first = min(l for t, l in lateness if t < t0 + min(120, DRIFT_SECONDS / 5))
    last = min(l for t, l in lateness if t > t1 - min(120, DRIFT_SECONDS / 5))
    assert first >= -0.05, f"audio dated {-first:.3f} s after it arrived"
    assert abs(last - first) < 0.1, f"drift over {t1 - t0:.0f} s: {1000 * (last - first):+.0f} ms"

    # And the section ends where receiving stopped.
    f = finished[0]
    end = (f["start_timestamp_ms"] + f["duration_ms"]) / 1000
    assert end <= drift_run.lines[-1][0] + 0.05
