// End-to-end test of the collector's dashboard: a real ferry-collector on
// 127.0.0.1 with known data (batches posted to /v1/ingest with the agent
// token), the page opened in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), and what the page shows compared with what the
// API answers for the same window. Screenshots are written as test artifacts.
//   FERRY_BIN_DIR        directory holding ferry-collector (CTest sets it)
//   FERRY_ARTIFACT_DIR   where screenshots go (default: FERRY_BIN_DIR/browser-artifacts)
//   FERRY_CHROMIUM       browser binary (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const BIN_DIR = resolve(process.env.FERRY_BIN_DIR || join(import.meta.dirname, '..', '..', 'build'));
const ARTIFACTS = resolve(process.env.FERRY_ARTIFACT_DIR || join(BIN_DIR, 'browser-artifacts'));
const CHROMIUM = process.env.FERRY_CHROMIUM || '/usr/bin/chromium';
const AGENT_TOKEN = 'bt-agent-token-51c9e0';
const READ_TOKEN = 'bt-read-token-7a44d2';
const ADMIN_TOKEN = 'bt-admin-token-3f08aa';
const H = 3600000, MIN = 60000;
const HTML_WORKER = '<b>x</b>';
const HTML_STATION = '<img src=x onerror=alert(1)>';
const HTML_CAMERA = 'dock-<b>1</b>';

let tmp, collector, base, browser, ctx, page;
const consoleErrors = [], cspViolations = [], foreignRequests = [], apiAuth = [];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(url, proc, logPath) {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error('collector exited: ' + readFileSync(logPath, 'utf8'));
    try { if ((await fetch(url + '/healthz')).ok) return; } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error('collector did not answer /healthz: ' + readFileSync(logPath, 'utf8'));
}

async function api(path, params) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, v);
  const r = await fetch(u, { headers: { Authorization: 'Bearer ' + READ_TOKEN } });
  assert.equal(r.status, 200, `${u}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

const iso = (ms) => new Date(ms).toISOString();

// Known data: two hours of shifts a few hours ago (inside "last 8 h"), and
// a morning 14 h ago (inside "last 24 h" only), so switching the window
// changes every figure.
function shiftEvents(prefix, t0, spec) {
  const evs = [];
  let n = 0;
  for (const [worker, station, pattern, unitsEvery] of spec) {
    for (let k = 0; k < pattern.length; k++) {
      const ts = t0 + k * 5 * MIN;
      evs.push({ event_id: `${prefix}-${n++}`, timestamp: iso(ts), event_type: pattern[k],
        worker_id: worker, workstation_id: station });
      if (pattern[k] === 'working' && k % unitsEvery === 0)
        evs.push({ event_id: `${prefix}-${n++}`, timestamp: iso(ts + MIN), event_type: 'product_count',
          worker_id: worker, workstation_id: station, count: 1 + (k % 4) });
    }
  }
  return evs;
}

async function ingest(agentId, epoch, events, firstSeq, { dropped = [], backlog = 0, oldest = 0, skip = [], site } = {}) {
  let seq = firstSeq;
  const out = [];
  for (const e of events) {
    while (skip.includes(seq)) seq++;
    out.push({ ...e, seq, ingested_at: e.timestamp });
    seq++;
  }
  const body = { agent_id: agentId, epoch, events: out, dropped, stats: { backlog, oldest_pending_s: oldest },
    sent_at: iso(Date.now()) };
  if (site) body.site = site;
  const headers = { Authorization: 'Bearer ' + AGENT_TOKEN, 'Content-Type': 'application/json',
    'User-Agent': 'ferry-agent/0.1.0' };
  if (out.length) headers['Idempotency-Key'] = `${agentId}:${epoch}:${out[0].seq}-${out[out.length - 1].seq}`;
  const r = await fetch(new URL('/v1/ingest', base), { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  const j = JSON.parse(text);
  assert.equal(j.accepted, out.length);
  return seq;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ferry-browser-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const logPath = join(tmp, 'collector.log');
  const log = openSync(logPath, 'w');
  collector = spawn(join(BIN_DIR, 'ferry-collector'),
    ['--listen', `127.0.0.1:${port}`, '--db', `sqlite:${join(tmp, 'ferry.db')}`],
    { env: { ...process.env, FERRY_AUTH_TOKEN: AGENT_TOKEN, FERRY_READ_TOKEN: READ_TOKEN, FERRY_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', log, log] });
  await waitHealthy(base, collector, logPath);

  const now = Date.now();
  const recent = Math.floor((now - 4 * H) / MIN) * MIN;
  const morning = Math.floor((now - 14 * H) / MIN) * MIN;
  const W = 'working', I = 'idle', A = 'absent';
  const recentEvents = shiftEvents('r', recent, [
    ['w-alpha', 'press-1', [W, W, W, I, W, W, W, W, I, W, W, W, W, W, I, W, W, W, W, W, W, W, W, I], 2],
    ['w-beta', 'press-2', [W, I, I, W, W, A, A, W, W, W, I, W, W, W, W, I, I, W, W, W, W, I, W, W], 3],
    [HTML_WORKER, HTML_STATION, [I, W, W, W, W, W, I, I, W, W, W, W, W, W, W, W, W, W, I, W, W, W, W, W], 1],
  ]);
  const morningEvents = shiftEvents('m', morning, [
    ['w-alpha', 'press-1', [W, W, W, W, W, W, W, W, W, W, W, W], 1],
    ['w-gamma', 'lathe-7', [W, I, W, I, W, I, W, I, W, I, W, I], 1],
  ]);
  // a camera box with all events delivered and a healthy heartbeat
  await ingest('line-1-cam-1', '00000000000000a1', recentEvents, 1);
  // one with a gap (seqs 4 and 5 never arrive; 6 and 7 were dropped by the agent): unhealthy
  await ingest('line-2-cam-3', '00000000000000b2', morningEvents, 1,
    { skip: [4, 5, 6, 7], dropped: [{ from_seq: 6, to_seq: 7, reason: 'quota' }], backlog: 120, oldest: 900 });
  // a product count without a worker (factory units count it)
  await ingest('line-3-cam-9', '00000000000000c3',
    [{ event_id: 'nw-1', timestamp: iso(recent + 30 * MIN), event_type: 'product_count', workstation_id: 'press-1', count: 5 }], 1);

  // cameras: a baseline 4 days ago and the window 22 to 18 h ago (inside "last 24 h" only;
  // product counts without a worker, so the worker figures above stay as they are)
  const camEvents = [];
  const addCam = (cam, mv, n, t0, conf) => {
    for (let i = 0; i < n; i++) {
      camEvents.push({ event_id: `c-${camEvents.length}`, timestamp: iso(t0 + i * 30000), event_type: 'product_count',
        workstation_id: 'dock', camera_id: cam, model_version: mv, confidence: conf(i) });
    }
  };
  addCam(HTML_CAMERA, 'v1', 210, now - 96 * H, () => 0.9);
  addCam(HTML_CAMERA, 'v1', 210, now - 22 * H, (i) => (i % 2 ? 0.2 : 0.9)); // half low: flagged
  addCam('dock-2', 'v1', 210, now - 98 * H, () => 0.8);
  addCam('dock-2', 'v2', 210, now - 21 * H, () => 0.85); // a new version that behaves: compared with v1, ok
  addCam('dock-3', undefined, 20, now - 20 * H, () => 0.7); // too few to compare
  await ingest('line-4-docks', '00000000000000d4', camEvents, 1);

  browser = null;
  ctx = await chromium.launchPersistentContext(join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 1000 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  });
  page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin !== base) foreignRequests.push(r.url());
    if (u.pathname.startsWith('/v1/')) apiAuth.push(r.headers().authorization || '');
  });
});

after(async () => {
  if (ctx) await ctx.close().catch(() => {});
  if (collector && collector.exitCode === null) {
    collector.kill('SIGTERM');
    for (let i = 0; i < 100 && collector.exitCode === null; i++) await sleep(50);
    if (collector.exitCode === null) collector.kill('SIGKILL');
  }
  if (tmp && !process.env.FERRY_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

// The page's formatting, repeated here on purpose: a change to one without
// the other fails the test.
const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
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
};

async function loads() { return Number(await page.evaluate(() => document.body.dataset.loaded || 0)); }
async function waitLoaded(after) {
  await page.waitForFunction((n) => Number(document.body.dataset.loaded || 0) > n, after, { timeout: 15000 });
}
async function shownWindow() {
  return page.evaluate(() => ({ from: document.getElementById('main').dataset.from, to: document.getElementById('main').dataset.to }));
}
async function tableRows(id) {
  return page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => ({
    id: tr.dataset.id, cls: tr.className, cells: [...tr.cells].map((td) => td.textContent.trim()) })));
}

async function checkFigures(label, filters = {}) {
  const w = await shownWindow();
  assert.ok(w.from && w.to, `${label}: the page shows its window`);
  const q = { from: w.from, to: w.to, ...filters };
  const [f, wk, ws] = await Promise.all([api('/v1/metrics/factory', q), api('/v1/metrics/workers', q),
    api('/v1/metrics/workstations', q)]);
  assert.equal(f.from, w.from);
  const text = async (id) => (await page.textContent('#' + id)).trim();
  // the card shows the time-weighted figure (SPEC §6.5), not the plain mean
  assert.equal(typeof f.utilization_pct, 'number', `${label}: the factory answers utilization_pct`);
  assert.equal(await text('f-util'), fmt.pct(f.utilization_pct), `${label}: utilization`);
  assert.equal(await text('f-units'), fmt.int(f.units), `${label}: units`);
  assert.equal(await text('f-uph'), fmt.rate(f.units_per_hour), `${label}: units per hour`);
  assert.equal(await text('f-workers'), fmt.int(f.workers), `${label}: workers`);
  assert.equal(await text('f-stations'), fmt.int(f.workstations), `${label}: workstations`);

  const rows = await tableRows('workers');
  const byId = new Map(rows.map((r) => [r.id, r.cells]));
  assert.equal(rows.length, wk.workers.length, `${label}: one row per worker`);
  for (const x of wk.workers) {
    assert.deepEqual(byId.get(x.worker_id), [x.name || x.worker_id, fmt.pct(x.utilization_pct), fmt.dur(x.working_s),
      fmt.dur(x.idle_s), fmt.dur(x.absent_s), fmt.int(x.units), fmt.rate(x.units_per_hour)], `${label}: worker ${x.worker_id}`);
  }
  const srows = await tableRows('stations');
  const sById = new Map(srows.map((r) => [r.id, r.cells]));
  assert.equal(srows.length, ws.workstations.length, `${label}: one row per workstation`);
  for (const x of ws.workstations) {
    assert.deepEqual(sById.get(x.workstation_id), [x.name || x.workstation_id, fmt.pct(x.utilization_pct), fmt.dur(x.occupancy_s),
      fmt.dur(x.working_s), fmt.int(x.units), fmt.rate(x.units_per_hour)], `${label}: workstation ${x.workstation_id}`);
  }
  return { f, wk, ws, w };
}

test('the dashboard shows what the API answers', async () => {
  await page.goto(base + '/');
  // the API answers 401 without a token: the page asks for it
  await page.waitForSelector('#token-dialog[open]', { timeout: 15000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ferry.readToken')), null);
  await page.fill('#token', 'not-the-token');
  let n = await loads();
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#token-dialog[open] #token-error:not([hidden])', { timeout: 15000 });
  assert.match(await page.textContent('#token-error'), /refused/);
  await page.fill('#token', READ_TOKEN);
  await page.click('#token-form button[type=submit]');
  await waitLoaded(n);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ferry.readToken')), READ_TOKEN);
  assert.ok(apiAuth.length > 0 && apiAuth.at(-1) === 'Bearer ' + READ_TOKEN, 'API calls carry the Bearer token');

  // default window: last 24 h
  const w24 = await shownWindow();
  assert.ok(Math.abs(Date.parse(w24.to) - Date.parse(w24.from) - 24 * H) < 1000, 'the default window is 24 h');
  const d24 = await checkFigures('24 h');
  assert.ok(d24.f.units > 0 && d24.f.workers === 4, 'the 24 h window holds both shifts');

  // ids from the plant floor are text, never HTML
  const htmlRow = (await tableRows('workers')).find((r) => r.id === HTML_WORKER);
  assert.ok(htmlRow, 'the worker named <b>x</b> has a row');
  assert.equal(htmlRow.cells[0], HTML_WORKER);
  assert.equal(await page.$$eval('#workers tbody b, #stations tbody img', (els) => els.length), 0,
    'no element was made from an id');
  assert.ok((await tableRows('stations')).some((r) => r.cells[0] === HTML_STATION));

  // the fleet: every agent, the one with missing events highlighted
  const agents = (await api('/v1/agents')).agents;
  const fleet = await tableRows('fleet');
  assert.equal(fleet.length, agents.length);
  for (const a of agents) {
    const row = fleet.find((r) => r.id === a.agent_id);
    assert.ok(row, `fleet row for ${a.agent_id}`);
    assert.equal(row.cells[3], a.backlog === null ? '–' : fmt.int(a.backlog));
    assert.equal(row.cells[5], fmt.int(a.missing));
    assert.equal(row.cells[6], fmt.int(a.dropped));
    assert.equal(row.cls.includes('unhealthy'), a.missing > 0 || a.oldest_pending_s > 300, `${a.agent_id} highlight`);
  }
  const bad = agents.find((a) => a.agent_id === 'line-2-cam-3');
  assert.equal(bad.missing, 2);
  assert.equal(bad.dropped, 2);
  assert.equal(fleet[0].id, 'line-2-cam-3', 'unhealthy agents sort first');

  // models and cameras: one row per camera and model version, flagged rows marked with their reasons
  const mo = await api('/v1/metrics/models', { from: w24.from, to: w24.to });
  const mrows = await tableRows('models');
  assert.equal(mrows.length, mo.models.length, 'one row per camera and model version');
  assert.equal(mo.models.length, 4, 'the three cameras, and the events without any camera');
  for (const m of mo.models) {
    const row = mrows.find((r) => r.cells[0] === (m.camera_id ?? 'none') && r.cells[1] === (m.model_version ?? 'none'));
    assert.ok(row, `a row for ${m.camera_id}/${m.model_version}`);
    assert.equal(row.cells[2], fmt.int(m.events));
    assert.equal(row.cells[3], m.confidence_mean === null ? '–' : m.confidence_mean.toFixed(3));
    assert.equal(row.cells[4], m.low_confidence_rate === null ? '–' : fmt.pct(100 * m.low_confidence_rate));
    assert.equal(row.cells[5], [m.event_mix.working, m.event_mix.idle, m.event_mix.absent, m.event_mix.product_count]
      .map((v) => fmt.int(100 * v)).join(' / ') + ' %');
    assert.equal(row.cls.includes('flagged'), m.drift.flagged, `${m.camera_id} marked as the API flags it`);
  }
  assert.equal(mrows[0].cells[0], HTML_CAMERA, 'flagged rows sort first; the camera id is text');
  assert.equal(mrows[0].cells[6], 'flagged: low-confidence rate rose');
  assert.equal(mrows[0].cells[4], fmt.pct(50));
  assert.equal(mrows.find((r) => r.cells[0] === 'dock-2').cells[6], 'ok');
  assert.equal(mrows.find((r) => r.cells[0] === 'dock-3').cells[6], 'too few events to compare');
  assert.equal(await page.$$eval('#models tbody b', (els) => els.length), 0, 'no element was made from a camera id');
  assert.match(await page.textContent('#models-count'), /4 camera and model rows, 1 flagged/);

  // the chart: the series endpoint's points are drawn
  const series = await api('/v1/metrics/series', { from: w24.from, to: w24.to, step: 'hour' });
  assert.equal(series.points.reduce((s, p) => s + p.units, 0), d24.f.units, 'series units add up to the factory units');
  const barPixels = await page.evaluate(() => {
    const c = document.getElementById('chart');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let k = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 31 && d[i + 1] === 111 && d[i + 2] === 235) k++;
    return k;
  });
  assert.ok(barPixels > 100, 'the chart has bars');

  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-24h.png'), fullPage: true });

  // sort the workers by units (descending first), then ascending
  await page.click('#workers th[data-key=units] button');
  let order = (await tableRows('workers')).map((r) => r.id);
  const byUnits = (dir, list = d24.wk.workers) => list.slice().sort((a, b) => dir * (a.units - b.units) ||
    (a.worker_id < b.worker_id ? -1 : a.worker_id > b.worker_id ? 1 : 0)).map((x) => x.worker_id);
  assert.deepEqual(order, byUnits(-1), 'sorted by units, most first');
  assert.equal(await page.getAttribute('#workers th[data-key=units]', 'aria-sort'), 'descending');
  await page.click('#workers th[data-key=units] button');
  order = (await tableRows('workers')).map((r) => r.id);
  assert.deepEqual(order, byUnits(1), 'sorted by units, fewest first');

  // switch to the last 8 h: other figures, still those of the API
  n = await loads();
  await page.click('button[data-window="8h"]');
  await waitLoaded(n);
  const w8 = await shownWindow();
  assert.ok(Math.abs(Date.parse(w8.to) - Date.parse(w8.from) - 8 * H) < 1000, 'the window is 8 h');
  const d8 = await checkFigures('8 h');
  assert.ok(d8.f.units < d24.f.units && d8.f.workers === 3, 'the morning shift is outside the last 8 h');
  assert.deepEqual((await tableRows('workers')).map((r) => r.id), byUnits(1, d8.wk.workers),
    'the chosen sort survives a refresh');

  // a custom window: the morning shift alone
  n = await loads();
  await page.click('button[data-window="custom"]');
  await waitLoaded(n);
  const from = new Date(Date.now() - 16 * H), to = new Date(Date.now() - 10 * H);
  const local = (d) => d.toISOString().slice(0, 16); // the browser runs in UTC
  await page.fill('#custom-from', local(from));
  await page.fill('#custom-to', local(to));
  n = await loads();
  await page.click('#custom button[type=submit]');
  await waitLoaded(n);
  const wc = await shownWindow();
  assert.equal(wc.from, local(from) + ':00.000Z');
  const dc = await checkFigures('custom');
  assert.deepEqual(dc.wk.workers.map((x) => x.worker_id), ['w-alpha', 'w-gamma']);

  // tablet, portrait: nothing wider than the screen but the tables' own scroll
  await page.click('button[data-window="24h"]');
  await page.setViewportSize({ width: 820, height: 1180 });
  await sleep(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page fits a tablet (overflows by ${overflow} px)`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-tablet.png'), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 1000 });

  // auto refresh: the page reloads its figures by itself (every 2 s here)
  await page.goto(base + '/?wall#w=8h&every=2');
  await waitLoaded(0);
  assert.equal(await page.isChecked('#auto'), true);
  n = await loads();
  await waitLoaded(n);
  const wa = await shownWindow();
  assert.ok(Math.abs(Date.parse(wa.to) - Date.parse(wa.from) - 8 * H) < 1000, 'the window comes from the address');
  await page.uncheck('#auto');
  n = await loads();
  await sleep(2500);
  assert.equal(await loads(), n, 'no refresh once auto refresh is off');

  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violation');
  assert.deepEqual(consoleErrors.filter((m) => !/401 \(Unauthorized\)|403 \(Forbidden\)/.test(m)), [], 'no console error');
  assert.deepEqual(foreignRequests, [], 'nothing requested from elsewhere');
});

test('a wall screen opens with the token in the fragment', async () => {
  // a new tab: nothing in its sessionStorage
  const kiosk = await ctx.newPage();
  const urls = [];
  kiosk.on('request', (r) => urls.push(r.url()));
  await kiosk.goto(base + '/#token=' + READ_TOKEN + '&remember&w=8h');
  await kiosk.waitForFunction(() => Number(document.body.dataset.loaded || 0) > 0, null, { timeout: 15000 });
  assert.equal(await kiosk.isVisible('#token-dialog[open]'), false, 'no token dialog on a kiosk address');
  const hash = await kiosk.evaluate(() => location.hash);
  assert.doesNotMatch(hash, /token/, 'the token is taken out of the address bar');
  assert.match(hash, /w=8h/, 'the rest of the fragment stays');
  assert.ok(urls.length > 0 && urls.every((u) => !u.includes(READ_TOKEN)), 'the token is in no request URL');
  assert.equal(await kiosk.evaluate(() => localStorage.getItem('ferry.readToken.remembered')), READ_TOKEN,
    '"remember" keeps the token on this screen');
  // the fleet summary in the header agrees with the fleet table
  const summary = (await kiosk.textContent('#fleet-summary')).trim();
  const count = (await kiosk.textContent('#fleet-count')).trim();
  const bad = Number((count.match(/, (\d+) need attention/) || [0, 0])[1]);
  assert.equal(summary, '4 agents · ' + (bad ? bad + (bad === 1 ? ' needs' : ' need') + ' attention' : 'all ok'));
  assert.ok(bad >= 1, 'the agent with missing events needs attention');
  // the two per-hour figures say what they are
  assert.match(await kiosk.getAttribute('#f-uph', 'id'), /f-uph/);
  assert.match(await kiosk.textContent('.cards'), /Units per clock hour/);
  assert.match(await kiosk.getAttribute('th[data-key="units_per_hour"]', 'title'), /hours that worker spent working/);
  await kiosk.close();
  // remembered: a later tab on this screen opens without the fragment
  const again = await ctx.newPage();
  await again.goto(base + '/');
  await again.waitForFunction(() => Number(document.body.dataset.loaded || 0) > 0, null, { timeout: 15000 });
  assert.equal(await again.isVisible('#token-dialog[open]'), false, 'a remembered token opens the page');
  await again.evaluate(() => localStorage.removeItem('ferry.readToken.remembered'));
  await again.close();
});

test('the plant: names, site and line pickers in the address, sites overview, drill-down', async () => {
  const NAME = 'Alice <script>alert(1)</script>';
  const reg = {
    sites: [{ id: 'S1', name: 'North <i>plant</i>' }, { id: 'S2', name: 'South' }],
    lines: [{ id: 'L1', name: 'Presses', site: 'S1' }, { id: 'L2', name: 'Lathes', site: 'S2' }],
    workstations: [{ id: 'press-1', name: 'Press <b>one</b>', line: 'L1' }, { id: 'press-2', line: 'L1' },
      { id: 'lathe-7', name: 'Lathe 7', line: 'L2' }],
    workers: [{ id: 'w-alpha', name: NAME }, { id: 'w-delta', name: 'Dora' }],
  };
  let r = await fetch(new URL('/v1/registry', base), { method: 'PUT', body: JSON.stringify(reg),
    headers: { Authorization: 'Bearer ' + ADMIN_TOKEN, 'Content-Type': 'application/json' } });
  assert.equal(r.status, 200, await r.text());
  r = await fetch(new URL('/v1/registry', base), { method: 'PUT', body: JSON.stringify(reg),
    headers: { Authorization: 'Bearer ' + READ_TOKEN, 'Content-Type': 'application/json' } });
  assert.equal(r.status, 403, 'the read token does not write the registry');
  // two sites' cameras, 3 h ago: the north one declares its site, the south one too
  const t0 = Math.floor((Date.now() - 3 * H) / MIN) * MIN;
  const W = 'working', I = 'idle';
  await ingest('north-cam', '00000000000000d1', shiftEvents('n', t0, [
    ['w-alpha', 'press-1', [W, W, I, W, W, W, I, W, W, W, W, I], 1],
    ['w-alpha', 'press-2', [], 1]]), 1, { site: 'S1' });
  await ingest('north-cam', '00000000000000d1', shiftEvents('n2', t0 + 70 * MIN, [
    ['w-alpha', 'press-2', [W, W, W, I, W, W], 2]]), 100, { site: 'S1' });
  await ingest('south-cam', '00000000000000d2', shiftEvents('s', t0, [
    ['w-delta', 'lathe-7', [W, I, W, W, W, W, I, W, W, W, W, W], 2]]), 1, { site: 'S2' });

  let n = await loads();
  await page.goto(base + '/#w=24h');
  await waitLoaded(0);
  // names where the registry has them, the id on hover, inserted as text
  const wrows = await tableRows('workers');
  const alpha = wrows.find((x) => x.id === 'w-alpha');
  assert.equal(alpha.cells[0], NAME);
  assert.equal(await page.getAttribute('#workers tr[data-id="w-alpha"] td.id a', 'title'), 'w-alpha');
  assert.equal(await page.$$eval('#workers tbody script, #stations tbody b, #sites tbody i', (e) => e.length), 0,
    'names are text');
  assert.ok((await tableRows('stations')).some((x) => x.cells[0] === 'Press <b>one</b>'));
  await checkFigures('plant, all sites');

  // the sites overview: what /v1/metrics/sites answers
  const w = await shownWindow();
  const sites = (await api('/v1/metrics/sites', { from: w.from, to: w.to })).sites;
  const srows = await tableRows('sites');
  assert.deepEqual(srows.map((x) => x.cells[0]), sites.map((x) => (x.site === null ? 'no site' : x.name || x.site)));
  for (const x of sites) {
    const row = srows.find((y) => y.id === (x.site === null ? '' : x.site));
    assert.deepEqual(row.cells.slice(2), [fmt.int(x.units), fmt.rate(x.units_per_hour), fmt.int(x.workers),
      fmt.int(x.workstations)], `site ${x.site}`);
  }

  // pick a site, then a line: the address remembers them, the figures follow
  n = await loads();
  await page.selectOption('#pick-site', 'S1');
  await waitLoaded(n);
  assert.match(page.url(), /[#&]site=S1(&|$)/);
  const s1 = await checkFigures('site S1', { site: 'S1' });
  assert.deepEqual(s1.wk.workers.map((x) => x.worker_id), ['w-alpha']);
  assert.deepEqual(await page.$$eval('#pick-line option', (o) => o.map((x) => x.value)), ['', 'L1'],
    'only the lines of the site');
  n = await loads();
  await page.selectOption('#pick-line', 'L1');
  await waitLoaded(n);
  assert.match(page.url(), /[#&]line=L1(&|$)/);
  await checkFigures('site S1, line L1', { site: 'S1', line: 'L1' });
  // a wall screen opens one line's view from the address
  await page.goto(base + '/#w=24h&site=S2&line=L2');
  await page.reload();
  await waitLoaded(0);
  assert.equal(await page.inputValue('#pick-site'), 'S2');
  assert.equal(await page.inputValue('#pick-line'), 'L2');
  const s2 = await checkFigures('site S2, line L2', { site: 'S2', line: 'L2' });
  assert.deepEqual(s2.wk.workers.map((x) => x.worker_id), ['w-delta']);

  // drill down into a worker: its page, its figures, its bands, where it worked
  await page.goto(base + '/#w=24h&site=S1');
  await page.reload();
  await waitLoaded(0);
  n = await loads();
  await page.click('#workers tr[data-id="w-alpha"] td.id a');
  await waitLoaded(n);
  assert.match(page.url(), /[#&]worker=w-alpha(&|$)/);
  assert.equal(await page.isVisible('#detail'), true);
  assert.equal(await page.isVisible('#workers'), false, 'the overview makes room');
  assert.equal((await page.textContent('#detail-title')).trim(), 'Worker ' + NAME);
  const dq = { ...(await shownWindow()), site: 'S1' };
  const one = await api('/v1/metrics/workers/w-alpha', dq);
  const figs = await page.$$eval('#detail-figs .v', (e) => e.map((x) => x.textContent));
  assert.deepEqual(figs, [fmt.pct(one.utilization_pct), fmt.dur(one.working_s), fmt.dur(one.idle_s),
    fmt.dur(one.absent_s), fmt.int(one.units), fmt.rate(one.units_per_hour)]);
  assert.equal(Number(await page.getAttribute('#detail', 'data-units')), one.units, 'the buckets add up to the window');
  const green = await page.evaluate(() => {
    const c = document.getElementById('detail-states');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let k = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 46 && d[i + 1] === 125 && d[i + 2] === 50) k++;
    return k;
  });
  assert.ok(green > 20, 'working bands are drawn');
  const where = await tableRows('detail-list');
  assert.deepEqual(where.map((x) => x.id).sort(), ['press-1', 'press-2']);
  for (const row of where) {
    const x = await api('/v1/metrics/workers/w-alpha', { ...dq, workstation: row.id });
    assert.deepEqual(row.cells, [row.id === 'press-1' ? 'Press <b>one</b>' : 'press-2', fmt.dur(x.working_s),
      fmt.dur(x.idle_s), fmt.dur(x.absent_s), fmt.int(x.units)], `w-alpha at ${row.id}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-worker.png'), fullPage: true });

  // a workstation's page: the workers at it
  await page.goto(base + '/#w=24h&station=lathe-7');
  await page.reload();
  await waitLoaded(0);
  assert.equal((await page.textContent('#detail-title')).trim(), 'Workstation Lathe 7');
  const at = await api('/v1/metrics/workers', { ...(await shownWindow()), workstation: 'lathe-7' });
  assert.deepEqual((await tableRows('detail-list')).map((x) => x.cells), at.workers.map((x) =>
    [x.name || x.worker_id, fmt.dur(x.working_s), fmt.dur(x.idle_s), fmt.dur(x.absent_s), fmt.int(x.units)]));
  // back to the overview
  n = await loads();
  await page.click('#detail-back');
  await waitLoaded(n);
  assert.equal(await page.isVisible('#detail'), false);
  assert.equal(await page.isVisible('#workers'), true);
  assert.doesNotMatch(page.url(), /station=/);

  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violation');
  assert.deepEqual(consoleErrors.filter((m) => !/401 \(Unauthorized\)|403 \(Forbidden\)/.test(m)), [], 'no console error');
  assert.deepEqual(foreignRequests, [], 'nothing requested from elsewhere');
});

test('the page and its assets are public, static and under CSP', async () => {
  for (const p of ['/', '/assets/app.js', '/assets/plant.js', '/assets/app.css', '/assets/icon.svg', '/openapi.json']) {
    const r = await fetch(new URL(p, base));
    assert.equal(r.status, 200, p);
    assert.match(r.headers.get('content-security-policy') || '', /default-src 'self'/, p);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    const etag = r.headers.get('etag');
    const again = await fetch(new URL(p, base), { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304, p + ' revalidates');
  }
  const html = await (await fetch(new URL('/', base))).text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handler');
  assert.doesNotMatch(html, /https?:\/\//i, 'no external reference');
  for (const f of ['app.js', 'plant.js']) {
    const js = await (await fetch(new URL('/assets/' + f, base))).text();
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/,
      f + ' never turns text into HTML or code');
  }
});
