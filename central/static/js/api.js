// The dashboard's only way to central: fetch under /api/v1 with the user's bearer token.
//
// The token lives in sessionStorage (this tab only, gone when the tab closes) and never in a
// URL. Any 401 ends the session: the token is dropped and the browser goes to /login, which
// brings the user back to the same view afterwards.

export const API_PREFIX = "/api/v1";
const TOKEN_KEY = "hse.token";
const NEXT_KEY = "hse.next";
const TIMEOUT_MS = 20000;

export class ApiError extends Error {
  /** A refusal or failure of an API call: `status` (0 when unreachable) and central's detail. */
  constructor(status, error, detail) {
    super(detail || error || `HTTP ${status}`);
    this.status = status;
    this.error = error;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function startSession(accessToken) {
  sessionStorage.setItem(TOKEN_KEY, accessToken);
}

/** Where to go after logging in: a dashboard view (`#/...`) remembered at the 401, else none. */
export function takeNext() {
  const next = sessionStorage.getItem(NEXT_KEY) || "";
  sessionStorage.removeItem(NEXT_KEY);
  return /^#\/[\w\-./%]*$/.test(next) ? next : "";
}

/** Forget the token and show the login page (remembering the current view). */
export function toLogin() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (location.hash.startsWith("#/")) sessionStorage.setItem(NEXT_KEY, location.hash);
  location.replace("/login");
}

/** Revoke the token at central (best effort), clear the session and show the login page. */
export async function logout() {
  const current = token();
  sessionStorage.clear();
  if (current) {
    try {
      await fetch(API_PREFIX + "/auth/token", {
        method: "DELETE",
        headers: { Authorization: `Bearer ${current}` },
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      // The session is gone on this side either way; the token expires at central.
    }
  }
  location.replace("/login");
}

function buildUrl(path, params) {
  const url = new URL(API_PREFIX + path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

async function refusal(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // not JSON (a proxy's error page): the status says enough
  }
  return new ApiError(resp.status, body?.error, body?.detail || resp.statusText);
}

/**
 * One API call. `json` or `form` sets the body; `as` is "json" (default) or "blob".
 * Resolves with the parsed answer; rejects with ApiError. A 401 also ends the session.
 */
export async function request(method, path, { params, json, form, as = "json", signal } = {}) {
  const headers = { Accept: as === "json" ? "application/json" : "*/*" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  let resp;
  try {
    resp = await fetch(buildUrl(path, params), {
      method,
      headers,
      body,
      cache: "no-store",
      credentials: "omit",
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (exc) {
    if (signal?.aborted) throw exc;
    throw new ApiError(0, "unreachable", "central did not answer; retrying");
  }
  if (resp.status === 401 && current) {
    toLogin();
    throw new ApiError(401, "unauthenticated", "the session ended; log in again");
  }
  if (!resp.ok) throw await refusal(resp);
  if (as === "blob") return resp.blob();
  if (resp.status === 204) return null;
  return resp.json();
}

export const get = (path, params, options = {}) => request("GET", path, { ...options, params });
export const post = (path, json, options = {}) => request("POST", path, { ...options, json });

/** A path segment for an id that may hold slashes (point and alarm ids): each part encoded. */
export function idPath(id) {
  return String(id).split("/").map(encodeURIComponent).join("/");
}

/** The plants in the user's scope as `[key, label]` pairs, for a filter's `<select>`. */
export async function plantChoices(signal) {
  const data = await get("/plants", null, { signal });
  return (data.plants ?? []).map((p) => [p.plant, p.name && p.name !== p.plant ? `${p.name} (${p.plant})` : p.plant]);
}
