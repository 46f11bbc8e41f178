// OTA units: CRC-16/IBM, block parsing and reassembly (lib/ota.ts against the emulator's
// independent block encoder), and the install/rollback state machine: the shipped loader
// (dist/loader.js) with a fake Storage, power cut at every write.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import vm from "node:vm";
import { crc16 } from "../lib/crc16";
import { parseBlock, mqttDownload, readState, saveState, initialState, rollBack, downloadSlot } from "../lib/ota";
import { crc16ibm, blockReply } from "../tools/emulator/ota";
import { FakeStorage, PowerCutStorage } from "./support/fake-storage";
import { fakeTimers } from "./support/fake-time";

const bytes = (b: Buffer) => b.toString("latin1");

describe("crc16 (CRC-16/IBM, ARC)", () => {
  it('gives the published check value 0xBB3D for "123456789" and 0 for nothing', () => {
    expect(crc16("123456789")).toBe(0xbb3d);
    expect(crc16("")).toBe(0);
  });
  it("agrees with a bit-by-bit implementation on random data of every length up to 300", () => {
    for (let n = 0; n <= 300; n++) {
      const b = randomBytes(n);
      expect(crc16(bytes(b))).toBe(crc16ibm(b));
    }
  });
});

describe("parseBlock", () => {
  const file = randomBytes(5000);
  it("returns offset, total and data of a reply built by the emulator", () => {
    expect(parseBlock(bytes(blockReply(file, 2048, 1024, "t")))).toEqual({
      _offset: 2048,
      _total: 5000,
      _data: bytes(file.subarray(2048, 3072)),
    });
  });
  it("rejects a bad CRC, a truncated reply and a header that is not JSON", () => {
    expect(parseBlock(bytes(blockReply(file, 0, 1024, "t", true)))).toBeNull();
    expect(parseBlock(bytes(blockReply(file, 0, 1024, "t")).slice(0, 600))).toBeNull();
    expect(parseBlock("\x00\x05{abc}xx\x00\x00")).toBeNull();
  });
});

describe("mqttDownload", () => {
  function rig(size: number, writeFails = -1) {
    const file = randomBytes(size),
      timers = fakeTimers(),
      requests: any[] = [],
      progress: number[] = [];
    let stored = "",
      done: any = "pending";
    const reply = mqttDownload(
      {
        _request: (p) => requests.push(JSON.parse(p)),
        _write: (data, offset) => {
          if (offset == writeFails) throw new Error("full");
          expect(offset).toBe(stored.length); // in order, each offset once
          stored += data;
        },
        _progress: (p) => progress.push(p),
        _done: (f) => {
          done = f;
        },
      },
      timers,
      { _streamId: 7, _fileId: 1, _size: size, _blockSize: 1000, _retryMs: 10000 },
    );
    const last = () => requests[requests.length - 1].params.fileBlock;
    const answer = (o?: any) => {
      const b = last();
      reply(bytes(blockReply(file, o ?? b.offset, b.size, "t")));
    };
    return { file, timers, requests, progress, reply, last, answer, stored: () => stored, done: () => done };
  }

  it("reassembles the file block by block, progress rising at most every 5 %", () => {
    const r = rig(10500);
    expect(r.requests[0].params).toEqual({
      fileToken: "1",
      fileInfo: { streamId: 7, fileId: 1 },
      fileBlock: { size: 1000, offset: 0 },
    });
    while (r.done() == "pending") r.answer();
    expect(r.done()).toBeNull();
    expect(r.stored()).toBe(bytes(r.file));
    expect(r.last()).toEqual({ size: 500, offset: 10000 });
    expect(r.progress.at(-1)).toBe(100);
    for (let i = 1; i < r.progress.length; i++) expect(r.progress[i] - r.progress[i - 1]).toBeGreaterThanOrEqual(5);
    expect(r.timers.pending.size).toBe(0);
  });

  it("ignores replies for any other offset (a late duplicate of block 0) and bad blocks", () => {
    const r = rig(3000);
    r.answer();
    r.answer(0); // late duplicate: would restart the file on the device
    r.reply(bytes(blockReply(r.file, 1000, 1000, "t", true)));
    expect(r.stored().length).toBe(1000);
    r.answer();
    r.answer();
    expect(r.stored()).toBe(bytes(r.file));
  });

  it("asks again after 10 s, 3 times, then fails with -2", () => {
    const r = rig(3000);
    r.answer();
    r.timers.advance(10000);
    expect(r.requests.length).toBe(3);
    expect(r.last().offset).toBe(1000);
    r.answer(); // the re-request is answered: retries start again
    r.timers.advance(30000);
    expect(r.done()).toBe("pending");
    r.timers.advance(10000);
    expect(r.done()[0]).toBe(-2);
    expect(r.timers.pending.size).toBe(0);
  });

  it("fails with -4 when Storage cannot take a block", () => {
    const r = rig(3000, 1000);
    r.answer();
    r.answer();
    expect(r.done()[0]).toBe(-4);
    expect(r.timers.pending.size).toBe(0);
  });
});

// ---- the install / rollback state machine ----
const LOADER = readFileSync("dist/loader.js", "utf8");

/** One boot through the shipped loader. Images are scripts calling host.ran(name). */
function boot(storage: FakeStorage) {
  const ran: string[] = [];
  let restarted = false;
  const ctx: any = {
    require: (m: string) => {
      if (m != "Storage") throw new Error(m);
      return storage;
    },
    print: () => {},
    process: { env: { BOARD: "ESP32" } },
    E: {
      reboot: () => {
        restarted = true;
      },
    },
    load: () => {
      restarted = true;
    },
    setTimeout: (f: () => void) => f(),
    host: { ran: (name: string) => ran.push(name) },
  };
  ctx.global = ctx;
  vm.runInNewContext(LOADER, ctx);
  return { ran, restarted };
}
/** What firmware/ota.ts does once online: confirm a trial. */
function online(storage: FakeStorage) {
  const state = readState(storage);
  if (state.m.some((m) => m.t)) {
    state.m.forEach((m) => {
      m.t = 0;
      m.r = "";
    });
    saveState(storage, state);
  }
}
/** What firmware/ota.ts does after a verified download of module 0. */
function install(storage: FakeStorage, version: string) {
  const state = readState(storage),
    record = state.m[0],
    file = downloadSlot(state, 0);
  if (record.g == file) {
    record.g = "";
    saveState(storage, state);
  }
  storage.write(file, version == "bad" ? 'throw Error("bad")' : 'host.ran("' + version + '")');
  record.g = record.f;
  record.w = record.v;
  record.f = file;
  record.v = version;
  record.t = 1;
  record.r = "";
  saveState(storage, state);
}
function flashed() {
  const s = new FakeStorage();
  s.write("fw.a", 'host.ran("v1")');
  s.writeJSON("ota.s1", initialState());
  return s;
}

describe("install and rollback (the shipped loader)", () => {
  it("a verified image is booted on trial and confirmed once online", () => {
    const s = flashed();
    expect(boot(s).ran).toEqual(["v1"]);
    install(s, "v2");
    expect(readState(s).m[0]).toMatchObject({ f: "fw.b", g: "fw.a", t: 1 });
    expect(boot(s).ran).toEqual(["v2"]);
    expect(readState(s).m[0].t).toBe(2);
    online(s);
    expect(boot(s).ran).toEqual(["v2"]);
    expect(readState(s).m[0]).toMatchObject({ f: "fw.b", t: 0 });
  });

  it("a trial that resets before online rolls back, with the reason", () => {
    const s = flashed();
    install(s, "v2");
    boot(s); // never online
    expect(boot(s).ran).toEqual(["v1"]);
    expect(readState(s).m[0]).toMatchObject({ f: "fw.a", g: "", t: 0, r: "v2: reset before it came online" });
  });

  it("a trial image that throws rolls back and restarts", () => {
    const s = flashed();
    install(s, "bad");
    const b = boot(s);
    expect(b.restarted).toBe(true);
    expect(readState(s).m[0]).toMatchObject({ f: "fw.a", t: 0 });
    expect(readState(s).m[0].r).toMatch(/^bad: threw at load: .*bad/);
    expect(boot(s).ran).toEqual(["v1"]);
  });

  it("a corrupt state file is ignored: the other one is used", () => {
    const s = flashed();
    install(s, "v2");
    const n = readState(s).n;
    s.write("ota.s" + (n & 1), "{n:" + n + ",m:[{f:");
    expect(boot(s).ran).toEqual(["v1"]);
  });

  // The whole update (install, first boot, online) with the power cut at every write, then
  // boots with power back: every boot runs v1 or v2, and the board ends on one of them.
  for (const image of ["v2", "bad"]) {
    it(`power cut at every write of an update to ${image}: always boots v1 or v2 and settles`, () => {
      let cuts = 0;
      for (let cutAt = 1; ; cutAt++) {
        const s = new PowerCutStorage(cutAt, flashed());
        try {
          install(s, image);
          const b = boot(s);
          if (!b.restarted) online(s);
          boot(s);
        } catch (e) {
          expect((e as Error).message).toMatch(/power/);
        }
        if (!s.off) break; // this run had fewer writes than cutAt: every cut point was tried
        cuts++;
        const after = new FakeStorage();
        after.files = new Map(s.files);
        for (let i = 0; i < 3; i++) {
          const b = boot(after);
          expect(b.ran.length + (b.restarted ? 1 : 0)).toBe(1);
          if (!b.restarted) {
            expect(["v1", "v2"]).toContain(b.ran[0]);
            online(after);
          }
        }
        const final = readState(after).m[0];
        expect(final.t).toBe(0);
        expect(boot(after).ran).toEqual([image == "bad" ? "v1" : final.f == "fw.a" ? "v1" : "v2"]);
      }
      expect(cuts).toBeGreaterThan(3);
    });
  }

  it("rollBack and downloadSlot keep the slots apart", () => {
    const state = initialState();
    expect(downloadSlot(state, 0)).toBe("fw.b");
    expect(downloadSlot(state, 1)).toBe("app.a");
    state.m[1].f = "app.a";
    expect(downloadSlot(state, 1)).toBe("app.b");
    const m = { f: "fw.b", v: "2", g: "fw.a", w: "", t: 2, r: "" };
    rollBack(m, "why");
    expect(m).toEqual({ f: "fw.a", v: "", g: "", w: "", t: 0, r: "2: why" });
  });
});
