// Espruino's Storage as the firmware sees it (docs/ESPRUINO.md): names longer than 28 chars
// are silently truncated, writeJSON writes Espruino-flavoured JSON (unquoted keys, so
// JSON.parse fails on it), read returns undefined for a missing file, readJSON(name, true)
// returns undefined on bad data.
export class FakeStorage {
  files = new Map<string, string>();
  /** Every name the code under test passed, before truncation. */
  names: string[] = [];
  protected name(n: string) {
    this.names.push(n);
    return n.slice(0, 28);
  }
  read(n: string) {
    return this.files.get(this.name(n));
  }
  write(n: string, s: string) {
    this.files.set(this.name(n), s);
    return true;
  }
  writeJSON(n: string, v: any) {
    return this.write(n, JSON.stringify(v).replace(/"(\w+)":/g, "$1:"));
  }
  readJSON(n: string, noExceptions?: boolean) {
    const text = this.read(n);
    if (text === undefined) return undefined;
    try {
      return Function("return (" + text + ")")();
    } catch (e) {
      if (noExceptions) return undefined;
      throw e;
    }
  }
  erase(n: string) {
    this.files.delete(this.name(n));
  }
  list() {
    return [...this.files.keys()];
  }
  /** The whole content, to compare before and after. */
  snapshot() {
    return JSON.stringify([...this.files.entries()].sort());
  }
}

/** FakeStorage whose power fails during write number `cutAt` (1-based): that file is left
 * half written (unreadable), and every later call throws, as if the board were off. */
export class PowerCutStorage extends FakeStorage {
  writes = 0;
  cutAt: number;
  off = false;
  constructor(cutAt: number, from?: FakeStorage) {
    super();
    this.cutAt = cutAt;
    if (from) this.files = new Map(from.files);
  }
  write(n: string, s: string) {
    if (this.off) throw new Error("power is off");
    if (++this.writes == this.cutAt) {
      super.write(n, s.slice(0, s.length >> 1));
      this.off = true;
      throw new Error("power cut");
    }
    return super.write(n, s);
  }
  read(n: string) {
    if (this.off) throw new Error("power is off");
    return super.read(n);
  }
}
