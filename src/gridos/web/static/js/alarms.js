// Alarm list (ISA-18.2): priority then time, filters, pages whose counts always add up, and the operator
// actions. What the server refuses is shown with its reason.
import { api } from "./api.js";
import { describeError, loadAlarms, state, toast, unitOf } from "./app.js";
import { CONDITIONS, el, fmtTime, fmtValue, LABELS, PRIORITIES, prioBadge, STATES } from "./util.js";

const PAGE = 50;
const ui = { page: 0, selected: new Set(), filters: null };

function filtersFrom(params) {
  return {
    site: params.get("site") || "",
    priority: params.get("priority") || "",
    state: params.get("state") || "",
    shelved: params.get("shelved") || "all",
  };
}

function matches(a, f) {
  if (f.site && a.site !== f.site) return false;
  if (f.priority && a.priority !== f.priority) return false;
  if (f.state === "unacked" && a.acknowledged) return false;
  if (f.state && f.state !== "unacked" && a.state !== f.state) return false;
  if (f.shelved === "hide" && a.state === "shelved") return false;
  if (f.shelved === "only" && a.state !== "shelved") return false;
  return true;
}

function sorted(alarms) {
  const rank = (p) => PRIORITIES.indexOf(p);
  const t = (a) => new Date(a.activated_at || a.changed_at || 0).getTime();
  return [...alarms].sort((a, b) => rank(a.priority) - rank(b.priority) || t(b) - t(a) || b.id - a.id);
}

function select(name, label, options, value) {
  return el("label", {}, label, el("select", { name, onchange: onFilter },
    options.map(([v, text]) => el("option", { value: v, selected: v === value, text }))));
}

function onFilter(ev) {
  const form = ev.currentTarget.form || ev.currentTarget.closest("form");
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v && !(k === "shelved" && v === "all")) q.set(k, v);
  ui.page = 0;
  location.hash = `#/alarms${q.toString() ? `?${q}` : ""}`;
}

export function renderAlarms(main, route) {
  ui.filters = filtersFrom(route.params);
  const f = ui.filters;
  const sites = [...new Set([...state.devices.values()].map((d) => d.site))].sort();
  main.append(
    el("div", { class: "toolbar" }, el("h1", { text: "Alarms" })),
    el("form", { class: "toolbar panel", id: "alarm-filters", "aria-label": "Filters", onsubmit: (e) => e.preventDefault() },
      select("site", "Site", [["", "all sites"], ...sites.map((s) => [s, s])], f.site),
      select("priority", "Priority", [["", "all"], ...PRIORITIES.map((p) => [p, p])], f.priority),
      select("state", "State", [["", "all but normal"], ["unacked", "unacknowledged"], ...Object.entries(STATES).filter(([k]) => k !== "normal")], f.state),
      select("shelved", "Shelved", [["all", "shown"], ["hide", "hidden"], ["only", "only shelved"]], f.shelved),
      el("button", { type: "button", id: "ack-selected", onclick: ackSelected, text: "Acknowledge selected" }),
      el("button", { type: "button", id: "ack-page", onclick: ackPage, text: "Acknowledge page" }),
    ),
    el("section", { class: "panel" },
      el("p", { class: "count", id: "alarm-count", role: "status" }),
      el("div", { class: "tablewrap" }, el("table", { id: "alarm-table" },
        el("caption", { class: "sr-only", text: "Alarms by priority, then most recent first" }),
        el("thead", {}, el("tr", {},
          el("th", { scope: "col" }, el("span", { class: "sr-only", text: "Select" })),
          ...["Priority", "Time raised", "Device", "Measurement", "Condition"].map((h) => el("th", { scope: "col", text: h })),
          el("th", { scope: "col", class: "num", text: "Value" }), el("th", { scope: "col", class: "num", text: "Limit" }),
          ...["State", "Last action", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}))),
      el("nav", { class: "pager", "aria-label": "Pages of alarms", id: "alarm-pager" })),
  );
  updateAlarms(main);
}

function visible() {
  return sorted(state.alarms.filter((a) => matches(a, ui.filters)));
}

function actionButtons(a) {
  const label = `${a.device_id} ${a.measurement} ${a.condition}`;
  const b = [];
  if (!a.acknowledged && a.state !== "shelved") b.push(el("button", { type: "button", "data-action": "ack", "aria-label": `Ack (acknowledge) ${label}`, onclick: () => act([a], "ack"), text: "Ack" }));
  if (a.state === "shelved") b.push(el("button", { type: "button", "data-action": "unshelve", "aria-label": `Unshelve ${label}`, onclick: () => act([a], "unshelve"), text: "Unshelve" }));
  else b.push(el("button", { type: "button", "data-action": "shelve", "aria-label": `Shelve ${label}`, onclick: () => shelveDialog(a), text: "Shelve" }));
  b.push(el("button", { type: "button", "data-action": "comment", "aria-label": `Comment on ${label}`, onclick: () => commentDialog(a), text: "Comment" }));
  return el("div", { class: "toolbar" }, b);
}

function row(a) {
  const unit = unitOf(a.measurement);
  const shelvedUntil = a.shelved?.until ? ` until ${fmtTime(a.shelved.until, { date: false })}` : "";
  return el("tr", { class: !a.acknowledged && a.state !== "shelved" ? "unacked" : "", "data-alarm": a.id },
    el("td", {}, el("input", { type: "checkbox", "aria-label": `Select alarm ${a.id}`, checked: ui.selected.has(a.id),
      onchange: (e) => { if (e.currentTarget.checked) ui.selected.add(a.id); else ui.selected.delete(a.id); } })),
    el("td", { class: "pcell" }, prioBadge(a.priority)),
    el("td", { text: fmtTime(a.activated_at || a.changed_at) }),
    el("td", {}, el("a", { href: `#/device/${a.device_id}`, text: a.device_id })),
    el("td", { text: LABELS[a.measurement] || a.measurement }),
    el("td", { text: CONDITIONS[a.condition] || a.condition }),
    el("td", { class: "num", text: a.value === null ? "–" : fmtValue(a.value, a.measurement, unit) }),
    el("td", { class: "num", text: a.limit === null ? "–" : fmtValue(a.limit, a.measurement, unit) }),
    el("td", { class: "state", text: (STATES[a.state] || a.state) + shelvedUntil + (a.chattering ? " (chattering)" : "") }),
    el("td", { class: "muted", text: a.last_actor ? `${a.last_actor}${a.last_comment ? `: ${a.last_comment}` : ""}` : "" }),
    el("td", {}, actionButtons(a)),
  );
}

export function updateAlarms(main) {
  const table = main.querySelector("#alarm-table tbody");
  if (!table) return;
  const items = visible();
  const pages = Math.max(1, Math.ceil(items.length / PAGE));
  ui.page = Math.min(ui.page, pages - 1);
  const start = ui.page * PAGE;
  const shown = items.slice(start, start + PAGE);
  const focusKey = document.activeElement?.closest?.("tr")?.dataset?.alarm;
  const focusAction = document.activeElement?.dataset?.action;
  table.replaceChildren(...(shown.length ? shown.map(row)
    : [el("tr", {}, el("td", { colspan: 11, text: state.alarms.length ? "No alarm matches these filters." : "No alarms." }))]));
  if (focusKey) table.querySelector(`tr[data-alarm="${focusKey}"] [data-action="${focusAction}"]`)?.focus();
  const hidden = state.alarms.length - items.length;
  main.querySelector("#alarm-count").textContent = items.length
    ? `Showing ${start + 1}–${start + shown.length} of ${items.length} matching alarms` + (hidden ? ` (${hidden} more do not match the filters; ${state.alarms.length} in all)` : "")
    : `0 matching alarms (${state.alarms.length} in all)`;
  const pager = main.querySelector("#alarm-pager");
  const go = (p) => { ui.page = p; updateAlarms(main); };
  pager.replaceChildren(
    el("button", { type: "button", disabled: ui.page === 0, onclick: () => go(ui.page - 1), text: "‹ Previous" }),
    el("span", { text: `Page ${ui.page + 1} of ${pages}` }),
    el("button", { type: "button", disabled: ui.page >= pages - 1, onclick: () => go(ui.page + 1), "data-next": "", text: "Next ›" }),
  );
}

async function act(alarms, action, body) {
  let done = 0;
  const errors = [];
  for (const a of alarms) {
    try {
      await api(`/api/v1/alarms/${a.id}/${action}`, { method: "POST", body: body || {} });
      done += 1;
      ui.selected.delete(a.id);
    } catch (e) {
      errors.push(`alarm ${a.id} (${a.device_id}): ${describeError(e)}`);
    }
  }
  if (errors.length) toast(`${action}: ${done} done, ${errors.length} refused. ${errors.slice(0, 3).join(" · ")}`);
  await loadAlarms().catch((e) => toast(describeError(e)));
}

function ackSelected() {
  const chosen = state.alarms.filter((a) => ui.selected.has(a.id));
  if (!chosen.length) { toast("Select alarms first (the checkboxes in the first column)."); return; }
  act(chosen, "ack");
}

function ackPage() {
  const items = visible().slice(ui.page * PAGE, ui.page * PAGE + PAGE).filter((a) => !a.acknowledged && a.state !== "shelved");
  if (items.length) act(items, "ack");
}

function describe(a) { return `${a.priority} · ${a.device_id} · ${LABELS[a.measurement] || a.measurement} · ${CONDITIONS[a.condition] || a.condition}`; }

// The <name>-dialog about alarm `a`, its <name>-form emptied; onOk(form data) when it is confirmed.
function openDialog(name, a, onOk) {
  const dialog = document.getElementById(`${name}-dialog`);
  const form = document.getElementById(`${name}-form`);
  form.reset();
  document.getElementById(`${name}-what`).textContent = describe(a);
  dialog.onclose = () => {
    if (dialog.returnValue === "ok") onOk(new FormData(form));
  };
  dialog.showModal();
}

function shelveDialog(a) {
  openDialog("shelve", a, (data) =>
    act([a], "shelve", { kind: "timed", duration_s: Number(data.get("duration")), comment: String(data.get("comment")).trim() }));
}

function commentDialog(a) {
  openDialog("comment", a, (data) => act([a], "comment", { comment: String(data.get("comment")).trim() }));
}
