// The dashboard page: draws each whole snapshot the server pushes over
// Server-Sent Events. No build step, no library: canvas and DOM only.
// Every event replaces everything shown, so a stream that stops and
// resumes (EventSource reconnects by itself) leaves nothing stale behind.

const STALE_MS = 3000;
const RATE_LINES = [
  { key: "answers", label: "answers/s", color: "#0969da" },
  { key: "errors", label: "error replies/s", color: "#cf222e" },
];
const LATENCY_LINES = [
  { key: "p50", label: "p50", color: "#1a7f37" },
  { key: "p95", label: "p95", color: "#9a6700" },
  { key: "p99", label: "p99", color: "#cf222e" },
];

const $ = (id) => document.getElementById(id);
let lastEventAt = 0;
/** The previous event's dashboard CPU reading, for its CPU share. */
let lastCpu = null;

function setStatus(state) {
  const el = $("status");
  if (el.dataset.state === state) return;
  el.dataset.state = state;
  el.textContent = state;
}

function fmt(n, digits = 0) {
  return n === null || n === undefined || Number.isNaN(n) ? "-" : n.toLocaleString("en", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/** Draws `lines` of `series` on `canvas`; records how many points it drew in data-points. */
function drawChart(canvas, series, lines) {
  const dpr = globalThis.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, w, h);
  const left = 44, right = 8, top = 8, bottom = 20;
  const values = series.flatMap((p) => lines.map((l) => p[l.key])).filter((v) => v !== null);
  const ymax = niceMax(Math.max(0, ...values));
  const x = (i) => left + (i / Math.max(1, series.length - 1)) * (w - left - right);
  const y = (v) => top + (1 - v / ymax) * (h - top - bottom);
  ctx.strokeStyle = "#e3e6ec";
  ctx.fillStyle = "#6b7385";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right";
  for (let k = 0; k <= 4; k++) {
    const v = (ymax * k) / 4;
    ctx.beginPath();
    ctx.moveTo(left, y(v));
    ctx.lineTo(w - right, y(v));
    ctx.stroke();
    ctx.fillText(fmt(v, v < 10 && v % 1 ? 1 : 0), left - 4, y(v) + 4);
  }
  ctx.textAlign = "left";
  const minutes = Math.round(series.length / 60);
  ctx.fillText(`last ${minutes} min`, left, h - 4);
  ctx.textAlign = "right";
  ctx.fillText("now", w - right, h - 4);
  let points = 0;
  for (const line of lines) {
    ctx.strokeStyle = line.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    series.forEach((p, i) => {
      const v = p[line.key];
      if (v === null) {
        pen = false;
        return;
      }
      if (v > 0) points++;
      if (pen) ctx.lineTo(x(i), y(v));
      else ctx.moveTo(x(i), y(v));
      pen = true;
    });
    ctx.stroke();
  }
  canvas.dataset.points = String(points);
}

function legend(el, lines) {
  if (el.childElementCount) return;
  for (const l of lines) {
    const span = document.createElement("span");
    span.innerHTML = `<i style="background:${l.color}"></i>${l.label}`;
    el.append(span);
  }
}

/** A 28x28 grayscale image from its base64 pixels. */
function imageCanvas(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const canvas = document.createElement("canvas");
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(28, 28);
  bytes.forEach((v, i) => {
    img.data.set([v, v, v, 255], i * 4);
  });
  ctx.putImageData(img, 0, 0);
  return canvas;
}

function drawImages(el, images) {
  const figures = images.map((im) => {
    const fig = document.createElement("figure");
    fig.dataset.id = im.id;
    if (im.wrong) fig.classList.add("wrong");
    fig.title = `${im.id} by ${im.worker}`;
    const cap = document.createElement("figcaption");
    const predicted = document.createElement("span");
    predicted.className = "predicted";
    predicted.textContent = im.predicted;
    cap.append(predicted, ` ${fmt(im.probability * 100)}%`);
    if (im.wrong) {
      const actual = document.createElement("span");
      actual.className = "actual";
      actual.textContent = `\u2717 true: ${im.actual}`;
      cap.append(actual);
    }
    const canvas = imageCanvas(im.pixels);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `image ${im.id}, predicted ${im.predicted}`);
    fig.append(canvas, cap);
    return fig;
  });
  el.replaceChildren(...figures);
}

function cell(tag, text, attrs = {}) {
  const c = document.createElement(tag);
  c.textContent = text;
  Object.assign(c, attrs);
  return c;
}

function row(cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

function drawConfusion(el, confusion, classes) {
  const max = Math.max(1, ...confusion.flat());
  const head = row([cell("th", ""), ...classes.map((_, j) => cell("th", String(j)))]);
  const rows = confusion.map((r, i) =>
    row([
      cell("th", `${i} ${classes[i]}`),
      ...r.map((n, j) => {
        const td = cell("td", n ? String(n) : "");
        const a = n / max;
        td.style.background = i === j
          ? `rgba(26,127,55,${a.toFixed(2)})`
          : `rgba(207,34,46,${Math.min(1, a * 3).toFixed(2)})`;
        if (a > 0.5) td.style.color = "#fff";
        return td;
      }),
    ])
  );
  el.replaceChildren(head, ...rows);
}

function drawWorkers(el, workers) {
  const head = row(
    ["worker", "partitions", "lag", "ready", "model", "answers", "last answer"].map((h) =>
      cell("th", h)
    ),
  );
  const rows = workers.map((w) =>
    row([
      cell("td", w.worker),
      cell("td", w.partitions.join(",") || "-"),
      cell("td", fmt(w.lag)),
      cell("td", w.ready ? "ready" : "not ready", { className: w.ready ? "ready" : "not-ready" }),
      cell("td", w.model ? w.model.slice(0, 19) : "-"),
      cell("td", fmt(w.answers)),
      cell("td", w.idleMs === null ? "-" : `${fmt(w.idleMs / 1000, 1)} s ago`),
    ])
  );
  el.replaceChildren(head, ...rows);
}

function drawCodes(el, errors, deadLetters) {
  const codes = [...new Set([...Object.keys(errors), ...Object.keys(deadLetters)])].sort();
  const head = row(["code", "error replies", "dead letters"].map((h) => cell("th", h)));
  const rows = codes.map((c) =>
    row([cell("td", c), cell("td", fmt(errors[c] ?? 0)), cell("td", fmt(deadLetters[c] ?? 0))])
  );
  if (!rows.length) rows.push(row([cell("td", "none", { className: "muted", colSpan: 3 })]));
  el.replaceChildren(head, ...rows);
}

function render(s) {
  const t = s.totals;
  $("answers").textContent = fmt(t.answers);
  const last10 = s.series.slice(-11, -1);
  $("rate").textContent = fmt(last10.reduce((n, p) => n + p.answers, 0) / 10, 1);
  const done = s.series.slice(0, -1).reverse().find((p) => p.p50 !== null);
  $("latency").textContent = done ? `${fmt(done.p50)} / ${fmt(done.p95)} / ${fmt(done.p99)}` : "-";
  $("accuracy").textContent = s.accuracy === null
    ? "-"
    : `${fmt(s.accuracy * 100, 1)}% of ${fmt(t.labelled)}`;
  $("error-replies").textContent = fmt(t.errorReplies);
  $("dead-letters").textContent = fmt(t.deadLetters);
  $("lag").textContent = s.group ? fmt(s.group.totalLag) : "-";
  $("group").textContent = s.group
    ? `(group ${s.group.group}: ${s.group.state})`
    : s.groupError
    ? `(group unknown: ${s.groupError})`
    : "";
  drawChart($("chart-rate"), s.series, RATE_LINES);
  drawChart($("chart-latency"), s.series, LATENCY_LINES);
  legend($("legend-rate"), RATE_LINES);
  legend($("legend-latency"), LATENCY_LINES);
  drawImages($("recent"), s.recent);
  drawImages($("mistakes"), s.mistakes);
  drawConfusion($("confusion"), s.confusion, s.classes);
  drawWorkers($("workers"), s.workers);
  drawCodes($("codes"), s.errorsByCode, s.deadLettersByCode);
  const cpu = s.dashboard;
  const share = lastCpu && s.atMs > lastCpu.atMs && cpu.cpuMs >= lastCpu.cpuMs
    ? `CPU ${fmt(((cpu.cpuMs - lastCpu.cpuMs) / (s.atMs - lastCpu.atMs)) * 100)}%, `
    : "";
  lastCpu = { atMs: s.atMs, cpuMs: cpu.cpuMs };
  $("self").textContent = `dashboard: ${share}${fmt(cpu.rssBytes / 2 ** 20)} MB`;
  $("updated").textContent = `updated ${new Date(s.atMs).toLocaleTimeString()}`;
}

function connect() {
  const source = new EventSource("/events");
  source.onopen = () => setStatus("live");
  source.onerror = () => {
    setStatus("reconnecting");
    // EventSource retries a dropped connection itself, but gives up after an
    // HTTP error (a proxy's 502, say): then start a new one.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
  source.onmessage = (e) => {
    lastEventAt = Date.now();
    setStatus("live");
    render(JSON.parse(e.data));
  };
}

// An open stream that carries nothing (a hung server) shows as stale.
setInterval(() => {
  if (lastEventAt && Date.now() - lastEventAt > STALE_MS && $("status").dataset.state === "live") {
    setStatus("stale");
  }
}, 1000);

connect();
