// Espruino's own JSON dialect, as Storage.writeJSON writes it and Storage.readJSON reads it.
// It differs from JSON.stringify/JSON.parse (unquoted keys, \xNN escapes, a liberal reader), and
// firmware that round-trips its config through Storage must cope with exactly this format.

/**
 * Espruino's Storage.writeJSON format: keys unquoted where they are identifiers, bytes >= 0x80
 * as \xNN, functions and undefined dropped, typed arrays as arrays.
 */
export function espruinoJSON(v: any): string | undefined {
  if (v && typeof v.toJSON === "function") v = v.toJSON();
  if (v === null) return "null";
  switch (typeof v) {
    case "number":
      return isFinite(v) ? String(v) : "null";
    case "boolean":
      return String(v);
    case "string": {
      let s = '"';
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        const ch = v[i];
        if (ch === '"' || ch === "\\") s += "\\" + ch;
        else if (c === 10) s += "\\n";
        else if (c === 13) s += "\\r";
        else if (c === 9) s += "\\t";
        else if (c < 32 || c === 127) s += "\\x" + c.toString(16).padStart(2, "0");
        else if (c >= 128 && c < 256) s += "\\x" + c.toString(16);
        else if (c >= 256) s += "\\u" + c.toString(16).padStart(4, "0");
        else s += ch;
      }
      return s + '"';
    }
    case "object": {
      if (ArrayBuffer.isView(v) || Object.prototype.toString.call(v) === "[object ArrayBuffer]") {
        return "[" + Array.prototype.join.call(ArrayBuffer.isView(v) ? v : new Uint8Array(v), ",") + "]";
      }
      if (Array.isArray(v))
        return (
          "[" +
          v
            .map((e) => {
              const j = espruinoJSON(e);
              return j === undefined ? "null" : j;
            })
            .join(",") +
          "]"
        );
      const parts: string[] = [];
      for (const k of Object.keys(v)) {
        const j = espruinoJSON(v[k]);
        if (j === undefined) continue;
        parts.push((/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : espruinoJSON(k)) + ":" + j);
      }
      return "{" + parts.join(",") + "}";
    }
    default:
      return undefined;
  }
}

/**
 * Espruino's liberal JSON parser (readJSON): unquoted keys, '...' strings, \xNN escapes.
 * Throws a SyntaxError-like message "Got X expected Y" on garbage.
 */
export function parseLiberal(t: string): any {
  let i = 0;
  const ws = () => {
    while (i < t.length && /\s/.test(t[i])) i++;
  };
  const fail = (want: string): never => {
    throw new SyntaxError("Got " + (i < t.length ? JSON.stringify(t[i]) : "EOF") + " expected " + want);
  };
  const ident = () => {
    const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(t.slice(i));
    if (!m) return fail("ID");
    i += m[0].length;
    return m[0];
  };
  const str = () => {
    const q = t[i++];
    let s = "";
    for (;;) {
      if (i >= t.length) fail(q);
      const c = t[i++];
      if (c === q) return s;
      if (c !== "\\") {
        s += c;
        continue;
      }
      const e = t[i++];
      if (e === "n") s += "\n";
      else if (e === "r") s += "\r";
      else if (e === "t") s += "\t";
      else if (e === "b") s += "\b";
      else if (e === "f") s += "\f";
      else if (e === "v") s += "\v";
      else if (e === "0") s += "\0";
      else if (e === "x" || e === "u") {
        const n = e === "x" ? 2 : 4;
        const h = t.slice(i, i + n);
        if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== n) fail("hex digits");
        s += String.fromCharCode(parseInt(h, 16));
        i += n;
      } else if (e === undefined) fail(q);
      else s += e;
    }
  };
  const val = (): any => {
    ws();
    const c = t[i];
    if (c === "{") {
      i++;
      const o: Record<string, any> = {};
      ws();
      if (t[i] === "}") {
        i++;
        return o;
      }
      for (;;) {
        ws();
        const k = t[i] === '"' || t[i] === "'" ? str() : /[0-9]/.test(t[i] || "") ? String(num()) : ident();
        ws();
        if (t[i] !== ":") fail("':'");
        i++;
        o[k] = val();
        ws();
        if (t[i] === ",") {
          i++;
          continue;
        }
        if (t[i] === "}") {
          i++;
          return o;
        }
        fail("'}'");
      }
    }
    if (c === "[") {
      i++;
      const a: any[] = [];
      ws();
      if (t[i] === "]") {
        i++;
        return a;
      }
      for (;;) {
        a.push(val());
        ws();
        if (t[i] === ",") {
          i++;
          continue;
        }
        if (t[i] === "]") {
          i++;
          return a;
        }
        fail("']'");
      }
    }
    if (c === '"' || c === "'") return str();
    if (c === "-" || /[0-9]/.test(c || "")) return num();
    if (c === undefined) fail("a value");
    const w = ident();
    if (w === "true") return true;
    if (w === "false") return false;
    if (w === "null") return null;
    if (w === "undefined") return undefined;
    if (w === "Infinity") return Infinity;
    if (w === "NaN") return NaN;
    i -= w.length;
    return fail("a value");
  };
  const num = () => {
    const m = /^-?(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)/.exec(t.slice(i));
    if (!m) return fail("a number");
    i += m[0].length;
    return Number(m[0]);
  };
  const r = val();
  ws();
  if (i < t.length) fail("EOF");
  return r;
}
