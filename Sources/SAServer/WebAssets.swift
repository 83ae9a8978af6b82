// The web UI, served by sa-serve. Generated from web/ by `make openapi`; a test keeps them identical.
enum WebAssets {
    struct Asset {
        let contentType: String
        let body: String
    }

    static let files: [String: Asset] = [
        "app.js": Asset(contentType: "text/javascript; charset=utf-8", body: #"""
// save_audio_stream web UI: shows, a day timeline of sessions with gaps, a player with
// wall-clock time and ICY titles, and the receiver's sync status. No build step, no packages.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { show: null, format: 'opus', sessions: [], session: null, titles: [], day: null, mode: null };
const DAY = 86400000;

async function getJSON(url, options) {
  const r = await fetch(url, options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

function utcDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
function clock(ms) { return new Date(ms).toISOString().slice(11, 19); }
function duration(ms) {
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

async function loadShows() {
  const nav = $('shows');
  try {
    const { shows } = await getJSON('api/shows');
    nav.innerHTML = '';
    if (!shows.length) { nav.innerHTML = '<p class="muted">No shows yet.</p>'; return; }
    for (const s of shows) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.show = s.name;
      b.innerHTML = `<span class="fmt">${s.audio_format} ${s.bitrate}k</span>${s.name}<br><small class="muted">${s.sessions} sessions</small>`;
      b.onclick = () => selectShow(s);
      nav.appendChild(b);
    }
    if (!state.show) selectShow(shows[0]);
  } catch (e) {
    nav.innerHTML = `<p class="muted">Cannot list shows: ${e.message}</p>`;
  }
}

function selectShow(s) {
  state.show = s.name;
  state.format = s.audio_format;
  document.querySelectorAll('#shows button').forEach((b) => b.classList.toggle('active', b.dataset.show === s.name));
  state.day = s.last_end_ms ? utcDay(s.last_end_ms) : utcDay(Date.now());
  $('date').value = state.day;
  $('day').hidden = false;
  loadDay();
}

async function loadDay() {
  const start = Date.parse(state.day + 'T00:00:00Z');
  const url = `api/show/${encodeURIComponent(state.show)}/sessions?from_ms=${start}&to_ms=${start + DAY - 1}`;
  const { sessions } = await getJSON(url);
  state.sessions = sessions;
  const tl = $('timeline'), list = $('sessions');
  tl.innerHTML = '';
  list.innerHTML = '';
  let recorded = 0;
  for (const s of sessions) {
    const a = Math.max(s.start_ms, start), b = Math.min(s.end_ms, start + DAY);
    recorded += b - a;
    const span = document.createElement('button');
    span.type = 'button';
    span.className = 'span' + (s.is_open ? ' open' : '');
    span.style.left = `${((a - start) / DAY) * 100}%`;
    span.style.width = `${((b - a) / DAY) * 100}%`;
    span.title = `${clock(s.start_ms)} – ${clock(s.end_ms)}`;
    span.dataset.id = s.section_id;
    span.onclick = () => play(s);
    tl.appendChild(span);
    const li = document.createElement('li');
    li.dataset.id = s.section_id;
    li.innerHTML = `<span>${clock(s.start_ms)} – ${clock(s.end_ms)}${s.is_open ? ' (recording)' : ''}</span><span class="muted">${duration(s.duration_ms)}${s.titles ? ` · ${s.titles} titles` : ''}</span>`;
    li.onclick = () => play(s);
    list.appendChild(li);
  }
  $('day-summary').textContent = sessions.length ? `${sessions.length} sessions, ${duration(recorded)} recorded` : 'nothing recorded this day';
}

async function play(s, offsetSeconds) {
  state.session = s;
  document.querySelectorAll('.span, .sessions li').forEach((e) => e.classList.toggle('active', e.dataset.id === String(s.section_id)));
  $('player').hidden = false;
  $('now-title').textContent = `${state.show} · ${utcDay(s.start_ms)} ${clock(s.start_ms)}`;
  const ext = state.format === 'aac' ? 'aac' : 'ogg';
  const audio = $('audio');
  audio.src = `show/${encodeURIComponent(state.show)}/session/${s.section_id}/audio.${ext}`;
  if (offsetSeconds) audio.addEventListener('loadedmetadata', () => { audio.currentTime = offsetSeconds; }, { once: true });
  audio.play().catch(() => {});
  state.titles = await getJSON(`api/show/${encodeURIComponent(state.show)}/session/${s.section_id}/titles`).catch(() => []);
  const ol = $('titles');
  ol.innerHTML = '';
  for (const t of state.titles) {
    const li = document.createElement('li');
    li.textContent = `${clock(t.timestamp_ms)}  ${t.title}`;
    li.onclick = () => { audio.currentTime = t.offset_seconds; audio.play().catch(() => {}); };
    ol.appendChild(li);
  }
}

function tick() {
  const s = state.session, audio = $('audio');
  if (!s) return;
  $('wallclock').textContent = clock(s.start_ms + audio.currentTime * 1000);
  const items = $('titles').children;
  let current = -1;
  state.titles.forEach((t, i) => { if (t.offset_seconds <= audio.currentTime) current = i; });
  for (let i = 0; i < items.length; i++) items[i].classList.toggle('current', i === current);
}

async function pollSync() {
  try {
    const s = await getJSON('api/sync/status');
    $('sync').hidden = false;
    const when = s.last_finished_ms ? clock(s.last_finished_ms) + ' UTC' : 'never';
    let text = s.in_progress ? 'sync: running…' : `sync: last ${when}`;
    if (!s.in_progress && s.last_result === 'failed') text += ` — failed: ${s.last_error || ''}`;
    $('sync-state').textContent = text;
    $('sync').classList.toggle('failed', s.last_result === 'failed');
    $('sync-now').disabled = s.in_progress;
    if (!s.in_progress && state.lastFinished && s.last_finished_ms !== state.lastFinished) { loadShows(); if (state.show) loadDay(); }
    state.lastFinished = s.last_finished_ms;
  } catch (e) {
    // Not a receiver (inspect mode): no sync to show.
  }
}

$('sync-now').onclick = async () => {
  $('sync-now').disabled = true;
  try { await getJSON('api/sync', { method: 'POST' }); } catch (e) { /* 409: one is running */ }
  pollSync();
};
$('date').onchange = () => { state.day = $('date').value; loadDay(); };
$('prev-day').onclick = () => { state.day = utcDay(Date.parse(state.day) - DAY); $('date').value = state.day; loadDay(); };
$('next-day').onclick = () => { state.day = utcDay(Date.parse(state.day) + DAY); $('date').value = state.day; loadDay(); };
$('back15').onclick = () => { $('audio').currentTime = Math.max(0, $('audio').currentTime - 15); };
$('fwd30').onclick = () => { $('audio').currentTime += 30; };
$('audio').addEventListener('timeupdate', tick);

loadShows();
pollSync();
setInterval(pollSync, 3000);
"""#),
        "index.html": Asset(contentType: "text/html; charset=utf-8", body: #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>save_audio_stream</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<header>
  <h1>save_audio_stream</h1>
  <div id="sync" class="sync" hidden>
    <span id="sync-state">sync: …</span>
    <button id="sync-now" type="button">Sync Now</button>
  </div>
</header>
<main>
  <nav id="shows" aria-label="Shows"><p class="muted">Loading shows…</p></nav>
  <section id="day" hidden>
    <div class="day-head">
      <button id="prev-day" type="button" aria-label="Previous day">◀</button>
      <input id="date" type="date" aria-label="Day">
      <button id="next-day" type="button" aria-label="Next day">▶</button>
      <span id="day-summary" class="muted"></span>
    </div>
    <div id="timeline" class="timeline" role="list" aria-label="Recorded spans of the day (UTC)"></div>
    <div class="hours"><span>00</span><span>06</span><span>12</span><span>18</span><span>24 UTC</span></div>
    <ul id="sessions" class="sessions"></ul>
  </section>
  <section id="player" hidden>
    <h2 id="now-title"></h2>
    <div class="clock"><span id="wallclock">--:--:--</span> <span class="muted">UTC</span></div>
    <audio id="audio" controls preload="metadata"></audio>
    <div class="controls">
      <button id="back15" type="button">−15 s</button>
      <button id="fwd30" type="button">+30 s</button>
    </div>
    <ol id="titles" class="titles"></ol>
  </section>
</main>
<script src="app.js"></script>
</body>
</html>
"""#),
        "style.css": Asset(contentType: "text/css; charset=utf-8", body: #"""
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; color: #1d2327; background: #f6f7f7; }
header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem;
         padding: .6rem 1rem; background: #1d2327; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
.sync { display: flex; align-items: center; gap: .5rem; font-size: .9rem; }
.sync.failed #sync-state { color: #ffb3b3; }
main { display: grid; grid-template-columns: 220px 1fr; gap: 1rem; padding: 1rem; max-width: 1200px; margin: auto; }
#player { grid-column: 2; }
nav button { display: block; width: 100%; text-align: left; margin: 0 0 .3rem; padding: .5rem; border: 1px solid #ccd0d4;
             background: #fff; border-radius: 4px; cursor: pointer; }
nav button.active { border-color: #2271b1; background: #e7f0f8; }
nav .fmt { float: right; color: #646970; font-size: .8rem; }
button { font: inherit; padding: .35rem .7rem; border: 1px solid #8c8f94; border-radius: 4px; background: #fff; cursor: pointer; }
.day-head { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-bottom: .5rem; }
.timeline { position: relative; height: 34px; background: #dcdcde; border-radius: 4px; overflow: hidden; }
.span { position: absolute; top: 0; bottom: 0; background: #2271b1; min-width: 3px; cursor: pointer; border: 0; padding: 0; border-radius: 0; }
.span.open { background: #00a32a; }
.span.active { background: #d63638; }
.hours { display: flex; justify-content: space-between; font-size: .75rem; color: #646970; }
.sessions { list-style: none; padding: 0; margin: .8rem 0; }
.sessions li { display: flex; justify-content: space-between; gap: .5rem; padding: .45rem .6rem; background: #fff;
               border: 1px solid #dcdcde; border-radius: 4px; margin-bottom: .3rem; cursor: pointer; }
.sessions li.active { border-color: #d63638; }
.muted { color: #646970; }
.clock { font-size: 1.6rem; font-variant-numeric: tabular-nums; margin: .3rem 0; }
audio { width: 100%; }
.controls { display: flex; gap: .5rem; margin: .5rem 0; }
.titles { padding-left: 1.2rem; }
.titles li { cursor: pointer; margin: .2rem 0; }
.titles li.current { font-weight: 600; }
@media (max-width: 700px) {
  main { grid-template-columns: 1fr; padding: .6rem; }
  #player { grid-column: 1; }
}
"""#),
    ]
}
