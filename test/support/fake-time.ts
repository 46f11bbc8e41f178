// Fake Espruino timers with a virtual clock, shared by the unit tests.
// Espruino traps reproduced (docs/ESPRUINO.md): clearTimeout(undefined) throws, clearTimeout()
// with no argument clears every timer (so it throws here), and a handle can be reused once its
// timer fired, so clearing a handle that is not pending would cancel someone else's timer:
// that throws here too.
export interface FakeTimers {
  readonly now: number;
  /** Pending timers by handle: when they fire (virtual ms) and the delay they were set with. */
  pending: Map<number, { at: number; ms: number; fn: (...args: any[]) => void; args: any[] }>;
  /** setTimeout(fn, ms, ...args): fn(...args) after ms */
  set(fn: (...args: any[]) => void, ms: number, ...args: any[]): number;
  clear(handle?: any): void;
  /** Moves the clock ms forward, running every timer that falls due, in time order. */
  advance(ms: number): void;
  /** Runs the earliest pending timer (moving the clock to it); false if none is pending. */
  runNext(): boolean;
}

export function fakeTimers(start = 0): FakeTimers {
  let now = start,
    lastHandle = 0;
  const pending: FakeTimers["pending"] = new Map();
  const earliest = (until: number) => {
    let handle = 0,
      timer: any = null;
    for (const [h, t] of pending)
      if (t.at <= until && (!timer || t.at < timer.at)) {
        handle = h;
        timer = t;
      }
    return timer ? { handle, timer } : null;
  };
  const run = (next: { handle: number; timer: any }) => {
    pending.delete(next.handle);
    now = next.timer.at;
    next.timer.fn(...next.timer.args);
  };
  return {
    get now() {
      return now;
    },
    pending,
    set(fn, ms, ...args) {
      if (typeof fn != "function" || !(ms >= 0)) throw new Error("bad set(" + typeof fn + ", " + ms + ")");
      pending.set(++lastHandle, { at: now + ms, ms, fn, args });
      return lastHandle;
    },
    clear(...args: any[]) {
      if (args.length == 0) throw new Error("clearTimeout() without argument clears every timer");
      if (args[0] == null) throw new Error("clearTimeout(undefined) is not allowed");
      if (!pending.delete(args[0])) throw new Error("clear of a handle that is not pending: " + args[0]);
    },
    advance(ms) {
      const end = now + ms;
      for (let next = earliest(end); next; next = earliest(end)) run(next);
      now = end;
    },
    runNext() {
      const next = earliest(Infinity);
      if (next) run(next);
      return !!next;
    },
  };
}
