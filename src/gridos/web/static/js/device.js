// Device view: latest values (unit, quality, age) and a trend of one or more measurements: raw points
// or the min-max band of the 1-minute rollups, with the alarm limits in force drawn as lines.
import { api } from "./api.js";
import { describeError, isStale, state, toast, unitOf } from "./app.js";
import { clock, el, fmtAge, fmtNumber, fmtTime, fmtValue, fromInputValue, LABELS, toInputValue, unitText } from "./util.js";

const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400 };
const COLOURS = ["#1f3b73", "#7a3e00", "#2d6a2d", "#6b2b6b", "#00606b", "#5a5a00"];
const ui = { device: null, chosen: new Set(["voltage"]), range: "1h", mode: "auto", plot: null, limits: {} };

function step(seconds, mode) {
  if (mode === "raw" || (mode === "auto" && seconds <= 6 * 3600)) return null;
  return seconds <= 6 * 3600 ? "1m" : seconds <= 86400 ? "5m" : seconds <= 7 * 86400 ? "30m" : "2h";
}

export function renderDevice(main, route) {
  if (ui.device !== route.device) { ui.device = route.device; ui.limits = {}; }
  const d = state.devices.get(route.device);
  const measurements = Object.keys(state.catalogue).filter((m) => state.catalogue[m].kind !== "bool");
  const now = new Date(Date.now() + clock.offsetMs);
  main.append(
    el("div", { class: "toolbar" }, el("h1", { text: `Device ${route.device}` }),
      d ? el("span", { class: "muted", text: `${d.type} at ${d.site}${d.nominal_voltage ? `, ${fmtNumber(d.nominal_voltage, "voltage")} V nominal` : ""}; fed from ${(d.upstream || []).join(", ") || "none (source)"}` }) : null,
      d ? el("a", { href: `#/site/${d.site}`, text: `← Site ${d.site}` }) : null),
    el("div", { class: "grid2" },
      el("section", { class: "panel" },
        el("h2", { text: "Trend" }),
        el("form", { class: "toolbar", id: "trend-form", onsubmit: (e) => { e.preventDefault(); loadTrend(main); } },
          el("fieldset", { class: "toolbar" }, el("legend", { text: "Measurements" }),
            measurements.map((m) => el("label", {}, el("input", { type: "checkbox", name: "m", value: m, checked: ui.chosen.has(m),
              onchange: (e) => { if (e.currentTarget.checked) ui.chosen.add(m); else ui.chosen.delete(m); loadTrend(main); } }), LABELS[m] || m))),
          el("label", {}, "Range", el("select", { name: "range", onchange: (e) => { ui.range = e.currentTarget.value; main.querySelector("#custom").hidden = ui.range !== "custom"; loadTrend(main); } },
            [["1h", "1 h"], ["24h", "24 h"], ["7d", "7 d"], ["custom", "custom…"]].map(([v, t]) => el("option", { value: v, selected: v === ui.range, text: t })))),
          el("span", { id: "custom", class: "toolbar", hidden: ui.range !== "custom" },
            el("label", {}, `From (${clock.utc ? "UTC" : "local"})`, el("input", { type: "datetime-local", name: "from", value: toInputValue(new Date(now - 6 * 3600e3)) })),
            el("label", {}, `To (${clock.utc ? "UTC" : "local"})`, el("input", { type: "datetime-local", name: "to", value: toInputValue(now) })),
            el("button", { type: "submit", text: "Show" })),
          el("label", {}, "Points", el("select", { name: "mode", onchange: (e) => { ui.mode = e.currentTarget.value; loadTrend(main); } },
            [["auto", "auto"], ["raw", "raw samples"], ["band", "min-max band (rollups)"]].map(([v, t]) => el("option", { value: v, selected: v === ui.mode, text: t }))))),
        el("div", { class: "chart", id: "chart", role: "img", "aria-label": "Trend chart" }),
        el("p", { class: "legendlimits", id: "chart-info", role: "status" })),
      el("section", { class: "panel" }, el("h2", { text: "Latest values" }), el("table", { id: "latest" }))),
  );
  updateDevice(main, route);
  api(`/api/v1/alarm-rules/effective/${route.device}`).then((r) => { ui.limits = r.measurements || {}; loadTrend(main); })
    .catch(() => loadTrend(main));
}

export function updateDevice(main, route) {
  const table = main.querySelector("#latest");
  if (!table) return;
  const latest = state.latest.get(route.device);
  const rows = latest ? [...latest.entries()].sort() : [];
  table.replaceChildren(
    el("thead", {}, el("tr", {}, ...["Measurement", "Value", "Quality", "Age", "Sample time"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.length ? rows.map(([m, v]) => el("tr", { "data-measurement": m },
      el("th", { scope: "row", text: LABELS[m] || m }),
      el("td", { class: `num live ${isStale(v) ? "stale" : ""}`, text: fmtValue(v.value, m, unitOf(m)) }),
      el("td", { class: v.quality === "good" ? "" : "abn quality-bad", text: v.quality }),
      el("td", { class: `live ${isStale(v) ? "stale" : ""}`, text: fmtAge(v.received) }),
      el("td", { text: fmtTime(v.ts, { date: false }) }))) : [el("tr", {}, el("td", { colspan: 5, text: "No value received yet." }))]),
  );
}

function window_(main) {
  const form = main.querySelector("#trend-form");
  if (ui.range === "custom") {
    const from = fromInputValue(form.elements.from.value);
    const to = fromInputValue(form.elements.to.value);
    return from && to && from < to ? [from, to] : null;
  }
  // A rolling window ends a little after "now": what arrives while the request travels is included.
  const to = new Date(Date.now() + clock.offsetMs + 5000);
  return [new Date(to - RANGES[ui.range] * 1000), to];
}

let loading = 0;
async function loadTrend(main) {
  const box = main.querySelector("#chart");
  if (!box) return;
  const info = main.querySelector("#chart-info");
  const range = window_(main);
  if (!range) { info.textContent = "Choose a start before the end."; return; }
  const [from, to] = range;
  const stepParam = step((to - from) / 1000, ui.mode === "band" ? "band" : ui.mode);
  const chosen = [...ui.chosen];
  const ticket = ++loading;
  let results;
  try {
    results = await Promise.all(chosen.map((m) => {
      const q = new URLSearchParams({ device_id: ui.device, measurement: m, from: from.toISOString(), to: to.toISOString(), limit: "100000" });
      if (stepParam) q.set("step", stepParam);
      return api(`/api/v1/scada/data?${q}`);
    }));
  } catch (e) { toast(describeError(e)); return; }
  if (ticket !== loading || !main.contains(box)) return;
  draw(box, info, chosen, results, from, to, stepParam);
}

function draw(box, info, chosen, results, from, to, stepParam) {
  ui.plot?.destroy();
  box.replaceChildren();
  if (!chosen.length) { info.textContent = "Choose at least one measurement."; return; }
  // One time axis for every series: the union of their timestamps (seconds).
  const times = new Set();
  const maps = results.map((r) => {
    const m = new Map();
    if (r.points) for (const p of r.points) { const t = new Date(p.ts).getTime() / 1000; times.add(t); m.set(t, { v: p.quality === "invalid" ? null : p.value }); }
    if (r.buckets) for (const b of r.buckets) { const t = new Date(b.ts).getTime() / 1000; times.add(t); m.set(t, { v: b.avg, min: b.min, max: b.max }); }
    return m;
  });
  const xs = [...times].sort((a, b) => a - b);
  const data = [xs];
  const series = [{}];
  const bands = [];
  const units = [...new Set(chosen.map((m) => unitOf(m)))];
  const scales = { x: { time: true, min: from / 1000, max: to / 1000 } };
  units.forEach((u) => { scales[u || "–"] = { auto: true }; });
  chosen.forEach((m, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const scale = unitOf(m) || "–";
    const label = `${LABELS[m] || m}${unitOf(m) ? ` (${unitText(unitOf(m))})` : ""}`;
    data.push(xs.map((t) => maps[i].get(t)?.v ?? null));
    series.push({ label: stepParam ? `${label} avg` : label, stroke: colour, width: 1.5, scale, points: { show: !stepParam && xs.length < 200 },
      value: (u, v) => (v === null ? "–" : fmtNumber(v, m)) });
    if (stepParam) {
      const hi = data.push(xs.map((t) => maps[i].get(t)?.max ?? null)) - 1;
      series.push({ label: `${label} max`, stroke: `${colour}55`, scale, value: (u, v) => (v === null ? "–" : fmtNumber(v, m)) });
      const lo = data.push(xs.map((t) => maps[i].get(t)?.min ?? null)) - 1;
      series.push({ label: `${label} min`, stroke: `${colour}55`, scale, value: (u, v) => (v === null ? "–" : fmtNumber(v, m)) });
      bands.push({ series: [hi, lo], fill: `${colour}22` });
    }
  });
  // Alarm limits of the chosen measurements, drawn as dashed lines on their scale (and included in it).
  const limits = [];
  for (const m of chosen) for (const [cond, l] of Object.entries(ui.limits[m]?.limits || {})) limits.push({ m, cond, value: l.value, scale: unitOf(m) || "–" });
  for (const l of limits) {
    const s = scales[l.scale];
    s.range = (u, min, max) => {
      const own = limits.filter((x) => x.scale === l.scale).map((x) => x.value);
      const lo = Math.min(min ?? Infinity, ...own);
      const hi = Math.max(max ?? -Infinity, ...own);
      const pad = (hi - lo) * 0.05 || 1;
      return [lo - pad, hi + pad];
    };
  }
  // Tick labels without seconds or zone (the zone is in the axis label): "HH:MM", or "MM-DD HH:MM" past a day.
  const long = (to - from) > 86400e3;
  const tick = (t) => { const s = fmtTime(new Date(t * 1000)); return long ? s.slice(5, 16) : s.slice(11, 16); };
  const axes = [{ values: (u, ticks) => ticks.map(tick), label: `time (${clock.utc ? "UTC" : "local"})` },
    ...units.map((u, i) => ({ scale: u || "–", side: i % 2 ? 1 : 3, label: unitText(u) || "–", grid: { show: i === 0 } }))];
  const opts = {
    width: Math.max(300, box.clientWidth || 700), height: 320, scales, series, axes, bands,
    tzDate: (ts) => (clock.utc ? uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC") : new Date(ts * 1e3)),
    hooks: { draw: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.5;
      // uPlot leaves the context as its last axis drew it (right-aligned): without this the labels ran
      // out of the plot onto the tick labels.
      ctx.textAlign = "left";
      ctx.textBaseline = "alphabetic";
      ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
      for (const l of limits) {
        const y = u.valToPos(l.value, l.scale, true);
        const column = units.indexOf(unitOf(l.m));
        if (!Number.isFinite(y)) continue;
        ctx.strokeStyle = l.cond === "hh" || l.cond === "ll" ? "#a3001b" : "#a64300";
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
        ctx.fillStyle = ctx.strokeStyle;
        // Each unit's limit labels in their own column, so equal heights on two scales stay readable.
        ctx.fillText(`${l.cond.toUpperCase()} ${fmtNumber(l.value, l.m)} ${unitText(unitOf(l.m))}`, u.bbox.left + 4 + column * 150 * devicePixelRatio, y - 3);
      }
      ctx.restore();
    }] },
  };
  ui.plot = new uPlot(opts, data, box);
  const count = results.reduce((n, r) => n + (r.points?.length || r.buckets?.length || 0), 0);
  box.dataset.points = String(count);
  box.setAttribute("aria-label", `Trend of ${chosen.map((m) => LABELS[m] || m).join(", ")}: ${count} ${stepParam ? `buckets of ${stepParam}` : "samples"}`);
  info.textContent = `${count} ${stepParam ? `${stepParam} min-max buckets from the rollups` : "raw samples"}, ${fmtTime(from)} to ${fmtTime(to)}. `
    + (limits.length ? `Dashed lines: alarm limits (${limits.map((l) => `${l.m} ${l.cond.toUpperCase()} ${fmtValue(l.value, l.m, unitOf(l.m))}`).join(", ")}).` : "No alarm limits for these measurements.")
    + (results.some((r) => r.truncated) ? " Truncated: choose a shorter range." : "");
}
