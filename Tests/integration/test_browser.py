"""The web UI in a real headless Chromium (Debian's), driven by Playwright: the page lists the
shows and the day's sessions, a session plays (currentTime advances), seeking works, and
"Sync Now" runs a pass. Screenshots go to tmp/ (the README's picture is one of them)."""
import json
import os
import time

import pytest

from conftest import ROOT, receiver_config
from test_receiver import Receiver, http

import playwright.sync_api as playwright  # installed by make deps


@pytest.fixture(scope="module")
def tones(media_dir):
    from conftest import make_tone
    return {"a": make_tone(os.path.join(media_dir, "browser_a.mp3"), 90, ["-c:a", "libmp3lame", "-b:a", "128k"], freq=300)}


def test_ui_lists_plays_seeks_and_syncs(tmp_path, recorder, postgres, tones):
    rec = recorder()
    rec.record_file("morning", tones["a"])
    rec.record_file("morning", tones["a"])
    rec.start()
    cfg, prefix = receiver_config(tmp_path, rec, postgres.url)
    r = Receiver(tmp_path, cfg, "sync_interval_seconds = 3600\n")
    r.start()
    try:
        r.wait_pass()
        shots = os.path.join(ROOT, "tmp")
        os.makedirs(shots, exist_ok=True)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(r.url + "/")
            page.wait_for_selector("#shows button[data-show='morning']")
            page.wait_for_function("document.querySelectorAll('#sessions li').length === 2")
            assert page.locator("#timeline .span").count() == 2
            page.locator("#sessions li").first.click()
            page.wait_for_function("document.getElementById('audio').currentTime > 1.0", timeout=20000)
            duration = page.evaluate("document.getElementById('audio').duration")
            assert 89 < duration < 91
            # Seek to the middle; playback goes on from there.
            page.evaluate("document.getElementById('audio').currentTime = 45")
            page.wait_for_function("document.getElementById('audio').currentTime > 45.5", timeout=20000)
            clock = page.inner_text("#wallclock")
            assert len(clock) == 8 and clock.count(":") == 2
            page.click("#back15")
            assert page.evaluate("document.getElementById('audio').currentTime") < 40
            page.screenshot(path=os.path.join(shots, "ui-desktop.png"), full_page=True)
            # Sync Now triggers a pass and the status line changes.
            before = json.loads(http(r.url + "/api/sync/status")[2])["passes"]
            page.click("#sync-now")
            deadline = time.time() + 30
            while json.loads(http(r.url + "/api/sync/status")[2])["passes"] <= before and time.time() < deadline:
                time.sleep(0.2)
            assert json.loads(http(r.url + "/api/sync/status")[2])["passes"] == before + 1
            page.wait_for_function("document.getElementById('sync-state').textContent.startsWith('sync: last')", timeout=10000)
            # A phone-sized window: everything fits without sideways scrolling.
            phone = browser.new_page(viewport={"width": 360, "height": 740})
            phone.goto(r.url + "/")
            phone.wait_for_function("document.querySelectorAll('#sessions li').length === 2")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 360
            phone.screenshot(path=os.path.join(shots, "ui-phone.png"), full_page=True)
            browser.close()
    finally:
        r.stop()
