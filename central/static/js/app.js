// The dashboard shell: checks the session, asks central who the user is (/me), draws the
// navigation the user's permissions allow, and shows one view at a time, chosen by the URL
// fragment (#/fleet, #/plant/<plant>, #/trend/<point>, #/alarms, #/compliance, #/audit).
// Leaving a view aborts its signal, which stops its refresh loop and its pending calls.

import { get, logout, token, toLogin } from "./api.js";
import { banner, h, setText } from "./dom.js";
import * as alarms from "./pages/alarms.js";
import * as audit from "./pages/audit.js";
import * as compliance from "./pages/compliance.js";
import * as fleet from "./pages/fleet.js";
import * as plant from "./pages/plant.js";
import * as trend from "./pages/trend.js";

/** Views by the first part of the fragment; `needs` is the permission that shows them. */
const VIEWS = {
  fleet: { page: fleet, title: "Fleet", needs: ["readings", "read"], nav: true },
  plant: { page: plant, title: "Plant", needs: ["readings", "read"] },
  trend: { page: trend, title: "Trend", needs: ["readings", "read"] },
  alarms: { page: alarms, title: "Alarms", needs: ["alarms", "read"], nav: true },
  compliance: { page: compliance, title: "Compliance", needs: ["compliance", "read"], nav: true },
  audit: { page: audit, title: "Audit log", needs: ["audit", "read"], nav: true },
};

let current = null;

function permits(me) {
  return (category, action) => (me.permissions?.[category] ?? []).includes(action);
}

function parseFragment(home) {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const name = parts[0] || home;
  let args;
  try {
    args = parts.slice(1).map(decodeURIComponent);
  } catch {
    args = [];
  }
  return { name, args };
}

function drawNav(me, can) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(
    ...Object.entries(VIEWS)
      .filter(([, view]) => view.nav && can(...view.needs))
      .map(([name, view]) => h("a", { href: `#/${name}`, dataset: { view: name }, text: view.title })),
  );
  setText(document.getElementById("who"), `${me.username} · ${String(me.role).replace(/_/g, " ")}`);
  document.getElementById("logout").addEventListener("click", () => logout());
}

/** The first view in the navigation the user may open (an auditor has no fleet view). */
function homeView(can) {
  return Object.keys(VIEWS).find((name) => VIEWS[name].nav && can(...VIEWS[name].needs)) ?? "fleet";
}

function show(me, can) {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const { name, args } = parseFragment(homeView(can));
  const main = document.getElementById("main");
  const view = VIEWS[name];
  for (const link of document.querySelectorAll("#nav a")) {
    const under = name === "plant" || name === "trend" ? "fleet" : name;
    const here = link.dataset.view === under;
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!view) {
    main.replaceChildren(banner("error", `There is no page "${name}".`));
    return;
  }
  if (!can(...view.needs)) {
    document.title = "Not permitted · HSE central";
    main.replaceChildren(
      h("h1", { text: view.title }),
      banner("error", `Your role (${me.role}) does not include ${view.needs.join(":")}.`),
    );
    main.dataset.view = "forbidden";
    return;
  }
  document.title = `${view.title} · HSE central`;
  main.dataset.view = name;
  const root = h("div", { class: `view view-${name}` });
  main.replaceChildren(root);
  const ctx = { root, me, can, args, signal: controller.signal };
  Promise.resolve(view.page.render(ctx)).catch((exc) => {
    if (!controller.signal.aborted) root.append(banner("error", exc.message));
  });
}

async function boot() {
  if (!token()) {
    toLogin();
    return;
  }
  let me;
  try {
    me = await get("/me");
  } catch (exc) {
    if (exc.status === 401) return; // already on the way to /login
    document.getElementById("main").replaceChildren(banner("error", `Cannot reach central: ${exc.message}`));
    return;
  }
  const can = permits(me);
  drawNav(me, can);
  window.addEventListener("hashchange", () => show(me, can));
  show(me, can);
}

boot();
