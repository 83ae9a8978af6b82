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
