// setTimeout / setInterval / clearTimeout / changeInterval as Espruino 2v29 has them: ids are
// small integers that get reused (a stale handle cancels someone else's timer), clearTimeout()
// with no argument clears every timer, clearTimeout(undefined) throws, and an unknown id is
// ignored. Delays are divided by the time scale.
import vm from "node:vm";
import type { Core } from "./core";

interface Timer {
  h: any;
  repeat: boolean;
  run: () => void;
}

export function createTimers(core: Core) {
  const timers = new Map<number, Timer>();

  function add(fn: any, ms: any, args: any[], repeat: boolean) {
    if (typeof fn !== "function" && typeof fn !== "string") throw core.err("Function or String not supplied!");
    let id = 1;
    for (const k of timers.keys()) if (k >= id) id = k + 1;
    const g = core.gen;
    const run = () => {
      if (!repeat) timers.delete(id);
      if (typeof fn === "string") core.call(g, () => vm.runInContext(fn, core.ctx), undefined, []);
      else core.call(g, fn, undefined, args);
    };
    const d = Math.max(0, (Number(ms) || 0) / core.timeScale);
    timers.set(id, { h: repeat ? setInterval(run, Math.max(1, d)) : setTimeout(run, d), repeat, run });
    return id;
  }

  /** clearTimeout / clearInterval with the device's `arguments`. */
  function clear(a: IArguments, name: string) {
    if (a.length === 0) {
      for (const t of timers.values()) clearTimeout(t.h);
      timers.clear();
      return;
    }
    if (a[0] === undefined) throw core.err("clear" + name + "(undefined) not allowed. Use clear" + name + "() instead");
    const id = Number(a[0]);
    const t = timers.get(id);
    if (t) {
      clearTimeout(t.h);
      timers.delete(id);
    }
  }

  function change(id: any, ms: any) {
    const t = timers.get(Number(id));
    if (!t?.repeat) throw core.err("Unknown Interval");
    // Re-create the interval with the new period, keeping its id.
    clearInterval(t.h);
    t.h = setInterval(t.run, Math.max(1, (Number(ms) || 0) / core.timeScale));
  }

  /** Stops every timer (reboot, close). */
  function drop() {
    for (const t of timers.values()) clearTimeout(t.h);
    timers.clear();
  }

  /** The device's globals for timers. */
  const globals = {
    setTimeout: (f: any, ms: any, ...a: any[]) => add(f, ms, a, false),
    setInterval: (f: any, ms: any, ...a: any[]) => add(f, ms, a, true),
    clearTimeout: function () {
      clear(arguments, "Timeout");
    },
    clearInterval: function () {
      clear(arguments, "Interval");
    },
    changeInterval: change,
  };

  return { globals, drop, count: () => timers.size };
}
