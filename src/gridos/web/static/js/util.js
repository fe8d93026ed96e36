// Formatting and DOM helpers shared by every view. No data, no credentials.

// Display precision per measurement (decimals): values and limits are rounded the same way.
export const PRECISION = {
  voltage: 1, current: 1, active_power: 1, reactive_power: 1, power_factor: 3, frequency: 3,
  temperature: 1, pu: 3,
};
export const LABELS = {
  voltage: "Voltage", current: "Current", active_power: "Active power", reactive_power: "Reactive power",
  power_factor: "Power factor", frequency: "Frequency", temperature: "Temperature",
  breaker_closed: "Breaker", comm: "Communication",
};
export const CONDITIONS = { hh: "HH high-high", h: "H high", l: "L low", ll: "LL low-low", comm: "COMM lost" };
export const STATES = {
  active_unacked: "Active, unacknowledged", active_acked: "Active, acknowledged",
  cleared_unacked: "Cleared, unacknowledged", shelved: "Shelved", suppressed: "Suppressed",
  out_of_service: "Out of service", normal: "Normal",
};
export const PRIORITIES = ["critical", "high", "medium", "low"];
export const UNIT_TEXT = { degC: "°C", "": "", bool: "" };

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function unitText(unit) { return UNIT_TEXT[unit] ?? unit ?? ""; }

export function fmtNumber(value, measurement) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value === "boolean") return value ? "CLOSED" : "OPEN";
  const digits = PRECISION[measurement] ?? 2;
  return Number(value).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
}

export function fmtValue(value, measurement, unit) {
  const u = unitText(unit);
  const text = fmtNumber(value, measurement);
  return u && typeof value !== "boolean" && text !== "–" ? `${text} ${u}` : text;
}

// Time zone: every time shows its zone; the operator switches between UTC and local.
export const clock = { utc: true, offsetMs: 0 };  // offsetMs: server clock minus browser clock

function parts(date, utc) {
  const f = new Intl.DateTimeFormat("en-CA", {
    timeZone: utc ? "UTC" : undefined, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });
  const p = Object.fromEntries(f.formatToParts(date).map((x) => [x.type, x.value]));
  return p;
}

export function fmtTime(value, { date = true } = {}) {
  if (!value) return "–";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "–";
  const p = parts(d, clock.utc);
  const zone = clock.utc ? "UTC" : p.timeZoneName;
  const time = `${p.hour}:${p.minute}:${p.second}`;
  return date ? `${p.year}-${p.month}-${p.day} ${time} ${zone}` : `${time} ${zone}`;
}

export function serverNow() { return new Date(Date.now() + clock.offsetMs); }

export function fmtAge(iso) {
  if (!iso) return "–";
  const s = Math.max(0, (serverNow() - new Date(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// datetime-local input <-> Date, in the zone the operator chose.
export function toInputValue(date) {
  const p = parts(date, clock.utc);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}
export function fromInputValue(value) {
  if (!value) return null;
  const d = new Date(clock.utc ? `${value}:00Z` : value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function prioBadge(priority) {
  return el("span", { class: `prio ${priority || "none"}`, text: priority ? priority.toUpperCase() : "none" });
}

export function csvDownload(filename, header, rows) {
  const esc = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(esc).join(",")).join("\r\n") + "\r\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}
