// Trend of one point: raw readings for short spans, server-side buckets (min / avg / max) for
// longer ones, chosen from the span shown so a chart never asks for more than ~2,000 points.
// Zoom by the presets (1 h, 24 h, 7 d, 30 d) or by dragging across the chart; each zoom
// fetches the span again at the resolution it deserves. Alarm limits are drawn as lines.
// A preset span ends now and follows the clock (fetched again every few seconds, the chart
// updated in place); a zoom by drag holds still. Buckets holding readings the agent thinned
// (its outbox short of disk during an outage) are counted under the chart.

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { get, idPath } from "../api.js";
import { banner, fmtNumber, fmtTime, h, setText } from "../dom.js";
import { every } from "../refresh.js";

const PRESETS = [
  ["1 h", 3600],
  ["24 h", 86400],
  ["7 d", 7 * 86400],
  ["30 d", 30 * 86400],
];
const LIVE_MS = 5000;
const MAX_PAGES = 6;
const PAGE_LIMIT = 5000;
const LIMIT_COLOURS = { hh: "#b91c1c", h: "#d9480f", l: "#1f5fa8", ll: "#5b21b6" };

/** The bucket for a span: raw up to ~1 h, 1-minute to 36 h, 1-hour to 45 d, else 1-day. */
export function bucketFor(spanS) {
  if (spanS <= 3900) return "raw";
  if (spanS <= 36 * 3600) return "1m";
  if (spanS <= 45 * 86400) return "1h";
  return "1d";
}

async function fetchSeries(point, startS, endS, signal) {
  const bucket = bucketFor(endS - startS);
  const params = {
    start: new Date(startS * 1000).toISOString(),
    end: new Date(endS * 1000).toISOString(),
    bucket,
    limit: PAGE_LIMIT,
  };
  let series = null;
  let truncated = false;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await get(`/points/${idPath(point)}/readings`, params, { signal });
    if (!series) series = { ...answer, readings: [], buckets: [] };
    series.readings.push(...(answer.readings ?? []));
    series.buckets.push(...(answer.buckets ?? []));
    if (!answer.next_cursor) break;
    params.cursor = answer.next_cursor;
    truncated = page === MAX_PAGES - 1;
  }
  series.truncated = truncated;
  return series;
}

/** The point's registry entry (name, unit, limits), paging through its plant's points. */
async function findPoint(plant, point, signal) {
  let cursor;
  for (let page = 0; page < 20; page++) {
    const list = await get("/points", { plant, cursor }, { signal });
    const found = (list.points ?? []).find((p) => p.point === point);
    if (found || !list.next_cursor) return found ?? null;
    cursor = list.next_cursor;
  }
  return null;
}

function toColumns(series) {
  if (series.bucket === "raw") {
    const rows = series.readings;
    return [rows.map((r) => Date.parse(r.ts) / 1000), rows.map((r) => r.value)];
  }
  const rows = series.buckets;
  return [
    rows.map((b) => Date.parse(b.start) / 1000),
    rows.map((b) => b.avg),
    rows.map((b) => b.min),
    rows.map((b) => b.max),
  ];
}

/** Draws each alarm limit as a dashed line across the whole plot, labelled at the right. */
function limitPlugin(limits) {
  return {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          ctx.save();
          ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
          ctx.textAlign = "right";
          for (const [name, value] of limits) {
            const y = Math.round(u.valToPos(value, "y", true));
            if (y < top || y > top + height) continue;
            ctx.strokeStyle = ctx.fillStyle = LIMIT_COLOURS[name] ?? "#888";
            ctx.lineWidth = devicePixelRatio;
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + width, y);
            ctx.stroke();
            ctx.fillText(`${name.toUpperCase()} ${fmtNumber(value)}`, left + width - 4, y - 3 * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
}

function chartOptions(width, series, limits, onZoom) {
  const unit = series.unit ?? "";
  const value = (_u, v) => (v === null || v === undefined ? "—" : `${fmtNumber(v)} ${unit}`);
  const lines =
    series.bucket === "raw"
      ? [{ label: "value", stroke: "#1f5fa8", width: 1.5, value }]
      : [
          { label: `avg (${series.bucket})`, stroke: "#1f5fa8", width: 1.5, value },
          { label: "min", stroke: "#7aa3d6", width: 1, value },
          { label: "max", stroke: "#7aa3d6", width: 1, value },
        ];
  const limitValues = limits.map(([, v]) => v);
  return {
    width,
    height: Math.max(240, Math.min(420, Math.round(width * 0.55))),
    series: [{ value: (_u, ts) => (ts ? fmtTime(new Date(ts * 1000).toISOString()) : "—") }, ...lines],
    bands: series.bucket === "raw" ? [] : [{ series: [3, 2], fill: "rgba(31, 95, 168, 0.12)" }],
    axes: [{}, { label: unit, size: 60 }],
    cursor: { drag: { x: true, y: false, setScale: false } },
    scales: {
      x: { time: true },
      // The limits stay in view: how far a value is from its alarm limit is the point of a trend.
      y: {
        range: (_u, min, max) => {
          const lo = Math.min(min ?? 0, ...limitValues);
          const hi = Math.max(max ?? 1, ...limitValues);
          const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
          return [lo - pad, hi + pad];
        },
      },
    },
    plugins: [limitPlugin(limits)],
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width < 5) return;
          const min = u.posToVal(u.select.left, "x");
          const max = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          onZoom(min, max);
        },
      ],
    },
  };
}

export async function render(ctx) {
  const { root, signal, args } = ctx;
  const point = args[0];
  if (!point) {
    root.append(banner("error", "Which point? Open one from a plant view."));
    return;
  }
  const [plant] = point.split("/");
  const title = h("h1", { text: point });
  const info = h("p", { class: "muted small" });
  const notice = h("div");
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": `trend of ${point}` });
  const presets = h("div", { class: "presets", role: "group", "aria-label": "Span" });
  const range = h("p", { class: "muted small", "aria-live": "polite" });
  root.append(
    h("div", { class: "page-head" }, title, h("a", { href: `#/plant/${encodeURIComponent(plant)}`, text: `← ${plant}` })),
    info,
    h("div", { class: "toolbar" }, presets),
    notice,
    h("div", { class: "panel" }, chartBox, range),
    h("p", { class: "muted small", text: "Drag across the chart to zoom in; a preset zooms back out." }),
  );

  let meta = null;
  try {
    meta = await findPoint(plant, point, signal);
  } catch (exc) {
    if (signal.aborted) return;
    notice.replaceChildren(banner("error", `Could not read the point: ${exc.message}`));
  }
  if (meta) {
    setText(title, meta.name ? `${meta.name} · ${point}` : point);
    const limitText = Object.entries(meta.limits ?? {})
      .map(([k, v]) => `${k.toUpperCase()} ${fmtNumber(v)}`)
      .join(", ");
    setText(
      info,
      [meta.quantity, meta.unit, meta.area && `area ${meta.area}`, limitText && `limits ${limitText}`]
        .filter(Boolean)
        .join(" · "),
    );
  }
  const limits = Object.entries(meta?.limits ?? {}).filter(([, v]) => typeof v === "number");

  let chart = null;
  let request = 0;
  let following = 3600; // the preset span (s) that ends now (1 h at first), or null after a zoom by drag

  async function show(startS, endS, preset = null, update = false) {
    const mine = ++request;
    following = preset;
    for (const b of presets.children) b.setAttribute("aria-pressed", String(b.dataset.span === String(preset)));
    if (!update) {
      setText(range, `loading ${fmtTime(new Date(startS * 1000).toISOString())} – ${fmtTime(new Date(endS * 1000).toISOString())}…`);
    }
    let series;
    try {
      series = await fetchSeries(point, startS, endS, signal);
    } catch (exc) {
      if (!signal.aborted && mine === request) notice.replaceChildren(banner("error", `Could not load readings: ${exc.message}`));
      return;
    }
    if (signal.aborted || mine !== request) return;
    notice.replaceChildren();
    const columns = toColumns(series);
    const xs = columns[0];
    const n = xs.length;
    if (update && chart && chartBox.dataset.bucket === series.bucket) {
      chart.setData(columns, false); // in place: no flicker, the legend and cursor stay
    } else {
      chart?.destroy();
      chart = new uPlot(chartOptions(chartBox.clientWidth || 320, series, limits, show), columns, chartBox);
    }
    chart.setScale("x", { min: startS, max: endS });
    chartBox.dataset.bucket = series.bucket;
    chartBox.dataset.count = String(n);
    const what = series.bucket === "raw" ? `${n} readings` : `${n} buckets of ${series.bucket}`;
    const thinned = (series.buckets ?? []).reduce((sum, b) => sum + (b.thinned ?? 0), 0);
    setText(
      range,
      [
        `${fmtTime(series.start)} – ${fmtTime(series.end)} · ${what}`,
        series.truncated ? " (first pages only: zoom in for all)" : "",
        n ? "" : " · no data in this span",
        thinned ? ` · ${thinned} readings thinned into per-minute aggregates by the agent (outbox short of disk)` : "",
        following ? " · live" : "",
      ].join(""),
    );
  }

  for (const [label, seconds] of PRESETS) {
    presets.append(
      h("button", {
        type: "button",
        text: label,
        dataset: { span: seconds },
        onclick: () => {
          const end = Date.now() / 1000;
          show(end - seconds, end, seconds);
        },
      }),
    );
  }

  const resize = new ResizeObserver(() => {
    if (chart && chartBox.clientWidth && Math.abs(chart.width - chartBox.clientWidth) > 2) {
      chart.setSize({ width: chartBox.clientWidth, height: chart.height });
    }
  });
  resize.observe(chartBox);
  signal.addEventListener("abort", () => {
    resize.disconnect();
    chart?.destroy();
  });

  // The last hour, then the preset span again every few seconds (in place) while one is shown.
  every(
    LIVE_MS,
    async () => {
      if (following === null) return; // a zoom by drag holds still
      const now = Date.now() / 1000;
      await show(now - following, now, following, chart !== null);
    },
    signal,
    (exc) => notice.replaceChildren(banner("error", exc.message)),
  );
}
