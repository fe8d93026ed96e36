// Event journal: alarm history (every transition: who, when, why) and breaker events, searchable by time,
// site and device, exported as CSV.
import { api } from "./api.js";
import { describeError, state, toast, unitOf } from "./app.js";
import { clock, CONDITIONS, csvDownload, el, fmtTime, fmtValue, fromInputValue, LABELS, prioBadge, toInputValue } from "./util.js";

const ui = { history: [], next: null, events: [] };

export function renderJournal(main) {
  const now = new Date(Date.now() + clock.offsetMs);
  const zone = clock.utc ? "UTC" : "local";
  const sites = [...new Set([...state.devices.values()].map((d) => d.site))].sort();
  main.append(
    el("div", { class: "toolbar" }, el("h1", { text: "Event journal" })),
    el("form", { class: "toolbar panel", id: "journal-form", onsubmit: (e) => { e.preventDefault(); search(main, false); } },
      el("label", {}, `From (${zone})`, el("input", { type: "datetime-local", name: "from", value: toInputValue(new Date(now - 86400e3)) })),
      el("label", {}, `To (${zone})`, el("input", { type: "datetime-local", name: "to", value: toInputValue(new Date(now.getTime() + 60e3)) })),
      el("label", {}, "Site", el("select", { name: "site" }, el("option", { value: "", text: "all" }), sites.map((s) => el("option", { value: s, text: s })))),
      el("label", {}, "Device", el("input", { name: "device", list: "device-ids", placeholder: "all devices", size: 18 })),
      el("datalist", { id: "device-ids" }, [...state.devices.keys()].sort().map((id) => el("option", { value: id }))),
      el("button", { type: "submit", class: "primary", text: "Search" }),
      el("button", { type: "button", id: "export-alarms", onclick: exportHistory, text: "Export alarm history (CSV)" }),
      el("button", { type: "button", id: "export-events", onclick: exportEvents, text: "Export breaker events (CSV)" })),
    el("section", { class: "panel" }, el("h2", { text: "Alarm history" }), el("p", { class: "count", id: "history-count", role: "status" }),
      el("div", { class: "tablewrap" }, el("table", { id: "history" })),
      el("button", { type: "button", id: "more", hidden: true, onclick: () => search(main, true), text: "Load older entries" })),
    el("section", { class: "panel" }, el("h2", { text: "Breaker events" }), el("p", { class: "count", id: "events-count", role: "status" }),
      el("div", { class: "tablewrap" }, el("table", { id: "events" }))),
  );
  search(main, false);
}

function params(main) {
  const f = main.querySelector("#journal-form").elements;
  return { from: fromInputValue(f.from.value), to: fromInputValue(f.to.value), site: f.site.value, device: f.device.value.trim() };
}

let ticket = 0;
async function search(main, more) {
  const mine = ++ticket;  // only the newest search may fill the tables
  const p = params(main);
  const q = new URLSearchParams({ limit: "500" });
  if (p.from) q.set("from", p.from.toISOString());
  if (p.to) q.set("to", p.to.toISOString());
  if (p.site) q.set("site", p.site);
  if (p.device) q.set("device_id", p.device);
  if (more && ui.next) q.set("before_id", String(ui.next));
  const e = new URLSearchParams({ limit: "1000" });
  if (p.from) e.set("from", p.from.toISOString());
  if (p.to) e.set("to", p.to.toISOString());
  if (p.device) e.set("device_id", p.device);
  try {
    var [history, events] = await Promise.all([api(`/api/v1/alarms/history?${q}`), more ? null : api(`/api/v1/alarms/events?${e}`)]);
  } catch (err) { toast(describeError(err)); return; }
  if (mine !== ticket || !main.querySelector("#history")) return;
  ui.history = more ? [...ui.history, ...history.items] : history.items;
  ui.next = history.next_before_id;
  if (events) ui.events = events.items.filter((x) => !p.site || state.devices.get(x.device_id)?.site === p.site);
  main.querySelector("#history").replaceChildren(
    el("thead", {}, el("tr", {}, ...["Time", "Priority", "Device", "Measurement", "Condition", "Action", "State", "Value", "Limit", "Who", "Comment"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ui.history.map((h) => el("tr", { "data-event": h.id },
      el("td", { text: fmtTime(h.at) }), el("td", {}, prioBadge(h.priority)), el("td", { text: h.device_id }),
      el("td", { text: LABELS[h.measurement] || h.measurement }), el("td", { text: CONDITIONS[h.condition] || h.condition }),
      el("td", { text: h.action }), el("td", { text: `${h.from_state} → ${h.to_state}` }),
      el("td", { class: "num", text: h.value === null ? "–" : fmtValue(h.value, h.measurement, unitOf(h.measurement)) }),
      el("td", { class: "num", text: h.limit === null ? "–" : fmtValue(h.limit, h.measurement, unitOf(h.measurement)) }),
      el("td", { class: "who", text: h.actor }), el("td", { text: h.comment || "" })))),
  );
  main.querySelector("#history-count").textContent = `${ui.history.length} ${ui.history.length === 1 ? "entry" : "entries"}${ui.next ? " (older entries: load more)" : ""}, newest first`;
  main.querySelector("#more").hidden = !ui.next;
  main.querySelector("#events").replaceChildren(
    el("thead", {}, el("tr", {}, ...["Time", "Device", "Measurement", "Change"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ui.events.map((x) => el("tr", {},
      el("td", { text: fmtTime(x.ts || x.at) }), el("td", { text: x.device_id }), el("td", { text: LABELS[x.measurement] || x.measurement }),
      el("td", { text: x.description || x.event || (x.value ? "CLOSED" : "OPENED") })))),
  );
  main.querySelector("#events-count").textContent = `${ui.events.length} breaker ${ui.events.length === 1 ? "event" : "events"}`;
}

function exportHistory() {
  csvDownload("gridos-alarm-history.csv",
    ["id", "at_utc", "alarm_id", "site", "device_id", "measurement", "condition", "priority", "action", "from_state", "to_state", "value", "limit", "unit", "actor", "comment"],
    ui.history.map((h) => [h.id, h.at, h.alarm_id, h.site, h.device_id, h.measurement, h.condition, h.priority, h.action, h.from_state, h.to_state, h.value, h.limit, unitOf(h.measurement), h.actor, h.comment]));
}

function exportEvents() {
  csvDownload("gridos-breaker-events.csv", ["ts_utc", "device_id", "measurement", "event"],
    ui.events.map((x) => [x.ts || x.at, x.device_id, x.measurement, x.description || x.event || ""]));
}
