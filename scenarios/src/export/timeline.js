// ruckus HTML timeline renderer. Reads the JSON in #ruckus-data and draws on #canvas.
// Only what is in view is drawn, so large runs stay responsive. No network access.
"use strict";
(function () {
  const status = document.getElementById("status");
  let errors = 0;
  window.addEventListener("error", function (e) {
    errors += 1;
    status.dataset.errors = String(errors);
    status.dataset.render = "error";
    status.hidden = false;
    status.textContent = "script error: " + e.message;
  });

  const D = JSON.parse(document.getElementById("ruckus-data").textContent);
  const N = D.t.length;
  const T = D.t, K = D.k, P = D.p, H = D.h, Q = D.q, A = D.a, I = D.i;
  const START = 0, DELIVER = 1, TIMER = 2, DROPPED = 3, DEFERRED = 4, HEAL = 7, NOTE = 8, SYNC_DONE = 9;
  const KIND_COLOR = ["#2d3748", "#3867d6", "#20a464", "#d64545", "#d69e2e", "#805ad5", "#805ad5", "#2f855a", "#9f7aea", "#b7791f"];
  const FAULT_COLOR = {
    crash: "#e53e3e", pause: "#dd9b1f", kill_process: "#ed8936", partition: "#3182ce", clog: "#805ad5",
    slow_link: "#319795", clock_jump: "#38a169", clock_drift: "#68d391", network_chaos: "#a0aec0",
  };
  const AXIS = 26, FAULT_ROW = 12, MAX_FAULT_ROWS = 8;
  const MAX_ARROWS = 60000, MAX_MARKERS = 150000;
  // Aggregation: above this many events per pixel the view draws density strips, BIN px wide.
  const DENSE_PER_PX = 2, BIN = 3;

  // ---- derived data ------------------------------------------------------------------------
  const hosts = Math.max(1, D.hosts);
  const procHost = D.proc_host;
  // A process as the model names it: "p3 client-1" (the trace header's names), else "p3".
  const NAMES = D.names || [];
  function procName(p) { return NAMES[p] ? "p" + p + " " + NAMES[p] : "p" + p; }
  const procRank = [], hostProcs = new Array(hosts).fill(0);
  for (let p = 0; p < procHost.length; p++) {
    const h = procHost[p];
    if (h >= 0 && h < hosts) { procRank[p] = hostProcs[h]; hostProcs[h] += 1; } else { procRank[p] = 0; }
  }
  let maxLatency = 0;
  for (let j = 0; j < N; j++) if (K[j] === DELIVER) maxLatency = Math.max(maxLatency, T[j] - A[j]);
  const tMin = N ? T[0] : 0;
  let tMax = N ? T[N - 1] : 1;
  for (const f of D.faults) tMax = Math.max(tMax, f.e);
  if (D.failure) tMax = Math.max(tMax, D.failure.t);
  if (tMax <= tMin) tMax = tMin + 1000;
  // Greedy rows for fault bars so overlapping faults do not hide each other.
  const rowEnds = [];
  for (const f of D.faults) {
    let r = rowEnds.findIndex(function (end) { return end < f.b; });
    if (r < 0) { r = Math.min(rowEnds.length, MAX_FAULT_ROWS - 1); }
    rowEnds[r] = Math.max(rowEnds[r] || 0, f.e);
    f.row = r;
  }
  const faultRows = Math.max(1, Math.min(MAX_FAULT_ROWS, rowEnds.length));

  // Operation lanes (when the trace holds the history's operations): one lane per client,
  // below the hosts; overlapping operations of one client share up to OP_SUBROWS rows.
  const OPS = D.ops || null;
  const opN = OPS ? OPS.p.length : 0;
  const OP_HEAD = 16, OP_SUBROWS = 3;
  const OP_COLOR = ["#63a4e8", "#e53e3e", "#ed9a2c"], OP_NAME = ["ok", "fail", "unknown"];
  const BLAMED = "#9b1c1c", CONFLICT = "#6b46c1";
  const opClients = [], opLaneOf = {}, opRow = [], opRows = [];
  if (OPS) {
    for (let i = 0; i < opN; i++) if (opLaneOf[OPS.p[i]] === undefined) { opLaneOf[OPS.p[i]] = -1; opClients.push(OPS.p[i]); }
    opClients.sort(function (a, b) { return a - b; });
    opClients.forEach(function (p, c) { opLaneOf[p] = c; });
    for (let i = 0; i < opN; i++) if (OPS.e[i] < 0) tMax = Math.max(tMax, OPS.b[i]); else tMax = Math.max(tMax, OPS.e[i]);
  }
  // An operation never completed runs to the end of the run.
  function opEnd(i) { return OPS.e[i] < 0 ? tMax : OPS.e[i]; }
  if (OPS) {
    const ends = opClients.map(function () { return []; });
    for (let i = 0; i < opN; i++) {
      const rows = ends[opLaneOf[OPS.p[i]]];
      let r = rows.findIndex(function (end) { return end < OPS.b[i]; });
      if (r < 0) {
        if (rows.length < OP_SUBROWS) r = rows.length;
        else { r = 0; for (let k = 1; k < rows.length; k++) if (rows[k] < rows[r]) r = k; }
      }
      rows[r] = Math.max(rows[r] || 0, opEnd(i));
      opRow[i] = r;
    }
    for (const rows of ends) opRows.push(Math.max(1, rows.length));
  }
  let opMarked = 0, opBlamed = 0;
  for (let i = 0; i < opN; i++) { if (OPS.m[i] > 0) opMarked++; if (OPS.m[i] === 2) opBlamed++; }
  const heals = [];
  for (let j = 0; j < N; j++) if (K[j] === HEAL) heals.push(T[j]);

  // ---- view state --------------------------------------------------------------------------
  const canvas = document.getElementById("canvas");
  const ctx = canvas.getContext("2d");
  const tip = document.getElementById("tip");
  const arrowsBox = document.getElementById("arrows");
  let W = 0, Hpx = 0, dpr = 1;
  let t0 = tMin, nsPerPx = 1, yOff = 0;
  let hover = -1, hoverFault = null, pinned = -1;
  let laneH = 40, laneTop = 0, opLaneH = 0;
  let hoverOp = -1;
  // The label column is as wide as its widest label (within 40% of the window), so names are
  // not cut; a label still too wide ends in an ellipsis instead of running under the lanes.
  let GUTTER = 70;
  function gutterWidth() {
    let widest = 0;
    ctx.font = "10px system-ui, sans-serif";
    for (let p = 0; p < procHost.length; p++) widest = Math.max(widest, ctx.measureText(procName(p)).width);
    ctx.font = "bold 12px system-ui, sans-serif";
    widest = Math.max(widest, ctx.measureText("faults").width, ctx.measureText("h" + (hosts - 1)).width);
    if (opN) widest = Math.max(widest, ctx.measureText("operations").width);
    return Math.round(Math.max(70, Math.min(widest + 18, 0.4 * W)));
  }
  function clipText(text, width) {
    if (ctx.measureText(text).width <= width) return text;
    let lo = 0, hi = text.length;
    while (lo < hi) {
      const m = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, m) + "\u2026").width <= width) lo = m; else hi = m - 1;
    }
    return text.slice(0, lo) + "\u2026";
  }
  let drawn = { markers: 0, arrows: 0 };

  function resize() {
    dpr = window.devicePixelRatio || 1;
    W = canvas.clientWidth || 800;
    Hpx = canvas.clientHeight || 500;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(Hpx * dpr);
    laneTop = AXIS + faultRows * FAULT_ROW + 10;
    // Lanes share the whole height (the page fits its window), at least 16 px each; the
    // operation lanes take up to about 40% of it.
    const avail = Hpx - laneTop - 6;
    if (opClients.length) {
      opLaneH = Math.max(12, Math.min(36, avail * 0.4 / opClients.length));
      laneH = Math.max(16, (avail - OP_HEAD - opClients.length * opLaneH) / hosts);
    } else {
      laneH = Math.max(16, avail / hosts);
    }
    GUTTER = gutterWidth();
  }
  function fit() {
    const span = tMax - tMin;
    nsPerPx = Math.max(span / Math.max(1, W - GUTTER - 20), 1e-3);
    t0 = tMin - 10 * nsPerPx;
    yOff = 0;
  }
  const xOf = function (t) { return GUTTER + (t - t0) / nsPerPx; };
  const tOf = function (x) { return t0 + (x - GUTTER) * nsPerPx; };
  function laneY(h) { return laneTop + h * laneH - yOff; }
  function opLaneY(c) { return laneTop + hosts * laneH + OP_HEAD + c * opLaneH - yOff; }
  // Where the lanes end (the operation lanes included), before scrolling.
  function contentBottom() { return laneTop + hosts * laneH + (opClients.length ? OP_HEAD + opClients.length * opLaneH : 0); }
  function procY(p, h) {
    const n = hostProcs[h] || 1;
    const rank = procRank[p] || 0;
    return laneY(h) + (rank + 1) * laneH / (n + 1);
  }
  function eventY(j) {
    const h = H[j];
    if (h < 0) return laneTop - 8;
    return P[j] >= 0 ? procY(P[j], h) : laneY(h) + laneH / 2;
  }
  function lowerBound(arr, v) {
    let lo = 0, hi = arr.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < v) lo = m + 1; else hi = m; }
    return lo;
  }
  function upperBound(arr, v) {
    let lo = 0, hi = arr.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] <= v) lo = m + 1; else hi = m; }
    return lo;
  }
  function fmtTime(ns) {
    const a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(a >= 1e10 ? 2 : 3) + " s";
    if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e7 ? 2 : 3) + " ms";
    if (a >= 1e3) return (ns / 1e3).toFixed(a >= 1e4 ? 2 : 3) + " us";
    return Math.round(ns) + " ns";
  }

  // ---- drawing -----------------------------------------------------------------------------
  function draw() {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, Hpx);
    const tA = tOf(GUTTER), tB = tOf(W);
    drawLanes();
    drawFaultShading(tA, tB);
    drawFaultLane(tA, tB);
    drawn = { markers: 0, arrows: 0, bins: 0 };
    // Dense views (more events than DENSE_PER_PX per pixel) are aggregated: per process, a
    // strip whose shade counts the events under each few pixels; zoom in for single events.
    const inView = upperBound(T, tB) - lowerBound(T, tA);
    const dense = inView > DENSE_PER_PX * Math.max(1, W - GUTTER);
    if (arrowsBox.checked && !dense) drawArrows(tA, tB);
    if (dense) drawDensity(tA, tB); else drawMarkers(tA, tB);
    drawOperations(tA, tB);
    drawHealsAndViolation();
    drawAxis(tA, tB);
    drawGutter();
    status.dataset.render = errors ? "error" : "ok";
    status.dataset.events = String(N);
    status.dataset.markers = String(drawn.markers);
    status.dataset.arrows = String(drawn.arrows);
    status.dataset.bins = String(drawn.bins);
    status.dataset.aggregated = dense ? "yes" : "no";
    status.dataset.lanesBottom = String(Math.round(contentBottom()));
    status.dataset.opLanes = String(opClients.length);
    status.dataset.opOperations = String(opN);
    status.dataset.opBlamed = String(opBlamed);
    status.dataset.opConflicts = String(opMarked - opBlamed);
    status.dataset.opBars = String(drawn.opBars || 0);
    status.dataset.opBins = String(drawn.opBins || 0);
    status.dataset.gutter = String(GUTTER);
  }

  function drawLanes() {
    for (let h = 0; h < hosts; h++) {
      const y = laneY(h);
      if (y > Hpx || y + laneH < laneTop) continue;
      ctx.fillStyle = h % 2 ? "#f1f4f8" : "#ffffff";
      ctx.fillRect(GUTTER, y, W - GUTTER, laneH);
    }
    ctx.fillStyle = "#eef1f6";
    ctx.fillRect(GUTTER, AXIS, W - GUTTER, laneTop - AXIS - 4);
  }

  function drawFaultShading(tA, tB) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, laneTop, W - GUTTER, Hpx - laneTop);
    ctx.clip();
    for (const f of D.faults) {
      if (f.e < tA || f.b > tB) continue;
      const color = FAULT_COLOR[f.kind] || "#718096";
      const x0 = xOf(f.b), x1 = Math.max(xOf(f.e), x0 + 2);
      for (const h of f.hosts) {
        if (h < 0 || h >= hosts) continue;
        const y = laneY(h);
        if (f.instant) {
          ctx.fillStyle = color;
          ctx.fillRect(x0 - 1, y, 2, laneH);
        } else {
          ctx.globalAlpha = f.kind === "crash" || f.kind === "kill_process" ? 0.22 : 0.15;
          ctx.fillStyle = color;
          ctx.fillRect(x0, y, x1 - x0, laneH);
          ctx.globalAlpha = 1;
          if (f.kind === "crash") {
            // A crashed host: hatch so it reads as "down", not just tinted.
            ctx.strokeStyle = "rgba(229,62,62,0.35)";
            ctx.lineWidth = 1;
            ctx.beginPath();
            const step = 8;
            const start = Math.max(x0, GUTTER) - ((Math.max(x0, GUTTER) - x0) % step);
            for (let x = start; x < Math.min(x1, W) + laneH; x += step) {
              ctx.moveTo(x, y + laneH);
              ctx.lineTo(x - laneH, y);
            }
            ctx.save();
            ctx.rect(x0, y, x1 - x0, laneH);
            ctx.clip();
            ctx.stroke();
            ctx.restore();
          }
        }
      }
    }
    ctx.restore();
  }

  function drawFaultLane(tA, tB) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, AXIS, W - GUTTER, laneTop - AXIS - 4);
    ctx.clip();
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (const f of D.faults) {
      if (f.e < tA || f.b > tB) continue;
      const y = AXIS + 3 + f.row * FAULT_ROW;
      const x0 = xOf(f.b), x1 = Math.max(xOf(f.e), x0 + 3);
      ctx.fillStyle = FAULT_COLOR[f.kind] || "#718096";
      ctx.globalAlpha = f === hoverFault ? 1 : 0.75;
      ctx.fillRect(x0, y, x1 - x0, FAULT_ROW - 2);
      ctx.globalAlpha = 1;
      if (x1 - x0 > 40) {
        // A label wider than its bar ends in an ellipsis (never a word cut mid-way); hover
        // shows it whole.
        const left = Math.max(x0, GUTTER) + 3, room = Math.min(x1, W) - left - 3;
        ctx.fillStyle = "#fff";
        if (room > 12) ctx.fillText(clipText(f.label, room), left, y + (FAULT_ROW - 2) / 2);
      }
    }
    ctx.restore();
  }

  function drawArrows(tA, tB) {
    const lo = lowerBound(T, tA), hi = upperBound(T, tB + maxLatency);
    let count = 0;
    for (let j = lo; j < hi; j++) if (K[j] === DELIVER && A[j] <= tB) count++;
    const stride = Math.max(1, Math.ceil(count / MAX_ARROWS));
    const heads = count / stride < 2500;
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, laneTop, W - GUTTER, Hpx - laneTop);
    ctx.clip();
    // Dense views fade the arrows so lanes and fault shading stay visible underneath.
    const alpha = Math.min(0.55, Math.max(0.04, 1500 / Math.max(1, count / stride)));
    ctx.strokeStyle = "rgba(56,103,214," + alpha.toFixed(3) + ")";
    ctx.lineWidth = 1;
    ctx.beginPath();
    let seen = 0;
    const headsAt = [];
    for (let j = lo; j < hi; j++) {
      if (K[j] !== DELIVER || A[j] > tB) continue;
      if (seen++ % stride) continue;
      const s = Q[j], sh = procHost[s];
      if (s < 0 || sh === undefined || sh < 0) continue;
      const x0 = xOf(A[j]), y0 = procY(s, sh), x1 = xOf(T[j]), y1 = eventY(j);
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      if (heads) headsAt.push([x0, y0, x1, y1]);
      drawn.arrows++;
    }
    ctx.stroke();
    if (heads) {
      ctx.fillStyle = "rgba(56,103,214,0.8)";
      for (const [x0, y0, x1, y1] of headsAt) arrowHead(x0, y0, x1, y1);
    }
    // The hovered delivery's arrow, on top.
    const j = hover >= 0 ? hover : pinned;
    if (j >= 0 && K[j] === DELIVER && Q[j] >= 0 && procHost[Q[j]] >= 0) {
      const x0 = xOf(A[j]), y0 = procY(Q[j], procHost[Q[j]]), x1 = xOf(T[j]), y1 = eventY(j);
      ctx.strokeStyle = "#dd6b20";
      ctx.fillStyle = "#dd6b20";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      arrowHead(x0, y0, x1, y1);
    }
    ctx.restore();
  }

  function arrowHead(x0, y0, x1, y1) {
    const a = Math.atan2(y1 - y0, x1 - x0), s = 6;
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - s * Math.cos(a - 0.4), y1 - s * Math.sin(a - 0.4));
    ctx.lineTo(x1 - s * Math.cos(a + 0.4), y1 - s * Math.sin(a + 0.4));
    ctx.closePath();
    ctx.fill();
  }

  function drawDensity(tA, tB) {
    const lo = lowerBound(T, tA), hi = upperBound(T, tB);
    const cols = Math.ceil((W - GUTTER) / BIN) + 1;
    const rows = new Map(); // process id, or -1 - host for host events without a process
    let most = 1;
    for (let j = lo; j < hi; j++) {
      if (H[j] < 0) continue;
      const key = P[j] >= 0 ? P[j] : -1 - H[j];
      let counts = rows.get(key);
      if (!counts) { counts = new Uint32Array(cols); rows.set(key, counts); }
      const c = Math.floor((xOf(T[j]) - GUTTER) / BIN);
      if (c < 0 || c >= cols) continue;
      counts[c] += 1;
      if (counts[c] > most) most = counts[c];
    }
    const scale = Math.log(1 + most);
    for (const [key, counts] of rows) {
      const y = key >= 0 ? procY(key, procHost[key]) : laneY(-1 - key) + laneH / 2;
      if (y < laneTop - 2 || y > Hpx) continue;
      for (let c = 0; c < cols; c++) {
        if (!counts[c]) continue;
        const shade = 0.2 + 0.8 * Math.log(1 + counts[c]) / scale;
        ctx.fillStyle = "rgba(56,103,214," + shade.toFixed(3) + ")";
        ctx.fillRect(GUTTER + c * BIN, y - 4, BIN, 8);
        drawn.bins++;
      }
    }
  }

  function drawMarkers(tA, tB) {
    const lo = lowerBound(T, tA), hi = upperBound(T, tB);
    const stride = Math.max(1, Math.ceil((hi - lo) / MAX_MARKERS));
    const big = (hi - lo) / stride < 3000;
    for (let j = lo; j < hi; j += stride) {
      const k = K[j];
      if (H[j] < 0) continue; // faults and heals are drawn elsewhere
      const x = xOf(T[j]), y = eventY(j);
      if (y < laneTop - 2 || y > Hpx) continue;
      ctx.fillStyle = KIND_COLOR[k] || "#000";
      if (k === DROPPED) {
        ctx.strokeStyle = KIND_COLOR[k];
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(x - 3, y - 3); ctx.lineTo(x + 3, y + 3);
        ctx.moveTo(x + 3, y - 3); ctx.lineTo(x - 3, y + 3);
        ctx.stroke();
      } else if (k === START) {
        ctx.beginPath();
        ctx.moveTo(x, y - 5); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 5);
        ctx.closePath();
        ctx.fill();
      } else if (k === NOTE) {
        ctx.beginPath();
        ctx.moveTo(x, y - 4); ctx.lineTo(x + 4, y); ctx.lineTo(x, y + 4); ctx.lineTo(x - 4, y);
        ctx.closePath();
        ctx.fill();
      } else if (big) {
        ctx.beginPath();
        ctx.arc(x, y, k === DEFERRED ? 2.5 : 3, 0, 2 * Math.PI);
        ctx.fill();
      } else {
        ctx.fillRect(x - 0.5, y - 3, 1.5, 6);
      }
      drawn.markers++;
    }
    const j = hover >= 0 ? hover : pinned;
    if (j >= 0) {
      ctx.strokeStyle = "#dd6b20";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(xOf(T[j]), eventY(j), 6, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  function drawOperations(tA, tB) {
    if (!opClients.length) return;
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, laneTop, W - GUTTER, Hpx - laneTop);
    ctx.clip();
    const yHead = laneTop + hosts * laneH - yOff;
    ctx.fillStyle = "#e2e8f0";
    ctx.fillRect(GUTTER, yHead, W - GUTTER, OP_HEAD);
    for (let c = 0; c < opClients.length; c++) {
      ctx.fillStyle = c % 2 ? "#f1f4f8" : "#ffffff";
      ctx.fillRect(GUTTER, opLaneY(c), W - GUTTER, opLaneH);
    }
    drawn.opBars = 0;
    drawn.opBins = 0;
    // A lane with more operations in view than one per 4 px is aggregated: per few pixels a
    // column split by outcome, its shade counting the operations under it.
    const inView = new Array(opClients.length).fill(0);
    for (let i = 0; i < opN; i++) if (OPS.b[i] <= tB && opEnd(i) >= tA) inView[opLaneOf[OPS.p[i]]]++;
    const denseLane = inView.map(function (n) { return n > (W - GUTTER) / 4; });
    const cols = Math.ceil((W - GUTTER) / BIN) + 1;
    const bins = denseLane.map(function (d) { return d ? [new Uint32Array(cols), new Uint32Array(cols), new Uint32Array(cols)] : null; });
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (let i = 0; i < opN; i++) {
      const b = OPS.b[i], e = opEnd(i);
      if (b > tB || e < tA) continue;
      const c = opLaneOf[OPS.p[i]];
      if (bins[c]) {
        const c0 = Math.max(0, Math.floor((xOf(b) - GUTTER) / BIN));
        const c1 = Math.min(cols - 1, Math.floor((xOf(e) - GUTTER) / BIN));
        for (let k = c0; k <= c1; k++) bins[c][OPS.o[i]][k] += 1;
      } else {
        opBar(i, c, false);
      }
    }
    for (let c = 0; c < opClients.length; c++) {
      if (!bins[c]) continue;
      let most = 1;
      for (let k = 0; k < cols; k++) most = Math.max(most, bins[c][0][k] + bins[c][1][k] + bins[c][2][k]);
      const scale = Math.log(1 + most), y = opLaneY(c) + 2, h = opLaneH - 4;
      for (let k = 0; k < cols; k++) {
        const n = bins[c][0][k] + bins[c][1][k] + bins[c][2][k];
        if (!n) continue;
        ctx.globalAlpha = 0.3 + 0.7 * Math.log(1 + n) / scale;
        let top = y;
        for (const o of [1, 2, 0]) {
          if (!bins[c][o][k]) continue;
          const part = h * bins[c][o][k] / n;
          ctx.fillStyle = OP_COLOR[o];
          ctx.fillRect(GUTTER + k * BIN, top, BIN, part);
          top += part;
        }
        drawn.opBins++;
      }
      ctx.globalAlpha = 1;
    }
    // The blamed operation and those it conflicts with, on top and never aggregated.
    for (let i = 0; i < opN; i++) {
      if (OPS.m[i] === 0 && i !== hoverOp) continue;
      if (OPS.b[i] > tB || opEnd(i) < tA) continue;
      opBar(i, opLaneOf[OPS.p[i]], true);
    }
    ctx.restore();
  }

  // The bar of operation i in client lane c; `outlined` draws the blamed, conflicting and
  // hovered ones with their frame.
  function opBar(i, c, outlined) {
    const rows = opRows[c], rowH = (opLaneH - 4) / rows;
    const y = opLaneY(c) + 2 + opRow[i] * rowH, h = Math.max(2, rowH - 1);
    const x0 = xOf(OPS.b[i]), x1 = Math.max(xOf(opEnd(i)), x0 + (outlined ? 4 : 2));
    const m = OPS.m[i];
    ctx.fillStyle = m === 2 ? BLAMED : OP_COLOR[OPS.o[i]];
    ctx.globalAlpha = OPS.e[i] < 0 && m === 0 ? 0.55 : 1;
    ctx.fillRect(x0, y, x1 - x0, h);
    ctx.globalAlpha = 1;
    if (OPS.e[i] < 0 && x1 - x0 > 8) {
      // Never completed: an arrow at the end of the run.
      ctx.beginPath();
      ctx.moveTo(x1, y + h / 2); ctx.lineTo(x1 - 5, y); ctx.lineTo(x1 - 5, y + h);
      ctx.closePath();
      ctx.fill();
    }
    if (outlined) {
      ctx.strokeStyle = i === hoverOp ? "#dd6b20" : m === 2 ? BLAMED : CONFLICT;
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 - 1, y - 1, x1 - x0 + 2, h + 2);
    }
    if (x1 - x0 > 50 && h >= 10) {
      const left = Math.max(x0, GUTTER) + 3, room = Math.min(x1, W) - left - 3;
      ctx.fillStyle = m === 2 ? "#fff" : "#1d2330";
      if (room > 20) ctx.fillText(clipText(OPS.d[i], room), left, y + h / 2);
    }
    drawn.opBars++;
  }

  function drawHealsAndViolation() {
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, AXIS, W - GUTTER, Hpx - AXIS);
    ctx.clip();
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "top";
    for (const t of heals) {
      const x = xOf(t);
      ctx.strokeStyle = "#2f855a";
      ctx.setLineDash([5, 4]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS);
      ctx.lineTo(x, Hpx);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#2f855a";
      ctx.fillText("heal", x + 3, laneTop - 12);
    }
    const f = D.failure;
    if (f) {
      const x = xOf(f.t);
      if (f.invoked !== null && f.invoked !== undefined) {
        // The blamed operation, from its invocation to its completion at the failure.
        const x0 = xOf(f.invoked);
        ctx.fillStyle = "rgba(197, 48, 48, 0.15)";
        ctx.fillRect(x0, AXIS, Math.max(2, x - x0), Hpx - AXIS);
      }
      ctx.strokeStyle = "#c53030";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, AXIS);
      ctx.lineTo(x, Hpx);
      ctx.stroke();
      const label = "\u2716 " + (f.property || f.verdict) + " @ " + fmtTime(f.t);
      ctx.font = "bold 12px system-ui, sans-serif";
      const w = ctx.measureText(label).width + 8;
      const lx = Math.min(x + 4, W - w - 2);
      ctx.fillStyle = "#c53030";
      ctx.fillRect(lx, laneTop + 2, w, 17);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, lx + 4, laneTop + 4);
      if (f.pos !== null && f.pos !== undefined && f.pos < N && H[f.pos] >= 0) {
        ctx.strokeStyle = "#c53030";
        ctx.beginPath();
        ctx.arc(xOf(T[f.pos]), eventY(f.pos), 8, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  function drawAxis(tA, tB) {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, W, AXIS);
    ctx.strokeStyle = "#cbd2dc";
    ctx.beginPath();
    ctx.moveTo(GUTTER, AXIS - 0.5);
    ctx.lineTo(W, AXIS - 0.5);
    ctx.stroke();
    const target = 110 * nsPerPx;
    let step = Math.pow(10, Math.floor(Math.log10(Math.max(target, 1e-3))));
    for (const m of [1, 2, 5, 10]) { if (step * m >= target) { step *= m; break; } }
    ctx.fillStyle = "#4a5568";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.strokeStyle = "rgba(160,174,192,0.35)";
    ctx.beginPath();
    for (let t = Math.ceil(tA / step) * step; t <= tB; t += step) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.moveTo(x, AXIS - 6);
      ctx.lineTo(x, Hpx);
      // A label that would run past the right edge goes on the tick's left instead.
      const text = fmtTime(t), tw = ctx.measureText(text).width;
      ctx.fillText(text, x + 3 + tw > W - 2 ? x - 3 - tw : x + 3, AXIS / 2);
    }
    ctx.stroke();
  }

  function drawGutter() {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, AXIS, GUTTER, Hpx - AXIS);
    ctx.fillRect(0, 0, GUTTER, AXIS);
    ctx.strokeStyle = "#cbd2dc";
    ctx.beginPath();
    ctx.moveTo(GUTTER - 0.5, 0);
    ctx.lineTo(GUTTER - 0.5, Hpx);
    ctx.stroke();
    ctx.fillStyle = "#2d3748";
    ctx.textBaseline = "middle";
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.fillText("faults", 8, AXIS + (laneTop - AXIS) / 2 - 2);
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, laneTop, GUTTER, Hpx - laneTop);
    ctx.clip();
    drawOpGutter();
    ctx.restore();
    for (let h = 0; h < hosts; h++) {
      const y = laneY(h);
      if (y + laneH < laneTop || y > Hpx) continue;
      ctx.font = "bold 12px system-ui, sans-serif";
      ctx.fillStyle = "#2d3748";
      ctx.fillText("h" + h, 8, y + Math.min(laneH / 2, 12));
      if (laneH >= 30 && hostProcs[h] > 0) {
        ctx.font = "10px system-ui, sans-serif";
        ctx.fillStyle = "#718096";
        const room = GUTTER - 12;
        if (hostProcs[h] > 1 && laneH / (hostProcs[h] + 1) >= 11) {
          // Room for a line per process: each name beside its own sub-row.
          for (let p = 0; p < procHost.length; p++) {
            if (procHost[p] === h) ctx.fillText(clipText(procName(p), room), 8, procY(p, h) + 6);
          }
        } else {
          const ps = [];
          for (let p = 0; p < procHost.length && ps.length < 4; p++) if (procHost[p] === h) ps.push(procName(p));
          if (hostProcs[h] > ps.length) ps.push("\u2026");
          ctx.fillText(clipText(ps.join(" "), room), 8, y + Math.min(laneH / 2, 12) + 13);
        }
      }
    }
  }

  function drawOpGutter() {
    if (!opClients.length) return;
    const yHead = laneTop + hosts * laneH - yOff;
    ctx.textBaseline = "middle";
    if (yHead + OP_HEAD >= laneTop && yHead <= Hpx) {
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.fillStyle = "#2d3748";
      ctx.fillText("operations", 8, yHead + OP_HEAD / 2);
    }
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = "#4a5568";
    for (let c = 0; c < opClients.length; c++) {
      const y = opLaneY(c);
      if (y + opLaneH < laneTop || y > Hpx || opLaneH < 11) continue;
      ctx.fillText(clipText(procName(opClients[c]), GUTTER - 12), 8, y + opLaneH / 2);
    }
  }

  // ---- hover, zoom, pan --------------------------------------------------------------------
  function describe(j) {
    const k = K[j];
    let s = "#" + I[j] + "  " + fmtTime(T[j]) + "  " + D.kinds[k];
    if (P[j] >= 0) s += "  " + procName(P[j]);
    if (H[j] >= 0) s += "@h" + H[j];
    if (k === DELIVER) s += "\nfrom " + procName(Q[j]) + ", sent " + fmtTime(A[j]) + " (latency " + fmtTime(T[j] - A[j]) + ")";
    else if (k === TIMER) s += "\ntimer id " + A[j];
    else if (k === SYNC_DONE) s += "\nsync issued " + fmtTime(A[j]) + " (disk time " + fmtTime(T[j] - A[j]) + ")";
    else if (k === START) s += "\nincarnation " + A[j];
    else if (k === DROPPED && Q[j] >= 0) s += "\nmessage from " + procName(Q[j]) + " to a dead process";
    else if (k === DROPPED) s += "\ntimer of a dead incarnation";
    else if (k === DEFERRED) s += "\nheld: the host is paused";
    s += "\ndigest " + D.g[j];
    if (D.d && D.d[j]) s += "\n" + D.d[j];
    if (D.failure && D.failure.pos === j) {
      s += "\n\u2716 " + D.failure.verdict + (D.failure.property ? " of " + D.failure.property : "") + ": " + D.failure.message;
    }
    return s;
  }
  function describeOp(i) {
    const done = OPS.e[i] >= 0;
    let s = procName(OPS.p[i]) + "  " + OPS.d[i] + "\n" + OP_NAME[OPS.o[i]] + ", invoked " + fmtTime(OPS.b[i]);
    s += done ? ", completed " + fmtTime(OPS.e[i]) + " (" + fmtTime(OPS.e[i] - OPS.b[i]) + ")" : ", never completed";
    if (OPS.m[i] === 2) s += "\n\u2716 the operation the failure was blamed on";
    else if (OPS.m[i] === 1) s += "\nconflicts with the blamed operation";
    return s;
  }
  function pickOp(mx, my) {
    const top = laneTop + hosts * laneH + OP_HEAD - yOff;
    const c = Math.floor((my - top) / opLaneH);
    if (c < 0 || c >= opClients.length) return -1;
    const p = opClients[c], rowH = (opLaneH - 4) / opRows[c];
    const row = Math.floor((my - top - c * opLaneH - 2) / rowH);
    const t = tOf(mx), slack = 3 * nsPerPx;
    let best = -1, bestScore = 1e18;
    for (let i = 0; i < opN; i++) {
      if (OPS.p[i] !== p || OPS.b[i] - slack > t || opEnd(i) + slack < t) continue;
      // Marked operations first, then the one in the row under the pointer, then the shortest.
      const score = (OPS.m[i] > 0 ? 0 : 2e17) + (opRow[i] === row ? 0 : 1e17) + (opEnd(i) - OPS.b[i]);
      if (score < bestScore) { bestScore = score; best = i; }
    }
    return best;
  }
  function describeFault(f) {
    return "fault #" + f.index + "  " + f.label + "\n" + fmtTime(f.b) + (f.instant ? "" : " \u2192 " + fmtTime(f.e));
  }
  function pick(mx, my) {
    if (my >= AXIS && my < laneTop - 4) {
      const row = Math.floor((my - AXIS - 3) / FAULT_ROW);
      const t = tOf(mx), slack = 3 * nsPerPx;
      for (const f of D.faults) if (f.row === row && t >= f.b - slack && t <= f.e + slack) return { fault: f };
      return {};
    }
    if (opClients.length && my >= laneTop + hosts * laneH - yOff) {
      const i = pickOp(mx, my);
      return i >= 0 ? { op: i } : {};
    }
    const lane = Math.floor((my - laneTop + yOff) / laneH);
    if (lane < 0 || lane >= hosts) return {};
    const lo = lowerBound(T, tOf(mx - 8)), hi = upperBound(T, tOf(mx + 8));
    let best = -1, bestD = 1e9;
    const step = Math.max(1, Math.ceil((hi - lo) / 20000));
    for (let j = lo; j < hi; j += step) {
      if (H[j] !== lane) continue;
      const d = Math.abs(xOf(T[j]) - mx) + Math.abs(eventY(j) - my);
      if (d < bestD) { bestD = d; best = j; }
    }
    return bestD < 14 ? { event: best } : {};
  }
  function showTip(text, mx, my) {
    tip.textContent = text;
    tip.hidden = false;
    const r = tip.getBoundingClientRect();
    tip.style.left = Math.min(mx + 14, W - r.width - 4) + "px";
    tip.style.top = (my + 14 + r.height > Hpx ? my - r.height - 10 : my + 14) + "px";
  }
  let frame = 0;
  function redraw() {
    if (!frame) frame = requestAnimationFrame(function () { frame = 0; draw(); });
  }
  function zoom(factor, mx) {
    const t = tOf(mx);
    nsPerPx = Math.min(Math.max(nsPerPx * factor, 1e-3), (tMax - tMin + 1) * 4 / Math.max(1, W - GUTTER));
    t0 = t - (mx - GUTTER) * nsPerPx;
    redraw();
  }
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    if (e.shiftKey) { t0 += e.deltaY * nsPerPx; redraw(); return; }
    zoom(Math.pow(1.0015, e.deltaY), e.offsetX);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, y: e.clientY, t0: t0, yOff: yOff, moved: false };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mouseup", function (e) {
    if (drag && !drag.moved) {
      const r = canvas.getBoundingClientRect();
      const hit = pick(e.clientX - r.left, e.clientY - r.top);
      pinned = hit.event !== undefined ? hit.event : -1;
      redraw();
    }
    drag = null;
    canvas.classList.remove("dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      t0 = drag.t0 - dx * nsPerPx;
      const maxY = Math.max(0, contentBottom() - Hpx + 10);
      yOff = Math.min(Math.max(drag.yOff - dy, 0), maxY);
      tip.hidden = true;
      redraw();
    }
  });
  canvas.addEventListener("mousemove", function (e) {
    if (drag) return;
    const hit = pick(e.offsetX, e.offsetY);
    const j = hit.event !== undefined ? hit.event : -1;
    const f = hit.fault || null;
    const o = hit.op !== undefined ? hit.op : -1;
    if (j !== hover || f !== hoverFault || o !== hoverOp) { hover = j; hoverFault = f; hoverOp = o; redraw(); }
    if (j >= 0) showTip(describe(j), e.offsetX, e.offsetY);
    else if (o >= 0) showTip(describeOp(o), e.offsetX, e.offsetY);
    else if (f) showTip(describeFault(f), e.offsetX, e.offsetY);
    else tip.hidden = true;
  });
  canvas.addEventListener("mouseleave", function () { hover = -1; hoverFault = null; hoverOp = -1; tip.hidden = true; redraw(); });
  canvas.addEventListener("dblclick", function (e) { zoom(0.5, e.offsetX); });
  document.getElementById("fit").addEventListener("click", function () { fit(); redraw(); });
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.5, GUTTER + (W - GUTTER) / 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2, GUTTER + (W - GUTTER) / 2); });
  arrowsBox.addEventListener("change", redraw);
  document.getElementById("goto").addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    const want = Number(e.target.value);
    const j = Math.min(lowerBound(I, want), N - 1);
    if (!(j >= 0)) return;
    pinned = j;
    nsPerPx = Math.max(Math.min(nsPerPx, 200000), 1e-3);
    t0 = T[j] - (W - GUTTER) / 2 * nsPerPx;
    const y = H[j] >= 0 ? laneTop + H[j] * laneH : 0;
    yOff = Math.max(0, Math.min(y - Hpx / 2, contentBottom() - Hpx + 10));
    draw();
    showTip(describe(j), Math.min(xOf(T[j]), W - 300), Math.max(eventY(j), laneTop));
  });
  window.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "INPUT") return;
    const mid = GUTTER + (W - GUTTER) / 2;
    if (e.key === "+" || e.key === "=") zoom(0.5, mid);
    else if (e.key === "-") zoom(2, mid);
    else if (e.key === "0") { fit(); redraw(); }
    else if (e.key === "ArrowLeft") { t0 -= 100 * nsPerPx; redraw(); }
    else if (e.key === "ArrowRight") { t0 += 100 * nsPerPx; redraw(); }
  });
  window.addEventListener("resize", function () { resize(); redraw(); });

  // ---- summary and legend ------------------------------------------------------------------
  const summary = document.getElementById("summary");
  const parts = [N.toLocaleString("en") + " events", hosts + " hosts", D.faults.length + " faults", "to " + fmtTime(tMax)];
  if (OPS) {
    // A trace keeps at most a few thousand operations: say when these are not all of them.
    parts.push(OPS.total > opN
      ? opN.toLocaleString("en") + " of " + OPS.total.toLocaleString("en") + " operations (those nearest the failure)"
      : opN.toLocaleString("en") + " operations");
  }
  summary.textContent = parts.join(" \u00b7 ") + " \u00b7 ";
  const verdict = document.createElement("span");
  if (D.failure) {
    verdict.className = "bad";
    verdict.textContent = D.failure.verdict + (D.failure.property ? " of " + D.failure.property : "") + " at " + fmtTime(D.failure.t);
    verdict.title = D.failure.message + (D.failure.operation ? "\nblamed operation: " + D.failure.operation : "") +
      (D.failure.conflicts && D.failure.conflicts.length ? "\nit conflicts with:\n  " + D.failure.conflicts.join("\n  ") : "");
  } else {
    verdict.className = "good";
    verdict.textContent = "no violation";
  }
  summary.appendChild(verdict);
  const legend = document.getElementById("legend");
  const items = [["start", KIND_COLOR[START]], ["deliver", KIND_COLOR[DELIVER]], ["timer", KIND_COLOR[TIMER]],
    ["dropped", KIND_COLOR[DROPPED]], ["deferred", KIND_COLOR[DEFERRED]], ["note", KIND_COLOR[NOTE]]];
  const kindsPresent = {};
  for (const f of D.faults) kindsPresent[f.kind] = true;
  for (const k of Object.keys(FAULT_COLOR)) if (kindsPresent[k]) items.push([k.replace("_", " "), FAULT_COLOR[k]]);
  if (OPS) {
    items.push(["op ok", OP_COLOR[0]], ["op fail", OP_COLOR[1]], ["op unknown", OP_COLOR[2]]);
    if (opBlamed) items.push(["blamed op", BLAMED]);
    if (opMarked > opBlamed) items.push(["conflicting op", "#fff", CONFLICT]);
  }
  for (const [name, color, frame] of items) {
    const span = document.createElement("span");
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = color;
    if (frame) sw.style.outline = "2px solid " + frame;
    span.appendChild(sw);
    span.appendChild(document.createTextNode(name));
    legend.appendChild(span);
  }
  const help = document.createElement("span");
  help.textContent = "wheel: zoom \u00b7 drag: pan \u00b7 click: pin \u00b7 0: fit";
  help.style.marginLeft = "auto";
  legend.appendChild(help);

  // A view can be linked: #view=START_NS,END_NS opens on that stretch of time.
  function viewFromHash() {
    const m = /view=(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)/.exec(window.location.hash);
    if (!m) return false;
    const a = Number(m[1]), b = Number(m[2]);
    if (!(b > a)) return false;
    nsPerPx = (b - a) / Math.max(1, W - GUTTER);
    t0 = a;
    return true;
  }
  window.addEventListener("hashchange", function () { if (viewFromHash()) redraw(); });

  resize();
  if (!viewFromHash()) fit();
  draw();
})();
