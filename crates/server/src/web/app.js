// Lodestone dashboard: plain JavaScript, no external files. The session token lives in an
// HttpOnly cookie set by /api/login, so fetch and EventSource carry it automatically.
"use strict";

const $ = (id) => document.getElementById(id);
let me = null;
let stream = null;

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && path !== "/api/login") { showLogin(); }
  if (!response.ok) throw new Error(body && body.detail ? body.detail : response.statusText);
  return body;
}

function text(value) { return value === null || value === undefined ? "—" : String(value); }
function cell(row, value, cls) { const td = row.insertCell(); td.textContent = text(value); if (cls) td.className = cls; return td; }
function lotLink(row, id) { const td = row.insertCell(); const a = document.createElement("a"); a.href = "#/lot/" + encodeURIComponent(id); a.textContent = id; td.appendChild(a); }
function show(view) {
  for (const v of ["login-view", "password-view", "overview-view", "model-view", "lot-view", "orders-view", "quality-view", "spc-view", "batching-view", "sx-view", "audit-view"]) $(v).hidden = v !== view;
  $("nav").hidden = view === "login-view";
}

function showLogin() { if (stream) { stream.close(); stream = null; } me = null; show("login-view"); }

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  $("login-error").textContent = "";
  try {
    const answer = await api("/api/login", { method: "POST", body: JSON.stringify({ user: form.get("user"), password: form.get("password") }) });
    me = answer.me;
    route();
  } catch (err) { $("login-error").textContent = err.message; }
});

$("logout").addEventListener("click", async () => { await fetch("/api/logout", { method: "POST" }); showLogin(); });
$("lot-search").addEventListener("submit", (e) => { e.preventDefault(); const id = $("lot-id").value.trim(); if (id) location.hash = "#/lot/" + encodeURIComponent(id); });
$("speed").addEventListener("change", async (e) => { try { await api("/api/demo", { method: "POST", body: JSON.stringify({ speed: Number(e.target.value) }) }); } catch (err) { alert(err.message); } });

function renderOverview(o) {
  $("clock").textContent = o.clock.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
  $("seq").textContent = o.head_seq.toLocaleString();
  $("made").textContent = (o.flake_kg_24h / 1000).toFixed(1) + " t";
  $("heats").textContent = o.heats_24h;
  $("ncrs").textContent = o.open_nonconformances;
  $("held").textContent = o.held_lots;
  if (o.plan_kg_per_day) {
    const pct = Math.min(100, 100 * o.flake_kg_24h / o.plan_kg_per_day);
    $("made-bar").style.width = pct.toFixed(0) + "%";
    $("plan-note").textContent = "plan " + (o.plan_kg_per_day / 1000).toFixed(1) + " t/day (" + pct.toFixed(0) + " %)";
  }
  const lines = $("lines");
  lines.replaceChildren();
  for (const l of o.lines) {
    const div = document.createElement("div");
    div.className = "line " + (l.state || "");
    div.dataset.unit = l.id;
    const name = document.createElement("strong"); name.textContent = l.id;
    const state = document.createElement("div"); state.className = "state"; state.textContent = (l.state || "").replace("_", " ");
    const order = document.createElement("div"); order.textContent = l.order ? l.order + " · " + l.product.replace("-flake", "") : "";
    div.append(name, state, order);
    lines.appendChild(div);
  }
  const body = $("recent");
  body.replaceChildren();
  for (const r of o.recent) {
    const row = body.insertRow();
    lotLink(row, r.id + "-D1");
    cell(row, r.definition.replace("-flake", ""));
    cell(row, r.kg.toFixed(1));
    cell(row, r.at.replace("T", " ").slice(0, 16));
    cell(row, r.disposition, r.disposition);
  }
}

async function overview() {
  show("overview-view");
  const status = await api("/api/demo");
  $("speed-box").hidden = !status.running || !(me && me.roles.some((r) => r === "admin" || r === "planner"));
  if (status.speed !== null) $("speed").value = String(status.speed);
  // The twin skips what the MES refuses (a held raw lot cannot be consumed): say so.
  const notes = [];
  if (status.failure) notes.push("The plant twin stopped: " + status.failure);
  if (status.refused_commands) notes.push(status.refused_commands + " twin commands refused by the MES and skipped; latest: " + status.last_refusal);
  $("twin-note").textContent = notes.join(" ");
  $("twin-note").hidden = notes.length === 0;
  renderOverview(await api("/api/overview"));
  if (!stream) {
    stream = new EventSource("/api/stream");
    stream.addEventListener("overview", (e) => { if (!$("overview-view").hidden) renderOverview(JSON.parse(e.data)); });
  }
}

function genealogyTree(trace, id) {
  // Parents of each lot from the trace's edges (child ← parent).
  const parents = {};
  for (const e of trace.edges) (parents[e.child] = parents[e.child] || []).push(e);
  const seen = new Set();
  function node(lot) {
    const li = document.createElement("li");
    const a = document.createElement("a"); a.href = "#/lot/" + encodeURIComponent(lot); a.textContent = lot;
    li.appendChild(a);
    if (seen.has(lot)) return li;
    seen.add(lot);
    const ps = parents[lot] || [];
    if (ps.length) {
      const ul = document.createElement("ul");
      for (const e of ps) { const child = node(e.parent); child.insertBefore(document.createTextNode(e.parent_kg.toFixed(1) + " kg from "), child.firstChild); ul.appendChild(child); }
      li.appendChild(ul);
    }
    return li;
  }
  const ul = document.createElement("ul"); ul.appendChild(node(id)); return ul;
}

async function lotPage(id, message = "") {
  show("lot-view");
  $("lot-title").textContent = id;
  $("genealogy").replaceChildren();
  $("results").replaceChildren();
  $("release-msg").textContent = message;
  let lot;
  try { lot = await api("/api/lots/" + encodeURIComponent(id)); }
  catch (err) { $("lot-facts").replaceChildren(); $("lot-title").textContent = id + " — " + err.message; return; }
  const facts = $("lot-facts"); facts.replaceChildren();
  for (const [k, v] of [["Material", lot.definition], ["kg", lot.quantity_kg.toFixed(2)], ["Made", lot.created_at], ["Status", lot.status], ["QA", lot.disposition], ["Supplier lot", lot.supplier_lot]]) {
    const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = text(v); if (k === "QA") dd.className = v; facts.append(dt, dd);
  }
  const audit = document.createElement("a"); audit.href = "#/audit/" + encodeURIComponent("lot:" + id); audit.textContent = "audit trail";
  const dt = document.createElement("dt"); dt.textContent = "Record"; const dd = document.createElement("dd"); dd.appendChild(audit); facts.append(dt, dd);
  const trace = await api("/api/lots/" + encodeURIComponent(id) + "/trace?direction=backward&depth=10");
  $("genealogy").appendChild(genealogyTree(trace, id));
  const results = await api("/api/lots/" + encodeURIComponent(id) + "/results").catch(() => []);
  for (const r of results) { const row = $("results").insertRow(); cell(row, r.property); cell(row, r.value.toFixed(4)); cell(row, r.unit); cell(row, r.lot === id ? "this lot" : r.lot); cell(row, r.sample); cell(row, r.at); }
  const mayRelease = me && me.roles.some((r) => ["qa", "qa-manager", "admin"].includes(r));
  const mayDeviate = me && me.roles.some((r) => ["qa-manager", "admin"].includes(r));
  $("release-box").hidden = !mayRelease || !["held", "pending", "quarantined"].includes(lot.disposition);
  // The MES's own proposal, before anyone signs: what would block a plain release.
  const evaluation = await api("/api/lots/" + encodeURIComponent(id) + "/evaluation").catch(() => null);
  const unmet = evaluation ? evaluation.checks.filter((c) => c.verdict !== "pass").map((c) => c.limit.property + (c.verdict === "fail" ? " " + c.value + " outside limits" : " missing")) : [];
  $("release-check").textContent = evaluation ? "MES proposal: " + evaluation.proposed + " — " + evaluation.explanation + (unmet.length ? ". A plain release is refused; " + (mayDeviate ? "release under deviation below if accepted." : "a QA manager may release under deviation.") : ".") : "";
  $("deviation-box").hidden = !mayDeviate;
  const meaning = $("release").elements.meaning;
  const deviationMeaning = () => { const dev = $("release").elements.reference.value.trim() !== ""; meaning.replaceChildren(...(dev ? ["deviation-approval"] : ["approval", "responsibility"]).map((m) => { const o = document.createElement("option"); o.value = m; o.textContent = m; return o; })); };
  $("release").elements.reference.oninput = deviationMeaning;
  deviationMeaning();
  $("release").onsubmit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const body = { command: "release-lot", lot: id, signature: { user: me.user, password: form.get("password"), meaning: form.get("meaning") } };
    const reference = (form.get("reference") || "").trim();
    if (reference) body.deviation = { reference, reason: (form.get("reason") || "").trim() };
    try {
      await api("/api/commands", { method: "POST", body: JSON.stringify(body) });
      e.target.reset();
      await lotPage(id, (reference ? "Released under deviation " + reference : "Released") + ", signed by " + me.name + " (" + body.signature.meaning + ").");
    } catch (err) { $("release-msg").textContent = err.message; }
  };
}

// The next steps of an order in each state (the MES refuses what the user's role may not do).
const NEXT_ACTIONS = { planned: ["release", "cancel"], released: ["dispatch", "start", "hold"], dispatched: ["start", "hold"], running: ["complete", "hold", "abort"], held: ["resume", "cancel"] };

async function orderAction(id, action) {
  try {
    await api("/api/commands", { method: "POST", body: JSON.stringify({ command: "order-action", order: id, action }) });
    $("order-msg").textContent = "Order " + id + ": " + action + " recorded.";
  } catch (err) { $("order-msg").textContent = "Order " + id + ": " + err.message; }
  await ordersPage(true);
}

async function ordersPage(keepMessage) {
  show("orders-view");
  if (!keepMessage) $("order-msg").textContent = "";
  const orders = await api("/api/orders");
  const body = $("orders"); body.replaceChildren();
  // Orders the plant did not make itself first (the twin's heats are orders too), then the latest.
  const own = orders.filter((o) => !/^H\d{7}$/.test(o.id));
  const latest = orders.filter((o) => /^H\d{7}$/.test(o.id)).slice(-100).reverse();
  for (const o of own.concat(latest)) {
    const row = body.insertRow(); row.dataset.order = o.id;
    cell(row, o.id); cell(row, o.product); cell(row, o.equipment); cell(row, o.state, "state"); cell(row, o.planned_kg); cell(row, o.started_at);
    const td = row.insertCell();
    for (const action of NEXT_ACTIONS[o.state] || []) {
      const b = document.createElement("button"); b.type = "button"; b.textContent = action; b.dataset.action = action;
      b.addEventListener("click", () => orderAction(o.id, action));
      td.appendChild(b);
    }
  }
}

$("order-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const command = { command: "create-order", id: f.get("id").trim(), work_master: f.get("work_master").trim(), planned_kg: Number(f.get("planned_kg")) };
  if (f.get("equipment").trim()) command.equipment = f.get("equipment").trim();
  try {
    await api("/api/commands", { method: "POST", body: JSON.stringify(command) });
    $("order-msg").textContent = "Order " + command.id + " created.";
    e.target.reset();
  } catch (err) { $("order-msg").textContent = err.message; }
  await ordersPage(true);
});

// Six significant digits: limits derived from aims ± tolerances carry binary round-off.
function num(v) { return String(Number(v.toPrecision(6))); }

function limitText(l) {
  const range = l.min !== null && l.max !== null ? num(l.min) + "–" + num(l.max) : l.min !== null ? "≥ " + num(l.min) : l.max !== null ? "≤ " + num(l.max) : "—";
  return l.property + " " + range + " " + l.unit + (l.target !== null ? " (aim " + num(l.target) + ")" : "");
}

async function modelPage() {
  show("model-view");
  const m = await api("/api/plant");
  const fill = (id, rows, cells) => { const body = $(id); body.replaceChildren(); for (const r of rows) { const row = body.insertRow(); for (const v of cells(r)) cell(row, v); } };
  fill("model-equipment", m.equipment, (e) => [e.id, e.name, e.level, e.parent, e.ideal_cycle_s === null ? null : (e.ideal_cycle_s / 60).toFixed(1) + " min"]);
  fill("model-materials", m.material_definitions, (d) => [d.id, d.name, d.class]);
  fill("model-work-masters", m.work_masters, (w) => [w.id, w.version, w.segment, w.product, Object.entries(w.bill_kg_per_kg).map(([k, v]) => k + " " + v.toFixed(4)).join(", ")]);
  fill("model-specs", m.specifications, (s) => [s.definition, s.version, s.name, s.limits.map(limitText).join("; "), "1 in " + s.sampling.every_nth_lot]);
}

async function qualityPage() {
  show("quality-view");
  const ncrs = await api("/api/nonconformances");
  const body = $("ncr-list"); body.replaceChildren();
  for (const n of ncrs.slice(-200).reverse()) { const row = body.insertRow(); cell(row, n.id); lotLink(row, n.lot); cell(row, n.severity); cell(row, n.state); cell(row, n.description); }
}

async function spcPage() {
  show("spc-view");
  const definition = $("spc-definition").value, property = $("spc-property").value;
  $("spc-summary").textContent = "…";
  $("spc-violations").replaceChildren();
  try {
    const c = await api("/api/spc?definition=" + encodeURIComponent(definition) + "&property=" + encodeURIComponent(property));
    // The SVG is drawn by the server's own chart renderer, which escapes every text it writes.
    $("spc-chart").innerHTML = c.svg;
    const cap = c.capability ? "; against the spec " + [c.capability.lsl, c.capability.usl].map((v) => v === null ? "—" : v.toFixed(3)).join(" – ") + ": Cpk " + c.capability.cpk.value.toFixed(2) + " (95 % " + c.capability.cpk.lower.toFixed(2) + "–" + c.capability.cpk.upper.toFixed(2) + "), Ppk " + c.capability.ppk.value.toFixed(2) : "";
    $("spc-summary").textContent = c.count + " lots, centre " + c.center.toFixed(4) + " " + c.unit + ", control limits " + c.limits[0].toFixed(4) + " – " + c.limits[1].toFixed(4) + "; " + c.violations.length + " rule violations" + cap;
    for (const v of c.violations) { const row = $("spc-violations").insertRow(); row.className = "violation"; cell(row, v.point + 1); lotLink(row, v.lot); cell(row, v.value.toFixed(4)); cell(row, v.rule + ": " + v.rule_text); }
  } catch (err) { $("spc-chart").replaceChildren(); $("spc-summary").textContent = err.message; }
}
$("spc-form").addEventListener("submit", (e) => { e.preventDefault(); spcPage(); });

async function batchingPage() {
  show("batching-view");
  if (!$("plan").value) {
    const r = await fetch("/api/alloy/example", { credentials: "same-origin" });
    if (r.ok) $("plan").value = await r.text();
  }
}
$("batching-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("weigh-list").replaceChildren();
  $("charge-composition").replaceChildren();
  $("batching-summary").textContent = "…";
  const response = await fetch("/api/alloy/charge", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "text/plain" }, body: $("plan").value });
  const body = await response.json().catch(() => null);
  if (!response.ok) { $("batching-summary").textContent = body && body.detail ? body.detail : response.statusText; return; }
  $("batching-summary").textContent = "Charged " + body.charged_kg.toFixed(2) + " kg for " + body.output_kg.toFixed(1) + " kg of melt at a cost of " + body.cost.toFixed(2) + (body.on_aim ? "; every aim hit." : "; closest to aim within tolerance.");
  for (const l of body.lines) { const row = $("weigh-list").insertRow(); cell(row, l.lot); cell(row, l.material); cell(row, l.kg.toFixed(3)); cell(row, l.pieces); cell(row, l.cost.toFixed(2)); }
  for (const [element, aim] of Object.entries(body.aim_wt_pct)) { const row = $("charge-composition").insertRow(); cell(row, element); cell(row, aim.toFixed(3)); cell(row, (body.predicted_wt_pct[element] ?? 0).toFixed(3)); }
});

async function sxPage() {
  show("sx-view");
  if (!$("sx-case").value) {
    const r = await fetch("/api/sx/example", { credentials: "same-origin" });
    if (r.ok) $("sx-case").value = await r.text();
  }
}

// A line per element of the aqueous REE mole fraction along the cascade, as SVG built with DOM
// calls (no markup from data).
function profileSvg(stages) {
  const ns = "http://www.w3.org/2000/svg";
  const W = 720, H = 300, L = 50, R = 90, T = 10, B = 35;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("width", "100%"); svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => { const el = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); if (text !== undefined) el.textContent = text; svg.appendChild(el); return el; };
  const elements = Object.keys(stages[0].aqueous);
  const n = stages.length;
  const x = (i) => L + (W - L - R) * (n > 1 ? i / (n - 1) : 0.5);
  const y = (f) => T + (H - T - B) * (1 - f);
  add("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#999" });
  for (const f of [0, 0.5, 1]) add("text", { x: L - 6, y: y(f) + 4, "text-anchor": "end", "font-size": 11 }, f.toFixed(1));
  add("text", { x: L, y: H - 8, "font-size": 11 }, "stage " + stages[0].stage);
  add("text", { x: W - R, y: H - 8, "text-anchor": "end", "font-size": 11 }, "stage " + stages[n - 1].stage);
  const colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  elements.forEach((e, k) => {
    const pts = stages.map((s, i) => { const total = Object.values(s.aqueous).reduce((a, b) => a + b, 0); return x(i).toFixed(1) + "," + y(total > 0 ? s.aqueous[e] / total : 0).toFixed(1); });
    add("polyline", { points: pts.join(" "), fill: "none", stroke: colours[k % colours.length], "stroke-width": 2, "data-element": e });
    add("text", { x: W - R + 6, y: T + 14 + 14 * k, fill: colours[k % colours.length], "font-size": 12 }, e);
  });
  return svg;
}

$("sx-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("sx-products").replaceChildren();
  $("sx-profile").replaceChildren();
  $("sx-summary").textContent = "…";
  const response = await fetch("/api/sx/simulate", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "text/plain" }, body: $("sx-case").value });
  const r = await response.json().catch(() => null);
  if (!response.ok) { $("sx-summary").textContent = r && r.detail ? r.detail : response.statusText; return; }
  $("sx-summary").textContent = (r.converged ? "Converged" : "NOT converged") + " in " + r.iterations + " iterations (model " + r.model + "), " + r.stages.length + " stages; mass balance closes to " + r.balance.max_relative_error.toExponential(1) + ".";
  // Products come as a map by name, in cascade order (docs/sx-json.md).
  for (const [name, p] of Object.entries(r.products)) {
    const best = Object.entries(p.ree_mole_fraction).sort((a, b) => b[1] - a[1])[0] || ["", 0];
    const row = $("sx-products").insertRow();
    cell(row, name); cell(row, p.stage); cell(row, p.phase);
    cell(row, best[0] + " " + (100 * best[1]).toFixed(3) + " %");
    cell(row, Object.entries(p.recovery).map(([k, v]) => k + " " + (100 * v).toFixed(2) + " %").join(", "));
  }
  $("sx-profile").appendChild(profileSvg(r.stages));
});

async function auditPage(subject) {
  show("audit-view");
  if (subject) $("audit-subject").value = subject;
  const record = $("audit-subject").value.trim();
  $("audit-list").replaceChildren();
  if (!record) { $("audit-summary").textContent = "Name a record: lot:ID, order:ID, equipment:ID, nonconformance:ID."; return; }
  try {
    const trail = await api("/api/audit/" + encodeURIComponent(record));
    $("audit-summary").textContent = trail.length + " events on " + record + ", oldest first; each names the hash of the event before it.";
    for (const e of trail) { const row = $("audit-list").insertRow(); cell(row, e.seq); cell(row, e.recorded_at.replace("T", " ").slice(0, 19)); cell(row, e.actor); cell(row, e.kind); cell(row, e.reason); cell(row, e.hash.slice(0, 12) + "…"); }
  } catch (err) { $("audit-summary").textContent = err.message; }
}
$("audit-form").addEventListener("submit", (e) => { e.preventDefault(); location.hash = "#/audit/" + encodeURIComponent($("audit-subject").value.trim()); });
$("verify-chain").addEventListener("click", async () => {
  $("audit-summary").textContent = "verifying…";
  try { const r = await api("/api/audit/verify"); $("audit-summary").textContent = "Chain intact: " + r.events.toLocaleString() + " events, head " + r.head_hash.slice(0, 16) + "…"; }
  catch (err) { $("audit-summary").textContent = "Chain check failed: " + err.message; }
});

function passwordPage(why) {
  show("password-view");
  $("password-why").textContent = why;
  $("password-form").onsubmit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    if (form.get("new") !== form.get("repeat")) { $("password-msg").textContent = "The two new passwords differ."; return; }
    try {
      await api("/api/commands", { method: "POST", body: JSON.stringify({ command: "change-password", current_password: form.get("current"), new_password: form.get("new") }) });
      e.target.reset();
      me = await api("/api/me");
      $("password-msg").textContent = "Password changed.";
      if (location.hash === "#/password") location.hash = "#/"; else route();
    } catch (err) { $("password-msg").textContent = err.message; }
  };
}

async function route() {
  if (!me) {
    try { me = await api("/api/me"); } catch { return; }
  }
  $("who").textContent = me.name + " (" + me.roles.join(", ") + ")";
  const hash = location.hash || "#/";
  try {
    // After an administrator's reset the server refuses everything but the change.
    if (me.must_change_password) passwordPage("An administrator set your password: choose your own before you continue.");
    else if (hash === "#/password") passwordPage("");
    else if (hash.startsWith("#/lot/")) await lotPage(decodeURIComponent(hash.slice(6)));
    else if (hash === "#/orders") await ordersPage();
    else if (hash === "#/model") await modelPage();
    else if (hash === "#/quality") await qualityPage();
    else if (hash === "#/spc") await spcPage();
    else if (hash === "#/batching") await batchingPage();
    else if (hash === "#/sx") await sxPage();
    else if (hash.startsWith("#/audit")) await auditPage(decodeURIComponent(hash.slice(8)));
    else await overview();
  } catch (err) { console.error(err); }
}

window.addEventListener("hashchange", route);
route();
