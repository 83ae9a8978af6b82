"""sa-pull against sa-serve through a fault-injecting proxy: a slow, capped, stalled, cut, reset or
bit-flipping link. Whatever the fault, a run ends by itself (a hang is a failure), with exit 0 or
a status sa-pull(1) documents and an `error` record; and the next run over a clean link converges
to exactly the recorder's data (every segment once, the same bytes, the same sections)."""
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest

from audiotools import jsonlines
from conftest import Recorder, bin_path, make_tone
from faultproxy import FaultProxy

SHOW = "radio"
# sa-pull gives up on its own after 10 s without a connection or 60 s without a byte; a run
# still going well past that is hung.
FAULT_RUN_TIMEOUT = 150
CLEAN_RUN_TIMEOUT = 60
# sa-pull(1) EXIT STATUS for one pass without --keep-going: done, damaged body, unreachable.
DOCUMENTED = {0: None, 65: {"corrupt", "mismatch"}, 69: {"unavailable", "bad_response"}}


class Layout:
    """Where each answer of a clean pass starts on the (single, kept-alive) connection, so a
    fault can be aimed at a header, a JSON document or a segment body."""

    def __init__(self, wire):
        self.wire = bytes(wire)
        self.answers = []
        for m in re.finditer(rb"HTTP/1\.1 \d\d\d ", self.wire):
            head_end = self.wire.index(b"\r\n\r\n", m.start()) + 4
            head = self.wire[m.start():head_end].decode("latin-1")
            ctype = re.search(r"(?i)content-type: ([^\r;]+)", head).group(1)
            length = int(re.search(r"(?i)content-length: (\d+)", head).group(1))
            self.answers.append({"start": m.start(), "body": head_end, "end": head_end + length, "type": ctype,
                                 "head": head})
        assert self.answers and self.answers[-1]["end"] == len(self.wire), "unexpected framing on the wire"

    def json(self, n):
        return [a for a in self.answers if a["type"] == "application/json"][n]

    def segments(self, n):
        return [a for a in self.answers if a["type"] == "application/x-segment-stream"][n]

    def find(self, answer, needle, skip=0):
        """Offset of the first byte after `needle` in that answer's body (+ skip)."""
        i = self.wire.index(needle, answer["body"], answer["end"])
        return i + len(needle) + skip

    def header_value(self, answer, name):
        i = self.wire.index(name.encode() + b": ", answer["start"], answer["body"])
        return i + len(name) + 2


@pytest.fixture(scope="module")
def source(tmp_path_factory, media_dir):
    """A recorder database with two finished sections (10 segments) served by sa-serve, and
    the layout of a clean pass with chunk_size 2 (shows, metadata, sections, 5 segment answers, titles)."""
    base = tmp_path_factory.mktemp("faults")
    rec = Recorder(str(base / "recorder"))
    rec.record_file(SHOW, make_tone(os.path.join(media_dir, "faults_a.mp3"), 50, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=310))
    rec.record_file(SHOW, make_tone(os.path.join(media_dir, "faults_b.mp3"), 30, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=520))
    rec.start()
    try:
        with FaultProxy("127.0.0.1", rec.port, capture=True) as p:
            cfg = write_config(base, p, f"sqlite:{base / 'probe'}", "probe")
            r = subprocess.run([bin_path("sa-pull"), "--config", cfg], capture_output=True, text=True, timeout=CLEAN_RUN_TIMEOUT)
            assert r.returncode == 0, r.stderr
            assert p.connections == 1, "sa-pull no longer keeps one connection for a pass; the offsets below assume it"
            rec.layout = Layout(p.captured[0])
        assert len(rec.layout.answers) == 9, [a["head"].splitlines()[0] for a in rec.layout.answers]
        yield rec
    finally:
        rec.stop()


def write_config(base, link, db_url, prefix, chunk_size=2):
    path = os.path.join(str(base), f"receiver-{prefix}.toml")
    with open(path, "w") as f:
        f.write(f"config_type = 'receiver'\nremote_url = '{link.url}'\nchunk_size = {chunk_size}\n"
                f"[database]\nurl = '{db_url}'\nprefix = '{prefix}'\n")
    return path


@pytest.fixture
def link(source):
    p = FaultProxy("127.0.0.1", source.port).start()
    yield p
    p.stop()


class Receiver:
    """One receiver store (its own PostgreSQL database or SQLite directory) pulling through `link`."""
    made = 0

    def __init__(self, tmp_path, source, link, postgres=None):
        self.pg = postgres
        if postgres:
            Receiver.made += 1
            self.prefix = f"f{os.getpid()}x{Receiver.made}"  # a database of its own on the shared server
            url = postgres.url
        else:
            self.prefix = "lite"
            url = f"sqlite:{tmp_path / 'store'}"
            self.dir = tmp_path / "store"
        self.cfg = write_config(tmp_path, link, url, self.prefix)
        self.dbname = f"save_audio_{self.prefix}_{SHOW}"

    def pull(self, timeout):
        try:
            return subprocess.run([bin_path("sa-pull"), "--config", self.cfg], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"sa-pull hung: no end after {timeout} s; stderr so far: {e.stderr!r}")

    def start(self):
        return subprocess.Popen([bin_path("sa-pull"), "--config", self.cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def query(self, sql):
        if self.pg:
            if not self.pg.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{self.dbname}'"):
                return None
            return [tuple(row) for row in self.pg.psql(self.dbname, sql)]
        path = self.dir / f"{self.dbname}.sqlite"
        if not path.exists():
            return None
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [tuple("" if v is None else str(v) for v in row) for row in con.execute(sql)]
        finally:
            con.close()

    def last_synced(self):
        rows = self.query("SELECT value FROM metadata WHERE key = 'last_synced_id'")
        return int(rows[0][0]) if rows else 0

    def state(self):
        """The receiver's side of `recorder_state` (for PostgreSQL in one round trip)."""
        if not self.pg:
            con = sqlite3.connect(f"file:{self.dir / (self.dbname + '.sqlite')}?mode=ro", uri=True)
            try:
                return store_state(con, receiver=True)
            finally:
                con.close()
        doc = self.pg.psql(self.dbname, """SELECT json_build_object(
            'sums', (SELECT json_object_agg(section_id, h) FROM (SELECT section_id,
                     encode(sha256(string_agg(audio_data, ''::bytea ORDER BY id)), 'hex') AS h FROM segments GROUP BY section_id) s),
            'segments', (SELECT json_agg(json_build_array(id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples)
                         ORDER BY id) FROM segments),
            'duplicated', (SELECT json_agg(id) FROM (SELECT id FROM segments GROUP BY id HAVING count(*) > 1) d),
            'sections', (SELECT json_agg(json_build_array(id, start_timestamp_ms, end_timestamp_ms) ORDER BY id) FROM sections),
            'meta', (SELECT json_object_agg(key, value) FROM metadata))""")[0][0]
        doc = json.loads(doc)
        return {
            "audio_sha256_by_section": {int(k): v for k, v in (doc["sums"] or {}).items()},
            "segments": [tuple(r) for r in doc["segments"] or []],
            "duplicated_ids": doc["duplicated"] or [],
            "sections": [tuple(r) for r in doc["sections"] or []],
            "meta": {k: v for k, v in doc["meta"].items() if k in META_KEYS},
        }


def section_sums(con):
    out = {}
    for sid, in con.execute("SELECT DISTINCT section_id FROM segments ORDER BY section_id").fetchall():
        h = hashlib.sha256()
        for blob, in con.execute("SELECT audio_data FROM segments WHERE section_id = ? ORDER BY id", (sid,)):
            h.update(blob)
        out[sid] = h.hexdigest()
    return out


META_KEYS = ("source_unique_id", "audio_format", "bitrate", "last_synced_id", "is_recipient")


def store_state(con, receiver):
    """Per-section SHA-256 of the audio in id order, every segment's fields, duplicated ids,
    the sections' times and the metadata a receiver must have taken over."""
    meta = dict(con.execute("SELECT key, value FROM metadata"))
    if not receiver:  # what a receiver of this recorder must hold
        meta = {"source_unique_id": meta["unique_id"], "audio_format": meta["audio_format"], "bitrate": meta["bitrate"],
                "last_synced_id": str(con.execute("SELECT max(id) FROM segments").fetchone()[0]), "is_recipient": "true"}
    return {
        "audio_sha256_by_section": section_sums(con),
        "segments": con.execute("SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples "
                                "FROM segments ORDER BY id").fetchall(),
        "duplicated_ids": [i for i, in con.execute("SELECT id FROM segments GROUP BY id HAVING count(*) > 1")],
        "sections": con.execute("SELECT id, start_timestamp_ms, end_timestamp_ms FROM sections ORDER BY id").fetchall(),
        "meta": {k: v for k, v in meta.items() if k in META_KEYS},
    }


def recorder_state(source):
    con = sqlite3.connect(f"file:{source.db(SHOW)}?mode=ro", uri=True)
    try:
        return store_state(con, receiver=False)
    finally:
        con.close()


def check_ending(r):
    """A faulty run ends with 0 or a documented status, and says why on stdout and stderr."""
    assert r.returncode >= 0, f"sa-pull died of signal {-r.returncode}: {r.stderr}"
    assert r.returncode in DOCUMENTED, f"exit {r.returncode} is not in sa-pull(1) for a damaged link: {r.stderr}"
    records = jsonlines(r.stdout)  # stdout is JSON lines only, whatever happened
    errors = [x for x in records if x["type"] == "error"]
    if r.returncode == 0:
        assert errors == [] and [x["status"] for x in records if x["type"] == "show_synced"] in (["synced"], ["up_to_date"])
    else:
        assert len(errors) == 1 and errors[0]["code"] in DOCUMENTED[r.returncode], r.stdout
        assert errors[0].get("show") in (None, SHOW) and errors[0]["message"]  # no show yet if the list failed
        assert r.stderr.strip(), "a failure is also told on stderr"
        assert not any(x["type"] == "show_synced" for x in records)
    return records


def converge(recv, link, source):
    """With the link repaired, one more run completes and the receiver holds exactly what the
    recorder holds."""
    link.clear()
    r = recv.pull(CLEAN_RUN_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert not [x for x in jsonlines(r.stdout) if x["type"] == "error"]
    assert recv.state() == recorder_state(source)
    return r


# Which cases pull into PostgreSQL (by test name, or parameter id); the others pull into a SQLite
# store: sa-pull's network side is the same for both, and each new PostgreSQL database costs a
# CREATE DATABASE (and checkpoint work when the server stops).
ON_POSTGRES = {"test_latency_only_slows_the_pass", "test_bandwidth_cap_only_slows_the_pass",
               "test_stall_then_resume_completes_in_the_same_run", "reset-mid-second-segment-answer",
               "close-mid-second-segment-answer", "segment-audio", "metadata-unique-id"}


@pytest.fixture
def receiver(request, tmp_path, source, link):
    case = request.node.callspec.id if hasattr(request.node, "callspec") else request.node.originalname
    pg = request.getfixturevalue("postgres") if case in ON_POSTGRES else None
    return Receiver(tmp_path, source, link, pg)


# --- a slow link: no failure at all ---------------------------------------------------------------


def test_latency_only_slows_the_pass(receiver, link, source):
    link.latency(60)  # 120 ms per round trip, 9 requests
    t = time.monotonic()
    r = receiver.pull(FAULT_RUN_TIMEOUT)
    took = time.monotonic() - t
    assert check_ending(r) and r.returncode == 0, r.stderr
    assert took >= 9 * 0.12, took  # the latency was really there
    assert receiver.state() == recorder_state(source)
    converge(receiver, link, source)  # and a second run is up to date


def test_bandwidth_cap_only_slows_the_pass(receiver, link, source):
    link.bandwidth(120_000)
    t = time.monotonic()
    r = receiver.pull(FAULT_RUN_TIMEOUT)
    took = time.monotonic() - t
    assert check_ending(r) and r.returncode == 0, r.stderr
    assert took >= len(source.layout.wire) / 120_000 * 0.8, took
    assert receiver.state() == recorder_state(source)


# --- cuts: reset or clean close after N bytes ------------------------------------------------------


def cut_points(layout):
    return {
        "in-first-status-line": 5,
        "in-metadata-body": layout.json(1)["body"] + 30,
        "in-sections-body": layout.json(2)["body"] + 50,
        "in-first-segment-header": layout.segments(0)["body"] + 20,
        "mid-second-segment-answer": layout.segments(1)["body"] + 20_000,
        "between-segment-answers": layout.segments(2)["start"],
        "in-titles-answer": layout.json(3)["body"] + 1,
    }


@pytest.mark.parametrize("where", ["in-first-status-line", "in-metadata-body", "in-sections-body", "in-first-segment-header",
                                   "mid-second-segment-answer", "between-segment-answers", "in-titles-answer"])
@pytest.mark.parametrize("how", ["reset", "close"])
def test_cut_connection(receiver, link, source, how, where):
    at = cut_points(source.layout)[where]
    (link.reset_after if how == "reset" else link.close_after)(at)
    r = receiver.pull(FAULT_RUN_TIMEOUT)
    check_ending(r)
    assert link.resets + link.closes >= 1, "the cut did not happen"
    if where == "mid-second-segment-answer":
        # What was committed before the cut stays: the first chunk (ids 1-2) is kept, the next
        # run resumes from there.
        assert r.returncode == 69 and receiver.last_synced() == 2
    converge(receiver, link, source)


# --- one flipped bit ------------------------------------------------------------------------------


def flip_points(layout):
    seg0, seg1 = layout.segments(0), layout.segments(1)
    meta, sections = layout.json(1), layout.json(2)
    return {
        "status-code": seg0["start"] + len("HTTP/1.1 "),
        "content-length": layout.header_value(seg0, "Content-Length"),
        "content-type": layout.header_value(seg0, "Content-Type"),
        "shows-json": layout.json(0)["body"] + 3,
        "metadata-unique-id": layout.find(meta, b'"unique_id":"', skip=5),
        "metadata-max-id": layout.find(meta, b'"max_id":'),
        "sections-start-time": layout.find(sections, b'"start_timestamp_ms":', skip=10),
        "sections-end-time": layout.find(sections, b'"end_timestamp_ms":', skip=10),
        "segment-record-id": seg0["body"] + 12,
        "segment-timestamp": seg1["body"] + 12 + 8 + 3,
        "segment-audio": seg1["body"] + 10_000,
        "segment-checksum": seg1["end"] - 2,
        "titles-json": layout.json(3)["body"],
    }


@pytest.mark.parametrize("where", ["status-code", "content-length", "content-type", "shows-json", "metadata-unique-id",
                                   "metadata-max-id", "sections-start-time", "sections-end-time", "segment-record-id",
                                   "segment-timestamp", "segment-audio", "segment-checksum", "titles-json"])
def test_flipped_bit(receiver, link, source, where):
    link.flip_byte(flip_points(source.layout)[where])
    r = receiver.pull(FAULT_RUN_TIMEOUT)
    check_ending(r)
    assert link.flips >= 1, "the flip did not happen"
    if where.startswith("segment-"):
        # The segment stream's checksum catches it: nothing of the damaged answer is stored.
        assert r.returncode == 65 and jsonlines(r.stdout)[-1]["code"] == "corrupt"
        assert receiver.last_synced() == (0 if where == "segment-record-id" else 2)
    converge(receiver, link, source)


# --- stalls ---------------------------------------------------------------------------------------


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_stall_then_resume_completes_in_the_same_run(receiver, link, source):
    link.bandwidth(60_000)
    p = receiver.start()
    try:
        wait_for(lambda: link.bytes_down > source.layout.segments(1)["body"] + 5_000, 20, "the transfer did not start")
        link.stall()
        time.sleep(0.2)
        frozen = link.bytes_down
        time.sleep(2)
        assert p.poll() is None and link.bytes_down == frozen  # held, and waiting
        link.clear()
        out, err = p.communicate(timeout=FAULT_RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert [x["status"] for x in jsonlines(out) if x["type"] == "show_synced"] == ["synced"]
    assert receiver.state() == recorder_state(source)


@pytest.fixture(scope="module", autouse=True)
def stalled_for_good(source, postgres, tmp_path_factory):
    """A pass whose link stops moving for good (sockets open, no byte either way) after the
    first chunk. sa-pull only notices by its own timer, so this one starts with the module and
    is checked by the last test: the wait overlaps the other tests."""
    base = tmp_path_factory.mktemp("stalled")
    link = FaultProxy("127.0.0.1", source.port).start()
    recv = Receiver(base, source, link, postgres)
    link.bandwidth(60_000)
    proc = recv.start()
    try:
        wait_for(lambda: link.bytes_down > source.layout.segments(1)["body"] + 5_000, 20, "the transfer did not start")
        link.stall()
        yield {"link": link, "receiver": recv, "proc": proc, "since": time.monotonic()}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        link.stop()


def test_stall_for_good_ends_the_run_by_itself(stalled_for_good, source):
    """Kept last in the file (see stalled_for_good)."""
    link, recv, p = stalled_for_good["link"], stalled_for_good["receiver"], stalled_for_good["proc"]
    left = stalled_for_good["since"] + FAULT_RUN_TIMEOUT - time.monotonic()
    try:
        out, err = p.communicate(timeout=max(left, 1))
    except subprocess.TimeoutExpired:
        pytest.fail(f"sa-pull hung on a stalled link: still running {FAULT_RUN_TIMEOUT} s after the stall")
    waited = time.monotonic() - stalled_for_good["since"]
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    check_ending(r)
    assert r.returncode == 69, err
    assert waited >= 5, waited  # it did not give up at once either
    assert recv.last_synced() == 2  # the chunk before the stall is kept
    converge(recv, link, source)
