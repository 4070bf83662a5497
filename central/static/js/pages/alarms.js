// Alarm list across the plants in scope, filtered by plant, state, priority and kind (alarms,
// exposure, sensor faults), with the same actions as the plant view. Refreshes every 5 s.

import { get, plantChoices } from "../api.js";
import { alarmCard, alarmId, updateAlarmCard } from "../alarms.js";
import { banner, h, select, setText, syncChildren } from "../dom.js";
import { every } from "../refresh.js";

const REFRESH_MS = 5000;
const STATES = [
  ["active", "active"],
  ["unacked", "unacknowledged"],
  ["shelved", "shelved"],
  ["all", "all"],
];
const PRIORITIES = [
  ["", "any priority"],
  ["critical", "critical"],
  ["high", "high"],
  ["medium", "medium"],
  ["low", "low"],
];
const CATEGORIES = [
  ["", "alarms and exposure"],
  ["alarm", "alarms"],
  ["exposure", "exposure"],
  ["fault", "sensor faults"],
];
// Filters stay while the tab lives; they are not put in the URL.
const filters = { plant: "", state: "active", priority: "", category: "" };

async function plantOptions(signal) {
  try {
    return await plantChoices(signal);
  } catch {
    return []; // the list still works without the plant filter
  }
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const notice = h("div");
  const count = h("span", { class: "muted" });
  const list = h("div", { class: "alarms" });
  const none = h("p", { class: "muted", text: "No alarms match the filters.", hidden: true });
  const form = h("form", { class: "filters", role: "search" });
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Alarms ", count)), form, notice, none, list);

  const plants = await plantOptions(signal);
  if (signal.aborted) return;
  form.append(
    h("label", {}, "Plant", select("plant", [["", "all plants"], ...plants], filters.plant)),
    h("label", {}, "State", select("state", STATES, filters.state)),
    h("label", {}, "Priority", select("priority", PRIORITIES, filters.priority)),
    h("label", {}, "Kind", select("category", CATEGORIES, filters.category)),
  );
  form.addEventListener("change", () => {
    const data = new FormData(form);
    for (const key of Object.keys(filters)) filters[key] = String(data.get(key) ?? "");
    reload();
  });
  form.addEventListener("submit", (event) => event.preventDefault());

  async function load() {
    const answer = await get("/alarms", { ...filters }, { signal });
    if (signal.aborted) return;
    notice.replaceChildren();
    const alarms = Array.isArray(answer) ? answer : (answer.alarms ?? []);
    setText(count, `(${alarms.length}${answer.next_cursor ? "+" : ""})`);
    none.hidden = alarms.length > 0;
    syncChildren(list, alarms, alarmId, alarmCard, (el, a) => updateAlarmCard(el, a, ctx));
  }

  const reload = every(REFRESH_MS, load, signal, (exc) =>
    notice.replaceChildren(banner("error", `Could not load alarms: ${exc.message}`)),
  );
}
