// The `Storage` module: one host file per Storage name in `storageDir`, so files survive
// reboots and can be inspected or seeded from the host. Names are cut to 28 characters like
// the device does (silently), readJSON/writeJSON use Espruino's JSON dialect, and writes are
// atomic (temp file + rename).
import fs from "node:fs";
import path from "node:path";
import type { Core } from "./core";
import { espruinoJSON, parseLiberal } from "./espruino-json";

const FLASH_BYTES = 896 * 1024;

/** Storage file name -> host file name (28-char device names, safe on any host fs). */
function hostName(name: string) {
  return name
    .replace(/[^A-Za-z0-9._-]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))
    .replace(/^\./, "%2e");
}
function deviceName(file: string) {
  return decodeURIComponent(file);
}

/** The Storage module's members (copied into a fresh module object at every boot). */
export function createStorage(core: Core, storageDir: string) {
  const sname = (n: any) => {
    const s = String(n);
    if (!s.length) throw core.err("Invalid Storage name");
    return s.slice(0, 28); // Espruino truncates silently
  };
  const sfile = (n: any) => path.join(storageDir, hostName(sname(n)));
  const sread = (n: any) => {
    try {
      return fs.readFileSync(sfile(n));
    } catch {
      return undefined;
    }
  };
  const slist = () =>
    fs
      .readdirSync(storageDir)
      .filter((f) => !f.startsWith(".tmp-"))
      .map(deviceName);
  // a new (or rewritten) file that does not fit: the device's error (measured on 2v29's Linux
  // build: Storage.write of a file larger than what is free throws this)
  const swrite = (n: any, b: Buffer) => {
    const old = sread(n);
    if (b.length + 32 - (old ? old.length + 32 : 0) > FLASH_BYTES - used())
      throw core.err("Unable to find or create file");
    const f = sfile(n);
    const tmp = path.join(storageDir, ".tmp-" + process.pid);
    fs.writeFileSync(tmp, b);
    fs.renameSync(tmp, f);
  };
  const used = () => slist().reduce((a, n) => a + (sread(n) || Buffer.alloc(0)).length + 32, 0);
  const toCtxDeep = (v: any) => {
    if (v === undefined) return undefined;
    // JSON round trip into the device realm; keeps undefined-free, finite data as Espruino would.
    return core.C.JSON.parse(JSON.stringify(v));
  };
  const Storage = {
    read(n: any, off: any, len: any) {
      const b = sread(n);
      if (!b) return undefined;
      const o = off || 0;
      return b.subarray(o, len === undefined ? b.length : o + len).toString("latin1");
    },
    readArrayBuffer(n: any) {
      const b = sread(n);
      return b ? core.toAB(b) : undefined;
    },
    readJSON(n: any, noExceptions: any) {
      const b = sread(n);
      if (!b) return undefined;
      try {
        return toCtxDeep(parseLiberal(b.toString("latin1")));
      } catch (e) {
        if (noExceptions) return undefined;
        throw core.err((e as Error).message, "SyntaxError");
      }
    },
    write(n: any, data: any, off: any, size: any) {
      const d = core.bytesOf(data === undefined ? "" : data, "Storage.write");
      if (size !== undefined) {
        const b = Buffer.alloc(size, 0xff);
        d.copy(b, off || 0);
        swrite(n, b);
      } else if (off) {
        const b = sread(n);
        if (!b) throw core.err("simulator: Storage.write with an offset needs a file created with a size");
        // flash bits only go from 1 to 0: the device refuses any rewrite, even of equal bytes
        if (off + d.length > b.length) throw core.err("Too much data for file size");
        if (b.subarray(off, off + d.length).some((x) => x !== 0xff))
          throw core.err("File already written with different data");
        d.copy(b, off);
        swrite(n, b);
      } else swrite(n, d);
      return true;
    },
    writeJSON(n: any, v: any) {
      const j = espruinoJSON(v);
      swrite(n, core.bytesOf(j === undefined ? "" : j, "Storage.writeJSON"));
      return true;
    },
    erase(n: any) {
      try {
        fs.unlinkSync(sfile(n));
      } catch {}
    },
    eraseAll() {
      for (const n of slist()) Storage.erase(n);
    },
    list(re: any) {
      let names = slist().sort();
      if (re !== undefined) {
        const r = typeof re === "string" ? new RegExp(re) : re;
        names = names.filter((x) => r.test(x));
      }
      return core.toCtx(names);
    },
    compact() {},
    getFree() {
      return FLASH_BYTES - used();
    },
    getStats() {
      const u = used();
      return core.toCtx({
        totalBytes: FLASH_BYTES,
        freeBytes: FLASH_BYTES - u,
        fileBytes: u,
        fileCount: slist().length,
        trashBytes: 0,
        trashCount: 0,
      });
    },
  };
  return Storage;
}
