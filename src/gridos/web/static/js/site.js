// Site view: a single-line diagram drawn from the device topology (`upstream`), with live values and
// breaker states (shape and word, not colour), and the site's devices in a table.
import { isStale, state, unitOf, worstAlarm } from "./app.js";
import { el, fmtAge, fmtValue, prioBadge, svg } from "./util.js";

const DX = 120;
const DY = 118;
const TOP = 40;
const SHOWN = {
  transformer: ["voltage", "current", "temperature"], breaker: ["current"], bus: ["voltage", "frequency"],
  feeder: ["active_power", "current"], meter: ["voltage", "active_power"], generator: ["active_power", "frequency"],
};

export function layout(devices) {
  // Depth = longest path from a source: a device is drawn one row below the lowest thing that feeds it.
  const byId = new Map(devices.map((d) => [d.id, d]));
  const ups = (d) => (d.upstream || []).filter((u) => byId.has(u));
  const depth = new Map();
  const depthOf = (d, seen = new Set()) => {
    if (depth.has(d.id)) return depth.get(d.id);
    if (seen.has(d.id)) return 0;
    seen.add(d.id);
    const v = ups(d).length ? 1 + Math.max(...ups(d).map((u) => depthOf(byId.get(u), seen))) : 0;
    depth.set(d.id, v);
    return v;
  };
  devices.forEach((d) => depthOf(d));
  // A tree drawing: every device hangs under its primary feed (the upstream device nearest above it) and
  // its subtree gets a band of its own, the device centred over it. So the wires of two breakers never
  // share a segment, which a layered drawing cannot promise (it once drew three breakers' feeders on one
  // line, as if tied together). Further feeds (a bus from two incomers) are drawn as extra wires.
  const numeric = (a, b) => a.id.localeCompare(b.id, "en", { numeric: true });
  const primary = new Map();
  for (const d of devices) {
    const feeds = ups(d).filter((u) => depth.get(u) < depth.get(d.id));
    if (feeds.length) primary.set(d.id, feeds.reduce((a, b) => (depth.get(b) > depth.get(a) ? b : a)));
  }
  const children = new Map();
  for (const d of [...devices].sort(numeric)) {
    const p = primary.get(d.id);
    if (p !== undefined) (children.get(p) || children.set(p, []).get(p)).push(d);
  }
  const span = new Map();
  const spanOf = (d) => {
    if (!span.has(d.id)) span.set(d.id, Math.max(1, (children.get(d.id) || []).reduce((a, k) => a + spanOf(k), 0)));
    return span.get(d.id);
  };
  const x = new Map();
  const place = (d, left) => {
    x.set(d.id, (left + spanOf(d) / 2) * DX);
    let at = left;
    for (const k of children.get(d.id) || []) {
      place(k, at);
      at += spanOf(k);
    }
  };
  let width = 0;
  for (const root of devices.filter((d) => !primary.has(d.id)).sort(numeric)) {
    place(root, width);
    width += spanOf(root);
  }
  const layers = Math.max(0, ...depth.values()) + 1;
  const pos = new Map(devices.map((d) => [d.id, { x: x.get(d.id) + 30, y: TOP + depth.get(d.id) * DY, d }]));
  return { pos, width: Math.max(width, 1) * DX + 60, height: TOP + layers * DY, ups };
}

function symbol(d, p, latest) {
  const { x, y } = p;
  const closed = latest?.get("breaker_closed")?.value;
  switch (d.type) {
    case "transformer":
      return [svg("circle", { class: "sym", cx: x, cy: y + 6, r: 11 }), svg("circle", { class: "sym", cx: x, cy: y + 20, r: 11, fill: "none" })];
    case "breaker": {
      const open = closed === false;
      return [
        svg("rect", { class: `sym ${closed === undefined ? "" : open ? "open" : "closed"}`, x: x - 11, y: y + 2, width: 22, height: 22, "data-breaker": d.id, "data-state": closed === undefined ? "unknown" : open ? "open" : "closed" }),
        svg("text", { x: x + 15, y: y + 18, class: `val live ${open ? "openlabel" : ""}`, "data-breaker-label": d.id }, closed === undefined ? "?" : open ? "OPEN" : "CLOSED"),
      ];
    }
    case "meter":
      return [svg("circle", { class: "sym", cx: x, cy: y + 13, r: 12 }), svg("text", { x: x - 5, y: y + 18 }, "M")];
    case "generator":
      return [svg("circle", { class: "sym", cx: x, cy: y + 13, r: 13 }), svg("text", { x: x - 5, y: y + 18 }, "G")];
    case "feeder":
      return [svg("path", { class: "wire", d: `M${x} ${y} V${y + 22} M${x - 6} ${y + 14} L${x} ${y + 24} L${x + 6} ${y + 14}` })];
    default:
      return [svg("rect", { class: "sym", x: x - 9, y: y + 4, width: 18, height: 18 })];
  }
}

function draw(site) {
  const devices = [...state.devices.values()].filter((d) => d.site === site);
  const { pos, width, height, ups } = layout(devices);
  const root = svg("svg", { class: "oneline", viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": `Single-line diagram of site ${site}` });
  // buses: a bar spanning everything connected to them
  const busSpan = new Map();
  for (const d of devices) if (d.type === "bus") busSpan.set(d.id, [pos.get(d.id).x, pos.get(d.id).x]);
  for (const d of devices) for (const u of ups(d)) {
    if (busSpan.has(u)) { const s = busSpan.get(u); s[0] = Math.min(s[0], pos.get(d.id).x); s[1] = Math.max(s[1], pos.get(d.id).x); }
    if (busSpan.has(d.id)) { const s = busSpan.get(d.id); s[0] = Math.min(s[0], pos.get(u).x); s[1] = Math.max(s[1], pos.get(u).x); }
  }
  const wires = svg("g", {});
  for (const d of devices) {
    const p = pos.get(d.id);
    for (const u of ups(d)) {
      const q = pos.get(u);
      const fromY = busSpan.has(u) ? q.y + 13 : q.y + 26;
      const fromX = busSpan.has(u) ? p.x : q.x;
      const toY = busSpan.has(d.id) ? p.y + 13 : p.y;
      const toX = busSpan.has(d.id) ? q.x : p.x;
      wires.append(svg("path", { class: "wire", "data-from": u, "data-to": d.id, d: `M${fromX} ${fromY} V${(fromY + toY) / 2} H${toX} V${toY}` }));
    }
  }
  root.append(wires);
  for (const [id, [a, b]] of busSpan) {
    const y = pos.get(id).y + 13;
    root.append(svg("line", { class: "bus", x1: a - 40, x2: b + 40, y1: y, y2: y }));
  }
  for (const d of devices) {
    const p = pos.get(d.id);
    const latest = state.latest.get(d.id);
    const alarms = state.alarms.filter((a) => a.device_id === d.id);
    const worst = worstAlarm(alarms);
    const isBus = d.type === "bus";
    const label = svg("text", { x: isBus ? Math.min(...busSpan.get(d.id)) - 40 : p.x + 15, y: isBus ? p.y + 4 : p.y + 4 }, d.id.split("/").pop());
    const values = (SHOWN[d.type] || []).map((m, i) => {
      const entry = latest?.get(m);
      return svg("text", { x: isBus ? Math.min(...busSpan.get(d.id)) - 40 : p.x - 45, y: (isBus ? p.y + 32 : p.y + 42) + i * 13, class: `val live ${isStale(entry) ? "stale" : ""}`, "data-device": d.id, "data-measurement": m },
        entry ? fmtValue(entry.value, m, unitOf(m)) : `${m} –`);
    });
    const parts = isBus ? [label, ...values] : [...symbol(d, p, latest), label, ...values];
    if (worst) {
      const shape = { critical: "◆", high: "▲", medium: "■", low: "●" }[worst.priority];
      parts.push(svg("text", { x: p.x + 15, y: p.y - 10, class: "alarmmark", "data-alarm-priority": worst.priority }, `${shape} ${worst.priority.toUpperCase()}`));
    }
    const link = svg("a", { href: `#/device/${d.id}` }, svg("title", {}, `${d.type} ${d.id}: open the device`), ...parts);
    root.append(link);
  }
  return root;
}

export function renderSite(main, route) {
  main.append(
    el("div", { class: "toolbar" }, el("h1", { text: `Site ${route.site}` }), el("a", { href: "#/", text: "← Overview" })),
    el("section", { class: "panel", id: "oneline", "aria-label": "Single-line diagram" }),
    el("section", { class: "panel" }, el("h2", { text: "Devices" }), el("div", { class: "tablewrap" }, el("table", { id: "site-devices" }))),
  );
  updateSite(main, route);
}

export function updateSite(main, route) {
  const box = main.querySelector("#oneline");
  if (!box) return;
  const focused = document.activeElement?.closest?.("a")?.getAttribute("href");
  box.replaceChildren(state.devices.size ? draw(route.site) : el("p", { class: "muted", text: "Loading the registry…" }));
  if (focused) box.querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
  const devices = [...state.devices.values()].filter((d) => d.site === route.site).sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
  const table = main.querySelector("#site-devices");
  table.replaceChildren(
    el("thead", {}, el("tr", {}, ...["Device", "Type", "Fed from", "Values", "Last received", "Worst alarm"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, devices.map((d) => {
      const latest = state.latest.get(d.id);
      const newest = latest ? [...latest.values()].reduce((a, b) => (a && a.received > b.received ? a : b), null) : null;
      const worst = worstAlarm(state.alarms.filter((a) => a.device_id === d.id));
      return el("tr", {},
        el("td", {}, el("a", { href: `#/device/${d.id}`, text: d.id })),
        el("td", { text: d.type }),
        el("td", { text: (d.upstream || []).join(", ") || "source" }),
        el("td", { class: `live ${isStale(newest) ? "stale" : ""}`, text: (SHOWN[d.type] || []).map((m) => latest?.get(m) ? fmtValue(latest.get(m).value, m, unitOf(m)) : null).filter(Boolean).join(" · ") || "–" }),
        el("td", { class: `live ${isStale(newest) ? "stale" : ""}`, text: newest ? `${fmtAge(newest.received)} ago` : "never" }),
        el("td", {}, worst ? prioBadge(worst.priority) : el("span", { class: "muted", text: "none" })));
    })),
  );
}
