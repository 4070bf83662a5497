// Fleet overview: every plant in the user's scope with its live status and its KPIs over a
// period (against their targets), the roll-up per region and the plants' ranking.
// Refreshes every 10 s.

import { get } from "../api.js";
import { banner, dataTable, fmtAny, fmtDuration, fmtNumber, fmtPercent, h, select, words } from "../dom.js";
import { every } from "../refresh.js";

const REFRESH_MS = 10000;
const PERIODS = [
  ["24 h", 86400],
  ["7 d", 7 * 86400],
  ["30 d", 30 * 86400],
];
let periodS = 86400; // kept while the tab lives, not in the URL
let rankBy = "alarms_per_10min_avg";

// The KPIs a plant card shows, in this order, with their labels (hse-standards §1.3-1.4 via
// central's /fleet/overview). Counts of what was judged (acks_judged, readings) stay out.
const KPIS = [
  ["alarms_per_10min_avg", "Alarms / 10 min (avg)"],
  ["alarms_per_10min_peak", "Alarms / 10 min (peak)"],
  ["flood_periods_pct", "Time in flood"],
  ["chattering_alarms", "Chattering alarms"],
  ["stale_alarms", "Stale alarms"],
  ["tta_mean_s", "Time to ack (mean)"],
  ["ack_within_target_pct", "Acked within target"],
  ["exposure_exceedances", "Exposure exceedances"],
  ["data_completeness_pct", "Data completeness"],
  ["sensor_availability_pct", "Sensor availability"],
  ["calibration_overdue", "Calibration overdue"],
];
const KPI_LABEL = Object.fromEntries(KPIS);

const LIVE = [
  ["points", "Points"],
  ["points_in_alarm", "In alarm"],
  ["points_in_fault", "In fault"],
  ["devices_offline", "Devices off line"],
  ["behind_s", "Sync behind"],
  ["outbox_fill", "Outbox fill"],
];

function liveFormat(key, value) {
  if (key === "behind_s") return fmtDuration(value);
  if (key === "outbox_fill") return fmtPercent(value, { fraction: true });
  return fmtAny(key, value);
}

/** ``ok`` / ``warn`` / ``bad`` for a live status, with the words for it. */
function health(live) {
  if (!live) return ["neutral", "no data"];
  if (live.status === "offline" || live.status === "no_agent") return ["bad", live.status.replace("_", " ")];
  if (live.points_in_alarm > 0) return ["warn", "in alarm"];
  if (live.devices_offline > 0 || live.points_in_fault > 0) return ["bad", "faults"];
  if (live.status && live.status !== "ok") return ["warn", live.status.replace("_", " ")];
  return ["ok", "ok"];
}

/** Whether a KPI value misses its target (`better`: which way is good). */
function offTarget(value, target) {
  if (value === null || value === undefined || !target) return false;
  return target.better === "lower" ? value > target.target : value < target.target;
}

function stat(label, value, { warn = false, title } = {}) {
  return h(
    "div",
    { class: warn ? "off-target" : undefined, title },
    h("dt", { text: label }),
    h("dd", { text: value }),
  );
}

function plantCard(plant, targets) {
  const id = plant.plant;
  const live = plant.live;
  const [kind, text] = health(live);
  const kpis = plant.kpis ?? {};
  return h(
    "article",
    { class: "card plant-card", dataset: { plant: id } },
    h(
      "div",
      { class: "card-head" },
      h("a", { href: `#/plant/${encodeURIComponent(id)}`, text: id }),
      h("span", { class: `badge ${kind}`, text }),
    ),
    h("div", { class: "muted small", text: [plant.name !== id && plant.name, `region ${plant.region}`].filter(Boolean).join(" · ") }),
    h("dl", { class: "stats" }, LIVE.filter(([k]) => live && k in live).map(([k, label]) => stat(label, liveFormat(k, live[k])))),
    h("h3", { class: "small muted", text: "KPIs over the period" }),
    h(
      "dl",
      { class: "stats" },
      KPIS.filter(([k]) => k in kpis).map(([k, label]) => {
        const target = targets[k];
        const warn = offTarget(kpis[k], target);
        const title = target ? `target ${target.better === "lower" ? "≤" : "≥"} ${fmtAny(k, target.target)} (${target.source})` : undefined;
        return stat(label, fmtAny(k, kpis[k]) + (warn ? " ⚠" : ""), { warn, title });
      }),
    ),
  );
}

function summary(plants) {
  const total = (key) => plants.reduce((n, p) => n + (Number(p.live[key]) || 0), 0);
  const figure = (n, label) =>
    h("div", { class: "figure" }, h("div", { class: "n", text: fmtNumber(n) }), h("div", { class: "l", text: label }));
  return h(
    "div",
    { class: "summary" },
    figure(plants.length, "plants"),
    figure(total("points_in_alarm"), "points in alarm"),
    figure(total("points_in_fault"), "points in fault"),
    figure(total("devices_offline"), "devices off line"),
  );
}

function regionTable(regions) {
  const live = (key) => ({ key, label: LIVE.find(([k]) => k === key)[1], num: true, cell: (r) => liveFormat(key, r.live?.[key]) });
  const kpi = (key) => ({ key, label: KPI_LABEL[key], num: true, cell: (r) => fmtAny(key, r.kpis?.[key]) });
  return dataTable(
    [
      { key: "region", label: "Region", cell: (r) => (r.name && r.name !== r.region ? `${r.name} (${r.region})` : r.region) },
      { key: "plants", label: "Plants", num: true },
      live("points_in_alarm"),
      live("points_in_fault"),
      live("devices_offline"),
      kpi("alarms_per_10min_avg"),
      kpi("ack_within_target_pct"),
      kpi("data_completeness_pct"),
      kpi("sensor_availability_pct"),
    ],
    regions,
    { empty: "No regions in your scope." },
  );
}

function rankingTable(ranking) {
  if (!ranking?.plants?.length) return h("p", { class: "muted", text: "No plant to rank in this period." });
  const label = KPI_LABEL[ranking.kpi] ?? words(ranking.kpi);
  return h(
    "div",
    {},
    h("p", { class: "muted small", text: `best first: ${ranking.better} is better` }),
    dataTable(
      [
        { key: "rank", label: "#", num: true },
        { key: "plant", label: "Plant", cell: (r) => h("a", { href: `#/plant/${encodeURIComponent(r.plant)}`, text: r.plant }) },
        { key: "region", label: "Region" },
        { key: "value", label, num: true, cell: (r) => fmtAny(ranking.kpi, r.value) },
      ],
      ranking.plants,
    ),
  );
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const presets = h("div", { class: "presets", role: "group", "aria-label": "Period" });
  const notice = h("div");
  const body = h("div");
  const ranked = h("div");
  const rankSelect = select("ranking", KPIS, rankBy, {
    onchange: (event) => {
      rankBy = event.target.value;
      reload();
    },
  });
  const rankPanel = h(
    "section",
    { class: "panel ranking" },
    h("div", { class: "card-head" }, h("h2", { text: "Ranking" }), h("label", { class: "small" }, "by ", rankSelect)),
    ranked,
  );
  const footer = h("p", { class: "muted small" });
  root.append(h("div", { class: "page-head" }, h("h1", { text: "Fleet overview" }), presets), notice, body, rankPanel, footer);

  for (const [label, seconds] of PERIODS) {
    presets.append(
      h("button", {
        type: "button",
        text: label,
        "aria-pressed": String(seconds === periodS),
        onclick: (event) => {
          periodS = seconds;
          for (const b of presets.children) b.setAttribute("aria-pressed", String(b === event.target));
          reload();
        },
      }),
    );
  }

  async function load() {
    const end = new Date();
    const start = new Date(end.getTime() - periodS * 1000);
    const params = { start: start.toISOString(), end: end.toISOString(), ranking: rankBy };
    const data = await get("/fleet/overview", params, { signal });
    if (signal.aborted) return;
    notice.replaceChildren();
    const plants = data.plants ?? [];
    const targets = Object.fromEntries((data.targets ?? []).map((t) => [t.kpi, t]));
    body.replaceChildren(
      summary(plants),
      plants.length
        ? h("section", { class: "grid plants" }, plants.map((p) => plantCard(p, targets)))
        : banner("info", "No plant in your scope has reported yet."),
      h("section", { class: "panel" }, h("h2", { text: "Regions" }), regionTable(data.regions ?? [])),
    );
    ranked.replaceChildren(rankingTable(data.ranking));
    footer.textContent =
      `KPIs over the last ${PERIODS.find(([, s]) => s === periodS)[0]}; ⚠ misses its target (hover for it). ` +
      `Updated ${new Date().toLocaleTimeString()}, every ${REFRESH_MS / 1000} s.`;
  }

  const reload = every(REFRESH_MS, load, signal, (exc) =>
    notice.replaceChildren(banner("error", `Could not load the fleet: ${exc.message}`)),
  );
}
