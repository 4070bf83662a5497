// Building the DOM from API data, safely: text always goes through textContent, never markup,
// so a point name or a comment cannot inject script (and the CSP would refuse it anyway).

/** `h("a", {href, class, text, onclick}, ...children)`: an element; children are nodes or text. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "style") {
      throw new Error("style attributes are refused by the page's CSP: use a class");
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace `el`'s text only when it changed (no needless layout on every refresh). */
export function setText(el, text) {
  const value = String(text ?? "");
  if (el.textContent !== value) el.textContent = value;
}

/**
 * Keyed update of a container's children: `items` in order, one child per `key(item)`, built by
 * `create(item)` once and refreshed by `update(el, item)`. Children of vanished keys go away.
 * Focus and open dialogs survive a refresh, which a rebuild would lose.
 */
export function syncChildren(container, items, key, create, update) {
  const existing = new Map();
  for (const child of container.children) {
    if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
  }
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (el) existing.delete(k);
    else {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    const expected = previous ? previous.nextElementSibling : container.firstElementChild;
    if (expected !== el) container.insertBefore(el, expected);
    previous = el;
  }
  for (const el of existing.values()) el.remove();
}

// --- formatting --------------------------------------------------------------------------

const DASH = "—";

export function fmtNumber(value, { digits } = {}) {
  if (value === null || value === undefined || Number.isNaN(value)) return DASH;
  if (typeof value !== "number") return String(value);
  const abs = Math.abs(value);
  const fraction = digits ?? (abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3);
  return value.toLocaleString(undefined, { maximumFractionDigits: fraction });
}

export function fmtPercent(value, { fraction = false } = {}) {
  if (value === null || value === undefined) return DASH;
  return `${fmtNumber(fraction ? value * 100 : value, { digits: 1 })} %`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  const s = Math.abs(seconds);
  if (s < 90) return `${fmtNumber(seconds, { digits: s < 10 ? 1 : 0 })} s`;
  if (s < 5400) return `${fmtNumber(seconds / 60, { digits: 0 })} min`;
  if (s < 172800) return `${fmtNumber(seconds / 3600, { digits: 1 })} h`;
  return `${fmtNumber(seconds / 86400, { digits: 1 })} d`;
}

const TIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

/** An ISO timestamp in the browser's time zone (central stores and answers UTC). */
export function fmtTime(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : TIME.format(date);
}

export function fmtAge(iso, now = Date.now()) {
  if (!iso) return DASH;
  const seconds = (now - new Date(iso).getTime()) / 1000;
  return Number.isFinite(seconds) ? `${fmtDuration(Math.max(0, seconds))} ago` : DASH;
}

/** A machine name (`points_in_alarm`) as words, for fields the page has no label for. */
export function words(key) {
  const text = String(key).replace(/_/g, " ").replace(/\bpct\b/, "%");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A value of unknown shape from the API: numbers localized, times formatted, objects as JSON. */
export function fmtAny(key, value) {
  if (value === null || value === undefined) return DASH;
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (/(_pct|_percent|percent)$/.test(key)) return fmtPercent(value);
    if (/(_fill|_ratio|_fraction)$/.test(key)) return fmtPercent(value, { fraction: true });
    if (/_s$/.test(key)) return fmtDuration(value);
    return fmtNumber(value);
  }
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return fmtTime(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// --- tables -----------------------------------------------------------------------------

/**
 * A table whose rows stack into label/value cards on a narrow screen (CSS uses `data-label`).
 * `columns`: [{key, label, cell?(row) -> Node|string, num?}]; without `cell`, `fmtAny`.
 */
export function dataTable(columns, rows, { empty = "Nothing to show." } = {}) {
  if (!rows.length) return h("p", { class: "muted", text: empty });
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c.label ?? words(c.key) })));
  const body = rows.map((row) =>
    h(
      "tr",
      {},
      columns.map((c) =>
        h(
          "td",
          { "data-label": c.label ?? words(c.key), class: c.num ? "num" : undefined },
          c.cell ? c.cell(row) : fmtAny(c.key, row[c.key]),
        ),
      ),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", { class: "data" }, h("thead", {}, head), h("tbody", {}, body)));
}

export function banner(kind, text) {
  return h("div", { class: `banner ${kind}`, role: kind === "error" ? "alert" : "status", text });
}

/** Save a fetched file (a report) under `name`, from a short-lived blob URL. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

let toastTimer = null;

/** A short message at the bottom of the screen (an action's outcome). */
export function toast(text) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 4000);
}

/** `<select>` of `options` ([value, label]) with `value` selected. */
export function select(name, options, value, props = {}) {
  return h(
    "select",
    { name, ...props },
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? ""), text: label })),
  );
}

/** Milliseconds `timeZone` is ahead of UTC at the instant `ms`. */
function zoneOffsetMs(ms, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const n = Object.fromEntries(parts.filter((p) => p.type !== "literal").map((p) => [p.type, Number(p.value)]));
  return Date.UTC(n.year, n.month - 1, n.day, n.hour, n.minute, n.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The ISO instant a `<input type=date>` day (plus `addDays`) starts: midnight in `timeZone`
 * (an IANA name: a plant's compliance days are its own), else in the browser's zone.
 */
export function dayStartIso(value, addDays = 0, timeZone = null) {
  if (!value) return undefined;
  const [y, m, d] = value.split("-").map(Number);
  if (!timeZone) return new Date(y, m - 1, d + addDays).toISOString();
  const wall = Date.UTC(y, m - 1, d + addDays);
  let ms = wall - zoneOffsetMs(wall, timeZone);
  ms = wall - zoneOffsetMs(ms, timeZone); // again, in case a DST change lies in between
  return new Date(ms).toISOString();
}

/** `<input type=date>` value of a Date, in local time. */
export function dateInputValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
