/* ferry dashboard, the plant side: the drill-down page of one worker or one
 * workstation — its figures, its state over the window in bands (working /
 * idle / absent, or unoccupied for a workstation), units per hour, and the
 * workstations it worked at (or the workers at the workstation). Loaded
 * before app.js, which opens it with FerryPlant.detail(). Same rules as
 * app.js: every value is inserted as text or drawn on a canvas. */
'use strict';

window.FerryPlant = (function () {
  const H = 3600000;
  const MAX_BUCKETS = 48;
  const MAX_STATIONS = 60; // workstations asked about for one worker
  const COLORS = ['#2e7d32', '#f0a500', '#c9d1db'];

  /* [from, to) cut into at most 48 buckets of whole hours (doubling), or one. */
  function buckets(from, to) {
    const span = to - from;
    let size = H;
    while (span / size > MAX_BUCKETS) size *= 2;
    if (span <= size) return [{ from, to }];
    const out = [];
    for (let t = from; t < to; t += size) out.push({ from: t, to: Math.min(to, t + size) });
    return out;
  }

  /* fn over items, at most n at a time; results in order. */
  async function pool(items, n, fn) {
    const out = new Array(items.length);
    let next = 0;
    async function worker() {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
    return out;
  }

  function setupCanvas(canvas) {
    const box = canvas.parentElement, dpr = window.devicePixelRatio || 1;
    const W = box.clientWidth, Hh = box.clientHeight;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(Hh * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, Hh);
    g.font = '12px system-ui, sans-serif';
    return { g, W, Hh };
  }

  function timeLabels(g, bks, L, slot, y, W) {
    const every = Math.max(1, Math.ceil(bks.length / Math.max(1, Math.floor((W - L) / 56))));
    g.fillStyle = '#637083';
    g.textAlign = 'center';
    g.textBaseline = 'top';
    bks.forEach((b, i) => {
      if (i % every) return;
      const d = new Date(b.from);
      g.fillText(String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0'),
        L + i * slot + slot / 2, y);
    });
  }

  /* Each bucket a full-height bar split into the fractions of its length. */
  function drawBands(canvas, bks, fractions) {
    const { g, W, Hh } = setupCanvas(canvas);
    const L = 8, T = 4, B = 20, ph = Hh - T - B, slot = (W - 2 * L) / bks.length;
    bks.forEach((b, i) => {
      let y = T + ph;
      fractions[i].forEach((f, k) => {
        const h = Math.max(0, Math.min(1, f)) * ph;
        g.fillStyle = COLORS[k];
        g.fillRect(L + i * slot, y - h, Math.max(1, slot - 1), h);
        y -= h;
      });
    });
    timeLabels(g, bks, L, slot, T + ph + 4, W);
  }

  function drawUnits(canvas, bks, values, fmt) {
    const { g, W, Hh } = setupCanvas(canvas);
    const L = 44, T = 6, B = 20, ph = Hh - T - B, slot = (W - L - 8) / bks.length;
    const top = Math.max(1, ...values);
    g.fillStyle = '#637083';
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    g.fillText(fmt.rate(top), L - 6, T + 6);
    g.fillText('0', L - 6, T + ph);
    g.fillStyle = '#1f6feb';
    values.forEach((v, i) => {
      const h = (v / top) * ph;
      g.fillRect(L + i * slot + slot * 0.14, T + ph - h, Math.max(1, slot * 0.72), h);
    });
    timeLabels(g, bks, L, slot, T + ph + 4, W);
  }

  function fig(el, label, value) {
    const d = el('div');
    d.appendChild(el('span', 'muted', label));
    d.appendChild(el('span', 'v', value));
    return d;
  }

  /* Open the page of one worker (kind 'worker') or workstation ('station').
   * c: {api, el, fmt, kind, id, q (window and filters), name(kind, id),
   * stations (workstation ids in the window)}. Resolves once drawn. */
  async function detail(c) {
    const $ = (id) => document.getElementById(id);
    const worker = c.kind === 'worker';
    const path = (worker ? '/v1/metrics/workers/' : '/v1/metrics/workstations/') + encodeURIComponent(c.id);
    const label = c.name(c.kind, c.id);
    $('detail-title').textContent = (worker ? 'Worker ' : 'Workstation ') + label;
    $('detail-title').title = c.id;
    $('detail-sub').textContent = label === c.id ? '' : 'id ' + c.id;
    $('detail-third').textContent = worker ? 'absent' : 'unoccupied';

    const one = (await c.api(path, c.q)).body;
    const figs = $('detail-figs');
    figs.textContent = '';
    figs.appendChild(fig(c.el, 'Utilization', c.fmt.pct(one.utilization_pct)));
    if (worker) {
      figs.appendChild(fig(c.el, 'Working', c.fmt.dur(one.working_s)));
      figs.appendChild(fig(c.el, 'Idle', c.fmt.dur(one.idle_s)));
      figs.appendChild(fig(c.el, 'Absent', c.fmt.dur(one.absent_s)));
    } else {
      figs.appendChild(fig(c.el, 'Occupied', c.fmt.dur(one.occupancy_s)));
      figs.appendChild(fig(c.el, 'Working', c.fmt.dur(one.working_s)));
    }
    figs.appendChild(fig(c.el, 'Units', c.fmt.int(one.units)));
    figs.appendChild(fig(c.el, 'Units/h', c.fmt.rate(one.units_per_hour)));

    const from = Date.parse(c.q.from), to = Date.parse(c.q.to);
    const bks = buckets(from, to);
    const per = await pool(bks, 6, (b) => c.api(path, Object.assign({}, c.q, {
      from: new Date(b.from).toISOString(), to: new Date(b.to).toISOString() })).then((r) => r.body));
    const fractions = per.map((x, i) => {
      const len = (bks[i].to - bks[i].from) / 1000;
      if (worker) return [x.working_s / len, x.idle_s / len, x.absent_s / len];
      return [x.working_s / len, (x.occupancy_s - x.working_s) / len, 1 - x.occupancy_s / len];
    });
    drawBands($('detail-states'), bks, fractions);
    drawUnits($('detail-units'), bks, per.map((x, i) => x.units / ((bks[i].to - bks[i].from) / H)), c.fmt);
    const sec = $('detail');
    sec.dataset.buckets = String(bks.length);
    sec.dataset.units = String(per.reduce((a, x) => a + x.units, 0));

    // who worked where
    let rows;
    if (worker) {
      const cand = c.stations.slice(0, MAX_STATIONS);
      const got = await pool(cand, 6, (s) => c.api(path, Object.assign({}, c.q, { workstation: s })).then((r) => r.body));
      rows = got.map((x, i) => Object.assign({ key: cand[i] }, x))
        .filter((x) => x.working_s + x.idle_s + x.absent_s > 0 || x.units > 0);
    } else {
      const got = (await c.api('/v1/metrics/workers', Object.assign({}, c.q, { workstation: c.id }))).body;
      rows = got.workers.map((x) => Object.assign({ key: x.worker_id }, x));
    }
    rows.sort((a, b) => b.working_s - a.working_s || (a.key < b.key ? -1 : 1));
    $('detail-list-title').textContent = worker ? 'Workstations worked at' : 'Workers at this workstation';
    const table = $('detail-list');
    const head = table.tHead.rows[0];
    head.textContent = '';
    for (const [t, n] of [[worker ? 'Workstation' : 'Worker', false], ['Working', true], ['Idle', true],
      ['Absent', true], ['Units', true]]) head.appendChild(c.el('th', n ? 'n' : null, t));
    const body = document.createElement('tbody');
    for (const r of rows) {
      const tr = c.el('tr');
      tr.dataset.id = r.key;
      const td = c.el('td', 'id', c.name(worker ? 'station' : 'worker', r.key));
      td.title = r.key;
      tr.appendChild(td);
      tr.appendChild(c.el('td', 'n', c.fmt.dur(r.working_s)));
      tr.appendChild(c.el('td', 'n', c.fmt.dur(r.idle_s)));
      tr.appendChild(c.el('td', 'n', c.fmt.dur(r.absent_s)));
      tr.appendChild(c.el('td', 'n', c.fmt.int(r.units)));
      body.appendChild(tr);
    }
    if (!rows.length) {
      const tr = c.el('tr'), td = c.el('td', 'empty', 'Nothing in this window');
      td.colSpan = 5;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
  }

  return { detail, buckets };
})();
