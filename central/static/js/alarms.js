// Alarm cards and the operator actions on them (ack, shelve, unshelve, comment).
//
// An action is a command to the plant's edge agent: central answers 202 with a command id, the
// agent picks it up with its next sync and answers. The card shows the command's progress
// (pending -> delivered -> done | failed) until the agent's own ack event changes the alarm.
// Buttons appear only when /me grants the permission (alarms:act for ack, reset and comment,
// alarms:manage for shelving); central checks again on every call.

import { ApiError, get, idPath, post } from "./api.js";
import { fmtAge, fmtNumber, fmtTime, h, setText, toast } from "./dom.js";
import { sleep } from "./refresh.js";

const COMMAND_POLL_MS = 1000;
const COMMAND_WAIT_MS = 120000;
// Shelving is time-limited (ISA-18.2): at most 7 days, as central and the edge agent accept.
const MAX_SHELVE_MIN = 7 * 24 * 60;

/** Progress of commands issued from this tab, by alarm id: survives the list's refreshes. */
const commands = new Map();

export const alarmId = (a) => a.alarm_id ?? a.id;

export function isUnacked(a) {
  if (typeof a.acked === "boolean") return !a.acked;
  return /unacked$/.test(a.state ?? "");
}

export function isShelved(a) {
  return a.state === "shelved" || Boolean(a.shelved_until);
}

export function priorityBadge(priority) {
  if (!priority) return null;
  return h("span", { class: `badge prio-${priority}`, text: priority });
}

function stateLabel(state) {
  return String(state ?? "").replace(/_/g, " ");
}

/** One alarm's card, empty; `updateAlarmCard` fills and refreshes it in place. */
export function alarmCard() {
  const el = h("article", { class: "alarm" });
  const what = h("span", { class: "what" });
  const prio = h("span");
  const state = h("span", { class: "badge neutral" });
  const detail = h("div", { class: "detail" });
  const when = h("div", { class: "detail" });
  const actions = h("div", { class: "actions" });
  const command = h("div", { class: "command", role: "status" });
  el.append(h("div", { class: "line" }, prio, what, state), detail, when, actions, command);
  el.refs = { what, prio, state, detail, when, actions, command };
  return el;
}

/** "H", "HH", "Ceiling", "Fault: flatline": the alarm's kind as an operator names it. */
function kindLabel(kind) {
  const [family, name = ""] = String(kind ?? "").split(".", 2);
  if (family === "limit") return name.toUpperCase();
  if (family === "fault") return `Fault: ${name.replace(/_/g, " ")}`;
  const text = (name || family).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function updateAlarmCard(el, alarm, ctx) {
  const r = el.refs;
  const id = alarmId(alarm);
  el.dataset.alarmId = id;
  el.className = `alarm prio-${alarm.priority ?? "high"}${isUnacked(alarm) ? " unacked" : ""}`;
  setText(r.what, `${kindLabel(alarm.kind)} · ${alarm.point ?? id}`);
  if (r.prio.dataset.p !== (alarm.priority ?? "")) {
    r.prio.replaceChildren(priorityBadge(alarm.priority) ?? "");
    r.prio.dataset.p = alarm.priority ?? "";
  }
  setText(r.state, stateLabel(alarm.state));
  r.state.className = `badge ${isUnacked(alarm) ? "bad" : isShelved(alarm) ? "neutral" : "warn"}`;
  const parts = [];
  if (alarm.value !== undefined && alarm.value !== null) parts.push(`value ${fmtNumber(alarm.value)}`);
  if (alarm.limit !== undefined && alarm.limit !== null) parts.push(`limit ${fmtNumber(alarm.limit)}`);
  parts.push(alarm.message || id);
  setText(r.detail, parts.join(" · "));
  const since = alarm.raised_at ?? alarm.last_at;
  const times = [];
  if (since) times.push(`raised ${fmtTime(since)} (${fmtAge(since)})`);
  if (alarm.acked && alarm.acked_at) times.push(`acked ${fmtTime(alarm.acked_at)}`);
  if (alarm.shelved_until) times.push(`shelved until ${fmtTime(alarm.shelved_until)}`);
  if (alarm.last_actor) times.push(`last ${alarm.last_transition ?? "action"} by ${alarm.last_actor}`);
  setText(r.when, times.join(" · "));
  renderActions(el, alarm, ctx);
  const cmd = commands.get(id);
  setText(r.command, cmd ? cmd.text : "");
  r.command.className = `command ${cmd?.failed ? "error" : "muted"}`;
}

// Who may do what (central's permission matrix): acknowledge, reset and comment are routine
// operator actions (alarms:act); shelving takes an alarm out of view and is alarms:manage.
function renderActions(el, alarm, ctx) {
  const r = el.refs;
  // A sensor fault clears itself when the sensor recovers: nothing to act on.
  const fault = alarm.category === "fault";
  const mayAct = !fault && ctx.can("alarms", "act");
  const mayManage = !fault && ctx.can("alarms", "manage");
  const unacked = isUnacked(alarm);
  const shelved = isShelved(alarm);
  const resettable = alarm.state === "latched_acked";
  const signature = `${mayAct}|${mayManage}|${unacked}|${shelved}|${resettable}`;
  if (r.actions.dataset.signature === signature) return;
  r.actions.dataset.signature = signature;
  const id = alarmId(alarm);
  const buttons = [];
  if (mayAct && unacked) buttons.push(button("Acknowledge", "ack", () => sendAction(id, "ack", {}, ctx)));
  if (mayAct && resettable) buttons.push(button("Reset", "reset", () => sendAction(id, "reset", {}, ctx)));
  if (mayManage && shelved) buttons.push(button("Unshelve", "unshelve", () => sendAction(id, "unshelve", {}, ctx)));
  if (mayManage && !shelved) buttons.push(button("Shelve…", "shelve", () => shelveDialog(id, ctx)));
  if (mayAct) buttons.push(button("Comment…", "comment", () => commentDialog(id, ctx)));
  r.actions.replaceChildren(...buttons);
  r.actions.hidden = buttons.length === 0;
}

/** A button that stays disabled while its action runs: one click, one command. */
function button(text, action, run) {
  const el = h("button", { type: "button", dataset: { action }, text });
  el.addEventListener("click", async () => {
    el.disabled = true;
    try {
      await run();
    } finally {
      el.disabled = false;
    }
  });
  return el;
}

function showCommand(id, text, failed = false) {
  commands.set(id, { text, failed });
  for (const el of document.querySelectorAll(".alarm")) {
    if (el.dataset.alarmId === id) {
      setText(el.refs.command, text);
      el.refs.command.className = `command ${failed ? "error" : "muted"}`;
    }
  }
}

const VERBS = { ack: "acknowledge", reset: "reset", shelve: "shelve", unshelve: "unshelve", comment: "comment" };

/** POST the action, then follow its command until the edge agent has answered. */
export async function sendAction(id, action, body, ctx) {
  showCommand(id, `${VERBS[action]}: sending…`);
  let answer;
  try {
    answer = await post(`/alarms/${idPath(id)}/${action}`, body);
  } catch (exc) {
    showCommand(id, `${VERBS[action]} refused: ${exc.message}`, true);
    toast(`Could not ${VERBS[action]}: ${exc.message}`);
    return;
  }
  toast(`${VERBS[action]}: sent to the plant`);
  await follow(id, action, answer, ctx);
}

async function follow(id, action, answer, ctx) {
  let status = answer?.status ?? "pending";
  const commandId = answer?.command_id;
  showCommand(id, `${VERBS[action]}: ${status}`);
  if (!commandId) return;
  const deadline = Date.now() + COMMAND_WAIT_MS;
  while (!["done", "failed"].includes(status) && Date.now() < deadline) {
    try {
      await sleep(COMMAND_POLL_MS, ctx.signal);
    } catch {
      return; // the view closed
    }
    try {
      const cmd = await get(`/commands/${encodeURIComponent(commandId)}`, null, { signal: ctx.signal });
      status = cmd.status;
      const message = cmd.result_message ? ` (${cmd.result_message})` : "";
      showCommand(id, `${VERBS[action]}: ${status}${message}`, status === "failed");
    } catch (exc) {
      if (exc instanceof ApiError && exc.status !== 0) {
        showCommand(id, `${VERBS[action]}: ${exc.message}`, true);
        return;
      }
    }
  }
  if (!["done", "failed"].includes(status)) {
    showCommand(id, `${VERBS[action]}: still ${status}; the agent has not answered yet`, true);
  }
}

// --- dialogs -------------------------------------------------------------------------------

function dialog(title, fields, submitText, onSubmit) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { text: title }),
    fields,
    error,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", value: "cancel", text: "Cancel", onclick: () => dlg.close() }),
      h("button", { type: "submit", class: "primary", text: submitText }),
    ),
  );
  const dlg = h("dialog", {}, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const problem = onSubmit(new FormData(form));
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    dlg.close();
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

export function shelveDialog(id, ctx) {
  dialog(
    `Shelve ${id}`,
    [
      h("label", { for: "shelve-reason", text: "Reason (required)" }),
      h("input", { id: "shelve-reason", name: "reason", required: true, maxlength: 500 }),
      h("label", { for: "shelve-minutes", text: "For how many minutes" }),
      h("input", {
        id: "shelve-minutes",
        name: "minutes",
        type: "number",
        min: 1,
        max: MAX_SHELVE_MIN,
        step: 1,
        value: 60,
        required: true,
      }),
    ],
    "Shelve",
    (data) => {
      const reason = String(data.get("reason") ?? "").trim();
      const minutes = Number(data.get("minutes"));
      if (!reason) return "Give a reason: shelving is recorded with it.";
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_SHELVE_MIN) {
        return `Minutes must be a whole number from 1 to ${MAX_SHELVE_MIN}.`;
      }
      sendAction(id, "shelve", { reason, minutes }, ctx);
      return null;
    },
  );
}

export function commentDialog(id, ctx) {
  dialog(
    `Comment on ${id}`,
    [
      h("label", { for: "comment-text", text: "Comment" }),
      h("textarea", { id: "comment-text", name: "text", required: true, maxlength: 2000, rows: 4 }),
    ],
    "Add comment",
    (data) => {
      const text = String(data.get("text") ?? "").trim();
      if (!text) return "Write the comment first.";
      sendAction(id, "comment", { text }, ctx);
      return null;
    },
  );
}
