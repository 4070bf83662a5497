// The login form: OAuth2 password grant against /api/v1/auth/token, token into sessionStorage,
// then back to the view the user was on (remembered when a 401 sent them here).

import { API_PREFIX, startSession, takeNext } from "./api.js";

const form = document.getElementById("login");
const error = document.getElementById("login-error");

function fail(text) {
  error.textContent = text;
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const data = new FormData(form);
  const body = new URLSearchParams({
    grant_type: "password",
    username: String(data.get("username") ?? ""),
    password: String(data.get("password") ?? ""),
  });
  try {
    const resp = await fetch(API_PREFIX + "/auth/token", {
      method: "POST",
      body,
      cache: "no-store",
      credentials: "omit",
      signal: AbortSignal.timeout(20000),
    });
    if (resp.status === 401) {
      fail("Incorrect user name or password.");
      return;
    }
    if (!resp.ok) {
      const detail = await resp.json().catch(() => null);
      fail(detail?.detail ?? `Central refused the login (HTTP ${resp.status}).`);
      return;
    }
    const answer = await resp.json();
    startSession(answer.access_token);
    form.reset();
    location.replace("/" + takeNext());
  } catch {
    fail("Central did not answer. Check the connection and try again.");
  } finally {
    button.disabled = false;
  }
});
