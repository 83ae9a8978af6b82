import os
"""Independent helpers for checking stored audio: an Ogg Opus wrapper written from RFC 7845
(not the project's code), ffprobe/ffmpeg wrappers and segment readers."""
import json
import sqlite3
import struct
import subprocess


def _crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _ogg_crc(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) ^ _CRC[((crc >> 24) & 0xFF) ^ b]) & 0xFFFFFFFF
    return crc


def _page(serial, seq, granule, packets, bos=False, eos=False):
    lacing = b""
    body = b""
    for p in packets:
        n = len(p)
        lacing += b"\xff" * (n // 255) + bytes([n % 255])
        body += p
    header_type = (2 if bos else 0) | (4 if eos else 0)
    hdr = struct.pack("<4sBBqIIIB", b"OggS", 0, header_type, granule, serial, seq, 0, len(lacing)) + lacing
    crc = _ogg_crc(hdr + body)
    hdr = hdr[:22] + struct.pack("<I", crc) + hdr[26:]
    return hdr + body


def split_opus_packets(blob):
    """audio_data layout: each packet preceded by its 2-byte little-endian length."""
    out, i = [], 0
    while i < len(blob):
        n = blob[i] | (blob[i + 1] << 8)
        out.append(blob[i + 2:i + 2 + n])
        i += 2 + n
    assert i == len(blob), "packet lengths do not add up to the blob"
    return out


def write_ogg_opus(path, packets, pre_skip, total_samples):
    """Wraps 20 ms Opus packets into Ogg Opus; the last page's granule trims to total_samples."""
    serial = 0x5A5A
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    vendor = b"test"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [_page(serial, 0, 0, [head], bos=True), _page(serial, 1, 0, [tags])]
    seq, granule = 2, 0
    chunk = 50
    end_granule = pre_skip + total_samples
    for i in range(0, len(packets), chunk):
        group = packets[i:i + chunk]
        granule += 960 * len(group)
        last = i + chunk >= len(packets)
        pages.append(_page(serial, seq, min(granule, end_granule) if last else granule, group, eos=last))
        seq += 1
    with open(path, "wb") as f:
        f.write(b"".join(pages))


def segments(db, section_id=None):
    con = sqlite3.connect(db)
    q = "SELECT id, timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples FROM segments"
    args = ()
    if section_id is not None:
        q += " WHERE section_id = ?"
        args = (section_id,)
    rows = con.execute(q + " ORDER BY id", args).fetchall()
    con.close()
    return rows


def metadata(db):
    con = sqlite3.connect(db)
    m = dict(con.execute("SELECT key, value FROM metadata").fetchall())
    con.close()
    return m


def export_section(db, section_id, path):
    """Writes the section as .ogg (Opus) or .aac (ADTS) for an independent decoder."""
    meta = metadata(db)
    rows = segments(db, section_id)
    total = sum(r[5] for r in rows)
    if meta["audio_format"] == "opus":
        packets = [p for r in rows for p in split_opus_packets(r[3])]
        write_ogg_opus(path, packets, int(meta["encoder_delay_samples"]), total)
    else:
        with open(path, "wb") as f:
            for r in rows:
                f.write(r[3])
    return total


def decoded_samples(path, rate):
    """Samples ffmpeg decodes from the file (mono, at `rate`), with its error output."""
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
                       capture_output=True)
    return len(p.stdout) // 2, p.stderr.decode(errors="replace")


def ffprobe_duration(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                       capture_output=True, text=True, check=True)
    return float(json.loads(p.stdout)["format"]["duration"])


def jsonlines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def make_chirp(path, seconds, rise=25):
    """An MP3 of a rising chirp (no two moments sound alike, so an offset error shows)."""
    if not os.path.exists(path):
        subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i",
                        f"aevalsrc=0.5*sin(2*PI*(150+{rise}*t)*t):s=44100:d={seconds}",
                        "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", path], check=True)
    return path
