// Periodic refresh of a view: one call at a time (never overlapping a slow answer), paused while
// the tab is hidden, stopped for good when the view's AbortSignal fires (navigation, logout).

/**
 * Run `task()` now and then every `intervalMs` after each run ends, until `signal` aborts.
 * A failing task is reported to `onError` and retried at the next tick.
 */
export function every(intervalMs, task, signal, onError = () => {}) {
  let timer = null;
  let running = false;

  async function tick() {
    timer = null;
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
    if (!signal.aborted && !document.hidden) timer = setTimeout(tick, intervalMs);
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
