/** Polls until f() gives a value (not undefined or false); rejects with `what` after the deadline
 * (a guard, not a timing assertion). `what` may be a function: it is called only on a time-out, so
 * it can describe the state at that moment. */
export async function waitForValue<T>(
  f: () => T | undefined | false | Promise<T | undefined | false>,
  what: string | (() => string),
  deadlineMs = 10000,
  everyMs = 20,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end)
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls until pred() holds; rejects with `what` after the deadline (a guard, not a timing assertion). */
export async function waitFor(
  pred: () => boolean,
  what: string | (() => string),
  deadlineMs = 10000,
  everyMs = 20,
): Promise<void> {
  await waitForValue(pred, what, deadlineMs, everyMs);
}
