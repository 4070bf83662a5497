// Compliance: the evidence ledger of a plant over a period, and the report as CSV or HTML.
// Downloads go through fetch with the bearer token (never a token in a link) and are saved
// from a blob URL.

import { get, plantChoices, request } from "../api.js";
import { banner, columnsOf, dataTable, dateInputValue, dayStartIso, h, select, setText } from "../dom.js";

const DAY_MS = 86400000;

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function ledgerRows(answer) {
  if (Array.isArray(answer)) return answer;
  return answer.entries ?? answer.rows ?? answer.ledger ?? answer.items ?? [];
}

export async function render(ctx) {
  const { root, signal, can } = ctx;
  const notice = h("div");
  const summary = h("div");
  const table = h("div");
  const status = h("p", { class: "muted small", role: "status" });
  const form = h("form", { class: "filters" });
  root.append(h("div", { class: "page-head" }, h("h1", { text: "Compliance" })), form, notice, status, summary, table);

  let plants;
  try {
    plants = await plantChoices(signal);
  } catch (exc) {
    if (!signal.aborted) notice.replaceChildren(banner("error", `Could not list plants: ${exc.message}`));
    return;
  }
  if (signal.aborted) return;
  if (!plants.length) {
    notice.replaceChildren(banner("info", "No plant in your scope."));
    return;
  }
  const today = new Date();
  const exporting = can("compliance", "export");
  form.append(
    h("label", {}, "Plant", select("plant", plants, plants[0][0])),
    h("label", {}, "From", h("input", { type: "date", name: "start", value: dateInputValue(new Date(today - 30 * DAY_MS)), required: true })),
    h("label", {}, "To (inclusive)", h("input", { type: "date", name: "end", value: dateInputValue(today), required: true })),
    h("button", { type: "submit", class: "primary", text: "Show" }),
    exporting ? h("button", { type: "button", dataset: { format: "csv" }, text: "Download CSV" }) : null,
    exporting ? h("button", { type: "button", dataset: { format: "html" }, text: "Download HTML" }) : null,
  );

  function query() {
    const data = new FormData(form);
    return {
      plant: String(data.get("plant")),
      start: dayStartIso(String(data.get("start"))),
      end: dayStartIso(String(data.get("end")), 1),
    };
  }

  async function show() {
    const q = query();
    setText(status, "loading…");
    try {
      const answer = await get("/compliance/ledger", q, { signal });
      if (signal.aborted) return;
      notice.replaceChildren();
      const rows = ledgerRows(answer);
      const extra = Array.isArray(answer) ? {} : Object.fromEntries(Object.entries(answer).filter(([, v]) => !Array.isArray(v) && (v === null || typeof v !== "object")));
      summary.replaceChildren(
        Object.keys(extra).length ? dataTable(columnsOf([extra]), [extra]) : "",
      );
      table.replaceChildren(dataTable(columnsOf(rows), rows, { empty: "No ledger entries in this period." }));
      setText(status, `${rows.length} entries`);
    } catch (exc) {
      if (signal.aborted) return;
      setText(status, "");
      notice.replaceChildren(banner("error", `Could not load the ledger: ${exc.message}`));
    }
  }

  async function download(format) {
    const q = query();
    setText(status, `preparing the ${format.toUpperCase()} report…`);
    try {
      const blob = await request("GET", "/compliance/report", { params: { ...q, format }, as: "blob", signal });
      save(blob, `compliance-${q.plant}-${q.start.slice(0, 10)}.${format}`);
      setText(status, `${format.toUpperCase()} report saved`);
    } catch (exc) {
      if (!signal.aborted) notice.replaceChildren(banner("error", `Could not build the report: ${exc.message}`));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  for (const b of form.querySelectorAll("button[data-format]")) {
    b.addEventListener("click", () => download(b.dataset.format));
  }
  await show();
}
