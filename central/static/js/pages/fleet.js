// Fleet overview: every plant in the user's scope with its live status and its KPIs over a
// period, the roll-up per region and the ranking. Refreshes every 10 s.

import { get } from "../api.js";
import { banner, columnsOf, dataTable, fmtAny, fmtDuration, fmtNumber, fmtPercent, h, words } from "../dom.js";
import { every } from "../refresh.js";

const REFRESH_MS = 10000;
const PERIODS = [
  ["24 h", 86400],
  ["7 d", 7 * 86400],
  ["30 d", 30 * 86400],
];
let periodS = 86400; // kept while the tab lives, not in the URL

// Labels and formats of the KPIs the page knows; any other key is shown with `words(key)`.
const KPI_LABELS = {
  alarms_per_10min: "Alarms / 10 min",
  alarm_rate_per_10min: "Alarms / 10 min",
  floods: "Alarm floods",
  flood_pct: "Time in flood",
  chattering: "Chattering alarms",
  stale: "Stale alarms",
  stale_alarms: "Stale alarms",
  time_to_ack_s: "Time to ack (median)",
  median_time_to_ack_s: "Time to ack (median)",
  ack_within_target_pct: "Acked within target",
  exposure_exceedances: "Exposure exceedances",
  completeness_pct: "Data completeness",
  availability_pct: "Availability",
  calibration_overdue: "Calibration overdue",
};

const STATUS_LABELS = {
  points: "Points",
  points_in_alarm: "In alarm",
  points_in_fault: "In fault",
  devices_offline: "Devices off line",
  behind_s: "Sync behind",
  outbox_fill: "Outbox fill",
};

function statusFormat(key, value) {
  if (key === "behind_s") return fmtDuration(value);
  if (key === "outbox_fill") return fmtPercent(value, { fraction: true });
  return fmtAny(key, value);
}

function health(status) {
  if (!status) return ["neutral", "no data"];
  if (status.devices_offline > 0 || status.points_in_fault > 0) return ["bad", "attention"];
  if (status.points_in_alarm > 0) return ["warn", "in alarm"];
  if (status.behind_s > 60) return ["warn", "behind"];
  return ["ok", "ok"];
}

function stats(entries) {
  return h(
    "dl",
    { class: "stats" },
    entries.map(([label, value]) => h("div", {}, h("dt", { text: label }), h("dd", { text: value }))),
  );
}

function plantCard(plant) {
  const id = plant.plant_id ?? plant.plant;
  const [kind, text] = health(plant.status);
  const status = Object.entries(plant.status ?? {}).map(([k, v]) => [STATUS_LABELS[k] ?? words(k), statusFormat(k, v)]);
  const kpis = Object.entries(plant.kpis ?? {})
    .filter(([, v]) => v === null || typeof v !== "object")
    .map(([k, v]) => [KPI_LABELS[k] ?? words(k), fmtAny(k, v)]);
  return h(
    "article",
    { class: "card plant-card", dataset: { plant: id } },
    h(
      "div",
      { class: "card-head" },
      h("a", { href: `#/plant/${encodeURIComponent(id)}`, text: plant.name || id }),
      h("span", { class: `badge ${kind}`, text }),
    ),
    h("div", { class: "muted small", text: `region ${plant.region ?? "—"}` }),
    stats(status),
    kpis.length ? h("h3", { class: "small muted", text: "KPIs over the period" }) : null,
    kpis.length ? stats(kpis) : null,
  );
}

function summary(plants) {
  const total = (key) => plants.reduce((n, p) => n + (Number(p.status?.[key]) || 0), 0);
  const figure = (n, label) => h("div", { class: "figure" }, h("div", { class: "n", text: fmtNumber(n) }), h("div", { class: "l", text: label }));
  return h(
    "div",
    { class: "summary" },
    figure(plants.length, "plants"),
    figure(total("points_in_alarm"), "points in alarm"),
    figure(total("points_in_fault"), "points in fault"),
    figure(total("devices_offline"), "devices off line"),
  );
}

function flatten(row) {
  // A region row may nest its status and KPIs like a plant does: one column per leaf.
  const out = {};
  for (const [key, value] of Object.entries(row)) {
    if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(out, value);
    else if (!Array.isArray(value)) out[key] = value;
  }
  return out;
}

function rankingList(ranking) {
  const rows = Array.isArray(ranking) ? ranking : (ranking?.plants ?? ranking?.items ?? []);
  if (!rows.length) return h("p", { class: "muted", text: "No ranking for this period." });
  const by = ranking?.by ?? ranking?.metric;
  return h(
    "div",
    {},
    by ? h("p", { class: "muted small", text: `ranked by ${words(by)}` }) : null,
    dataTable(
      [{ key: "rank", label: "#", cell: (_r) => String(rows.indexOf(_r) + 1) }, ...columnsOf(rows.map(flatten))].map((c) =>
        c.cell ? c : { ...c, cell: (r) => fmtAny(c.key, flatten(r)[c.key]) },
      ),
      rows,
    ),
  );
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const presets = h("div", { class: "presets", role: "group", "aria-label": "Period" });
  const notice = h("div");
  const body = h("div");
  root.append(h("div", { class: "page-head" }, h("h1", { text: "Fleet overview" }), presets), notice, body);

  for (const [label, seconds] of PERIODS) {
    presets.append(
      h("button", {
        type: "button",
        text: label,
        "aria-pressed": String(seconds === periodS),
        onclick: (event) => {
          periodS = seconds;
          for (const b of presets.children) b.setAttribute("aria-pressed", String(b === event.target));
          load();
        },
      }),
    );
  }

  async function load() {
    const end = new Date();
    const start = new Date(end.getTime() - periodS * 1000);
    const data = await get("/fleet/overview", { start: start.toISOString(), end: end.toISOString() }, { signal });
    if (signal.aborted) return;
    notice.replaceChildren();
    const plants = data.plants ?? [];
    const regions = (data.regions ?? []).map(flatten);
    body.replaceChildren(
      summary(plants),
      plants.length
        ? h("section", { class: "grid plants" }, plants.map(plantCard))
        : banner("info", "No plant in your scope has reported yet."),
      h("section", { class: "panel" }, h("h2", { text: "Regions" }), dataTable(columnsOf(regions), regions, { empty: "No regions." })),
      h("section", { class: "panel" }, h("h2", { text: "Ranking" }), rankingList(data.ranking)),
      h("p", { class: "muted small", text: `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.` }),
    );
  }

  every(REFRESH_MS, load, signal, (exc) =>
    notice.replaceChildren(banner("error", `Could not load the fleet: ${exc.message}`)),
  );
}
