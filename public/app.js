// siesta status page. Plain ES module, no build step. Everything live comes from GET api/events
// (SSE): a `snapshot` first (and after every reconnect), then `state`, `model` and `log` events.
// All URLs are relative to the document's base, so the page works under any mount prefix.

const STATES = ['stopped', 'starting', 'ready', 'sleeping', 'asleep', 'waking', 'stopping', 'shutdown'];
const ACTIONS = ['load', 'sleep', 'wake', 'unload'];
const MAX_LOG_ENTRIES = 4000;
const MAX_SHOWN_LINES = 1500;

const $ = (selector) => document.querySelector(selector);
const url = (path) => new URL(path, document.baseURI).href;

const ui = {
  list: $('#models'),
  empty: $('#empty'),
  summary: $('#summary'),
  conn: $('#conn'),
  connText: $('#conn .conn-text'),
  log: $('#log'),
  logSource: $('#log-source'),
  follow: $('#log-follow'),
  clear: $('#log-clear'),
  toasts: $('#toasts'),
};

/** @type {Map<string, any>} model views by id, in configuration order */
let models = new Map();
/** @type {any[]} log entries: { model: string|null, source, text, at, seq } */
let logs = [];
/** '' = everything, '@gateway' = the gateway's own lines, else a model id. */
let selected = localStorage.getItem('siesta.log') ?? '';
const busy = new Set();

// ---------- formatting ----------

function ago(ms) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

function seconds(ms) {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

function size(bytes) {
  if (bytes === undefined || bytes === null) return null;
  const gib = bytes / 2 ** 30;
  if (gib >= 1) return `${Number(gib.toFixed(gib < 10 ? 1 : 0))} GiB`;
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

function resourcesText(resources) {
  const awake = [size(resources?.vram) && `${size(resources.vram)} VRAM`, size(resources?.ram) && `${size(resources.ram)} RAM`].filter(Boolean);
  if (awake.length === 0) return { main: '—', note: '' };
  const asleep = resources.asleep ? [size(resources.asleep.vram) && `${size(resources.asleep.vram)} VRAM`, size(resources.asleep.ram) && `${size(resources.asleep.ram)} RAM`].filter(Boolean) : [];
  return { main: awake.join(' · '), note: asleep.length ? `asleep: ${asleep.join(' · ')}` : '' };
}

/** What the last state change says worth showing: "started in 1.2 s", "woke in 0.31 s". */
function changeNote(view) {
  const change = view.lastChange;
  if (!change) return '';
  if (change.from === 'starting' && change.to === 'ready') return `started in ${seconds(change.durationMs)}`;
  if (change.from === 'waking' && change.to === 'ready') return `woke in ${seconds(change.durationMs)}`;
  if (change.from === 'sleeping' && change.to === 'asleep') return `slept in ${seconds(change.durationMs)}`;
  if (change.to === 'stopped' && change.reason && !/^(api|unload all|shutdown)$/.test(change.reason)) return change.reason;
  return '';
}

/** The sleep method, and the steps of the last sleep and wake with their times (hover for each step). */
function sleepNote(view) {
  if (!view.sleepMethod) return null;
  const steps = view.lastSteps ?? { sleep: [], wake: [] };
  const total = (list) => list.reduce((sum, step) => sum + step.ms, 0);
  const parts = [view.sleepMethod];
  if (steps.sleep.length) parts.push(`sleep ${total(steps.sleep)} ms`);
  if (steps.wake.length) parts.push(`wake ${total(steps.wake)} ms`);
  const detail = [...steps.sleep.map((s) => `sleep ${s.step}: ${s.ms} ms`), ...steps.wake.map((s) => `wake ${s.step}: ${s.ms} ms`)].join('\n');
  return el('span', { class: 'note sleep-method', title: detail || undefined }, parts.join(' · '));
}

function stateLabel(view) {
  if (view.state === 'asleep' && view.asleepLevel) return `asleep · L${view.asleepLevel}`;
  if (view.state === 'ready' && view.selfAsleep) return 'ready · idle-asleep';
  return view.state;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== '') node.append(child);
  return node;
}

// ---------- model rows ----------

function cell(name, label, ...content) {
  return el('div', { class: `cell cell-${name}` }, el('span', { class: 'label' }, label), ...content);
}

function renderRow(view) {
  const resources = resourcesText(view.resources);
  const note = changeNote(view);
  const row = el(
    'li',
    { class: 'model', dataset: { model: view.id, state: view.state }, 'aria-selected': String(selected === view.id), title: view.description || undefined },
    el('div', { class: 'cell cell-name' }, el('span', { class: 'name' }, view.name), view.name !== view.id ? el('span', { class: 'sub' }, view.id) : null),
    cell('state', 'State', el('span', { class: 'badge', dataset: { state: view.state } }, stateLabel(view)), note ? el('span', { class: 'note' }, note) : null),
    cell('backend', 'Backend', view.backend),
    cell('sleep', 'Sleep', view.canSleep ? `level ${view.sleepLevel}` : el('span', { class: 'muted' }, 'cannot sleep'), sleepNote(view)),
    cell('last', 'Last use', el('span', { class: 'last-use', dataset: { at: view.lastUsedAt ?? '' } }, ago(view.lastUsedAt))),
    cell('inflight', 'In flight', String(view.inFlight), view.queued ? el('span', { class: 'note' }, `${view.queued} queued`) : null),
    cell('resources', 'Resources', resources.main, resources.note ? el('span', { class: 'note' }, resources.note) : null),
    el(
      'div',
      { class: 'actions' },
      ACTIONS.map((action) => {
        const pending = busy.has(`${view.id}/${action}`);
        const enabled = view.actions?.[action] && !pending;
        const why = action === 'sleep' && !view.canSleep ? `${view.backend} cannot sleep (no sleep recipe)` : enabled ? `${action} ${view.id}` : `not possible while ${view.state}`;
        return el(
          'button',
          { type: 'button', class: pending ? 'busy' : undefined, dataset: { action }, disabled: !enabled, title: why, 'aria-label': `${action} ${view.name}`, onclick: (event) => act(event, view.id, action) },
          action[0].toUpperCase() + action.slice(1),
        );
      }),
    ),
  );
  row.addEventListener('click', () => select(view.id));
  return row;
}

function renderModel(id) {
  const view = models.get(id);
  if (!view) return;
  const fresh = renderRow(view);
  const old = ui.list.querySelector(`li[data-model="${CSS.escape(id)}"]`);
  if (old) {
    // Keep keyboard focus on the same button across the re-render.
    const focused = old.contains(document.activeElement) ? document.activeElement?.dataset?.action : null;
    old.replaceWith(fresh);
    if (focused) fresh.querySelector(`button[data-action="${focused}"]`)?.focus();
  } else {
    ui.list.append(fresh);
  }
  renderSummary();
}

function renderAll() {
  ui.list.replaceChildren(...[...models.values()].map(renderRow));
  ui.empty.hidden = models.size > 0;
  renderSummary();
  renderSources();
}

function renderSummary() {
  const counts = {};
  for (const view of models.values()) counts[view.state] = (counts[view.state] ?? 0) + 1;
  const parts = STATES.filter((state) => counts[state]).map((state) => `${counts[state]} ${state}`);
  ui.summary.textContent = models.size ? `${models.size} model${models.size === 1 ? '' : 's'}: ${parts.join(', ')}` : '';
}

function tickTimes() {
  for (const node of document.querySelectorAll('.last-use')) node.textContent = ago(node.dataset.at ? Number(node.dataset.at) : null);
}

// ---------- actions ----------

function toast(message) {
  const node = el('div', { class: 'toast', role: 'alert' }, message);
  ui.toasts.append(node);
  setTimeout(() => node.remove(), 6000);
}

async function act(event, id, action) {
  event.stopPropagation();
  const key = `${id}/${action}`;
  if (busy.has(key)) return;
  busy.add(key);
  renderModel(id);
  try {
    const response = await fetch(url(`api/models/${encodeURIComponent(id)}/${action}`), { method: 'POST', headers: { accept: 'application/json' } });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      toast(body?.error?.message ?? `${action} ${id}: HTTP ${response.status}`);
    }
  } catch (error) {
    toast(`${action} ${id}: ${error.message}`);
  } finally {
    busy.delete(key);
    renderModel(id);
  }
}

// ---------- logs ----------

function matches(entry) {
  if (selected === '') return true;
  if (selected === '@gateway') return entry.model === null;
  return entry.model === selected;
}

function time(at) {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

function logLine(entry) {
  if (entry.model === null) {
    const level = /^\S+\s+(warn|error)\b/.exec(entry.text)?.[1];
    return el('div', { class: level ?? undefined }, entry.text);
  }
  return el(
    'div',
    { class: entry.source === 'stderr' ? 'stderr' : entry.source === 'siesta' ? 'siesta' : undefined },
    el('span', { class: 't' }, time(entry.at)),
    ' ',
    selected === entry.model ? null : el('span', { class: 'm' }, `[${entry.model}] `),
    entry.text,
  );
}

function atBottom() {
  return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 24;
}

function renderLogs() {
  const shown = logs.filter(matches).slice(-MAX_SHOWN_LINES);
  ui.log.replaceChildren(...shown.map(logLine));
  if (ui.follow.checked) ui.log.scrollTop = ui.log.scrollHeight;
}

function appendLog(entry) {
  logs.push(entry);
  if (logs.length > MAX_LOG_ENTRIES) logs = logs.slice(-MAX_LOG_ENTRIES / 2);
  if (!matches(entry)) return;
  const stick = ui.follow.checked && atBottom();
  ui.log.append(logLine(entry));
  while (ui.log.childElementCount > MAX_SHOWN_LINES) ui.log.firstElementChild?.remove();
  if (stick) ui.log.scrollTop = ui.log.scrollHeight;
}

function renderSources() {
  const options = [el('option', { value: '' }, 'All logs'), el('option', { value: '@gateway' }, 'Gateway')];
  for (const view of models.values()) options.push(el('option', { value: view.id }, view.name === view.id ? view.id : `${view.name} (${view.id})`));
  ui.logSource.replaceChildren(...options);
  if (selected !== '' && selected !== '@gateway' && !models.has(selected)) selected = '';
  ui.logSource.value = selected;
}

function select(id) {
  selected = id;
  localStorage.setItem('siesta.log', id);
  ui.logSource.value = id;
  for (const row of ui.list.children) row.setAttribute('aria-selected', String(row.dataset.model === id));
  renderLogs();
}

ui.logSource.addEventListener('change', () => select(ui.logSource.value));
ui.clear.addEventListener('click', () => {
  logs = [];
  renderLogs();
});
ui.follow.addEventListener('change', () => {
  if (ui.follow.checked) ui.log.scrollTop = ui.log.scrollHeight;
});

// ---------- the event stream ----------

let source = null;
let retryMs = 1000;
let retryTimer = null;

function setConn(status, text) {
  ui.conn.dataset.conn = status;
  ui.connText.textContent = text;
}

function onSnapshot(message) {
  const data = JSON.parse(message.data);
  models = new Map(data.models.map((view) => [view.id, view]));
  logs = data.logs ?? [];
  renderAll();
  renderLogs();
  retryMs = 1000;
  setConn('live', 'live');
}

function onState(message) {
  const { model } = JSON.parse(message.data);
  if (!model) return;
  models.set(model.id, model);
  renderModel(model.id);
}

function onModel(message) {
  const view = JSON.parse(message.data);
  models.set(view.id, view);
  renderModel(view.id);
}

function connect() {
  clearTimeout(retryTimer);
  source?.close();
  setConn(source ? 'reconnecting' : 'connecting', source ? 'reconnecting…' : 'connecting…');
  const events = new EventSource(url('api/events'));
  source = events;
  events.addEventListener('snapshot', onSnapshot);
  events.addEventListener('state', onState);
  events.addEventListener('model', onModel);
  events.addEventListener('log', (message) => appendLog(JSON.parse(message.data)));
  events.addEventListener('error', () => {
    if (source !== events) return;
    if (events.readyState === EventSource.CONNECTING) {
      // The browser retries by itself; the server sends a fresh snapshot on reconnect.
      setConn('reconnecting', 'reconnecting…');
      return;
    }
    // Closed for good (HTTP error, gateway restarting): retry ourselves with backoff.
    setConn('offline', `offline, retrying in ${Math.round(retryMs / 1000)} s`);
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15_000);
  });
}

// ---------- cluster (GET api/cluster, only when `cluster:` is configured) ----------

const clusterSection = el('section', { class: 'cluster', 'aria-labelledby': 'cluster-title', hidden: '' }, el('h2', { id: 'cluster-title' }, 'Cluster'), el('ul', { class: 'cluster-nodes' }));

function renderCluster(view) {
  const list = clusterSection.querySelector('ul');
  list.replaceChildren(
    ...view.nodes.map((node) =>
      el(
        'li',
        { 'data-up': String(node.up) },
        el('strong', {}, `${node.self ? 'this node' : node.name ?? node.id}${node.up ? '' : ' (down)'}`),
        ' ',
        node.models.map((model) => `${model.id} ${model.state}${model.asleepLevel ? ` L${model.asleepLevel}` : ''}${model.inFlight ? ` ·${model.inFlight}` : ''}`).join(', '),
      ),
    ),
  );
  clusterSection.hidden = false;
}

async function pollCluster() {
  try {
    const response = await fetch(url('api/cluster'), { headers: { accept: 'application/json' } });
    if (response.ok) {
      const view = await response.json();
      if (view.nodes.length === 0) return; // no cluster: the section stays hidden and polling stops
      renderCluster(view);
    }
  } catch {
    // offline: the connection indicator says so already
  }
  setTimeout(pollCluster, 2000);
}

document.querySelector('main')?.insertBefore(clusterSection, document.querySelector('section.logs'));
pollCluster();

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && source?.readyState === EventSource.CLOSED) connect();
});
setInterval(tickTimes, 5000);
connect();
