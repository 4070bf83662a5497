// Compliance: a plant's evidence ledger over a period (each exposure limit of its limit set
// against the day's readings, the exceedances with their evidence, the agents' own exposure
// judgements, what was not evaluated),
// and the report as CSV or HTML. Downloads go through fetch with the bearer token (never a
// token in a link) and are saved from a blob URL.

import { get, plantChoices, request } from "../api.js";
import { banner, dataTable, dateInputValue, dayStartIso, fmtNumber, fmtTime, h, saveBlob, select, setText } from "../dom.js";

const DAY_MS = 86400000;

function verdict(ledger) {
  if (ledger.compliant === null || ledger.compliant === undefined) {
    return h("span", { class: "badge neutral", text: "no limit set" });
  }
  return ledger.compliant
    ? h("span", { class: "badge ok", text: "compliant" })
    : h("span", { class: "badge bad", text: "not compliant" });
}

function header(ledger) {
  const set = ledger.limit_set;
  const rows = [
    ["Plant", `${ledger.plant} · region ${ledger.region}`],
    ["Period", `${fmtTime(ledger.start)} – ${fmtTime(ledger.end)} (${ledger.days} days, ${ledger.timezone})`],
    ["Limit set", set ? `${set.name} (${set.id}, ${set.jurisdiction})` : "none: the plant names no limit set"],
    ["Points evaluated", String(ledger.points?.length ?? 0)],
  ];
  return h(
    "div",
    { class: "panel" },
    h("div", { class: "card-head" }, h("h2", { text: "Ledger" }), verdict(ledger)),
    h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])),
    ledger.computed ? h("p", { class: "muted small", text: ledger.computed }) : null,
  );
}

const limitText = (l) => `${l.kind.toUpperCase()} ${fmtNumber(l.value)} ${l.unit} (${l.basis.replace("_", " ")})`;

function exceedances(ledger) {
  return h(
    "section",
    { class: "panel" },
    h("h2", { text: "Exceedances" }),
    dataTable(
      [
        { key: "date", label: "Day" },
        { key: "point", label: "Point" },
        { key: "kind", label: "Limit", cell: (e) => `${e.kind.toUpperCase()} ${fmtNumber(e.limit)} ${e.unit}` },
        { key: "observed", label: "Observed", num: true, cell: (e) => `${fmtNumber(e.observed)} ${e.unit}` },
        { key: "readings_over", label: "Readings over", num: true },
        { key: "thinned_over", label: "Thinned minutes over", num: true, cell: (e) => String(e.thinned_over ?? 0) },
        { key: "calibration_status", label: "Calibration" },
      ],
      ledger.exceedances ?? [],
      { empty: "No limit was exceeded in this period." },
    ),
  );
}

// What the agents judged from every reading (STEL, shift TWA, noise dose): central cannot
// recompute those from daily figures.
function exposureFindings(ledger) {
  const rows = ledger.exposure_findings ?? [];
  const more = ledger.exposure_findings_truncated ? " (the first ones)" : "";
  return h(
    "section",
    { class: "panel" },
    h("h2", { text: "Exposure as judged by the agents" }),
    h("p", { class: "muted small", text: `${ledger.exposure_exceedance_count ?? 0} exposure limit(s) exceeded${more}` }),
    dataTable(
      [
        { key: "date", label: "Day" },
        { key: "point", label: "Point" },
        { key: "kind", label: "Kind" },
        { key: "judged", label: "Judged", cell: (f) => (f.exceeded ? `${f.judged} (over the limit)` : f.judged) },
        { key: "value", label: "Value", num: true, cell: (f) => `${fmtNumber(f.value)} / ${fmtNumber(f.limit)} ${f.unit}` },
        { key: "coverage", label: "Coverage", num: true, cell: (f) => (f.coverage == null ? "" : `${Math.round(f.coverage * 100)} %`) },
      ],
      rows,
      { empty: "No exposure alarm or shift report from the agents in this period." },
    ),
  );
}

function pointSection(point) {
  return h(
    "section",
    { class: "panel ledger-point" },
    h("h3", { text: point.point }),
    h(
      "p",
      { class: "muted small" },
      [point.quantity, point.area && `area ${point.area}`, point.calibration_due && `calibration due ${point.calibration_due}`]
        .filter(Boolean)
        .join(" · "),
    ),
    h("p", { class: "small", text: point.limits.length ? point.limits.map(limitText).join("; ") : "no limit applies" }),
    dataTable(
      [
        { key: "date", label: "Day" },
        { key: "samples", label: "Samples", num: true },
        { key: "mean", label: `Mean (${point.unit})`, num: true, cell: (d) => fmtNumber(d.mean) },
        { key: "max", label: `Max (${point.unit})`, num: true, cell: (d) => fmtNumber(d.max) },
        { key: "exceedances", label: "Exceedances", num: true },
      ],
      point.days ?? [],
      { empty: "No readings in this period." },
    ),
  );
}

function notEvaluated(ledger) {
  const rows = ledger.not_evaluated ?? [];
  if (!rows.length) return null;
  return h(
    "section",
    { class: "panel" },
    h("h2", { text: "Not evaluated here" }),
    dataTable(
      [
        { key: "point", label: "Point", cell: (r) => r.point ?? "(all)" },
        { key: "quantity", label: "Quantity" },
        { key: "reason", label: "Why" },
      ],
      rows,
    ),
  );
}

export async function render(ctx) {
  const { root, signal, can } = ctx;
  const notice = h("div");
  const body = h("div");
  const status = h("p", { class: "muted small", role: "status" });
  const form = h("form", { class: "filters" });
  root.append(h("div", { class: "page-head" }, h("h1", { text: "Compliance" })), form, notice, status, body);

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
    h("label", {}, "From", h("input", { type: "date", name: "start", value: dateInputValue(new Date(today - 7 * DAY_MS)), required: true })),
    h("label", {}, "To (inclusive)", h("input", { type: "date", name: "end", value: dateInputValue(today), required: true })),
    h("button", { type: "submit", class: "primary", text: "Show" }),
    exporting ? h("button", { type: "button", dataset: { format: "csv" }, text: "Download CSV" }) : null,
    exporting ? h("button", { type: "button", dataset: { format: "html" }, text: "Download HTML" }) : null,
  );

  // A plant's compliance days run midnight to midnight in its own time zone.
  const zones = new Map();
  async function zoneOf(plant) {
    if (!zones.has(plant)) {
      const detail = await get(`/plants/${encodeURIComponent(plant)}`, null, { signal });
      zones.set(plant, detail.timezone ?? null);
    }
    return zones.get(plant);
  }

  async function query() {
    const data = new FormData(form);
    const plant = String(data.get("plant"));
    const zone = await zoneOf(plant);
    return {
      plant,
      start: dayStartIso(String(data.get("start")), 0, zone),
      end: dayStartIso(String(data.get("end")), 1, zone),
    };
  }

  async function show() {
    setText(status, "loading…");
    try {
      const ledger = await get("/compliance/ledger", await query(), { signal });
      if (signal.aborted) return;
      notice.replaceChildren();
      body.replaceChildren(
        header(ledger),
        exceedances(ledger),
        exposureFindings(ledger),
        ...(ledger.points ?? []).map(pointSection),
        notEvaluated(ledger) ?? "",
      );
      setText(status, "");
    } catch (exc) {
      if (signal.aborted) return;
      setText(status, "");
      notice.replaceChildren(banner("error", `Could not load the ledger: ${exc.message}`));
    }
  }

  async function download(format) {
    setText(status, `preparing the ${format.toUpperCase()} report…`);
    try {
      const q = await query();
      const blob = await request("GET", "/compliance/report", { params: { ...q, format }, as: "blob", signal });
      const day = String(new FormData(form).get("start"));
      saveBlob(blob, `compliance-${q.plant}-${day}.${format}`);
      setText(status, `${format.toUpperCase()} report saved`);
    } catch (exc) {
      if (signal.aborted) return;
      setText(status, "");
      notice.replaceChildren(banner("error", `Could not build the report: ${exc.message}`));
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
