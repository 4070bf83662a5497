// Plant view: the plant's points by area with their newest values, and its active alarms with
// the actions the user may take. Refreshes every 1.5 s, updating elements in place.

import { get } from "../api.js";
import { alarmCard, alarmId, updateAlarmCard } from "../alarms.js";
import { banner, fmtAge, fmtDuration, fmtNumber, h, setText, syncChildren } from "../dom.js";
import { every } from "../refresh.js";

export const REFRESH_MS = 1500;

function pointTile() {
  const name = h("div", { class: "name" });
  const value = h("span", { class: "value" });
  const unit = h("span", { class: "unit" });
  const meta = h("div", { class: "meta" });
  const el = h("a", { class: "point" }, name, h("div", {}, value, unit), meta);
  el.refs = { name, value, unit, meta };
  return el;
}

// ISA-18.2 states B-F: the alarm still asks for attention (shelved, suppressed and out of
// service are shown as text only; a fault greys the value instead).
const ALARMING = new Set(["active_unacked", "active_acked", "rtn_unacked", "latched_unacked", "latched_acked"]);

function inAlarm(state) {
  return ALARMING.has(state);
}

const RANK = { critical: 4, high: 3, medium: 2, low: 1 };

/** The most urgent priority among each point's active alarms. */
function priorities(alarms) {
  const out = new Map();
  for (const a of alarms) {
    if (!a.point) continue;
    const known = out.get(a.point);
    if (!known || (RANK[a.priority] ?? 0) > (RANK[known] ?? 0)) out.set(a.point, a.priority);
  }
  return out;
}

function updatePointTile(el, p, priority) {
  const r = el.refs;
  el.href = `#/trend/${encodeURIComponent(p.point)}`;
  el.dataset.point = p.point;
  const alarm = p.alarm_state;
  const classes = ["point"];
  if (p.measured === false) classes.push("output");
  if (inAlarm(alarm)) classes.push("in-alarm", `prio-${priority ?? "high"}`);
  if ((p.quality && p.quality !== "good") || alarm === "fault") classes.push("not-good");
  el.className = classes.join(" ");
  setText(r.name, p.name || p.point);
  setText(r.value, fmtNumber(p.value));
  setText(r.unit, p.unit && p.unit !== "1" ? p.unit : ""); // "1": dimensionless (a flag, a count)
  const parts = [];
  if (alarm && alarm !== "normal") parts.push(String(alarm).replace(/_/g, " "));
  if (p.quality && p.quality !== "good") parts.push(`${p.quality}${p.reason ? " (" + p.reason + ")" : ""}`);
  const ts = p.source_ts ?? p.ts;
  if (p.measured === false) {
    // A safety PLC's output: the value is what the agent last wrote, not a reading.
    parts.push(ts ? `written by the agent ${fmtAge(ts)}` : "not written yet");
  } else {
    parts.push(ts ? fmtAge(ts) : "no reading yet");
  }
  setText(r.meta, parts.join(" · "));
  el.title = `${p.point}${p.quantity ? " · " + p.quantity : ""}`;
}

function liveText(data) {
  const live = data.live;
  const parts = [data.name && data.name !== data.plant ? data.name : null, data.region && `region ${data.region}`];
  if (live) {
    parts.push(`${live.points} points`, `${live.points_in_alarm} in alarm`, `${live.points_in_fault} in fault`);
    parts.push(`${live.devices_offline} of ${live.devices} devices off line`);
    const agent = String(live.status).replace(/_/g, " ");
    parts.push(`agent ${agent}${live.behind_s > 1 ? `, ${fmtDuration(live.behind_s)} behind` : ""}`);
  }
  if (data.truncated) parts.push("showing the first points only");
  return parts.filter(Boolean).join(" · ");
}

function areaSection() {
  const title = h("h2");
  const points = h("div", { class: "points" });
  const el = h("section", { class: "area" }, title, points);
  el.refs = { title, points };
  return el;
}

export async function render(ctx) {
  const { root, signal, args } = ctx;
  const plant = args[0];
  if (!plant) {
    root.append(banner("error", "Which plant? Open one from the fleet overview."));
    return;
  }
  const updated = h("span", { class: "muted small" });
  const status = h("p", { class: "muted small plant-status" });
  const notice = h("div");
  const alarmCount = h("span", { class: "muted" });
  const alarms = h("div", { class: "alarms", "aria-live": "polite" });
  const noAlarms = h("p", { class: "muted", text: "No active alarms." });
  const areas = h("div");
  root.append(
    h("div", { class: "page-head" }, h("h1", { text: plant }), updated),
    status,
    notice,
    h("section", { class: "panel active-alarms" }, h("h2", {}, "Active alarms ", alarmCount), noAlarms, alarms),
    areas,
  );

  async function refresh() {
    const data = await get(`/plants/${encodeURIComponent(plant)}/overview`, null, { signal });
    if (signal.aborted) return;
    notice.replaceChildren();
    setText(status, liveText(data));
    const active = data.active_alarms ?? [];
    const urgent = priorities(active);
    setText(alarmCount, `(${active.length})`);
    noAlarms.hidden = active.length > 0;
    syncChildren(alarms, active, alarmId, alarmCard, (el, a) => updateAlarmCard(el, a, ctx));
    syncChildren(
      areas,
      data.areas ?? [],
      (a) => a.area ?? "",
      areaSection,
      (el, a) => {
        setText(el.refs.title, a.name || a.area || "Points without an area");
        syncChildren(el.refs.points, a.points ?? [], (p) => p.point, pointTile, (tile, p) =>
          updatePointTile(tile, p, urgent.get(p.point)),
        );
      },
    );
    setText(updated, `updated ${new Date().toLocaleTimeString()}`);
  }

  every(REFRESH_MS, refresh, signal, (exc) =>
    notice.replaceChildren(banner("error", `Could not refresh: ${exc.message}`)),
  );
}
