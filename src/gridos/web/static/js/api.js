// Talking to GridOS: credentials (session cookie, or a token from the URL fragment kept in memory only,
// never in localStorage/sessionStorage), JSON calls that surface RFC 9457 problems, and the live stream.

const auth = { token: null, csrf: null };

export function takeTokenFromFragment() {
  // `gridos demo` prints http://host/#token=...: the fragment never reaches a server. Keep the token in
  // this page's memory and remove it from the address bar and history.
  const params = new URLSearchParams(location.hash.replace(/^#\/?/, ""));
  const token = params.get("token");
  if (token) {
    auth.token = token;
    history.replaceState(null, "", location.pathname + "#/");
  }
  return Boolean(token);
}

export function setToken(token) { auth.token = token || null; }
export function hasToken() { return Boolean(auth.token); }
export function setCsrf(token) { auth.csrf = token || null; }

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (auth.token) h.Authorization = `Bearer ${auth.token}`;
  if (auth.csrf) h["X-CSRF-Token"] = auth.csrf;
  return h;
}

export class ApiError extends Error {
  constructor(status, problem, path) {
    const detail = problem?.detail || problem?.title || `HTTP ${status}`;
    super(`${status} ${problem?.title || ""}: ${detail}`.replace(" : ", ": "));
    this.status = status;
    this.problem = problem;
    this.path = path;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: headers(body !== undefined ? { "Content-Type": "application/json" } : {}), credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(path, init);
  const type = r.headers.get("content-type") || "";
  const data = type.includes("json") ? await r.json().catch(() => null) : null;
  if (!r.ok) throw new ApiError(r.status, data, path);
  return data;
}

// Ends the cookie session; returns the provider's end-session URL (X-Provider-Logout) when it has one.
export async function logout() {
  const r = await fetch("/auth/logout", { method: "POST", headers: headers(), credentials: "same-origin" });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null), "/auth/logout");
  return r.headers.get("X-Provider-Logout");
}

// Server-Sent Events over fetch: the same format and reconnection rules as EventSource (retry:, id:,
// Last-Event-ID), but able to send the Authorization header. A cookie session works the same way.
export class LiveStream {
  constructor(url, { onEvent, onOpen, onDown, silenceMs = 5000 }) {
    Object.assign(this, { url, onEvent, onOpen, onDown, silenceMs });
    this.lastEventId = null;
    this.retryMs = 2000;
    this.failures = 0;
    this.stopped = false;
    this.controller = null;
  }

  start() { this.stopped = false; this.connect(); }

  stop() { this.stopped = true; this.controller?.abort(); clearTimeout(this.watchdog); clearTimeout(this.timer); }

  kick() {
    // A stream that says nothing for silenceMs (the server sends a heartbeat every 2 s) is dead.
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.controller?.abort(new Error("silent")), this.silenceMs);
  }

  async connect() {
    if (this.stopped) return;
    this.controller = new AbortController();
    const h = headers({ Accept: "text/event-stream" });
    if (this.lastEventId) h["Last-Event-ID"] = this.lastEventId;
    let reason = "connection lost";
    try {
      this.kick();
      const r = await fetch(this.url, { headers: h, signal: this.controller.signal, credentials: "same-origin", cache: "no-store" });
      if (!r.ok) {
        const problem = await r.json().catch(() => null);
        throw new ApiError(r.status, problem, this.url);
      }
      this.failures = 0;
      this.onOpen?.();
      await this.read(r.body.getReader());
    } catch (e) {
      reason = e instanceof ApiError ? e.message : "connection lost";
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        clearTimeout(this.watchdog);
        this.onDown?.(reason, e);
        return;  // the page asks for a credential; no retry loop against a refusal
      }
    }
    clearTimeout(this.watchdog);
    if (this.stopped) return;
    this.onDown?.(reason, null);
    this.failures += 1;
    const delay = Math.min(this.retryMs * Math.min(this.failures, 3), 6000) * (0.75 + Math.random() * 0.5);
    this.timer = setTimeout(() => this.connect(), this.failures === 1 ? 500 : delay);
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    let event = { type: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      this.kick();
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.search(/\r\n|\n|\r/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (event.id !== null) this.lastEventId = event.id;
          if (event.data.length) this.onEvent(event.type, JSON.parse(event.data.join("\n")));
          event = { type: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.type = val;
        else if (field === "data") event.data.push(val);
        else if (field === "id") event.id = val;
        else if (field === "retry" && /^\d+$/.test(val)) this.retryMs = Number(val);
      }
    }
  }
}
