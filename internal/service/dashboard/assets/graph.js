// A job graph in SVG: operators in columns by their distance from the
// sources, edges between them, each operator coloured by what its subtasks
// did over the last interval: blue idle, amber busy, red backpressured.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// colour mixes idle blue, busy amber and backpressured red by the ratios.
export function colour(busy, backpressured) {
  const idle = Math.max(0, 1 - busy - backpressured);
  const c = [
    [0x4f, 0x7f, 0xb8],
    [0xc9, 0x8a, 0x12],
    [0xb3, 0x26, 0x1e],
  ];
  const w = [idle, Math.max(0, busy), Math.max(0, backpressured)];
  const sum = w[0] + w[1] + w[2] || 1;
  const rgb = [0, 1, 2].map(k => Math.round((c[0][k] * w[0] + c[1][k] * w[1] + c[2][k] * w[2]) / sum));
  return "rgb(" + rgb.join(",") + ")";
}

// layout gives each operator a column (longest path from a source) and a
// row within it.
export function layout(ops, edges) {
  const col = new Map(ops.map(o => [o.id, 0]));
  for (let pass = 0; pass < ops.length; pass++) {
    let changed = false;
    for (const e of edges) {
      const c = (col.get(e.from) ?? 0) + 1;
      if (c > (col.get(e.to) ?? 0)) { col.set(e.to, c); changed = true; }
    }
    if (!changed) break;
  }
  const rows = new Map();
  const pos = new Map();
  for (const o of ops) {
    const c = col.get(o.id) ?? 0;
    const r = rows.get(c) ?? 0;
    rows.set(c, r + 1);
    pos.set(o.id, { col: c, row: r });
  }
  return pos;
}

// draw renders the graph: ops [{id, name, parallelism, kind, busy,
// backpressured, recordsIn, recordsOut}], edges [{from, to, partitioning,
// chained}].
export function draw(ops, edges) {
  const pos = layout(ops, edges);
  const NW = 190, NH = 58, GX = 70, GY = 22, P = 10;
  let cols = 0, rows = 0;
  for (const p of pos.values()) { cols = Math.max(cols, p.col + 1); rows = Math.max(rows, p.row + 1); }
  const W = P * 2 + cols * NW + (cols - 1) * GX, H = P * 2 + rows * NH + (rows - 1) * GY;
  const svg = el("svg", { class: "graph", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "job graph" });
  const xy = id => {
    const p = pos.get(id);
    return { x: P + p.col * (NW + GX), y: P + p.row * (NH + GY) };
  };
  for (const e of edges) {
    if (!pos.has(e.from) || !pos.has(e.to)) continue;
    const a = xy(e.from), b = xy(e.to);
    const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
    const mx = (x1 + x2) / 2;
    svg.appendChild(el("path", { class: "edge" + (e.chained ? " chained" : ""), d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
    const label = el("text", { class: "edge-label", x: mx, y: (y1 + y2) / 2 - 4, "text-anchor": "middle" });
    label.textContent = e.chained ? "chained" : (e.partitioning || "");
    svg.appendChild(label);
  }
  for (const o of ops) {
    if (!pos.has(o.id)) continue;
    const { x, y } = xy(o.id);
    const g = el("g", { class: "node", "data-operator": o.name, transform: `translate(${x},${y})` });
    const title = el("title");
    title.textContent = `${o.name} (${o.kind}, parallelism ${o.parallelism})\nbusy ${Math.round((o.busy || 0) * 100)}%, backpressured ${Math.round((o.backpressured || 0) * 100)}%`;
    g.appendChild(title);
    g.appendChild(el("rect", { width: NW, height: NH, rx: 6, fill: colour(o.busy || 0, o.backpressured || 0) }));
    const name = el("text", { x: 8, y: 18 });
    name.textContent = o.name.length > 26 ? o.name.slice(0, 25) + "…" : o.name;
    g.appendChild(name);
    const sub = el("text", { class: "sub", x: 8, y: 34 });
    sub.textContent = `${o.kind} · p=${o.parallelism} · bp ${Math.round((o.backpressured || 0) * 100)}%`;
    g.appendChild(sub);
    const io = el("text", { class: "sub", x: 8, y: 50 });
    io.textContent = `in ${o.recordsIn ?? 0} · out ${o.recordsOut ?? 0}`;
    g.appendChild(io);
    svg.appendChild(g);
  }
  return svg;
}
