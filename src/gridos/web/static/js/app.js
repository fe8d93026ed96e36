// The operator console: state fed by one live stream, a router over #/ paths, the always-visible banner.
import { api, ApiError, hasToken, LiveStream, logout, setCsrf, setToken, takeTokenFromFragment } from "./api.js";
import { renderAlarms, updateAlarms } from "./alarms.js";
import { renderDevice, updateDevice } from "./device.js";
import { renderJournal } from "./journal.js";
import { renderSite, updateSite } from "./site.js";
import { renderOverview, updateOverview } from "./overview.js";
import { clock, debounce, el, fmtTime, LABELS, CONDITIONS, PRIORITIES, prioBadge } from "./util.js";

export const state = {
  me: null,
  catalogue: {},           // measurement -> {unit, kind}
  staleAfterS: 60,
  devices: new Map(),      // id -> device (registry)
  latest: new Map(),       // device id -> Map(measurement -> {value, ts, received, quality})
  status: null,            // /api/v1/scada/status
  alarms: [],              // every alarm not in normal state
  flood: null,
  connected: false,
  staleSince: null,
  horn: false,
  view: null,
};

const main = document.getElementById("main");
const views = {
  overview: { render: renderOverview, update: updateOverview },
  alarms: { render: renderAlarms, update: updateAlarms },
  site: { render: renderSite, update: updateSite },
  device: { render: renderDevice, update: updateDevice },
  journal: { render: renderJournal, update: () => {} },
};

// -- messages -----------------------------------------------------------------------------------------
let toastTimer = null;
export function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 8000);
}
export function announce(message) {
  const a = document.getElementById("announcer");
  a.textContent = "";
  setTimeout(() => { a.textContent = message; }, 50);
}
export function describeError(e) {
  if (e instanceof ApiError) {
    const who = e.status === 403 ? "Not allowed" : e.status === 409 ? "Refused by the server" : "Error";
    return `${who} (${e.status}): ${e.problem?.detail || e.message}`;
  }
  return `Error: ${e.message}`;
}

// -- data ---------------------------------------------------------------------------------------------
export function unitOf(measurement) { return state.catalogue[measurement]?.unit ?? ""; }

export function isStale(entry) {
  if (!state.connected) return true;
  if (!entry) return true;
  const age = (Date.now() + clock.offsetMs - new Date(entry.received).getTime()) / 1000;
  return age > state.staleAfterS;
}

async function loadDevices() {
  const out = new Map();
  for (let offset = 0; ; offset += 10000) {
    const page = await api(`/api/v1/devices?limit=10000&offset=${offset}`);
    for (const d of page.items) out.set(d.id, d);
    if (offset + page.items.length >= page.total || !page.items.length) break;
  }
  state.devices = out;
}

export async function loadAlarms() {
  // Every alarm, page by page: the list never silently stops at a page size.
  const items = [];
  let flood = null;
  for (let offset = 0; ; offset += 5000) {
    const page = await api(`/api/v1/alarms?limit=5000&offset=${offset}`);
    items.push(...page.items);
    flood = page.flood;
    if (items.length >= page.total || !page.items.length) break;
  }
  state.alarms = items;
  setFlood(flood);
  renderSummary();
  refreshView();
}
const reloadAlarms = debounce(() => loadAlarms().catch((e) => toast(describeError(e))), 250);

function applyTransition(event) {
  // Each transition carries the alarm as it is now: the list is updated in place, with no request. Only
  // a (re)connection or an overflow reloads it.
  const alarm = event.alarm;
  if (!alarm || alarm.id === undefined) { reloadAlarms(); return; }
  const i = state.alarms.findIndex((a) => a.id === alarm.id);
  if (alarm.state === "normal") { if (i >= 0) state.alarms.splice(i, 1); }
  else if (i >= 0) state.alarms[i] = alarm;
  else state.alarms.push(alarm);
  renderSummary();
  refreshSoon();
}
const refreshSoon = debounce(() => refreshView(), 200);

function applyLatest(items) {
  for (const [device, measurement, value, ts, received, quality] of items) {
    let m = state.latest.get(device);
    if (!m) state.latest.set(device, (m = new Map()));
    m.set(measurement, { value, ts, received, quality });
  }
}

// -- banner -------------------------------------------------------------------------------------------
export function worstAlarm(alarms) {
  let worst = null;
  for (const a of alarms) {
    if (a.state === "shelved" || a.state === "suppressed" || a.state === "out_of_service") continue;
    if (!worst || PRIORITIES.indexOf(a.priority) < PRIORITIES.indexOf(worst.priority)) worst = a;
  }
  return worst;
}

function renderSummary() {
  const box = document.getElementById("alarm-summary");
  const counts = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
  let unacked = 0;
  let shelved = 0;
  for (const a of state.alarms) {
    if (a.state === "shelved") { shelved += 1; continue; }
    if (a.state === "suppressed" || a.state === "out_of_service") continue;
    counts[a.priority] += 1;
    if (!a.acknowledged) unacked += 1;
  }
  box.replaceChildren(
    ...PRIORITIES.map((p) => el("a", { href: `#/alarms?priority=${p}`, "data-count": p, title: `${counts[p]} ${p} alarms` },
      counts[p] ? el("span", { class: `prio ${p}`, text: `${p.toUpperCase()} ${counts[p]}` })
        : el("span", { class: "prio none", text: `${p} 0` }))),
    el("a", { href: "#/alarms?state=unacked", "data-count": "unacked" },
      el("span", { class: unacked ? "abn" : "muted", text: `Unacknowledged ${unacked}` })),
    el("span", { class: "muted", "data-count": "shelved", text: `Shelved ${shelved}` }),
  );
}

function setFlood(flood) {
  state.flood = flood;
  const box = document.getElementById("flood");
  if (flood?.active) {
    box.hidden = false;
    box.textContent = `ALARM FLOOD: ${flood.count} alarms in the last ${Math.round(flood.window_s / 60)} min (more than ${flood.threshold}). Deal with the highest priority first.`;
  } else {
    box.hidden = true;
  }
}

function renderConnection() {
  const c = document.getElementById("conn");
  document.body.classList.toggle("disconnected", !state.connected);
  c.classList.toggle("stale", !state.connected);
  c.textContent = state.connected ? "LIVE" : state.staleSince
    ? `STALE since ${fmtTime(state.staleSince, { date: false })}: reconnecting…` : "connecting…";
}

function tickClock() {
  document.getElementById("clock").textContent = fmtTime(new Date(Date.now() + clock.offsetMs));
}

let audio = null;
function horn() {
  if (!state.horn) return;
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.6);
  } catch { /* no audio device */ }
}

// -- live stream --------------------------------------------------------------------------------------
function onEvent(type, data) {
  if (type === "hello") {
    state.catalogue = data.measurements;
    state.staleAfterS = data.stale_after_seconds;
    clock.offsetMs = new Date(data.server_time).getTime() - Date.now();
  } else if (type === "latest") {
    if (data.snapshot) state.latest = new Map();
    applyLatest(data.items);
    refreshView();
  } else if (type === "status") {
    state.status = data;
    refreshView();
  } else if (type === "transition") {
    if (data.action === "activate") {
      const what = `${data.priority} alarm: ${data.device_id} ${LABELS[data.measurement] || data.measurement} ${CONDITIONS[data.condition] || data.condition}`;
      announce(`New ${what}`);
      if (data.priority === "critical" || data.priority === "high") horn();
    }
    applyTransition(data);
  } else if (type === "flood") {
    setFlood(data);
  } else if (type === "overflow") {
    reloadAlarms();
  }
}

const stream = new LiveStream("/api/v1/live", {
  onEvent,
  onOpen: () => {
    state.connected = true;
    state.staleSince = null;
    renderConnection();
    // What changed while the stream was down: the list is reloaded once per (re)connection.
    Promise.all([loadDevices(), loadAlarms()]).then(refreshView).catch((e) => toast(describeError(e)));
  },
  onDown: (reason, error) => {
    if (state.connected || !state.staleSince) state.staleSince = new Date();
    state.connected = false;
    renderConnection();
    refreshView();
    if (error && (error.status === 401 || error.status === 403)) showSignIn(reason);
  },
});

// -- routing ------------------------------------------------------------------------------------------
function route() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "site" && parts[1]) return { name: "site", site: parts[1], params };
  if (parts[0] === "device" && parts.length > 1) return { name: "device", device: parts.slice(1).join("/"), params };
  if (parts[0] === "alarms") return { name: "alarms", params };
  if (parts[0] === "journal") return { name: "journal", params };
  return { name: "overview", params };
}

function showView() {
  if (!state.me) return;
  const r = route();
  state.view = r;
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.toggleAttribute("aria-current", a.dataset.nav === r.name);
    if (a.dataset.nav === r.name) a.setAttribute("aria-current", "page");
  }
  main.replaceChildren();
  views[r.name].render(main, r);
  document.title = `${main.querySelector("h1")?.textContent || "GridOS"} · GridOS`;
}

export function refreshView() {
  if (!state.me || !state.view) return;
  views[state.view.name].update(main, state.view);
}

// -- sign-in ------------------------------------------------------------------------------------------
// Set by the server in the page (gridos.web.views): "oidc" when /auth/login is configured, else "token".
const oidc = document.querySelector('meta[name="gridos-signin"]')?.content === "oidc";

function showSignIn(reason) {
  stream.stop();
  state.me = null;
  // Nothing shown before the refusal may look current.
  if (state.connected) state.staleSince = new Date();
  state.connected = false;
  renderConnection();
  document.getElementById("user").textContent = "";
  document.getElementById("signout").hidden = true;
  const input = el("input", { type: "password", id: "token-input", autocomplete: "off", required: true, "aria-describedby": "token-help" });
  main.replaceChildren(el("section", { class: "panel signin" },
    el("h1", { text: "Sign in" }),
    reason ? el("p", { class: "abn", role: "alert", text: reason }) : null,
    // The organisation sign-in (OIDC, a session cookie) only where the server has it configured; the
    // token form always (API keys, and the demo's #token= link lands here when its token is refused).
    oidc ? el("p", {}, el("a", { class: "button primary", id: "oidc-signin", href: "/auth/login?next=/", text: "Sign in with your organisation account" })) : null,
    el("form", { onsubmit: (ev) => { ev.preventDefault(); setToken(input.value.trim()); start(); } },
      el("label", { for: "token-input", text: oidc ? "or an API token" : "API token" }), input,
      el("button", { class: "primary", type: "submit", text: "Use token" })),
    el("p", { id: "token-help", class: "muted", text: "The token stays in this page's memory only: reloading the page forgets it. `gridos demo` prints a link that carries it." }),
  ));
}

async function signOut() {
  stream.stop();
  let provider = null;
  let failed = null;
  if (state.me?.auth === "session") {
    // A 401 means the session had already ended (idle, expired): signed out all the same.
    provider = await logout().catch((e) => { if (!(e instanceof ApiError && e.status === 401)) failed = e; return null; });
  }
  setToken(null);
  setCsrf(null);
  showSignIn(failed ? `Sign-out failed: ${describeError(failed)}` : "Signed out.");
  // Sign out at the provider too, else the next "Sign in" on this browser would let the same person
  // straight back in without a password. The provider comes back to this page, signed out.
  if (provider && !failed) location.assign(provider);
}

async function start() {
  stream.stop();
  try {
    state.me = await api("/api/v1/me");
  } catch (e) {
    showSignIn(e instanceof ApiError && e.status === 401
      ? (hasToken() ? "That token was refused (401)." : "") : describeError(e));
    return;
  }
  setCsrf(state.me.csrf_token);
  document.getElementById("user").textContent = `Signed in as ${state.me.name} (${state.me.role})`;
  document.getElementById("signout").hidden = false;
  showView();
  stream.start();
}

// -- start --------------------------------------------------------------------------------------------
document.getElementById("tz").addEventListener("click", (ev) => {
  clock.utc = !clock.utc;
  ev.currentTarget.textContent = clock.utc ? "UTC" : "Local";
  ev.currentTarget.setAttribute("aria-pressed", String(clock.utc));
  tickClock();
  renderConnection();
  showView();
});
document.getElementById("horn").addEventListener("click", (ev) => {
  state.horn = !state.horn;
  ev.currentTarget.textContent = state.horn ? "Horn on (mute)" : "Horn off";
  ev.currentTarget.setAttribute("aria-pressed", String(state.horn));
});
document.getElementById("signout").addEventListener("click", signOut);
window.addEventListener("hashchange", () => {
  if (takeTokenFromFragment()) { start(); return; }
  showView();
  main.focus({ preventScroll: true });
});
setInterval(() => { tickClock(); if (!state.connected) renderConnection(); }, 1000);
setInterval(refreshView, 5000);  // ages and staleness move with time even when nothing arrives
tickClock();
renderConnection();
renderSummary();
takeTokenFromFragment();
start();
