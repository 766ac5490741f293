// twin live view: a read-only page fed by one WebSocket (snapshot, then deltas).
// Plots are drawn by hand on <canvas>: no library, no network access beyond this server.
"use strict";

(function () {
  const STALL_S = 1.0;     // a board frame older than this: the stream is stalled
  const SILENT_S = 2.0;    // no message from the server for this long: the view is stalled
  const COL = { board: "#d9480f", twin: "#1c7ed6", score: "#7048e8",
                restart: "#e03131", resync: "#fd7e14", alarm: "#7048e8" };
  const I = { seq: 0, t: 1, err: 2, pw: 3, res: 4, score: 5 };

  const view = {
    mode: "shadow", window: 600, layout: null,
    series: { board: [], twin: [] },
    latest: null, ageS: null, lastMessageMs: 0, closed: true, coloured: 0, nodesColoured: 0,
    stats: { messages: 0, snapshots: 0, updates: 0, bytes: 0, renders: 0, firstMs: 0, lastMs: 0 },
  };
  window.liveView = {
    sizes: () => ({ board: view.series.board.length, twin: view.series.twin.length,
                    events: view.latest ? view.latest.events.length : 0,
                    alarms: view.latest ? view.latest.alarms.length : 0, window: view.window,
                    commands: view.latest ? (view.latest.commands || []).length : 0 }),
    stats: () => Object.assign({}, view.stats),
    status: () => (view.latest ? view.latest.status : null),
    edges: () => ({ drawn: view.layout ? view.layout.n_edges : 0, coloured: view.coloured }),
    nodes: () => ({ drawn: view.layout ? view.layout.n_nodes : 0, coloured: view.nodesColoured }),
    lastT: () => { const s = view.series.board.concat(view.series.twin);
                   return s.length ? Math.max(...s.map((p) => p[I.t])) : null; },
  };

  // ------------------------------------------------------------------ formatting

  function si(x, unit) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    if (x === 0) return "0 " + unit;
    const p = [[1e-12, "p"], [1e-9, "n"], [1e-6, "µ"], [1e-3, "m"], [1, ""], [1e3, "k"], [1e6, "M"]];
    let best = p[0];
    for (const q of p) if (Math.abs(x) >= q[0]) best = q;
    return (x / best[0]).toPrecision(3) + " " + best[1] + unit;
  }
  function num(x, digits) {
    return x === null || x === undefined || !isFinite(x) ? "–" : Number(x).toFixed(digits);
  }
  function list(xs, n) {
    xs = xs || [];
    return xs.length <= n ? xs.join(", ") : xs.slice(0, n).join(", ") + ` … (+${xs.length - n})`;
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  // ------------------------------------------------------------------ canvas helpers

  function fit(canvas) {
    const r = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * r));
    const h = Math.max(1, Math.round(canvas.clientHeight * r));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(r, 0, 0, r, 0, 0);
    return { ctx, w: canvas.clientWidth, h: canvas.clientHeight };
  }
  function niceTicks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag * 10;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }

  // lines: [{pts, idx, color, axis}] ; axis "left" or "right"
  function drawPlot(canvas, lines, unitL, unitR) {
    const { ctx, w, h } = fit(canvas);
    ctx.clearRect(0, 0, w, h);
    const m = { l: 62, r: unitR ? 52 : 10, t: 6, b: 22 };
    let t0 = Infinity, t1 = -Infinity;
    const rng = { left: [Infinity, -Infinity], right: [Infinity, -Infinity] };
    for (const ln of lines) for (const p of ln.pts) {
      const v = p[ln.idx]; if (v === null) continue;
      t0 = Math.min(t0, p[I.t]); t1 = Math.max(t1, p[I.t]);
      const r = rng[ln.axis || "left"]; r[0] = Math.min(r[0], v); r[1] = Math.max(r[1], v);
    }
    ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#868e96"; ctx.strokeStyle = "#dee2e6";
    if (!isFinite(t0)) { ctx.fillText("waiting for samples…", m.l + 8, h / 2); return; }
    if (t1 <= t0) t1 = t0 + 1e-3;
    for (const k of ["left", "right"]) {
      const r = rng[k]; if (!isFinite(r[0])) { r[0] = 0; r[1] = 1; }
      if (r[1] - r[0] < 1e-15) { const d = Math.abs(r[0]) * 0.1 || 1e-9; r[0] -= d; r[1] += d; }
      const pad = (r[1] - r[0]) * 0.06; r[0] -= pad; r[1] += pad;
    }
    const X = (t) => m.l + (t - t0) / (t1 - t0) * (w - m.l - m.r);
    const Y = (v, k) => { const r = rng[k]; return h - m.b - (v - r[0]) / (r[1] - r[0]) * (h - m.t - m.b); };
    ctx.lineWidth = 1; ctx.textAlign = "right";
    for (const v of niceTicks(rng.left[0], rng.left[1], 4)) {
      const y = Y(v, "left"); ctx.beginPath(); ctx.moveTo(m.l, y); ctx.lineTo(w - m.r, y); ctx.stroke();
      ctx.fillText(unitL ? si(v, unitL) : Number(v.toPrecision(3)).toString(), m.l - 4, y + 4);
    }
    if (unitR) {
      ctx.textAlign = "left";
      for (const v of niceTicks(rng.right[0], rng.right[1], 4)) ctx.fillText(num(v, 1), w - m.r + 4, Y(v, "right") + 4);
    }
    ctx.textAlign = "center";
    const xLabel = view.mode === "xy" ? (t) => num(t, 0) : (t) => num(t, t1 - t0 < 2 ? 2 : 1) + " s";
    for (const t of niceTicks(t0, t1, 6)) ctx.fillText(xLabel(t), X(t), h - 6);
    // event markers (restarts, resyncs, alarms) inside the window
    if (view.latest) for (const ev of view.latest.events) {
      if (ev.t_s === null || ev.t_s < t0 || ev.t_s > t1 || !COL[ev.kind]) continue;
      ctx.strokeStyle = COL[ev.kind]; ctx.setLineDash([4, 3]); ctx.beginPath();
      ctx.moveTo(X(ev.t_s), m.t); ctx.lineTo(X(ev.t_s), h - m.b); ctx.stroke(); ctx.setLineDash([]);
    }
    for (const ln of lines) {
      ctx.strokeStyle = ln.color; ctx.lineWidth = ln.width || 1.6; ctx.beginPath();
      let pen = false;
      for (const p of ln.pts) {
        const v = p[ln.idx]; if (v === null) { pen = false; continue; }
        const x = X(p[I.t]), y = Y(v, ln.axis || "left");
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
    }
    ctx.strokeStyle = "#adb5bd"; ctx.strokeRect(m.l, m.t, w - m.l - m.r, h - m.t - m.b);
  }

  // ------------------------------------------------------------------ network

  const SEQ = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const DIV = [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]];
  function cmap(stops, f) {
    f = Math.min(1, Math.max(0, f)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(f)), a = f - i;
    const c = stops[i].map((x, k) => Math.round(x + (stops[i + 1][k] - x) * a));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }
  function edgeValues(mode) {
    if (mode === "w") {
      const w = view.latest ? view.latest.edge_values : null;
      return w && w.some((v) => v !== null) ? w : null;
    }
    const g = view.latest ? view.latest.gates : {};
    if (mode.startsWith("k-")) {
      const k = view.latest ? view.latest.conductance_siemens[mode.slice(2)] : null;
      return k && k.some((v) => v !== null) ? k : null;
    }
    if (mode === "residual") {
      if (!g.board || !g.twin) return null;
      return g.board.map((b, i) => (b === null || g.twin[i] === null ? null : b - g.twin[i]));
    }
    return g[mode] || null;
  }
  function edgeModes() {
    const sel = document.getElementById("edge-mode");
    const want = view.mode === "shadow"
      ? [["residual", "residual V (board − twin)"], ["board", "gate V (board)"], ["twin", "gate V (twin)"],
         ["k-board", "conductance S (board, nominal model)"], ["k-twin", "conductance S (twin)"]]
      : view.mode === "xy" ? [["w", "coupling W (model units)"]]
      : [["twin", "gate V (twin)"], ["k-twin", "conductance S (twin)"]];
    if (sel.options.length !== want.length || sel.options[0].value !== want[0][0]) {
      sel.innerHTML = want.map(([v, l]) => `<option value="${v}">${l}</option>`).join("");
    }
    return sel.value;
  }
  function drawNetwork() {
    const canvas = document.getElementById("network");
    const { ctx, w, h } = fit(canvas);
    ctx.clearRect(0, 0, w, h);
    const lay = view.layout;
    if (!lay) { ctx.fillStyle = "#868e96"; ctx.fillText("waiting for the network…", 10, 20); return; }
    const mode = edgeModes(), vals = edgeValues(mode);
    const s = Math.min(w, h), ox = (w - s) / 2, oy = (h - s) / 2;
    let lo = Infinity, hi = -Infinity;
    if (vals) for (const v of vals) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const diverging = mode === "residual" || mode === "w";
    if (diverging) { const a = Math.max(Math.abs(lo), Math.abs(hi), 1e-3); lo = -a; hi = a; }
    if (!(hi > lo)) { const d = isFinite(lo) ? Math.abs(lo) * 0.05 || 0.05 : 0.05; lo = isFinite(lo) ? lo - d : 0; hi = lo + 2 * d; }
    ctx.lineCap = "round";
    view.coloured = vals ? vals.filter((v) => v !== null && v !== undefined).length : 0;
    lay.edges.forEach((segs, i) => {
      const v = vals ? vals[i] : null;
      ctx.strokeStyle = v === null || v === undefined ? "#ced4da" : cmap(diverging ? DIV : SEQ, (v - lo) / (hi - lo));
      ctx.lineWidth = Math.max(3, s / 45);
      for (const g of segs) {
        ctx.beginPath(); ctx.moveTo(ox + g[0] * s, oy + g[1] * s); ctx.lineTo(ox + g[2] * s, oy + g[3] * s); ctx.stroke();
      }
    });
    const phases = view.mode === "xy" && view.latest ? view.latest.node_values : null;
    view.nodesColoured = 0;
    lay.nodes.forEach((p, i) => {
      const phi = phases ? phases[i] : null;
      const known = phi !== null && phi !== undefined;
      if (known) view.nodesColoured += 1;
      ctx.fillStyle = known ? `hsl(${Math.round(((phi + Math.PI) / (2 * Math.PI)) * 360)}, 75%, 45%)` : "#343a40";
      ctx.beginPath(); ctx.arc(ox + p[0] * s, oy + p[1] * s, Math.max(2.5, s / (phases ? 40 : 70)), 0, 7); ctx.fill();
    });
    const bar = fit(document.getElementById("colorbar"));
    for (let x = 0; x < bar.w; x++) { bar.ctx.fillStyle = cmap(diverging ? DIV : SEQ, x / bar.w); bar.ctx.fillRect(x, 0, 1, bar.h); }
    const unit = mode.startsWith("k-") ? "S" : mode === "w" ? "" : "V";
    document.getElementById("cb-lo").textContent = si(lo, unit);
    document.getElementById("cb-hi").textContent = si(hi, unit);
  }

  // ------------------------------------------------------------------ panels

  function linkState() {
    const el = document.getElementById("link");
    const st = view.latest ? view.latest.status : {};
    const silentS = (performance.now() - view.lastMessageMs) / 1000;
    let cls = "live", text = "live";
    if (view.closed) {
      const done = st.run && st.run !== "running" && st.run !== "waiting";
      cls = done ? "done" : "down"; text = done ? `run ${st.run} (server closed)` : "disconnected";
    } else if (silentS > SILENT_S) {
      cls = "stalled"; text = `no update for ${silentS.toFixed(1)} s`;
    } else if (view.ageS !== null && view.ageS > STALL_S && st.run === "running") {
      cls = "stalled"; text = `stalled: last frame ${view.ageS.toFixed(1)} s ago`;
    } else if (st.run !== "running") {
      cls = st.run === "waiting" ? "wait" : "done"; text = st.run || "waiting";
    }
    el.className = "pill " + cls; el.textContent = text;
    return cls;
  }
  function statusTable() {
    const st = view.latest.status, rows = [];
    const row = (k, label, v, bad) => rows.push(`<tr><td>${label}</td><td id="st-${k}"${bad ? ' class="bad"' : ""}>${esc(v)}</td></tr>`);
    row("run", "run", st.run || "–");
    row("board", "board", st.board || "–");
    if (view.mode === "shadow") {
      row("epoch", "epoch", st.epoch === null || st.epoch === undefined ? "–" : "…" + String(st.epoch).slice(-6));
      row("board_mode", "board mode", st.board_mode || "–");
    }
    if (view.mode === "xy") row("t_s", "epoch", st.duration_s ? `${num(st.t_s, 0)} / ${num(st.duration_s, 0)}` : num(st.t_s, 0));
    else row("t_s", "run time", st.duration_s ? `${num(st.t_s, 2)} / ${num(st.duration_s, 1)} s` : `${num(st.t_s, 2)} s`);
    if (view.mode === "shadow") {
      row("frames", "frames", st.frames ?? 0);
      row("resyncs", "resyncs", st.resyncs ?? 0, st.resyncs > 1);
      row("restarts", "restarts", st.restarts ?? 0, st.restarts > 0);
      row("state_resyncs", "gate resyncs", st.state_resyncs ?? 0);
      row("gaps", "gaps", st.gaps ?? 0, st.gaps > 0);
      row("lost", "frames lost", st.lost ?? 0, st.lost > 0);
      row("score", "divergence score", num(st.score, 2), st.score > 1);
    }
    if (view.mode === "steer") {
      const c = view.latest.command_counts || {};
      row("acked", "commands acked", c.acked ?? 0);
      row("refused", "commands refused", c.refused ?? 0, c.refused > 0);
      row("unanswered", "unanswered", c.unanswered ?? 0, c.unanswered > 0);
    }
    if (view.mode !== "xy") row("lag_s", "lag", si(st.lag_s, "s"));
    if (view.mode === "shadow") row("lag_p99_s", "lag p99", si(st.lag_p99_s, "s"));
    const age = view.ageS;
    row("age", view.mode === "shadow" ? "last frame" : "last update", age === null ? "–" : `${age.toFixed(1)} s ago`, age !== null && age > STALL_S && st.run === "running");
    document.getElementById("status").innerHTML = rows.join("");
  }
  function energyTable() {
    const e = view.latest.energy_j, comps = ["free_network", "clamped_network", "gate_charging"];
    let html = "<tr><th>source</th>" + comps.map((c) => `<th>${c.replace("_", " ")}</th>`).join("") + "<th>total</th></tr>";
    for (const src of Object.keys(e).sort()) {
      const tot = Object.values(e[src]).reduce((a, b) => a + b, 0);
      html += `<tr id="energy-${esc(src)}"><td>${esc(src)}</td>` + comps.map((c) => `<td>${si(e[src][c], "J")}</td>`).join("") + `<td>${si(tot, "J")}</td></tr>`;
    }
    document.getElementById("energy").innerHTML = html;
  }
  function logs() {
    const L = view.latest;
    document.getElementById("n-alarms").textContent = L.n_alarms;
    document.getElementById("alarms").innerHTML = L.alarms.slice().reverse().map((a) =>
      `<li class="alarm${a.end_s === null ? " active" : ""}">t=${num(a.raised_s, 2)} s, edges ${esc(list(a.edges, 6) || "–")}` +
      `${a.nodes && a.nodes.length ? ", nodes " + esc(list(a.nodes, 6)) : ""}, score max ${num(a.score_max, 1)}` +
      `${a.end_s === null ? " (active)" : `, ended ${num(a.end_s, 2)} s`}</li>`).join("");
    const cmds = L.commands || [];
    document.getElementById("n-commands").textContent = Object.values(L.command_counts || {}).reduce((a, b) => a + b, 0);
    document.getElementById("commands").innerHTML = cmds.slice().reverse().map((c) =>
      `<li class="${esc(c.status)}">t=${num(c.t_s, 3)} s: ${esc(c.name)}` +
      `${Object.keys(c.args).length ? " " + esc(Object.entries(c.args).map(([k, v]) => `${k}=${typeof v === "number" ? Number(v).toPrecision(3) : v}`).join(" ")) : ""}` +
      ` → ${esc(c.status)}${c.attempts > 1 ? ` (${c.attempts} attempts)` : ""}</li>`).join("");
    document.getElementById("events").innerHTML = L.events.slice().reverse().map((ev) =>
      `<li class="${esc(ev.kind)}">${ev.t_s === null ? "" : `t=${num(ev.t_s, 2)} s: `}${esc(ev.text)}</li>`).join("");
  }

  // ------------------------------------------------------------------ render loop

  let dirty = true;
  function render() {
    const state = linkState();
    if (dirty && view.latest) {
      dirty = false;
      view.stats.renders += 1;
      const S = view.series;
      drawPlot(document.getElementById("plot-error"),
        [{ pts: S.board, idx: I.err, color: COL.board, width: 3.2 }, { pts: S.twin, idx: I.err, color: COL.twin }], view.mode === "xy" ? "" : "V²");
      drawPlot(document.getElementById("plot-power"),
        [{ pts: S.board, idx: I.pw, color: COL.board, width: 3.2 }, { pts: S.twin, idx: I.pw, color: COL.twin }], "W");
      if (view.mode === "shadow") drawPlot(document.getElementById("plot-residual"),
        [{ pts: S.twin, idx: I.res, color: COL.twin }, { pts: S.twin, idx: I.score, color: COL.score, axis: "right" }], "V", "score");
      drawNetwork(); statusTable(); energyTable(); logs();
      const st = view.latest.status;
      document.getElementById("headline").textContent = !st.board ? ""
        : view.mode === "xy" ? `${st.board} · epoch ${num(st.t_s, 0)}` : `${st.board} · t = ${num(st.t_s, 2)} s`;
    }
    document.body.dataset.link = state;
    requestAnimationFrame(render);
  }
  window.addEventListener("resize", () => { dirty = true; });
  document.getElementById("edge-mode").addEventListener("change", () => { dirty = true; });

  // ------------------------------------------------------------------ socket

  function trim(arr) { if (arr.length > view.window) arr.splice(0, arr.length - view.window); }
  function onMessage(ev) {
    view.stats.messages += 1; view.stats.bytes += ev.data.length;
    if (!view.stats.firstMs) view.stats.firstMs = performance.now();
    view.lastMessageMs = view.stats.lastMs = performance.now();
    const msg = JSON.parse(ev.data);
    if (msg.type === "snapshot") {
      view.stats.snapshots += 1;
      view.mode = msg.mode; view.window = msg.window; view.layout = msg.layout;
      view.series = { board: msg.series.board, twin: msg.series.twin };
      view.latest = msg.latest; view.ageS = msg.latest.status.frame_age_s;
      document.body.className = msg.mode;
      document.getElementById("mode").textContent = { shadow: "· shadow of a board", steer: "· steering a board",
        xy: "· XY network trained by equilibrium propagation" }[msg.mode] || "· simulation";
      document.getElementById("title-error").textContent = msg.mode === "xy" ? "Loss (1 − cos Δφ)/2 against epoch" : "Error (V²)";
      dirty = true;
      return;
    }
    view.stats.updates += 1;
    for (const src of ["board", "twin"]) {
      const add = msg.series[src] || [];
      if (add.length && src === "twin" && view.mode === "steer") {  // a re-plan replaces the plan from its start
        const t0 = add[0][I.t];
        view.series.twin = view.series.twin.filter((p) => p[I.t] < t0);
      }
      if (add.length) { for (const p of add) view.series[src].push(p); trim(view.series[src]); dirty = true; }
    }
    if (msg.layout) { view.layout = msg.layout; dirty = true; }
    if (msg.latest) { view.latest = msg.latest; dirty = true; }
    if (msg.age_s !== view.ageS) { view.ageS = msg.age_s; dirty = true; }
  }
  function connect() {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.onopen = () => { view.closed = false; view.lastMessageMs = performance.now(); };
    ws.onmessage = onMessage;
    ws.onclose = () => { view.closed = true; dirty = true; setTimeout(connect, 1000); };
  }
  connect();
  requestAnimationFrame(render);
})();
