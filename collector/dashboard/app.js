/* ferry dashboard logic: reads the collector's read API for the chosen window
 * and shows it. Rules this file keeps:
 *  - ids come from the plant floor: every value goes into the page with
 *    textContent or as a canvas label, never as HTML;
 *  - the read token is asked for only when the API answers 401 (or 403), kept
 *    in sessionStorage (this tab only) and sent as "Authorization: Bearer";
 *    a wall screen opens /#token=T (a fragment never reaches the server or its
 *    logs; "&remember" keeps it in localStorage on that screen) and the token
 *    is taken out of the address bar at once;
 *  - nothing is loaded from anywhere but this collector (CSP default-src 'self'). *
 * The plant (SPEC §6.6): names from the registry where it has them (the id on
 * hover), a site and a line picker, a sites overview, and a click on a worker
 * or workstation opens its drill-down page (plant.js); all of it, with the
 * window, lives in the address so a wall screen can open one line's view. */
'use strict';

(function () {
  const TOKEN_KEY = 'ferry.readToken';
  const REMEMBER_KEY = 'ferry.readToken.remembered'; // localStorage: a kiosk screen's token
  const REFRESH_S = 30;          // auto refresh period; #every=N in the address sets another (2-3600 s)
  const STALE_S = 120;           // no contact for longer: the agent is "silent" (heartbeats come every 30 s)
  const PENDING_OLD_S = 300;     // an agent's oldest pending event older than this: "behind"
  const H = 3600000;

  const $ = (id) => document.getElementById(id);
  const nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

  const state = {
    win: '24h',
    custom: null,          // {from: Date, to: Date} for the custom window
    timer: null,
    busy: false,
    waitingToken: false,
    rows: { workers: [], stations: [], fleet: [], models: [] },
    sort: {
      workers: { key: 'worker_id', dir: 1 },
      stations: { key: 'workstation_id', dir: 1 },
      fleet: { key: 'health_rank', dir: -1 },
      models: { key: 'drift_rank', dir: -1 },
    },
    series: undefined,     // undefined: not loaded yet; null: the collector has no series endpoint
    every: REFRESH_S,
    site: '',              // the site picked ('' = all)
    line: '',              // the line picked ('' = all)
    detail: null,          // {kind: 'worker'|'station', id} while a drill-down page is open
    registry: null,        // GET /v1/registry, or null (an older collector)
  };

  /* ---- formatting (the browser test formats expectations the same way) ---- */
  const fmt = {
    pct: (v) => nf1.format(v) + ' %',
    int: (v) => nf0.format(v),
    rate: (v) => nf1.format(v),
    dur: (s) => {
      const t = Math.round(s);
      const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
      if (h > 0) return h + ' h ' + String(m).padStart(2, '0') + ' min';
      if (m > 0) return m + ' min ' + String(sec).padStart(2, '0') + ' s';
      return sec + ' s';
    },
    age: (s) => {
      if (s < 0) s = 0;
      if (s < 90) return Math.round(s) + ' s ago';
      if (s < 5400) return Math.round(s / 60) + ' min ago';
      if (s < 172800) return Math.round(s / 3600) + ' h ago';
      return Math.round(s / 86400) + ' d ago';
    },
    when: (d) => d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }),
    conf: (v) => v.toFixed(3),
    hour: (d) => String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0'),
  };

  /* ---- the read API -------------------------------------------------------- */
  class AuthNeeded extends Error {}
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function readToken() {
    return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(REMEMBER_KEY);
  }

  /* A kiosk address: #token=T[&remember] → kept for the tab (or this screen), then
   * removed from the address so it shows nowhere and is not bookmarked with it. */
  function takeFragmentToken() {
    const p = new URLSearchParams(location.hash.slice(1));
    const t = (p.get('token') || '').trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    if (p.has('remember')) localStorage.setItem(REMEMBER_KEY, t);
    p.delete('token');
    p.delete('remember');
    const rest = p.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }

  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) url.searchParams.set(k, v);
    const headers = { Accept: 'application/json' };
    const token = readToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    const r = await fetch(url, { headers, cache: 'no-store', credentials: 'omit' });
    if (r.status === 401 || r.status === 403) throw new AuthNeeded(token ? 'That token was refused.' : '');
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const msg = body && body.error && body.error.message ? body.error.message : 'HTTP ' + r.status;
      throw new ApiError(r.status, path + ': ' + msg);
    }
    const date = Date.parse(r.headers.get('Date') || '');
    return { body, serverNow: Number.isFinite(date) ? date : Date.now() };
  }

  /* ---- the window ------------------------------------------------------------ */
  function currentWindow() {
    const now = new Date();
    if (state.win === 'custom' && state.custom) return { from: state.custom.from, to: state.custom.to };
    if (state.win === 'today') {
      const midnight = new Date(now);
      midnight.setHours(0, 0, 0, 0);
      return { from: midnight, to: now };
    }
    const hours = state.win === '8h' ? 8 : 24;
    return { from: new Date(now.getTime() - hours * H), to: now };
  }

  function toLocalInput(d) {
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  function selectWindow(win, fromHash) {
    state.win = win;
    for (const b of document.querySelectorAll('.windows button'))
      b.classList.toggle('on', b.dataset.window === win);
    const form = $('custom');
    if (win === 'custom') {
      form.hidden = false;
      if (!state.custom) {
        const to = new Date();
        state.custom = { from: new Date(to.getTime() - 24 * H), to };
      }
      $('custom-from').value = toLocalInput(state.custom.from);
      $('custom-to').value = toLocalInput(state.custom.to);
    } else {
      form.hidden = true;
    }
    if (!fromHash) writeHash();
    refresh();
  }

  function hashFor(detail) {
    let h = 'w=' + state.win;
    if (state.every !== REFRESH_S) h += '&every=' + state.every;
    if (state.win === 'custom' && state.custom)
      h += '&from=' + encodeURIComponent(state.custom.from.toISOString()) + '&to=' + encodeURIComponent(state.custom.to.toISOString());
    if (state.site) h += '&site=' + encodeURIComponent(state.site);
    if (state.line) h += '&line=' + encodeURIComponent(state.line);
    if (detail) h += '&' + detail.kind + '=' + encodeURIComponent(detail.id);
    return '#' + h;
  }

  function writeHash() {
    history.replaceState(null, '', hashFor(state.detail));
  }

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const w = p.get('w');
    const every = Number(p.get('every'));
    if (Number.isInteger(every) && every >= 2 && every <= 3600) state.every = every;
    if (w === 'custom') {
      const from = new Date(p.get('from') || ''), to = new Date(p.get('to') || '');
      if (!isNaN(from) && !isNaN(to)) state.custom = { from, to };
    }
    state.site = p.get('site') || '';
    state.line = p.get('line') || '';
    state.detail = p.has('worker') ? { kind: 'worker', id: p.get('worker') }
      : p.has('station') ? { kind: 'station', id: p.get('station') } : null;
    return ['today', '8h', '24h', 'custom'].includes(w) ? w : '24h';
  }

  /* ---- rendering helpers ----------------------------------------------------- */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setText(id, text) { $(id).textContent = text; }

  function showBanner(msg) {
    const b = $('banner');
    b.textContent = msg || '';
    b.hidden = !msg;
  }

  function idCell(id) {
    const td = el('td', 'id', id);
    td.title = id; // the whole id when the cell cuts it short
    return td;
  }

  /* A worker's or workstation's name where the registry has one, else its id. */
  function nameOf(kind, id) {
    const reg = state.registry;
    const list = reg ? (kind === 'worker' ? reg.workers : reg.workstations) : null;
    const e = list ? list.find((x) => x.id === id) : null;
    return e && typeof e.name === 'string' && e.name ? e.name : id;
  }

  /* The first cell of a worker or workstation row: its name (the id on
   * hover), a link to its drill-down page. */
  function drillCell(kind, id, name) {
    const td = el('td', 'id');
    const a = el('a', null, name || id);
    a.href = hashFor({ kind, id });
    a.title = id;
    td.title = id;
    td.appendChild(a);
    return td;
  }

  function utilCell(v) {
    const td = el('td', 'n');
    const bar = el('span', 'bar');
    const fill = el('span');
    fill.style.width = Math.max(0, Math.min(100, v)) + '%';   // CSSOM, not a style attribute: CSP allows it
    bar.appendChild(fill);
    td.appendChild(bar);
    td.appendChild(document.createTextNode(fmt.pct(v)));
    return td;
  }

  const columns = {
    workers: [
      (r) => drillCell('worker', r.worker_id, r.name),
      (r) => utilCell(r.utilization_pct),
      (r) => el('td', 'n', fmt.dur(r.working_s)),
      (r) => el('td', 'n', fmt.dur(r.idle_s)),
      (r) => el('td', 'n', fmt.dur(r.absent_s)),
      (r) => el('td', 'n', fmt.int(r.units)),
      (r) => el('td', 'n', fmt.rate(r.units_per_hour)),
    ],
    stations: [
      (r) => drillCell('station', r.workstation_id, r.name),
      (r) => utilCell(r.utilization_pct),
      (r) => el('td', 'n', fmt.dur(r.occupancy_s)),
      (r) => el('td', 'n', fmt.dur(r.working_s)),
      (r) => el('td', 'n', fmt.int(r.units)),
      (r) => el('td', 'n', fmt.rate(r.units_per_hour)),
    ],
    fleet: [
      (r) => idCell(r.agent_id),
      (r) => el('td', 'health', r.problems.length ? r.problems.join(', ') : 'ok'),
      (r) => el('td', 'n' + (r.last_seen_age > STALE_S ? ' bad' : ''), fmt.age(r.last_seen_age)),
      (r) => el('td', 'n', r.backlog === null ? '–' : fmt.int(r.backlog)),
      (r) => el('td', 'n' + (r.oldest_pending_s > PENDING_OLD_S ? ' bad' : ''),
        r.oldest_pending_s === null ? '–' : fmt.dur(r.oldest_pending_s)),
      (r) => el('td', 'n' + (r.missing > 0 ? ' bad' : ''), fmt.int(r.missing)),
      (r) => {
        const td = el('td', 'n' + (r.dropped > 0 ? ' warn' : ''), fmt.int(r.dropped));
        if (r.dropped_why) td.title = r.dropped_why;
        return td;
      },
      (r) => el('td', 'muted', r.version || '–'),
    ],
    models: [
      (r) => r.camera_id === null ? el('td', 'muted', 'none') : idCell(r.camera_id),
      (r) => r.model_version === null ? el('td', 'muted', 'none') : idCell(r.model_version),
      (r) => el('td', 'n', fmt.int(r.events)),
      (r) => el('td', 'n', r.confidence_mean === null ? '–' : fmt.conf(r.confidence_mean)),
      (r) => el('td', 'n' + (r.drift.reasons.includes('low_confidence_rate_rose') ? ' bad' : ''),
        r.low_confidence_rate === null ? '–' : fmt.pct(100 * r.low_confidence_rate)),
      (r) => el('td', r.drift.reasons.includes('event_mix_changed') ? 'bad' : '', r.mix_text),
      (r) => el('td', r.drift.flagged ? 'drift flagged' : 'drift muted', r.drift_text),
    ],
  };

  /* ---- models and cameras ---------------------------------------------------------- */
  const reasonText = {
    low_confidence_rate_rose: 'low-confidence rate rose',
    event_mix_changed: 'event mix changed',
    new_model_version: 'new model version',
  };

  function modelRows(models) {
    return models.map((m) => {
      const mix = m.event_mix;
      const d = m.drift;
      let text;
      if (d.flagged) {
        text = 'flagged: ' + d.reasons.map((x) => reasonText[x] || x).join(', ');
        if (d.reasons.includes('new_model_version') && d.baseline_model_version !== undefined)
          text += ' (compared with ' + (d.baseline_model_version === null ? 'no version' : d.baseline_model_version) + ')';
      } else if (m.events < 200 || d.baseline_events < 200) {
        text = 'too few events to compare';
      } else {
        text = 'ok';
      }
      return Object.assign({}, m, {
        row_id: (m.camera_id === null ? '' : '=' + m.camera_id) + '\u0000' + (m.model_version === null ? '' : '=' + m.model_version),
        mix_text: [mix.working, mix.idle, mix.absent, mix.product_count].map((v) => fmt.int(100 * v)).join(' / ') + ' %',
        drift_rank: d.flagged ? 1 : 0,
        drift_text: text,
      });
    });
  }
  const idKey = { workers: 'worker_id', stations: 'workstation_id', fleet: 'agent_id', models: 'row_id' };
  const emptyText = {
    models: 'No camera or model events in this window',
    workers: 'No worker activity in this window',
    stations: 'No workstation activity in this window',
    fleet: 'No agent has reached this collector yet',
  };

  function cmp(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return -1;
    if (b === null || b === undefined) return 1;
    return a < b ? -1 : 1;
  }

  function renderTable(name) {
    const table = $(name);
    const { key, dir } = state.sort[name];
    const id = idKey[name];
    const val = (r) => (key === id && r.name ? r.name : r[key]); // the first column sorts by what it shows
    const rows = state.rows[name].slice().sort((a, b) => dir * cmp(val(a), val(b)) || cmp(a[id], b[id]));
    for (const th of table.tHead.rows[0].cells)
      th.setAttribute('aria-sort', th.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    const body = document.createElement('tbody');
    if (!rows.length) {
      const tr = el('tr');
      const td = el('td', 'empty', emptyText[name]);
      td.colSpan = columns[name].length;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const r of rows) {
      const tr = el('tr');
      if (name === 'fleet' && r.problems.length) tr.className = 'unhealthy';
      if (name === 'models' && r.drift.flagged) tr.className = 'flagged';
      tr.dataset.id = r[id];
      for (const c of columns[name]) tr.appendChild(c(r));
      body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
  }

  function setupSorting(name) {
    for (const th of $(name).tHead.rows[0].cells) {
      const b = el('button', null, th.textContent);
      b.type = 'button';
      th.textContent = '';
      th.appendChild(b);
      th.classList.add('sortable-col');
      b.addEventListener('click', () => {
        const s = state.sort[name];
        if (s.key === th.dataset.key) s.dir = -s.dir;
        else { s.key = th.dataset.key; s.dir = th.dataset.type === 'num' ? -1 : 1; }
        renderTable(name);
      });
    }
  }

  /* ---- the fleet ---------------------------------------------------------------- */
  /* Why events were dropped, for the Dropped cell's tooltip: the collector's
   * rejection reasons (moved to the agent's dead-letter) and the latest one. */
  function droppedWhy(a) {
    const reasons = Object.entries(a.rejected_by_reason || {});
    if (!reasons.length) return a.dropped > 0 ? 'dropped by the agent (journal full or dead-letter)' : '';
    let t = 'rejected by the collector: ' + reasons.map(([k, n]) => k + ' × ' + fmt.int(n)).join(', ');
    const l = a.last_rejected;
    if (l) t += '; latest: seq ' + l.seq + ', ' + l.error + ' at ' + fmt.when(new Date(l.at));
    if (reasons.some(([k]) => k === 'timestamp_out_of_range')) t += ' — check the clock of that box and its cameras';
    return t;
  }

  function fleetRows(agents, serverNow) {
    return agents.map((a) => {
      const seen = Date.parse(a.last_seen);
      const age = Number.isFinite(seen) ? (serverNow - seen) / 1000 : Infinity;
      const problems = [];
      if (age > STALE_S) problems.push('silent');
      if (a.missing > 0) problems.push('missing events');
      if (a.oldest_pending_s !== null && a.oldest_pending_s > PENDING_OLD_S) problems.push('behind');
      return {
        agent_id: a.agent_id,
        version: a.version,
        last_seen_age: age,
        backlog: a.backlog,
        oldest_pending_s: a.oldest_pending_s,
        missing: a.missing,
        dropped: a.dropped,
        dropped_why: droppedWhy(a),
        problems,
        health_rank: problems.length,
      };
    });
  }

  /* ---- the chart (drawn on a canvas; labels are canvas text, not HTML) ---------- */
  function drawChart() {
    const canvas = $('chart');
    const box = canvas.parentElement;
    const dpr = window.devicePixelRatio || 1;
    const W = box.clientWidth, Hh = box.clientHeight;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(Hh * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, Hh);
    const pts = state.series ? state.series.points : [];
    const css = getComputedStyle(document.documentElement);
    const ink = css.getPropertyValue('--muted').trim() || '#637083';
    const line = css.getPropertyValue('--line').trim() || '#dde3ea';
    const accent = css.getPropertyValue('--accent').trim() || '#1f6feb';
    g.font = '12px system-ui, sans-serif';
    if (!pts.length) {
      g.fillStyle = ink;
      g.textAlign = 'center';
      g.fillText(state.series === undefined ? 'Loading…' : state.series === null ? 'No series available'
        : 'No data in this window', W / 2, Hh / 2);
      state.chartGeom = null;
      return;
    }
    const max = Math.max(1, ...pts.map((p) => p.units));
    const step = niceStep(max / 4);
    const top = Math.ceil(max / step) * step;
    const L = 48, R = 10, T = 10, B = 26;
    const pw = W - L - R, ph = Hh - T - B;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    g.strokeStyle = line;
    g.lineWidth = 1;
    for (let v = 0; v <= top + 1e-9; v += step) {
      const y = Math.round(T + ph - (v / top) * ph) + 0.5;
      g.beginPath(); g.moveTo(L, y); g.lineTo(W - R, y); g.stroke();
      g.fillStyle = ink;
      g.fillText(fmt.int(v), L - 6, y);
    }
    const n = pts.length, slot = pw / n, bw = Math.max(1, slot * 0.72);
    g.fillStyle = accent;
    pts.forEach((p, i) => {
      const h = (p.units / top) * ph;
      const x = L + i * slot + (slot - bw) / 2;
      g.fillRect(x, T + ph - h, bw, h);
    });
    if (state.hover !== undefined && state.hover !== null && state.hover < n) {
      g.fillStyle = 'rgba(31,111,235,0.12)';
      g.fillRect(L + state.hover * slot, T, slot, ph);
    }
    g.fillStyle = ink;
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 56))));
    pts.forEach((p, i) => {
      if (i % every) return;
      g.fillText(fmt.hour(new Date(p.t)), L + i * slot + slot / 2, T + ph + 6);
    });
    state.chartGeom = { L, slot, n };
  }

  function niceStep(x) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(x, 1e-9))));
    for (const m of [1, 2, 5, 10]) if (m * p >= x) return Math.max(1, m * p);
    return Math.max(1, 10 * p);
  }

  function chartPointer(ev) {
    const geom = state.chartGeom;
    if (!geom) return;
    const rect = $('chart').getBoundingClientRect();
    const i = Math.floor((ev.clientX - rect.left - geom.L) / geom.slot);
    state.hover = i >= 0 && i < geom.n ? i : null;
    const p = state.hover === null ? null : state.series.points[state.hover];
    setText('chart-tip', p ? fmt.hour(new Date(p.t)) + '–' + fmt.hour(new Date(p.end)) + ': ' + fmt.int(p.units) + ' units' : '');
    drawChart();
  }

  /* ---- the plant: pickers, sites overview, drill-down ---------------------------- */
  function fillPicker(sel, items, value, all) {
    sel.textContent = '';
    sel.appendChild(el('option', null, all)).value = '';
    for (const x of items) {
      const o = el('option', null, x.name ? x.name : x.id);
      o.value = x.id;
      o.title = x.id;
      sel.appendChild(o);
    }
    sel.value = items.some((x) => x.id === value) ? value : '';
  }

  function renderPickers() {
    const reg = state.registry;
    const sites = reg ? reg.sites || [] : [], lines = reg ? reg.lines || [] : [];
    $('plant').hidden = !sites.length && !lines.length;
    fillPicker($('pick-site'), sites, state.site, 'All sites');
    fillPicker($('pick-line'), lines.filter((l) => !state.site || l.site === state.site), state.line, 'All lines');
  }

  function filters() {
    const f = {};
    if (state.site) f.site = state.site;
    if (state.line) f.line = state.line;
    return f;
  }

  function renderSites(rows) {
    $('sites-panel').hidden = !rows;
    if (!rows) return;
    setText('sites-count', rows.length + (rows.length === 1 ? ' site' : ' sites'));
    const body = document.createElement('tbody');
    for (const r of rows) {
      const tr = el('tr');
      tr.dataset.id = r.site === null ? '' : r.site;
      const td = el('td', 'id', r.site === null ? 'no site' : r.name || r.site);
      td.title = r.site === null ? 'events of agents of no site' : r.site;
      tr.appendChild(td);
      tr.appendChild(utilCell(r.avg_utilization_pct));
      tr.appendChild(el('td', 'n', fmt.int(r.units)));
      tr.appendChild(el('td', 'n', fmt.rate(r.units_per_hour)));
      tr.appendChild(el('td', 'n', fmt.int(r.workers)));
      tr.appendChild(el('td', 'n', fmt.int(r.workstations)));
      if (r.site !== null) tr.addEventListener('click', () => pickSite(r.site));
      body.appendChild(tr);
    }
    $('sites').replaceChild(body, $('sites').tBodies[0]);
  }

  function pickSite(site) {
    state.site = site;
    if (state.line && !(state.registry && state.registry.lines.some((l) => l.id === state.line && l.site === site)))
      state.line = '';
    writeHash();
    refresh();
  }

  /* The overview (everything in main but the window line) or one page. */
  function showDetail(open) {
    for (const c of $('main').children) {
      if (c.id === 'detail') c.hidden = !open;
      else if (!c.classList.contains('window-line') && c.id !== 'sites-panel') c.hidden = open;
    }
    if (open) $('sites-panel').hidden = true;
  }

  /* ---- one refresh --------------------------------------------------------------- */
  async function refresh() {
    if (state.busy || state.waitingToken) return;
    const w = currentWindow();
    if (!(w.from < w.to)) {
      showBanner('The window must start before it ends.');
      return;
    }
    state.busy = true;
    const q = Object.assign({ from: w.from.toISOString(), to: w.to.toISOString() }, filters());
    const step = w.to - w.from > 4 * 24 * H ? 'day' : 'hour';
    const older = (e) => { // an older collector without that endpoint
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    };
    try {
      state.registry = ((await api('/v1/registry').catch(older)) || { body: null }).body;
      renderPickers();
      const hasSites = !!(state.registry && state.registry.sites && state.registry.sites.length);
      const siteQ = Object.assign({}, q);
      delete siteQ.site;
      const settled = await Promise.allSettled([
        api('/v1/metrics/factory', q),
        api('/v1/metrics/workers', q),
        api('/v1/metrics/workstations', q),
        api('/v1/agents'),
        api('/v1/metrics/series', Object.assign({ step }, q)).catch(older),
        hasSites && !state.detail ? api('/v1/metrics/sites', siteQ).catch(older) : null,
        // the models endpoint takes no site/line filter: the whole window
        api('/v1/metrics/models', { from: q.from, to: q.to }).catch((e) => {
          if (e instanceof ApiError && (e.status === 404 || e.status === 501)) return null; // not kept here
          throw e;
        }),
      ]);
      // a refused token wins over any other failure: ask for it again
      const failed = settled.filter((x) => x.status === 'rejected').map((x) => x.reason);
      if (failed.length) throw failed.find((e) => e instanceof AuthNeeded) || failed[0];
      const [fac, wk, ws, ag, se, si, mo] = settled.map((x) => x.value);
      const f = fac.body;
      const main = $('main');
      main.dataset.from = f.from;
      main.dataset.to = f.to;
      setText('window-label', fmt.when(new Date(f.from)) + ' → ' + fmt.when(new Date(f.to)));
      // the time-weighted figure (a short test worker barely moves it); an older
      // collector without it: the plain mean
      const tw = typeof f.utilization_pct === 'number';
      setText('f-util', fmt.pct(tw ? f.utilization_pct : f.avg_utilization_pct));
      setText('f-util-note', tw ? 'working time ÷ working + idle time, all workers' : 'mean over workers');
      setText('f-units', fmt.int(f.units));
      setText('f-uph', fmt.rate(f.units_per_hour));
      setText('f-workers', fmt.int(f.workers));
      setText('f-stations', fmt.int(f.workstations));

      state.rows.workers = wk.body.workers;
      state.rows.stations = ws.body.workstations;
      state.rows.fleet = fleetRows(ag.body.agents, ag.serverNow);
      setText('workers-count', wk.body.workers.length + ' in the window');
      setText('stations-count', ws.body.workstations.length + ' in the window');
      const bad = state.rows.fleet.filter((r) => r.problems.length).length;
      setText('fleet-count', state.rows.fleet.length + ' agents' + (bad ? ', ' + bad + ' need attention' : ''));
      const nAg = state.rows.fleet.length;
      setText('fleet-summary', nAg + (nAg === 1 ? ' agent' : ' agents') + ' · ' +
        (bad ? bad + (bad === 1 ? ' needs' : ' need') + ' attention' : 'all ok'));
      $('fleet-summary').classList.toggle('bad', bad > 0);
      renderTable('workers');
      renderTable('stations');
      renderTable('fleet');
      $('models-panel').hidden = !mo;
      state.rows.models = mo ? modelRows(mo.body.models) : [];
      const flagged = state.rows.models.filter((r) => r.drift.flagged).length;
      setText('models-count', state.rows.models.length + ' camera and model rows' + (flagged ? ', ' + flagged + ' flagged' : ''));
      renderTable('models');

      state.series = se ? { step: se.body.step, points: se.body.points } : null;
      if (se) {
        const pts = se.body.points, total = pts.reduce((a, p) => a + p.units, 0);
        const peak = pts.reduce((a, p) => Math.max(a, p.units), 0);
        setText('chart-note', fmt.int(total) + ' units, peak ' + fmt.int(peak) + (se.body.step === 'day' ? ' in a UTC day' : ' in an hour'));
      } else {
        setText('chart-note', '');
      }
      drawChart();

      renderSites(si ? si.body.sites : null);
      showDetail(!!state.detail);
      if (state.detail) {
        await window.FerryPlant.detail({
          api, el, fmt, q, kind: state.detail.kind, id: state.detail.id, name: nameOf,
          stations: state.rows.stations.map((r) => r.workstation_id),
        });
      }

      setText('updated', 'Updated ' + new Date().toLocaleTimeString());
      showBanner('');
      document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
    } catch (e) {
      if (e instanceof AuthNeeded) askToken(e.message);
      else showBanner('Could not load the figures: ' + (e && e.message ? e.message : String(e)));
    } finally {
      state.busy = false;
    }
  }

  /* ---- the read token ------------------------------------------------------------- */
  function askToken(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(REMEMBER_KEY);
    state.waitingToken = true;
    const err = $('token-error');
    err.textContent = why || '';
    err.hidden = !why;
    const d = $('token-dialog');
    if (!d.open) d.showModal();
    $('token').focus();
  }

  function onToken(ev) {
    ev.preventDefault();
    const v = $('token').value.trim();
    if (!v) return;
    sessionStorage.setItem(TOKEN_KEY, v);
    $('token').value = '';
    $('token-dialog').close();
    state.waitingToken = false;
    refresh();
  }

  /* ---- auto refresh ---------------------------------------------------------------- */
  function schedule() {
    clearInterval(state.timer);
    state.timer = null;
    if ($('auto').checked && !document.hidden)
      state.timer = setInterval(refresh, state.every * 1000);
  }

  function init() {
    for (const b of document.querySelectorAll('.windows button'))
      b.addEventListener('click', () => selectWindow(b.dataset.window));
    $('custom').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const from = new Date($('custom-from').value), to = new Date($('custom-to').value);
      if (isNaN(from) || isNaN(to)) { showBanner('Give both ends of the window.'); return; }
      state.custom = { from, to };
      writeHash();
      refresh();
    });
    $('refresh-now').addEventListener('click', refresh);
    $('auto').addEventListener('change', schedule);
    document.addEventListener('visibilitychange', () => { schedule(); if (!document.hidden) refresh(); });
    $('token-form').addEventListener('submit', onToken);
    $('token-dialog').addEventListener('cancel', (ev) => ev.preventDefault());
    for (const name of ['workers', 'stations', 'fleet', 'models']) setupSorting(name);
    $('pick-site').addEventListener('change', () => pickSite($('pick-site').value));
    $('pick-line').addEventListener('change', () => { state.line = $('pick-line').value; writeHash(); refresh(); });
    $('detail-back').addEventListener('click', (ev) => {
      ev.preventDefault();
      state.detail = null;
      writeHash();
      refresh();
    });
    window.addEventListener('hashchange', () => { const w = readHash(); selectWindow(w, true); });
    const canvas = $('chart');
    canvas.addEventListener('pointermove', chartPointer);
    canvas.addEventListener('pointerdown', chartPointer);
    canvas.addEventListener('pointerleave', () => { state.hover = null; setText('chart-tip', ''); drawChart(); });
    new ResizeObserver(() => drawChart()).observe(canvas.parentElement);
    takeFragmentToken();
    const win = readHash();
    schedule();
    selectWindow(win, true);
  }

  document.addEventListener('DOMContentLoaded', init);
})();
