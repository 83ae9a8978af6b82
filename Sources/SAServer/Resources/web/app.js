// save_audio_stream web UI: shows, a day timeline of sessions and gaps, a player that keeps
// wall-clock time (titles, jump to a time, shareable links, speed, keys, marked ranges to
// download, an hour view, resume, retry) and the receiver's sync status. No build step.
'use strict';

const $ = (id) => document.getElementById(id);
const DAY = 86400000, HOUR = 3600000;
const state = {
  show: null, format: 'opus', shows: [], sessions: [], session: null, titles: [], day: null,
  tz: localStorage.getItem('sa.tz') || 'utc', marks: { in: null, out: null },
  lastPos: 0, retry: 0, retryTimer: null, lastFinished: undefined, lastSaved: 0, hour: null, dayRequest: 0, onMeta: null,
};

async function getJSON(url, options) {
  const r = await fetch(url, options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

const pad = (n) => String(n).padStart(2, '0');
function utcDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
/** HH:MM:SS of an instant, in UTC or the browser's zone as chosen. */
function clock(ms) {
  const d = new Date(ms);
  return state.tz === 'utc' ? d.toISOString().slice(11, 19) : `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function zoneName() { return state.tz === 'utc' ? 'UTC' : 'local'; }
function duration(ms) {
  const s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}
const enc = encodeURIComponent;
const ext = () => (state.format === 'aac' ? 'aac' : 'ogg');
const audio = $('audio');
/** The wall-clock instant being played. */
function nowPlaying() { return state.session ? state.session.start_ms + audio.currentTime * 1000 : null; }

// ---- Shows, days, sessions -------------------------------------------------------------

async function loadShows() {
  const nav = $('shows');
  try {
    const { shows } = await getJSON('api/shows');
    state.shows = shows;
    nav.innerHTML = '';
    if (!shows.length) { nav.innerHTML = '<p class="muted">No shows yet.</p>'; return shows; }
    for (const s of shows) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.show = s.name;
      b.innerHTML = `<span class="fmt"></span><span class="name"></span><br><small class="muted"></small>`;
      b.querySelector('.fmt').textContent = `${s.audio_format} ${s.bitrate}k`;
      b.querySelector('.name').textContent = s.name;
      b.querySelector('small').textContent = `${s.sessions} sessions`;
      b.onclick = () => selectShow(s.name);
      nav.appendChild(b);
    }
    document.querySelectorAll('#shows button').forEach((b) => b.classList.toggle('active', b.dataset.show === state.show));
    return shows;
  } catch (e) {
    nav.innerHTML = '';
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = `Cannot list shows: ${e.message}`;
    nav.appendChild(p);
    return [];
  }
}

async function selectShow(name, day) {
  const s = state.shows.find((x) => x.name === name);
  if (!s) return;
  if (state.show !== s.name) { state.marks = { in: null, out: null }; }
  state.show = s.name;
  state.format = s.audio_format;
  document.querySelectorAll('#shows button').forEach((b) => b.classList.toggle('active', b.dataset.show === s.name));
  state.day = day || (s.last_end_ms ? utcDay(s.last_end_ms) : utcDay(Date.now()));
  $('date').value = state.day;
  $('day').hidden = false;
  await loadDay();
}

async function loadDay() {
  // Only the newest request draws: quick clicks on ◀ ▶ must not leave another day's list.
  const request = ++state.dayRequest;
  const start = Date.parse(state.day + 'T00:00:00Z');
  const { sessions } = await getJSON(`api/show/${enc(state.show)}/sessions?from_ms=${start}&to_ms=${start + DAY - 1}`);
  if (request !== state.dayRequest) return;
  state.sessions = sessions;
  const tl = $('timeline'), list = $('sessions');
  tl.querySelectorAll('.span').forEach((e) => e.remove());
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
    span.setAttribute('aria-label', `${clock(s.start_ms)} – ${clock(s.end_ms)}`);
    span.dataset.id = s.section_id;
    span.onclick = (ev) => { ev.stopPropagation(); play(s, Math.min(Math.max(0, (timeAt(ev) - s.start_ms) / 1000), s.duration_ms / 1000 - 1)); };
    tl.appendChild(span);
    const li = document.createElement('li');
    li.dataset.id = s.section_id;
    li.innerHTML = '<span class="when"></span><span class="muted"></span>';
    li.querySelector('.when').textContent = `${clock(s.start_ms)} – ${clock(s.end_ms)}${s.is_open ? ' (recording)' : ''}`;
    li.querySelector('.muted').textContent = `${duration(s.duration_ms)}${s.titles ? ` · ${s.titles} titles` : ''}`;
    li.onclick = () => play(s, savedPosition(s));
    list.appendChild(li);
  }
  $('day-summary').textContent = sessions.length ? `${sessions.length} sessions, ${duration(recorded)} recorded` : 'nothing recorded this day';
  markActive();
  drawMarks();
  drawPosition();
}

function markActive() {
  const id = state.session ? String(state.session.section_id) : '';
  document.querySelectorAll('.span, .sessions li').forEach((e) => e.classList.toggle('active', e.dataset.id === id));
}

/** The instant under the pointer on the day timeline. */
function timeAt(ev) {
  const r = $('timeline').getBoundingClientRect();
  return Date.parse(state.day + 'T00:00:00Z') + Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)) * DAY;
}

/** The session recorded at `ms`, asked of the server (any day), or null. */
async function sessionAt(show, ms) {
  const { sessions } = await getJSON(`api/show/${enc(show)}/sessions?from_ms=${Math.floor(ms)}&to_ms=${Math.floor(ms)}`);
  return sessions.find((s) => s.start_ms <= ms && ms < s.end_ms) || null;
}

/** Plays whatever was recorded at `ms`, switching day when needed; false when nothing was. */
async function playAt(ms) {
  const s = await sessionAt(state.show, ms);
  if (!s) return false;
  if (utcDay(ms) !== state.day) { state.day = utcDay(ms); $('date').value = state.day; await loadDay(); }
  await play(s, (ms - s.start_ms) / 1000);
  return true;
}

// ---- The player ----------------------------------------------------------------------

function sessionURL(s) { return `show/${enc(state.show)}/session/${s.section_id}/audio.${ext()}`; }

async function play(s, offsetSeconds) {
  clearTimeout(state.retryTimer);
  state.retry = 0;
  setStatus('');
  state.session = s;
  state.lastPos = offsetSeconds || 0;
  localStorage.setItem('sa.last', JSON.stringify({ show: state.show, id: s.section_id }));
  markActive();
  $('player').hidden = false;
  $('now-title').textContent = `${state.show} · ${utcDay(s.start_ms)} ${clock(s.start_ms)}`;
  load(sessionURL(s), state.lastPos, true);
  drawHour(true);
  state.titles = [];
  $('titles').innerHTML = '';
  const titles = await getJSON(`api/show/${enc(state.show)}/session/${s.section_id}/titles`).catch(() => []);
  if (state.session !== s) return;  // another session was opened meanwhile
  state.titles = titles;
  drawTitles();
  tick();
}

function drawTitles() {
  const ol = $('titles');
  ol.innerHTML = '';
  for (const t of state.titles) {
    const li = document.createElement('li');
    const when = document.createElement('time');
    when.textContent = clock(t.timestamp_ms);
    li.append(when, ' ', t.title);
    li.onclick = () => { audio.currentTime = t.offset_seconds; audio.play().catch(() => {}); };
    ol.appendChild(li);
  }
  if (!state.titles.length) ol.innerHTML = '<li class="muted">No stream titles in this session.</li>';
}

/** Points the element at `url`, then seeks to `position` once it knows the length. */
function load(url, position, autoplay) {
  // One pending seek at a time: a source replaced before its metadata came must not seek the next.
  if (state.onMeta) audio.removeEventListener('loadedmetadata', state.onMeta);
  state.onMeta = () => {
    audio.removeEventListener('loadedmetadata', state.onMeta);
    state.onMeta = null;
    if (position) audio.currentTime = position;
    audio.playbackRate = Number($('speed').value);
    if (autoplay) audio.play().catch(() => {});
  };
  audio.addEventListener('loadedmetadata', state.onMeta);
  audio.src = url;
  audio.defaultPlaybackRate = audio.playbackRate = Number($('speed').value);
}

function setStatus(text) { $('player-status').textContent = text; $('player-status').hidden = !text; }

// The server went away (restart, network): try again, waiting longer each time, and go on
// where playback stopped.
const BACKOFF = [1, 2, 4, 8, 15, 30];
audio.addEventListener('error', () => {
  if (!state.session || !audio.getAttribute('src')) return;
  const wait = BACKOFF[Math.min(state.retry, BACKOFF.length - 1)];
  state.retry += 1;
  setStatus(`Connection lost; trying again in ${wait} s (attempt ${state.retry}).`);
  clearTimeout(state.retryTimer);
  const position = state.lastPos;
  state.retryTimer = setTimeout(() => load(`${sessionURL(state.session)}?retry=${state.retry}`, position, true), wait * 1000);
});
audio.addEventListener('playing', () => { if (state.retry) { state.retry = 0; setStatus(''); } });

// When a session ends, the next one of the day follows (the clock goes on).
audio.addEventListener('ended', () => {
  const i = state.sessions.findIndex((s) => state.session && s.section_id === state.session.section_id);
  if (i >= 0 && i + 1 < state.sessions.length) play(state.sessions[i + 1], 0);
});

function savedPosition(s) { return Number(localStorage.getItem(`sa.pos.${state.show}.${s.section_id}`)) || 0; }

function tick() {
  const s = state.session;
  if (!s) return;
  if (!audio.seeking && audio.readyState > 0) state.lastPos = audio.currentTime;
  const ms = s.start_ms + state.lastPos * 1000;
  $('wallclock').textContent = clock(ms);
  $('clock-zone').textContent = zoneName();
  const items = $('titles').children;
  let current = -1;
  state.titles.forEach((t, i) => { if (t.offset_seconds <= state.lastPos) current = i; });
  for (let i = 0; i < items.length; i++) items[i].classList.toggle('current', i === current);
  drawPosition();
  drawHour(false);
  // Resume where you left off (per session), and a link that holds this moment.
  const now = Date.now();
  if (now - state.lastSaved > 1000) {
    state.lastSaved = now;
    localStorage.setItem(`sa.pos.${state.show}.${s.section_id}`, String(state.lastPos));
    const d = new Date(ms);
    const hash = `#show=${enc(state.show)}&date=${utcDay(ms)}&time=${d.toISOString().slice(11, 19)}`;
    history.replaceState(null, '', hash);
    $('share').href = location.href;
  }
}

function drawPosition() {
  const p = $('position'), ms = nowPlaying();
  const start = Date.parse(state.day + 'T00:00:00Z');
  p.hidden = ms === null || ms < start || ms >= start + DAY;
  if (!p.hidden) p.style.left = `${((ms - start) / DAY) * 100}%`;
}

/** The hour being played, at a glance; it moves on to the next hour as playback crosses it. */
function drawHour(force) {
  const ms = nowPlaying();
  if (ms === null) return;
  const hourStart = Math.floor(ms / HOUR) * HOUR;
  const pos = $('hour-position');
  pos.style.left = `${((ms - hourStart) / HOUR) * 100}%`;
  if (!force && hourStart === state.hour) return;
  state.hour = hourStart;
  $('hour-label').textContent = `${clock(hourStart).slice(0, 5)} – ${clock(hourStart + HOUR).slice(0, 5)}`;
  $('hour-view').dataset.hour = new Date(hourStart).toISOString();
  const bar = $('hour-bar');
  bar.querySelectorAll('.span').forEach((e) => e.remove());
  for (const s of state.sessions) {
    const a = Math.max(s.start_ms, hourStart), b = Math.min(s.end_ms, hourStart + HOUR);
    if (a >= b) continue;
    const span = document.createElement('div');
    span.className = 'span' + (s.is_open ? ' open' : '');
    span.style.left = `${((a - hourStart) / HOUR) * 100}%`;
    span.style.width = `${((b - a) / HOUR) * 100}%`;
    bar.insertBefore(span, pos);
  }
}

// ---- Marked ranges, stream URLs, jumping ---------------------------------------------

function rangeURL() {
  const { in: a, out: b } = state.marks;
  return a !== null && b !== null && b > a ? `show/${enc(state.show)}/range.${ext()}?from=${Math.round(a)}&to=${Math.round(b)}` : null;
}

function drawMarks() {
  const { in: a, out: b } = state.marks;
  const url = rangeURL();
  const dl = $('download');
  if (url) { dl.href = url; dl.setAttribute('download', ''); dl.setAttribute('aria-disabled', 'false'); }
  else { dl.removeAttribute('href'); dl.setAttribute('aria-disabled', 'true'); }
  $('marks').textContent = a === null && b === null ? 'no range marked'
    : `${a === null ? '…' : clock(a)} – ${b === null ? '…' : clock(b)}${url ? ` (${duration(b - a)})` : ''}`;
  const m = $('mark-range'), start = Date.parse(state.day + 'T00:00:00Z');
  m.hidden = !url;
  if (url) {
    m.style.left = `${(Math.max(0, a - start) / DAY) * 100}%`;
    m.style.width = `${((Math.min(b, start + DAY) - Math.max(a, start)) / DAY) * 100}%`;
  }
}

$('mark-in').onclick = () => { state.marks.in = nowPlaying(); drawMarks(); };
$('mark-out').onclick = () => { state.marks.out = nowPlaying(); drawMarks(); };

$('copy-url').onclick = async () => {
  if (!state.session) return;
  const path = rangeURL() || `show/${enc(state.show)}/session/${state.session.section_id}/playlist.m3u8`;
  const url = new URL(path, location.href).href;
  const field = $('stream-url');
  field.value = url;
  try {
    await navigator.clipboard.writeText(url);
    setStatus('Stream URL copied.');
  } catch (e) {
    field.select();
    setStatus('Select and copy the URL above.');
  }
};

/** `07:30`, `07:30:00`: that time of the shown day, in the zone chosen above. */
function parseClock(text, day) {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] || 0) > 59) return null;
  const t = `${pad(m[1])}:${m[2]}:${m[3] || '00'}`;
  return state.tz === 'utc' ? Date.parse(`${day}T${t}Z`) : new Date(`${day}T${t}`).getTime();
}

$('jump-form').onsubmit = async (ev) => {
  ev.preventDefault();
  const ms = parseClock($('jump').value, state.day);
  if (ms === null) { setStatus('Type a time as HH:MM or HH:MM:SS.'); return; }
  if (!(await playAt(ms))) setStatus(`Nothing was recorded at ${$('jump').value} ${zoneName()} on ${state.day}.`);
};

// ---- Timeline pointer ------------------------------------------------------------------

$('timeline').addEventListener('mousemove', (ev) => {
  const h = $('hover-time'), ms = timeAt(ev);
  h.hidden = false;
  h.textContent = clock(ms).slice(0, 5);
  h.style.left = `${((ms - Date.parse(state.day + 'T00:00:00Z')) / DAY) * 100}%`;
});
$('timeline').addEventListener('mouseleave', () => { $('hover-time').hidden = true; });
$('timeline').addEventListener('click', async (ev) => {
  if (state.show && !(await playAt(timeAt(ev)))) setStatus('Nothing was recorded there.');
});

// ---- Keys, speed, zone -----------------------------------------------------------------

document.addEventListener('keydown', (ev) => {
  if (ev.target.closest('input, select, textarea') || ev.ctrlKey || ev.metaKey || ev.altKey || !state.session) return;
  const seek = { ArrowLeft: -5, ArrowRight: 5, j: -10, J: -10, l: 10, L: 10 }[ev.key];
  if (seek) { audio.currentTime = Math.max(0, audio.currentTime + seek); ev.preventDefault(); }
  else if (ev.key === ' ' || ev.key === 'k' || ev.key === 'K') {
    if (ev.target.closest('button')) ev.target.blur();
    if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    ev.preventDefault();
  }
});

$('speed').value = localStorage.getItem('sa.speed') || '1';
$('speed').onchange = () => {
  localStorage.setItem('sa.speed', $('speed').value);
  audio.defaultPlaybackRate = audio.playbackRate = Number($('speed').value);
};
$('tz').value = state.tz;
$('tz').onchange = () => {
  state.tz = $('tz').value;
  localStorage.setItem('sa.tz', state.tz);
  // Only the labels change; playback goes on as it was.
  if (state.show) loadDay();
  if (state.session) {
    $('now-title').textContent = `${state.show} · ${utcDay(state.session.start_ms)} ${clock(state.session.start_ms)}`;
    drawTitles();
    drawHour(true);
    drawMarks();
    tick();
  }
};

// ---- Sync status and new recordings ------------------------------------------------------

async function pollSync() {
  try {
    const s = await getJSON('api/sync/status');
    $('sync').hidden = false;
    const when = s.last_finished_ms ? `${clock(s.last_finished_ms)} ${zoneName()}` : 'never';
    let text = s.in_progress ? 'sync: running…' : `sync: last ${when}`;
    if (!s.in_progress && s.last_result === 'failed') text += ` — failed: ${s.last_error || ''}`;
    $('sync-state').textContent = text;
    $('sync').classList.toggle('failed', s.last_result === 'failed');
    $('sync-now').disabled = s.in_progress;
    // A pass finished since the last look (the first look only sets the baseline).
    if (!s.in_progress && state.lastFinished !== undefined && s.last_finished_ms !== state.lastFinished) checkNew();
    if (!s.in_progress) state.lastFinished = s.last_finished_ms;
  } catch (e) {
    // Not a receiver (inspect mode): no sync to show.
  }
}

/** After a pass: say so when it brought audio the page does not list yet (more sessions, or
 * recordings reaching later; retention may have removed as many sessions as came). */
async function checkNew() {
  const { shows } = await getJSON('api/shows').catch(() => ({ shows: [] }));
  const known = new Map(state.shows.map((s) => [s.name, s]));
  const grew = (s) => !known.has(s.name) || s.sessions > known.get(s.name).sessions
    || (s.last_end_ms || 0) > (known.get(s.name).last_end_ms || 0);
  if (shows.some(grew)) $('notice').hidden = false;
}

$('notice-show').onclick = async () => {
  $('notice').hidden = true;
  await loadShows();
  if (state.show) await loadDay();
};
$('sync-now').onclick = async () => {
  $('sync-now').disabled = true;
  try { await getJSON('api/sync', { method: 'POST' }); } catch (e) { /* 409: one is running */ }
  pollSync();
};
$('date').onchange = () => { state.day = $('date').value; loadDay(); };
$('prev-day').onclick = () => { state.day = utcDay(Date.parse(state.day) - DAY); $('date').value = state.day; loadDay(); };
$('next-day').onclick = () => { state.day = utcDay(Date.parse(state.day) + DAY); $('date').value = state.day; loadDay(); };
$('back15').onclick = () => { audio.currentTime = Math.max(0, audio.currentTime - 15); };
$('fwd30').onclick = () => { audio.currentTime += 30; };
audio.addEventListener('timeupdate', tick);
audio.addEventListener('seeked', tick);
audio.addEventListener('pause', () => { state.lastSaved = 0; tick(); });

// ---- Start: a shared link's moment, else the last session where it was left --------------

async function start() {
  const shows = await loadShows();
  if (!shows.length) return;
  const q = new URLSearchParams(location.hash.slice(1));
  if (q.get('show') && shows.some((s) => s.name === q.get('show'))) {
    const ms = Date.parse(`${q.get('date')}T${q.get('time') || '00:00:00'}Z`);
    await selectShow(q.get('show'), Number.isNaN(ms) ? undefined : utcDay(ms));
    if (!Number.isNaN(ms) && !(await playAt(ms))) setStatus('Nothing was recorded at the linked time.');
    return;
  }
  const last = JSON.parse(localStorage.getItem('sa.last') || 'null');
  if (last && shows.some((s) => s.name === last.show)) {
    await selectShow(last.show);
    const { sessions } = await getJSON(`api/show/${enc(last.show)}/sessions`).catch(() => ({ sessions: [] }));
    const s = sessions.find((x) => x.section_id === last.id);
    if (s) {
      state.day = utcDay(s.start_ms);
      $('date').value = state.day;
      await loadDay();
      await play(s, savedPosition(s));
      return;
    }
  }
  await selectShow(shows[0].name);
}

start();
pollSync();
setInterval(pollSync, 3000);
