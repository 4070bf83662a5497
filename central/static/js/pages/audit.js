// Audit log (admins and auditors): who did what, when, filtered by user, action, period and
// exports; the period as CSV for those who may export it (an export that is itself audited).
// The filters stay in the page, not in the URL: a user name is personal data.

import { get, request } from "../api.js";
import { banner, dataTable, dateInputValue, dayStartIso, fmtTime, h, saveBlob, setText } from "../dom.js";

const DAY_MS = 86400000;

const COLUMNS = [
  { key: "ts", label: "When", cell: (e) => fmtTime(e.ts) },
  { key: "actor", label: "Who", cell: (e) => `${e.actor}${e.role ? ` (${e.role})` : ""}` },
  { key: "action", label: "Action" },
  { key: "plant", label: "Plant", cell: (e) => e.plant ?? "—" },
  {
    key: "records",
    label: "Records",
    cell: (e) => {
      const shown = (e.records ?? []).slice(0, 3).join(", ");
      const more = e.record_count > 3 ? ` … (${e.record_count})` : "";
      return shown + more || String(e.record_count ?? 0);
    },
  },
  { key: "flags", label: "Flags", cell: (e) => [e.export && "export", e.out_of_hours && "out of hours"].filter(Boolean).join(", ") || "—" },
  { key: "client_ip", label: "From", cell: (e) => e.client_ip ?? "—" },
];

export async function render(ctx) {
  const { root, signal, can } = ctx;
  const notice = h("div");
  const status = h("p", { class: "muted small", role: "status" });
  const table = h("div");
  const more = h("button", { type: "button", text: "Older entries", hidden: true });
  const today = new Date();
  const form = h(
    "form",
    { class: "filters", role: "search" },
    h("label", {}, "User", h("input", { name: "actor", maxlength: 120, autocomplete: "off" })),
    h("label", {}, "Action", h("input", { name: "action", maxlength: 64, autocomplete: "off", placeholder: "e.g. personnel.*" })),
    h("label", {}, "From", h("input", { type: "date", name: "start", value: dateInputValue(new Date(today - 7 * DAY_MS)) })),
    h("label", {}, "To (inclusive)", h("input", { type: "date", name: "end", value: dateInputValue(today) })),
    h("label", { class: "inline" }, h("input", { type: "checkbox", name: "export", value: "true" }), " exports only"),
    h("button", { type: "submit", class: "primary", text: "Search" }),
    can("audit", "export") ? h("button", { type: "button", text: "Download CSV", onclick: () => download() }) : null,
  );
  root.append(h("div", { class: "page-head" }, h("h1", { text: "Audit log" })), form, notice, status, table, more);

  let rows = [];
  let cursor = null;

  function period() {
    const data = new FormData(form);
    return {
      start: dayStartIso(String(data.get("start") ?? "")),
      end: dayStartIso(String(data.get("end") ?? ""), 1),
    };
  }

  async function download() {
    const { start, end } = period();
    setText(status, "preparing the CSV…");
    try {
      const blob = await request("GET", "/audit/export", { params: { start, end, format: "csv" }, as: "blob", signal });
      saveBlob(blob, `audit-${(start ?? "all").slice(0, 10)}.csv`);
      setText(status, "CSV saved (the export itself is audited)");
    } catch (exc) {
      if (signal.aborted) return;
      setText(status, "");
      notice.replaceChildren(banner("error", `Could not export: ${exc.message}`));
    }
  }

  async function load(append) {
    const data = new FormData(form);
    const params = {
      ...period(),
      actor: String(data.get("actor") ?? "").trim(),
      action: String(data.get("action") ?? "").trim(),
      export: data.get("export") ? "true" : undefined,
      cursor: append ? cursor : undefined,
    };
    setText(status, "loading…");
    try {
      const answer = await get("/audit", params, { signal });
      if (signal.aborted) return;
      notice.replaceChildren();
      rows = append ? rows.concat(answer.entries ?? []) : (answer.entries ?? []);
      cursor = answer.next_cursor ?? null;
      more.hidden = !cursor;
      table.replaceChildren(dataTable(COLUMNS, rows, { empty: "No audit entries match." }));
      setText(status, `${rows.length} entries${cursor ? " (more available)" : ""}`);
    } catch (exc) {
      if (signal.aborted) return;
      setText(status, "");
      notice.replaceChildren(banner("error", `Could not load the audit log: ${exc.message}`));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener("click", () => load(true));
  await load(false);
}
