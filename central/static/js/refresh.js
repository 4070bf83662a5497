// Periodic refresh of a view: one call at a time (never overlapping a slow answer), paused while
// the tab is hidden, stopped for good when the view's AbortSignal fires (navigation, logout).

/**
 * Run `task()` now and then every `intervalMs` after each run ends, until `signal` aborts.
 * A failing task is reported to `onError` and retried at the next tick. Returns `now()`, which
 * runs the task at once (a filter changed), or right after the run under way: never beside it,
 * so an older answer cannot land after a newer one.
 */
export function every(intervalMs, task, signal, onError = () => {}) {
  let timer = null;
  let running = false;
  let again = false;

  async function tick() {
    timer = null;
    again = false;
    if (signal.aborted) return;
    if (document.hidden) return; // resumed by visibilitychange
    running = true;
    try {
      await task();
    } catch (exc) {
      if (!signal.aborted) onError(exc);
    } finally {
      running = false;
    }
    if (!signal.aborted && !document.hidden) timer = setTimeout(tick, again ? 0 : intervalMs);
  }

  function now() {
    if (running) {
      again = true;
      return;
    }
    if (timer !== null) clearTimeout(timer);
    tick();
  }

  function onVisibility() {
    if (!document.hidden && timer === null && !running) tick();
  }

  document.addEventListener("visibilitychange", onVisibility);
  signal.addEventListener("abort", () => {
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  });
  tick();
  return now;
}

/** Resolve after `ms`, or reject when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
