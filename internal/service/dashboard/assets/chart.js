// Live line charts in SVG: a chart keeps the last `max` points of each
// series and redraws on every push.

const NS = "http://www.w3.org/2000/svg";
export const COLORS = ["#0b5cad", "#c98a12", "#1f7a3a", "#b3261e", "#6a3fb3", "#0f7f86", "#8a4b14", "#555"];

function el(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// shortNumber writes 1234567 as 1.23M.
export function shortNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "K";
  if (a === 0 || a >= 10) return v.toFixed(0);
  return v.toFixed(2);
}

export class LineChart {
  // opts: {title, unit, max}
  constructor(opts) {
    this.title = opts.title;
    this.unit = opts.unit || "";
    this.max = opts.max || 90;
    this.series = new Map(); // name -> [{t, v}]
    this.fig = document.createElement("figure");
    this.fig.className = "chart";
    const cap = document.createElement("figcaption");
    cap.textContent = this.title;
    this.fig.appendChild(cap);
    this.svg = el("svg", { class: "chart", viewBox: "0 0 420 160", preserveAspectRatio: "none", role: "img", "aria-label": this.title });
    this.fig.appendChild(this.svg);
    this.legend = document.createElement("div");
    this.legend.className = "legend";
    this.fig.appendChild(this.legend);
  }

  get element() { return this.fig; }

  // points is how many points the chart holds now (the tests read it).
  get points() {
    let n = 0;
    for (const s of this.series.values()) n = Math.max(n, s.length);
    return n;
  }

  push(t, values) {
    for (const [name, v] of Object.entries(values)) {
      if (typeof v !== "number" || !isFinite(v)) continue;
      if (!this.series.has(name)) this.series.set(name, []);
      const s = this.series.get(name);
      s.push({ t, v });
      if (s.length > this.max) s.shift();
    }
    this.draw();
  }

  draw() {
    const svg = this.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const W = 420, H = 160, L = 58, R = 6, T = 8, B = 18;
    let t0 = Infinity, t1 = -Infinity, v1 = 0;
    for (const s of this.series.values()) {
      for (const p of s) { t0 = Math.min(t0, p.t); t1 = Math.max(t1, p.t); v1 = Math.max(v1, p.v); }
    }
    svg.appendChild(el("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    svg.appendChild(el("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    svg.setAttribute("data-points", String(this.points));
    if (!isFinite(t0)) {
      const t = el("text", { class: "tick", x: L + 8, y: H / 2 });
      t.textContent = "waiting for data…";
      svg.appendChild(t);
      return;
    }
    if (v1 <= 0) v1 = 1;
    const span = Math.max(t1 - t0, 1);
    for (const f of [0, 0.5, 1]) {
      const y = H - B - f * (H - B - T);
      const t = el("text", { class: "tick", x: L - 4, y: y + 4, "text-anchor": "end" });
      t.textContent = shortNumber(v1 * f) + (f === 1 ? this.unit : "");
      svg.appendChild(t);
    }
    const tl = el("text", { class: "tick", x: W - R, y: H - 4, "text-anchor": "end" });
    tl.textContent = "last " + Math.round(span / 1000) + " s";
    svg.appendChild(tl);
    this.legend.textContent = "";
    let i = 0;
    for (const [name, s] of this.series) {
      const color = COLORS[i++ % COLORS.length];
      const pts = s.map(p => {
        const x = L + (p.t - t0) / span * (W - L - R);
        const y = H - B - p.v / v1 * (H - B - T);
        return x.toFixed(1) + "," + y.toFixed(1);
      }).join(" ");
      svg.appendChild(el("polyline", { class: "series", points: pts, stroke: color }));
      const item = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(name + ": " + shortNumber(s[s.length - 1].v) + this.unit));
      this.legend.appendChild(item);
    }
  }
}
