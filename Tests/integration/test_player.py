"""The player in a real headless Chromium (Debian's), driven by Playwright, against a receiver
pulling from a recorder: ICY titles beside the player (current one highlighted, a click seeks),
jump to a wall-clock time in UTC or local time, a shareable link that restores the moment,
speed and keys remembered per browser, marked ranges downloaded through the range endpoint, the
day timeline (spans, gaps, position, the hour under the pointer), the hour view moving on to the
next hour, resume where left off, "copy stream URL", the new-recordings notice, and playback
that retries with backoff when the server goes away. Screenshots go to docs/."""
import json
import os
import sqlite3
import subprocess
import time

import pytest

from audiotools import make_chirp
from conftest import ROOT, bin_path, free_port, run_tool
from faultproxy import FaultProxy
from test_receiver import http

import playwright.sync_api as playwright  # installed by make deps

T0 = 1714546740000  # 2024-05-01T06:59:00Z: the first session crosses into the 07:00 hour


@pytest.fixture(scope="module")
def chirp(media_dir):
    return make_chirp(os.path.join(media_dir, "playerchirp90.mp3"), 90, rise=10)


def imported(rec, path, start):
    r = run_tool([bin_path("sa-record"), "--input", path, "--name", "morning", "--output-dir", rec.out, "--min-free-mb", "0",
                  "--start", start])
    assert r.returncode == 0, r.stderr


class Receiver:
    def __init__(self, tmp_path, rec, postgres):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cfg = tmp_path / "receiver.toml"
        self.cfg.write_text(f"config_type = 'receiver'\nremote_url = '{rec.url}'\nport = {self.port}\nsync_interval_seconds = 3600\n"
                            f"[database]\nurl = '{postgres.url}'\nprefix = 'pl{self.port}'\n")
        self.log = tmp_path / "receiver.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([bin_path("sa-serve"), "--config", str(self.cfg)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"))
        self.wait_passes(1)

    def wait_passes(self, n):
        deadline = time.time() + 60
        while time.time() < deadline and self.proc.poll() is None:
            try:
                s = json.loads(http(self.url + "/api/sync/status")[2])
                if s["passes"] >= n and not s["in_progress"]:
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise AssertionError("no sync pass: " + self.log.read_text())

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def setup(tmp_path, recorder, postgres, chirp):
    rec = recorder()
    imported(rec, chirp, "2024-05-01T06:59:00Z")
    imported(rec, chirp, "2024-05-01T08:00:00Z")
    # Stream titles as a live recording stores them (an imported file has none).
    con = sqlite3.connect(rec.db("morning"))
    first = con.execute("SELECT min(id) FROM sections").fetchone()[0]
    con.executemany("INSERT INTO titles (section_id, timestamp_ms, title) VALUES (?, ?, ?)",
                    [(first, T0, "News at seven"), (first, T0 + 20000, "Weather & traffic"), (first, T0 + 50000, "Music <live>")])
    con.commit()
    con.close()
    rec.start()
    r = Receiver(tmp_path, rec, postgres)
    r.start()
    yield rec, r
    r.stop()


def browser_page(p, url, viewport=(1200, 900)):
    browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, timezone_id="Europe/Berlin")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    return browser, context


def current_time(page):
    return page.evaluate("document.getElementById('audio').currentTime")


def wait_time(page, expr, timeout=20000):
    page.wait_for_function(f"(() => {{ const t = document.getElementById('audio').currentTime; return {expr}; }})()", timeout=timeout)


def test_player_titles_jump_link_speed_keys_marks_timeline_hour_view_and_resume(tmp_path, setup, chirp):
    rec, r = setup
    docs = os.path.join(ROOT, "docs")
    with playwright.sync_playwright() as p:
        browser, context = browser_page(p, r.url)
        page = context.new_page()
        page.goto(r.url + "/")
        page.wait_for_function("document.querySelectorAll('#sessions li').length === 2")

        # The day timeline: two recorded spans, the rest grey; the hour under the pointer.
        assert page.locator("#timeline .span").count() == 2
        box = page.locator("#timeline").bounding_box()
        page.mouse.move(box["x"] + box["width"] * (7.52 / 24), box["y"] + box["height"] / 2)
        h, m = map(int, page.inner_text("#hover-time").split(":"))
        assert abs(h * 60 + m - 451) <= 2  # a pixel is about 1.6 minutes of the day

        # Titles beside the player; a click seeks to one, and it is highlighted.
        page.locator("#sessions li").first.click()
        page.wait_for_function("document.querySelectorAll('#titles li').length === 3")
        assert page.locator("#titles li").nth(2).inner_text().endswith("Music <live>")
        page.locator("#titles li").nth(1).click()
        wait_time(page, "t >= 20 && t < 30")
        page.wait_for_function("(document.querySelector('#titles li.current') || {}).textContent?.endsWith('Weather & traffic')")
        page.wait_for_function("document.getElementById('wallclock').textContent.startsWith('06:59:2')")
        assert page.locator("#position").is_visible()

        # Jump to a wall-clock time, in UTC and then in local time (Berlin, UTC+2 in May).
        page.fill("#jump", "08:00:10")
        page.press("#jump", "Enter")
        page.wait_for_function("document.querySelector('#sessions li.active') === document.querySelectorAll('#sessions li')[1]")
        wait_time(page, "t >= 9.5 && t < 15")
        page.select_option("#tz", "local")
        page.fill("#jump", "08:59:40")
        page.press("#jump", "Enter")
        page.wait_for_function("document.querySelector('#sessions li.active') === document.querySelectorAll('#sessions li')[0]")
        wait_time(page, "t >= 39.5 && t < 45")
        assert page.inner_text("#clock-zone") == "local"
        page.fill("#jump", "12:00")
        page.press("#jump", "Enter")
        page.wait_for_selector("#player-status:not([hidden])")
        assert "Nothing was recorded at 12:00" in page.inner_text("#player-status")
        page.select_option("#tz", "utc")

        # The hour view follows playback and moves on to the next hour (the session crosses 07:00).
        page.evaluate("document.getElementById('audio').currentTime = 55")
        page.wait_for_function("document.getElementById('hour-label').textContent.startsWith('06:00')")
        page.select_option("#speed", "2")
        assert page.evaluate("document.getElementById('audio').playbackRate") == 2
        page.wait_for_function("document.getElementById('hour-label').textContent === '07:00 – 08:00'", timeout=20000)
        assert page.get_attribute("#hour-view", "data-hour") == "2024-05-01T07:00:00.000Z"

        # Keys: space pauses and plays, arrows seek 5 s, J and L 10 s.
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press(" ")
        page.wait_for_function("document.getElementById('audio').paused")
        t = current_time(page)
        page.keyboard.press("ArrowLeft")
        assert current_time(page) == pytest.approx(t - 5, abs=0.3)
        page.keyboard.press("j")
        assert current_time(page) == pytest.approx(t - 15, abs=0.3)
        page.keyboard.press("l")
        page.keyboard.press("ArrowRight")
        assert current_time(page) == pytest.approx(t, abs=0.3)
        page.keyboard.press(" ")
        page.wait_for_function("!document.getElementById('audio').paused")

        # Mark in and out; the marked range downloads from the range endpoint.
        page.keyboard.press(" ")
        page.evaluate("document.getElementById('audio').currentTime = 30")
        page.wait_for_function("Math.abs(document.getElementById('audio').currentTime - 30) < 0.1")
        page.click("#mark-in")
        page.evaluate("document.getElementById('audio').currentTime = 42")
        page.wait_for_function("Math.abs(document.getElementById('audio').currentTime - 42) < 0.1")
        page.click("#mark-out")
        href = page.get_attribute("#download", "href")
        assert href.startswith("show/morning/range.ogg?from=")
        assert page.locator("#mark-range").is_visible()
        status, headers, body = http(r.url + "/" + href)
        assert status == 200 and headers["Content-Disposition"].startswith('inline; filename="morning_20240501_065930')
        path = tmp_path / "marked.ogg"
        path.write_bytes(body)
        probe = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "48000", "-f", "s16le", "-"], capture_output=True)
        assert len(probe.stdout) // 2 == pytest.approx(12 * 48000, abs=960 * 2)

        # Copy stream URL: the range marked (else the session's HLS playlist), for VLC or mpv.
        page.click("#copy-url")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.input_value("#stream-url") == r.url + "/" + href
        page.click("#download")  # keeps the marks; clears nothing
        page.screenshot(path=os.path.join(docs, "player.png"), full_page=True)

        # A shareable link holds show, date and time; opening it elsewhere restores the moment.
        page.evaluate("document.getElementById('audio').currentTime = 65")
        page.wait_for_function("location.hash.includes('time=07:00:0')", timeout=10000)
        link = page.url
        assert "show=morning" in link and "date=2024-05-01" in link
        other = browser.new_context(viewport={"width": 1000, "height": 800}).new_page()
        other.goto(link)
        other.wait_for_function("document.getElementById('audio').currentTime > 64", timeout=20000)
        assert other.inner_text("#wallclock").startswith("07:00:0")
        other.close()

        # Speed is remembered per browser; the last session reopens where it was left.
        page.evaluate("document.getElementById('audio').pause(); document.getElementById('audio').currentTime = 33")
        page.wait_for_timeout(300)
        page.goto(r.url + "/")
        page.wait_for_function("document.querySelector('#sessions li.active') === document.querySelectorAll('#sessions li')[0]")
        page.wait_for_function("Math.abs(document.getElementById('audio').currentTime - 33) < 1.5", timeout=20000)
        assert page.input_value("#speed") == "2"

        # A phone-sized window: everything fits without sideways scrolling.
        phone = context.new_page()
        phone.set_viewport_size({"width": 360, "height": 740})
        phone.goto(r.url + "/")
        phone.wait_for_function("document.querySelectorAll('#sessions li').length === 2")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        phone.screenshot(path=os.path.join(docs, "player-phone.png"), full_page=True)

        # After a pass brings a new session: a notice, and the list grows when asked.
        imported(rec, chirp, "2024-05-01T10:00:00Z")
        assert http(r.url + "/api/sync", method="POST")[0] == 202
        page.wait_for_selector("#notice:not([hidden])", timeout=20000)
        assert page.locator("#sessions li").count() == 2
        page.click("#notice-show")
        page.wait_for_function("document.querySelectorAll('#sessions li').length === 3")
        assert page.locator("#notice").is_hidden()
        browser.close()


def test_playback_retries_with_backoff_and_resumes_at_its_position(tmp_path, setup):
    """The receiver goes away (a restart, a network cut) as a session is opened where it was
    left: the player says so, tries again at growing intervals (1, 2, 4 s, …), and when the
    server is back plays from that place."""
    rec, r = setup
    proxy = FaultProxy("127.0.0.1", r.port).start()
    port = proxy.port
    with playwright.sync_playwright() as p:
        browser, context = browser_page(p, proxy.url)
        page = context.new_page()
        page.goto(proxy.url + "/")
        page.wait_for_function("document.querySelectorAll('#sessions li').length === 2", timeout=30000)
        # The first session was left 40 s in (the browser keeps that per session).
        page.evaluate("localStorage.setItem(`sa.pos.morning.${state.sessions[0].section_id}`, '40')")
        where = 40
        proxy.stop()  # the server is gone: connections cut, new ones refused
        page.locator("#sessions li").nth(0).click()
        page.wait_for_function("document.getElementById('player-status').textContent.includes('attempt 3')", timeout=30000)
        text = page.inner_text("#player-status")
        assert text.startswith("Connection lost; trying again in 4 s"), text  # 1 s, 2 s, then 4 s
        proxy = FaultProxy("127.0.0.1", r.port, listen_port=port).start()
        try:
            page.wait_for_function("document.getElementById('player-status').hidden", timeout=30000)
            wait_time(page, f"t > {where} + 0.5", timeout=30000)
            # It went on from where it was, not from the start of the session.
            assert where - 0.5 <= current_time(page) <= where + 15
        finally:
            browser.close()
            proxy.stop()
