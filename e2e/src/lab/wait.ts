/** Polls until pred() holds; rejects with `what` after the deadline (a guard, not a timing assertion). */
export async function waitFor(pred: () => boolean, what: string, deadlineMs = 10000, everyMs = 20): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
