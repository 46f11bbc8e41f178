// How Espruino prints values: console.log of a non-string, REPL results ("=..."), and the
// "Uncaught ..." line of an exception nobody caught. The simulator and `npm start` share it so
// that what a user sees matches the serial console of a real board.

/**
 * Espruino-like printing of a value.
 * @param quote quote strings (nested values, REPL results)
 */
export function format(v: any, quote?: boolean): string {
  const seen = new Set<object>();
  const f = (x: any, q: boolean): string => {
    if (typeof x === "string") return q ? JSON.stringify(x) : x;
    if (x === undefined || x === null || typeof x !== "object") {
      if (typeof x === "function") return "function () { [native code] }";
      return String(x);
    }
    if (seen.has(x)) return "~";
    seen.add(x);
    let r;
    if (
      ArrayBuffer.isView(x) ||
      x instanceof ArrayBuffer ||
      Object.prototype.toString.call(x) === "[object ArrayBuffer]"
    ) {
      const u = ArrayBuffer.isView(x) ? x : new Uint8Array(x);
      r = "new " + Object.prototype.toString.call(x).slice(8, -1) + "([" + Array.prototype.join.call(u, ", ") + "])";
    } else if (Array.isArray(x)) {
      r = x.length ? "[ " + x.map((e) => f(e, true)).join(", ") + " ]" : "[ ]";
    } else if (Object.prototype.toString.call(x) === "[object Error]") {
      r = x.name + ": " + x.message;
    } else {
      const k = Object.keys(x);
      r = k.length ? "{ " + k.map((n) => JSON.stringify(n) + ": " + f(x[n], true)).join(", ") + " }" : "{ }";
    }
    seen.delete(x);
    return r;
  };
  return f(v, !!quote);
}

/**
 * Where in app.js an error was thrown, or ''. The firmware runs the Storage file app.js with the
 * bundle's only eval (its footer), so a stack frame inside eval'd code is app.js; that frame's
 * `<anonymous>:line:col` is the position in the file.
 */
export function appOrigin(e: any): string {
  const stack = e && typeof e === "object" && typeof e.stack === "string" ? e.stack : "";
  const m =
    /\(eval at [^\n]*?<anonymous>:(\d+):(\d+)\)/.exec(stack) || /eval at [^\n]*?<anonymous>:(\d+):(\d+)/.exec(stack);
  return m ? " (in app.js, line " + m[1] + " col " + m[2] + ")" : "";
}

/** How Espruino prints an uncaught exception; errors from app.js say so. */
export function uncaught(e: any): string {
  if (e && typeof e === "object" && typeof e.message === "string")
    return "Uncaught " + (e.name || "Error") + ": " + e.message + appOrigin(e);
  return "Uncaught " + format(e, true);
}
