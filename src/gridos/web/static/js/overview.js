// Overview: one tile per site. Both ends of every envelope are checked; stale data never looks normal.
import { state, worstAlarm } from "./app.js";
import { el, fmtNumber, fmtTime, CONDITIONS, LABELS, prioBadge } from "./util.js";

// Steady-state voltage: ±5 % abnormal, ±10 % severe (EN 50160 / ANSI C84.1 range A and beyond).
export function voltageClass(pu) {
  if (pu === null || pu === undefined) return null;
  const dev = Math.abs(pu - 1);
  return dev > 0.10 ? "critical" : dev > 0.05 ? "high" : null;
}
export function frequencyClass(hz, nominal = 50) {
  if (hz === null || hz === undefined) return null;
  const dev = Math.abs(hz - nominal);
  return dev > 0.5 ? "critical" : dev > 0.2 ? "high" : null;
}

function marked(text, severity, word) {
  // Abnormal: a framed value with a word (HIGH/LOW), never colour alone.
  if (!severity) return el("span", { class: "live", text });
  return el("span", { class: `live abn ${severity}`, text: `${text} ${word}` });
}

function envelopeCell(env, classify, precision, ref) {
  // Both ends are checked: a minimum can be high and a maximum low.
  if (!env) return el("span", { class: "live stale", text: "no data" });
  const end = (v) => marked(fmtNumber(v, precision), classify(v), v < ref ? "LOW" : "HIGH");
  return el("span", {}, end(env.min), " – ", end(env.max));
}

function tile(site) {
  const alarms = state.alarms.filter((a) => a.site === site.site);
  const hz = [...state.devices.values()].find((d) => d.site === site.site && d.nominal_frequency)?.nominal_frequency || 50;
  const worst = worstAlarm(alarms);
  const staleDevices = site.stale + site.never_reported;
  const rows = [
    ["Devices reporting", el("span", { class: "live", text: `${site.reporting} of ${site.devices}` })],
    ["Devices stale", staleDevices
      ? el("span", { class: "live abn high", text: `${staleDevices} STALE` })
      : el("span", { class: "live", text: "0" })],
    ["Voltage min – max (pu)", envelopeCell(site.voltage_pu, voltageClass, "pu", 1)],
    ["Frequency min – max (Hz)", envelopeCell(site.frequency_hz, (v) => frequencyClass(v, hz), "frequency", hz)],
    ["Load (MW)", el("span", { class: "live", text: fmtNumber(site.active_power_kw / 1000, "pu") })],
    ["Breakers open", site.breakers_open
      ? el("span", { class: "live abn high", text: `${site.breakers_open} OPEN` })
      : el("span", { class: "live", text: "0" })],
    ["Worst active alarm", worst
      ? el("span", {}, prioBadge(worst.priority), ` ${worst.device_id} ${LABELS[worst.measurement] || worst.measurement} ${(CONDITIONS[worst.condition] || "").split(" ")[0]}`)
      : el("span", { class: "muted", text: "none" })],
  ];
  return el("a", { class: "tile", href: `#/site/${encodeURIComponent(site.site)}`, "data-site": site.site },
    el("h2", {}, el("span", { text: site.site }), el("span", { class: "muted", text: `${alarms.length} alarms` })),
    el("table", {}, el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k }), el("td", {}, v))))));
}

export function renderOverview(main) {
  main.append(
    el("div", { class: "toolbar" }, el("h1", { text: "Overview" }), el("span", { class: "muted", id: "status-time" })),
    el("section", { class: "tiles", id: "tiles", "aria-label": "Sites" }),
  );
  updateOverview(main);
}

export function updateOverview(main) {
  const box = main.querySelector("#tiles");
  if (!box) return;
  const status = state.status;
  if (!status) { box.replaceChildren(el("p", { class: "muted", text: "Waiting for the first status…" })); return; }
  const focused = document.activeElement?.dataset?.site;
  box.replaceChildren(...status.sites.map(tile));
  if (focused) box.querySelector(`[data-site="${CSS.escape(focused)}"]`)?.focus();
  main.querySelector("#status-time").textContent = `status of ${fmtTime(status.generated_at)}`;
}
