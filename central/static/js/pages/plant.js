// Plant view: the plant's points by area with their newest values, and its active alarms with
// the actions the user may take. Refreshes every 1.5 s, updating elements in place.

import { get } from "../api.js";
import { alarmCard, alarmId, updateAlarmCard } from "../alarms.js";
import { banner, fmtAge, fmtNumber, h, setText, syncChildren } from "../dom.js";
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

function inAlarm(state) {
  return Boolean(state) && state !== "normal";
}

function updatePointTile(el, p) {
  const r = el.refs;
  el.href = `#/trend/${encodeURIComponent(p.point)}`;
  el.dataset.point = p.point;
  const alarm = p.alarm_state;
  const critical = p.alarm_priority === "critical" || /hh|ll/.test(alarm ?? "");
  el.className = `point${inAlarm(alarm) ? " in-alarm" : ""}${critical && inAlarm(alarm) ? " critical" : ""}${p.quality && p.quality !== "good" ? " not-good" : ""}`;
  setText(r.name, p.name || p.point);
  setText(r.value, fmtNumber(p.value));
  setText(r.unit, p.unit ?? "");
  const parts = [];
  if (inAlarm(alarm)) parts.push(String(alarm).replace(/_/g, " "));
  if (p.quality && p.quality !== "good") parts.push(`${p.quality}${p.reason ? " (" + p.reason + ")" : ""}`);
  parts.push(p.ts ? fmtAge(p.ts) : "no reading yet");
  setText(r.meta, parts.join(" · "));
  el.title = `${p.point}${p.quantity ? " · " + p.quantity : ""}`;
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
  const notice = h("div");
  const alarmCount = h("span", { class: "muted" });
  const alarms = h("div", { class: "alarms", "aria-live": "polite" });
  const noAlarms = h("p", { class: "muted", text: "No active alarms." });
  const areas = h("div");
  root.append(
    h("div", { class: "page-head" }, h("h1", { text: plant }), updated),
    notice,
    h("section", { class: "panel active-alarms" }, h("h2", {}, "Active alarms ", alarmCount), noAlarms, alarms),
    areas,
  );

  async function refresh() {
    const data = await get(`/plants/${encodeURIComponent(plant)}/overview`, null, { signal });
    if (signal.aborted) return;
    notice.replaceChildren();
    const active = data.active_alarms ?? [];
    setText(alarmCount, `(${active.length})`);
    noAlarms.hidden = active.length > 0;
    syncChildren(alarms, active, alarmId, () => alarmCard(ctx), (el, a) => updateAlarmCard(el, a, ctx));
    syncChildren(
      areas,
      data.areas ?? [],
      (a) => a.area ?? "",
      areaSection,
      (el, a) => {
        setText(el.refs.title, a.area || "No area");
        syncChildren(el.refs.points, a.points ?? [], (p) => p.point, pointTile, updatePointTile);
      },
    );
    setText(updated, `updated ${new Date().toLocaleTimeString()}`);
  }

  every(REFRESH_MS, refresh, signal, (exc) =>
    notice.replaceChildren(banner("error", `Could not refresh: ${exc.message}`)),
  );
}
