import { describe, it, expect, beforeAll } from "vitest";
import { makeIot } from "../firmware/console";
import { subscriptions } from "../lib/alink";
import { fieldNames } from "../lib/config";
import { Link } from "../lib/link";
import { Alink, alinkHost } from "../lib/alink";
import { DeviceLog } from "../lib/logs";
import { credentials } from "../lib/aliyun";
import { createHash, createHmac } from "node:crypto";
import mqttPacket from "mqtt-packet";
import { readFileSync } from "node:fs";
import { FakeStorage } from "./support/fake-storage";
import { fakeTimers } from "./support/fake-time";

const SECRET = "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw";
const WIFIPW = "Wifi-Pass-7391";
const MQTTPW = "MQTT-PASSWORD-909EA16E2F80B550";
const full = () => ({
  ssid: "home",
  password: WIFIPW,
  productKey: "a1X2bEnP82z",
  deviceName: "example1",
  deviceSecret: SECRET,
});

beforeAll(() => {
  (globalThis as any).VERSION = "9.8.7-test";
});

function fakeLink() {
  const l: any = {
    calls: [] as string[],
    sessions: [] as any[],
    state: "unconfigured",
    start(s: any) {
      l.calls.push("start");
      l.sessions.push(s()); // the link makes a session at each attempt: the first one
      l.state = "wifi";
    },
    stop() {
      l.calls.push("stop");
      l.state = "stopped";
    },
    status() {
      return { state: l.state, queue: 0 };
    },
  };
  return l;
}

function setupIot(storage = new FakeStorage(), extra: any = {}) {
  const logs: string[] = [],
    alinks: any[] = [],
    telnet: boolean[] = [],
    link = fakeLink();
  const iot = makeIot(
    Object.assign(
      {
        _storage: storage,
        _link: link,
        _alink(pk: string, dn: string) {
          const a: any = {
            pk,
            dn,
            stopped: 0,
            msgs: [] as any[],
            onlines: 0,
            posts: [] as any[],
            on: null,
            message(t: string, p: string) {
              a.msgs.push([t, p]);
            },
            // the console stops an Alink by setOnline(false) (no NTP timer, nothing sent)
            setOnline(online: boolean) {
              if (online) a.onlines++;
              else a.stopped++;
            },
            event(i: string, p: any) {
              a.posts.push([i, p]);
              return "" + a.posts.length;
            },
          };
          alinks.push(a);
          return a;
        },
        _creds(c: any) {
          return {
            host: c.productKey + ".example",
            port: c.port || 1883,
            clientId: "cid|",
            username: c.deviceName + "&" + c.productKey,
            password: MQTTPW,
          };
        },
        _log(s: string) {
          logs.push(s);
        },
        _telnet(on: boolean) {
          telnet.push(on);
        },
        _logs: DeviceLog(8, () => Date.now()),
      },
      extra,
    ),
  );
  return { iot, storage, logs, alinks, telnet, link };
}

// Every line ever printed, every error message: no secret in any of them.
function noSecrets(text: string) {
  for (const s of [SECRET, WIFIPW, MQTTPW])
    for (let i = 0; i + 5 <= s.length; i++) expect(text).not.toContain(s.slice(i, i + 5));
}
function msgOf(f: () => any) {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "";
}

describe("boot", () => {
  it("without config: one line naming the setup fields; link not started; telnet off", () => {
    const { logs, link, telnet, iot } = setupIot();
    expect(logs).toHaveLength(1);
    expect(logs[0]).not.toContain("\n");
    for (const f of ["iot.setup(", "ssid", "password", "productKey", "deviceName", "deviceSecret"])
      expect(logs[0]).toContain(f);
    expect(link.calls).toEqual([]);
    expect(telnet).toEqual([false]);
    expect(iot.status().state).toBe("unconfigured");
  });

  it("with a stored config: the link starts with the session, nothing printed", () => {
    const a = setupIot();
    a.iot.setup(Object.assign(full(), { keepAlive: 600, telnet: true }));
    const b = setupIot(a.storage);
    expect(b.logs).toEqual([]);
    expect(b.link.sessions).toHaveLength(1);
    const { _topics, ...session } = b.link.sessions[0];
    expect(_topics()).toEqual(subscriptions("a1X2bEnP82z", "example1"));
    expect(session).toEqual({
      _ssid: "home",
      _wifiPassword: WIFIPW,
      host: "a1X2bEnP82z.example",
      port: 1883,
      clientId: "cid|",
      username: "example1&a1X2bEnP82z",
      password: MQTTPW,
      _keepAlive: 600,
      _tls: true,
      _secret: "deviceSecret",
    });
    expect(b.telnet).toEqual([true]);
    expect(b.alinks.map((x) => x.pk + "/" + x.dn)).toEqual(["a1X2bEnP82z/example1"]);
  });

  it("keepAlive defaults to the board's value", () => {
    const a = setupIot();
    a.iot.setup(full());
    expect(a.link.sessions[0]._keepAlive).toBe(300);
    expect(a.telnet).toEqual([false, false]);
  });

  it("uses only file names of at most 28 chars", () => {
    const a = setupIot();
    a.iot.setup(full());
    a.iot.setup({ keepAlive: 60 });
    setupIot(a.storage);
    a.iot.clear();
    expect(a.storage.names.length).toBeGreaterThan(0);
    for (const n of a.storage.names) expect(n.length).toBeLessThanOrEqual(28);
  });
});

describe("corrupt Storage", () => {
  const cases: [string, (s: FakeStorage) => void, RegExp][] = [
    ["garbage", (s) => s.files.set("iot.cfg0", "\xff\x00{{garbage " + SECRET), /unreadable/],
    [
      "truncated file",
      (s) => {
        const t = new FakeStorage();
        t.writeJSON("x", { n: 1, c: full() });
        s.files.set("iot.cfg1", t.files.get("x")!.slice(0, 60));
      },
      /unreadable/,
    ],
    ["not an object", (s) => s.writeJSON("iot.cfg0", 5), /unreadable/],
    ["no sequence number", (s) => s.writeJSON("iot.cfg0", { c: full() }), /unreadable/],
    ["partial object", (s) => s.writeJSON("iot.cfg0", { n: 1, c: { ssid: "home", password: WIFIPW } }), /productKey/],
    [
      "invalid field",
      (s) => s.writeJSON("iot.cfg1", { n: 3, c: Object.assign(full(), { keepAlive: 5 }) }),
      /keepAlive/,
    ],
    ["missing config", (s) => s.writeJSON("iot.cfg1", { n: 3 }), /object/],
  ];
  for (const [name, put, why] of cases) {
    it(`${name}: one line saying what is wrong, no crash, link not started`, () => {
      const s = new FakeStorage();
      put(s);
      const { logs, link, iot } = setupIot(s);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatch(why);
      expect(logs[0]).toContain("iot.setup(");
      noSecrets(logs.join("\n"));
      expect(link.calls).toEqual([]);
      expect(iot.status().state).toBe("unconfigured");
      // and a fresh setup recovers, and erases the rejected file (a later firmware that found
      // it valid would boot into it, its sequence number being higher)
      iot.setup(full());
      expect(s.list().sort()).toEqual(["iot.cfg1"]);
      expect(setupIot(s).link.sessions).toHaveLength(1);
    });
  }

  it("one slot corrupt: the other one is used", () => {
    for (const bad of ["garbage{", "{n:9,c:{ssid:1}}"]) {
      const a = setupIot();
      a.iot.setup(full()); // n=1 → slot 1
      a.iot.setup({ keepAlive: 600 }); // n=2 → slot 0
      const good = a.storage.files.get("iot.cfg0")!;
      expect(good).toBeDefined();
      a.storage.files.set("iot.cfg1", bad);
      const b = setupIot(a.storage);
      expect(b.logs).toEqual([]);
      expect(b.link.sessions[0]._keepAlive).toBe(600);
      // the next save goes to the corrupt slot, the good one stays until it is verified
      b.iot.setup({ keepAlive: 700 });
      expect(setupIot(b.storage).link.sessions[0]._keepAlive).toBe(700);
    }
  });

  it("two valid slots: the higher sequence number wins", () => {
    const s = new FakeStorage();
    s.writeJSON("iot.cfg0", { n: 8, c: Object.assign(full(), { keepAlive: 800 }) });
    s.writeJSON("iot.cfg1", { n: 7, c: Object.assign(full(), { keepAlive: 700 }) });
    expect(setupIot(s).link.sessions[0]._keepAlive).toBe(800);
    s.writeJSON("iot.cfg1", { n: 9, c: Object.assign(full(), { keepAlive: 900 }) });
    const b = setupIot(s);
    expect(b.link.sessions[0]._keepAlive).toBe(900);
    // a save after that never overwrites the current slot (cfg1) and erases the old one
    b.iot.setup({ keepAlive: 1000 });
    expect(s.list().sort()).toEqual(["iot.cfg0"]);
    expect(setupIot(s).link.sessions[0]._keepAlive).toBe(1000);
  });
});

describe("power loss during a save", () => {
  // Storage whose power is cut at the k-th mutating operation: a cut writeJSON leaves a
  // truncated file (or nothing), a cut erase leaves the file; nothing runs after the cut.
  class CutStorage extends FakeStorage {
    ops = 0;
    cutAt = Infinity;
    dead = false;
    half = true;
    step() {
      if (this.dead) throw new Error("no power");
      if (++this.ops >= this.cutAt) {
        this.dead = true;
        return true;
      }
      return false;
    }
    writeJSON(n: string, v: any) {
      if (this.step()) {
        const t = new FakeStorage();
        t.writeJSON(n, v);
        if (this.half) this.files.set(n.slice(0, 28), t.files.get(n.slice(0, 28))!.slice(0, 40));
        else this.files.delete(n.slice(0, 28));
        throw new Error("power lost");
      }
      return super.writeJSON(n, v);
    }
    erase(n: string) {
      if (this.step()) throw new Error("power lost");
      super.erase(n);
    }
    readJSON(n: string, e?: boolean) {
      if (this.dead) throw new Error("no power");
      return super.readJSON(n, e);
    }
  }

  for (const half of [true, false])
    for (let cut = 1; cut <= 4; cut++) {
      it(`cut at operation ${cut} (${half ? "truncated" : "missing"} file): boot finds the old or the new config`, () => {
        const s = new CutStorage();
        s.half = half;
        const a = setupIot(s);
        a.iot.setup(full());
        a.iot.setup({ keepAlive: 100 }); // old config: keepAlive 100
        s.ops = 0;
        s.cutAt = cut;
        try {
          a.iot.setup({ keepAlive: 200 });
        } catch (_e) {
          /* power lost */
        }
        // reboot on the same flash
        s.dead = false;
        s.cutAt = Infinity;
        const b = setupIot(s);
        expect(b.logs).toEqual([]);
        expect([100, 200]).toContain(b.link.sessions[0]._keepAlive);
        // the save completed only if its write was verified and not cut
        if (cut >= 2) expect(b.link.sessions[0]._keepAlive).toBe(200);
        if (cut == 1) expect(b.link.sessions[0]._keepAlive).toBe(100);
        // and the next save still works and survives
        b.iot.setup({ keepAlive: 300 });
        expect(setupIot(s).link.sessions[0]._keepAlive).toBe(300);
      });
    }

  it("a write that reads back wrong is rejected and the old config kept", () => {
    const s = new FakeStorage();
    const a = setupIot(s);
    a.iot.setup(full());
    const before = s.snapshot();
    a.link.calls.length = 0;
    s.writeJSON = (n: string, v: any) => FakeStorage.prototype.write.call(s, n, '{n:1,c:{ssid:"corrupted"}}');
    const m = msgOf(() => a.iot.setup({ keepAlive: 600 }));
    expect(m).toMatch(/Storage/);
    expect(s.snapshot()).toBe(before);
    expect(a.link.calls).toEqual([]);
    s.writeJSON = FakeStorage.prototype.writeJSON;
    expect(setupIot(s).link.sessions[0]._keepAlive).toBe(300);
  });
});

describe("iot.setup", () => {
  it("a rejected setup leaves the stored config and the running link untouched", () => {
    const a = setupIot();
    a.iot.setup(full());
    const snap = a.storage.snapshot(),
      calls = a.link.calls.length,
      nal = a.alinks.length;
    const bad = [
      { devicesecret: SECRET },
      { ssid: "x" },
      { keepAlive: 5 },
      { password: "x".repeat(65), ssid: "x" },
      { productKey: "pk", deviceName: "dev1", deviceSecret: "bad secret " + SECRET },
      null,
      "x",
    ];
    for (const p of bad) {
      const m = msgOf(() => a.iot.setup(p));
      expect(m).not.toBe("");
      noSecrets(m);
    }
    expect(a.storage.snapshot()).toBe(snap);
    expect(a.link.calls.length).toBe(calls);
    expect(a.alinks.length).toBe(nal);
    expect(a.alinks[0].stopped).toBe(0);
    a.iot.show();
    expect(JSON.parse(a.logs.pop()!).ssid).toBe("home");
  });

  it("a valid setup saves, stops the old alink and restarts the link", () => {
    const a = setupIot();
    a.iot.setup(full());
    a.iot.setup({ keepAlive: 900, region: "cn-beijing" });
    expect(a.alinks).toHaveLength(2);
    expect(a.alinks[0].stopped).toBeGreaterThan(0);
    expect(a.link.calls).toEqual(["stop", "start", "stop", "start"]);
    expect(a.link.sessions[1]._keepAlive).toBe(900);
    expect(setupIot(a.storage).link.sessions[0]._keepAlive).toBe(900);
  });
});

describe("iot.show / help / version", () => {
  it("prints the config masked, in a fixed order, the same each time", () => {
    const a = setupIot();
    a.iot.setup(Object.assign({ telnet: false, keepAlive: 60 }, full()));
    a.logs.length = 0;
    a.iot.show();
    a.iot.show();
    const b = setupIot();
    b.iot.setup(Object.assign(full(), { keepAlive: 60, telnet: false }));
    b.logs.length = 0;
    b.iot.show();
    expect(a.logs).toHaveLength(2);
    expect(a.logs[0]).toBe(a.logs[1]);
    expect(b.logs[0]).toBe(a.logs[0]);
    const o = JSON.parse(a.logs[0]);
    expect(Object.keys(o)).toEqual(fieldNames().filter((k) => k in o));
    expect(o.deviceSecret).toBe("****" + SECRET.slice(-2));
    expect(o.password).toMatch(/^\*{4}.{0,4}$/);
    noSecrets(a.logs.join("\n"));
  });

  it("says when not configured", () => {
    const a = setupIot();
    a.logs.length = 0;
    a.iot.show();
    expect(a.logs[0]).toMatch(/not configured/);
  });

  it("help lists every command, one per line", () => {
    const a = setupIot();
    a.logs.length = 0;
    a.iot.help();
    const lines = a.logs.join("\n").split("\n");
    for (const c of ["setup", "show", "status", "start", "stop", "clear", "post", "event", "on"]) {
      expect(lines.some((l) => l.includes("iot." + c + "("))).toBe(true);
    }
    expect(lines.length).toBeLessThanOrEqual(10);
  });

  it("version comes from the build constant", () => {
    expect(setupIot().iot.version).toBe("9.8.7-test");
  });
});

describe("iot.start / stop / clear / status", () => {
  it("stop and start keep the config", () => {
    const a = setupIot();
    a.iot.setup(full());
    const snap = a.storage.snapshot();
    a.link.calls.length = 0;
    a.iot.stop();
    expect(a.link.calls).toEqual(["stop"]);
    expect(a.alinks[0].stopped).toBe(1);
    expect(a.iot.status().state).toBe("stopped");
    a.iot.start();
    expect(a.link.calls).toEqual(["stop", "stop", "start"]);
    const withTopics = (session: any) => ({ ...session, _topics: session._topics() });
    expect(withTopics(a.link.sessions[1])).toEqual(withTopics(a.link.sessions[0]));
    expect(a.storage.snapshot()).toBe(snap);
  });

  it("clear erases the config and stops; start then says to run setup", () => {
    const a = setupIot();
    a.iot.setup(Object.assign(full(), { telnet: true }));
    expect(a.telnet[a.telnet.length - 1]).toBe(true);
    a.iot.clear();
    expect(a.telnet[a.telnet.length - 1]).toBe(false); // password-less Telnet off again
    expect(a.link.calls.pop()).toBe("stop");
    expect(a.storage.list()).toEqual([]);
    expect(a.iot.status().state).toBe("unconfigured");
    expect(msgOf(() => a.iot.start())).toMatch(/iot\.setup/);
    expect(msgOf(() => a.iot.post({ a: 1 }))).toMatch(/not configured/);
    const b = setupIot(a.storage);
    expect(b.logs[0]).toMatch(/not configured/);
    // a cleared device needs both groups again
    expect(msgOf(() => a.iot.setup({ keepAlive: 60 }))).toMatch(/ssid/);
  });

  it("status returns the link's status object", () => {
    const a = setupIot();
    a.iot.setup(full());
    a.link.state = "online";
    expect(a.iot.status()).toEqual({ state: "online", queue: 0 });
  });
});

describe("iot.post / event / on", () => {
  it("post and event go to the current alink's event() (post(params) as event(params))", () => {
    const a = setupIot();
    a.iot.setup(full());
    expect(a.iot.post({ t: 1 })).toBe("1");
    expect(a.iot.event("alarm", { x: 2 })).toBe("2");
    expect(a.alinks[0].posts).toEqual([
      [{ t: 1 }, undefined],
      ["alarm", { x: 2 }],
    ]);
  });

  it("link events reach alink and every listener, synchronously", () => {
    const a = setupIot();
    a.iot.setup(full());
    const seen: string[] = [];
    a.iot.on("online", () => seen.push("on1"));
    a.iot.on("online", () => seen.push("on2"));
    a.iot.on("offline", () => seen.push("off"));
    // the real link calls onOnline when online, onOffline when no longer
    a.link.state = "online";
    a.link.onOnline();
    expect(a.alinks[0].onlines).toBe(1);
    a.link.state = "backoff";
    a.link.onOffline();
    a.link.onMessage("/t", "p");
    expect(a.alinks[0].msgs).toEqual([["/t", "p"]]);
    expect(seen).toEqual(["on1", "on2", "off"]);
    // no event-emitter properties leak onto iot
    expect(Object.keys(a.iot).filter((k) => k[0] == "#")).toEqual([]);
  });

  it("OTA's messages go to OTA by topic, never to Alink; every other message to Alink only", () => {
    const calls: any[] = [];
    const ota: any = {
      _download: undefined,
      _message: (...args: any[]) => calls.push(["message", ...args]),
    };
    const a = setupIot(undefined, { _ota: ota });
    a.iot.setup(full());
    const pk = "a1X2bEnP82z/example1",
      upgrade = "/ota/device/upgrade/" + pk,
      block = "/sys/" + pk + "/thing/file/download_reply",
      reply = "/sys/" + pk + "/thing/event/property/post_reply";
    a.link.onMessage(reply, '{"id":"1","code":200}');
    a.link.onMessage(block, "\x00\x02{}"); // no download running: dropped
    ota._download = (payload: string) => calls.push(["block", payload]);
    a.link.onMessage(block, "\x00\x02{}ab");
    a.link.onMessage(upgrade, '{"data":{}}');
    // its two topics are subscribed with the device's own: pushes at QoS 1, blocks at QoS 0
    expect(a.link.sessions[0]._topics().slice(-2)).toEqual([
      [upgrade, 1],
      [block, 0],
    ]);
    a.link.state = "online";
    a.link.onOnline();
    expect(calls).toEqual([
      ["block", "\x00\x02{}ab"],
      ["message", upgrade, '{"data":{}}'],
      ["message", upgrade],
    ]);
    expect(a.alinks[0].msgs).toEqual([[reply, '{"id":"1","code":200}']]);
  });

  it("set: the first listener returning a number gives the code; 200 without listeners", () => {
    const a = setupIot();
    a.iot.setup(full());
    expect(a.alinks[0].on("set", { p: 1 })).toBe(200);
    const got: any[] = [];
    a.iot.on("set", (p: any) => {
      got.push(p);
    });
    expect(a.alinks[0].on("set", { p: 2 })).toBe(200);
    a.iot.on("set", () => 460);
    a.iot.on("set", () => 470);
    expect(a.alinks[0].on("set", { p: 3 })).toBe(460);
    expect(got).toEqual([{ p: 2 }, { p: 3 }]);
    // listeners survive a restart (new alink)
    a.iot.setup({ keepAlive: 60 });
    expect(a.alinks[1].on("set", {})).toBe(460);
  });

  it("reply listeners get id, code and message", () => {
    const a = setupIot();
    a.iot.setup(full());
    const r: any[] = [];
    a.iot.on("reply", (i: string, c: number, m: any) => r.push([i, c, m]));
    a.alinks[0].on("reply", "5", 460, "bad");
    expect(r).toEqual([["5", 460, "bad"]]);
  });

  it("rejects unknown events and non-functions", () => {
    const a = setupIot();
    expect(msgOf(() => a.iot.on("connect", () => 0))).toMatch(/online/);
    expect(msgOf(() => a.iot.on("set", 5))).toMatch(/function/);
  });
});

// The real Link, Alink and credentials on an injected env (fake time and sockets): byte
// helpers, the board's settings and the iot object the two wired-up suites below share.
const bin = (s: string) => Buffer.from(s, "latin1");
const str = (b: Buffer) => b.toString("latin1");
const h = (alg: string) => (s: string) => str(createHash(alg).update(bin(s)).digest());
const board = JSON.parse(readFileSync("board.json", "utf8"));
function iotOnRealLink(env: any, storage: FakeStorage, logs: string[]) {
  const link = Link(env, board);
  alinkHost(
    link,
    env,
    () => 1700000000000,
    () => {},
  );
  const iot = makeIot({
    _storage: storage,
    _link: link,
    _log: (l: string) => logs.push(l),
    _telnet() {},
    _alink: Alink,
    _creds: (c: any) => credentials(c, h("sha1"), h("sha256"), () => 0.5),
    _logs: DeviceLog(8, () => Date.now()),
  });
  return { link, iot };
}

/** A LinkEnv on fake time, logging into `logs`; Wi-Fi connects when the test calls the
 * callback handed to `onWifi` (the rig adds its own _connect). */
function envOnFakeTime(timers: ReturnType<typeof fakeTimers>, logs: string[], onWifi: (callback: any) => void) {
  return {
    set: timers.set,
    clear: timers.clear,
    _random: () => 0.5,
    _kick: () => {},
    _memory: () => ({ free: 1000 }),
    _uptime: () => timers.now / 1000,
    _log: (l: string) => logs.push(l),
    _wifiConnect(ssid: string, password: string, callback: any) {
      onWifi(callback);
    },
  };
}

describe("wired to the real Link, Alink and credentials", () => {
  function rig(storage = new FakeStorage()) {
    const written: any[] = [],
      logs: string[] = [];
    let sock: any = null,
      wifiCb: any = null;
    const timers = fakeTimers();
    const env = {
      ...envOnFakeTime(timers, logs, (cb) => {
        wifiCb = cb;
      }),
      _connect(host: string, port: number, tls: boolean, onEvent: any) {
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on("packet", (p: any) => written.push(p));
        // the events as Espruino gives them (LinkEnv._connect), `this` = the socket
        sock = {
          host,
          port,
          tls,
          onOpen: () => onEvent.call(sock, sock),
          onData: (d: string) => onEvent.call(sock, d),
          write: (b: string) => parser.parse(bin(b)),
          end() {},
          ended: false,
        };
        sock.end = () => {
          sock.ended = true;
        };
        return sock;
      },
    };
    const { link, iot } = iotOnRealLink(env, storage, logs);
    const send = (p: any) => sock.onData(str(mqttPacket.generate(p)));
    return { iot, link, written, logs, send, sock: () => sock, wifi: () => wifiCb, timers, storage };
  }

  it("post ids keep counting across setup, start and clear: the platform never sees an id twice", () => {
    const r = rig();
    r.iot.setup(full());
    const ids = [r.iot.post({ a: 1 }), r.iot.post({ a: 2 })];
    r.iot.setup({ keepAlive: 600 });
    ids.push(r.iot.post({ a: 3 }));
    r.iot.start();
    ids.push(r.iot.post({ a: 4 }));
    r.iot.clear();
    r.iot.setup(full());
    ids.push(r.iot.event("alarm", { a: 5 }));
    expect(ids).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("setup → Wi-Fi → CONNECT with the signed credentials → online listeners; set replies carry the listener's code", () => {
    const r = rig();
    const seen: string[] = [];
    r.iot.on("online", () => seen.push("online"));
    r.iot.on("offline", () => seen.push("offline"));
    r.iot.setup(Object.assign(full(), { keepAlive: 120 }));
    expect(r.iot.status().state).toBe("wifi");
    r.wifi()(null);
    expect(r.sock().host).toBe("a1X2bEnP82z.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    r.sock().onOpen();
    const c = r.written[0];
    expect(c.cmd).toBe("connect");
    expect(c.keepalive).toBe(120);
    expect(c.username).toBe("example1&a1X2bEnP82z");
    const id = "a1X2bEnP82z.example1";
    expect(c.clientId).toBe(id + "|securemode=2,signmethod=hmacsha256|");
    expect(r.sock().tls).toBe(true);
    const sig = createHmac("sha256", SECRET)
      .update("clientId" + id + "deviceNameexample1productKeya1X2bEnP82z")
      .digest("hex");
    expect(c.password.toString().toLowerCase()).toBe(sig);
    r.send({ cmd: "connack", returnCode: 0, sessionPresent: false });
    expect(r.iot.status().state).toBe("online");
    expect(seen).toEqual(["online"]);
    const sub = r.written.find((p) => p.cmd == "subscribe");
    expect(sub.subscriptions.map((x: any) => [x.topic, x.qos])).toEqual(subscriptions("a1X2bEnP82z", "example1"));
    const setTopic = "/sys/a1X2bEnP82z/example1/thing/service/property/set";
    const replies = () =>
      r.written.filter((p) => p.topic == setTopic + "_reply").map((p) => JSON.parse(p.payload.toString()).code);
    r.send({ cmd: "publish", topic: setTopic, payload: '{"id":"1","params":{"a":1}}', qos: 0 });
    r.iot.on("set", (p: any) => (p.a == 2 ? 460 : undefined));
    r.send({ cmd: "publish", topic: setTopic, payload: '{"id":"2","params":{"a":2}}', qos: 0 });
    r.iot.on("set", () => {
      throw new Error("boom");
    });
    r.send({ cmd: "publish", topic: setTopic, payload: '{"id":"3","params":{"a":3}}', qos: 0 });
    expect(replies()).toEqual([200, 460, 500]);
    // iot.post goes out as a property post
    r.iot.post({ t: 1 });
    expect(r.written.some((p) => p.topic == "/sys/a1X2bEnP82z/example1/thing/event/property/post")).toBe(true);
    r.iot.stop();
    expect(seen).toEqual(["online", "offline"]);
    expect(r.iot.status().state).toBe("stopped");
    noSecrets(r.logs.join("\n"));
  });
});

describe("registration (productSecret) and preregistration-free login, with the real Link and fake time", () => {
  const PK = "a1X2bEnP82z",
    DN = "example1",
    PS = "Pq7Zk2xW9vRt4",
    TOKEN = "Tk8LmN3bVc4Qz";
  const SIGNED = (key: string, content: string) => createHmac("sha256", key).update(content).digest("hex");
  const regConfig = (o: any = {}) =>
    Object.assign({ ssid: "home", password: WIFIPW, productKey: PK, deviceName: DN, productSecret: PS }, o);

  function rig(storage = new FakeStorage()) {
    const logs: string[] = [],
      sockets: any[] = [];
    let wifiCb: any = null,
      inData = false;
    const timers = fakeTimers();
    const env = {
      ...envOnFakeTime(timers, logs, (cb) => {
        wifiCb = cb;
      }),
      _connect(host: string, port: number, tls: boolean, onEvent: any) {
        // the 2v29 trap: no TLS socket may be created inside a socket's data callback
        if (inData) throw new Error("TLS connect inside a data callback");
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        // the events as Espruino gives them (LinkEnv._connect), `this` = the socket
        const sock: any = {
          host,
          port,
          tls,
          onOpen: () => onEvent.call(sock, sock),
          onClose: () => onEvent.call(sock, false),
          packets: [] as any[],
          ended: false,
          onData: (d: string) => {
            inData = true;
            try {
              onEvent.call(sock, d);
            } finally {
              inData = false;
            }
          },
          write: (b: string) => parser.parse(bin(b)),
          end() {
            sock.ended = true;
          },
        };
        parser.on("packet", (p: any) => sock.packets.push(p));
        sockets.push(sock);
        return sock;
      },
    };
    const { link, iot } = iotOnRealLink(env, storage, logs);
    const sock = () => sockets[sockets.length - 1];
    const send = (p: any) => sock().onData(str(mqttPacket.generate(p)));
    // Wi-Fi up (when asked), open the socket: its CONNECT
    const open = () => {
      if (wifiCb) {
        const cb = wifiCb;
        wifiCb = null;
        cb(null);
      }
      sock().onOpen();
      return sock().packets[0];
    };
    const stored = () => {
      const records = ["iot.cfg0", "iot.cfg1"]
        .map((n) => storage.readJSON(n, true))
        .filter(Boolean)
        .sort((a: any, b: any) => b.n - a.n);
      return records[0].c;
    };
    return { iot, link, logs, sockets, sock, send, open, stored, timers, storage };
  }
  const connack = (code: number) => ({ cmd: "connack", returnCode: code, sessionPresent: false });
  const reply = (topic: string, body: any) => ({ cmd: "publish", topic, payload: JSON.stringify(body), qos: 0 });
  const noRegSecrets = (text: string) => {
    for (const x of [PS, TOKEN, SECRET])
      for (let i = 0; i + 5 <= x.length; i++) expect(text).not.toContain(x.slice(i, i + 5));
  };

  it("register: signed CONNECT, no subscribe, reply → deviceSecret stored (productSecret gone) → login started from a timer → a restart logs in, never registers", () => {
    const r = rig();
    r.iot.setup(regConfig());
    const c = r.open();
    expect(r.sock().tls).toBe(true);
    expect(c.clientId).toBe(PK + "." + DN + "|securemode=2,authType=register,random=500000000,signmethod=hmacsha256|");
    expect(c.password.toString()).toBe(SIGNED(PS, "deviceName" + DN + "productKey" + PK + "random500000000"));
    r.send(connack(0));
    expect(r.iot.status().state).toBe("registering");
    const first = r.sock();
    r.send(reply("/ext/register", { productKey: PK, deviceName: DN, deviceSecret: SECRET }));
    // the login is not started inside the data callback: the socket is closed, nothing new yet
    expect(first.ended).toBe(true);
    expect(r.sockets).toHaveLength(1);
    expect(first.packets.map((p: any) => p.cmd)).toEqual(["connect"]);
    r.timers.advance(1);
    expect(r.stored()).toEqual({
      ssid: "home",
      password: WIFIPW,
      productKey: PK,
      deviceName: DN,
      deviceSecret: SECRET,
    });
    const login = r.open();
    expect(login.clientId).toBe(PK + "." + DN + "|securemode=2,signmethod=hmacsha256|");
    expect(login.password.toString()).toBe(
      SIGNED(SECRET, "clientId" + PK + "." + DN + "deviceName" + DN + "productKey" + PK),
    );
    r.send(connack(0));
    expect(r.iot.status().state).toBe("online");
    expect(r.logs).toContain("iot: registered");
    r.iot.show();
    noRegSecrets(r.logs.join("\n"));
    // restart: the stored deviceSecret logs in
    const again = rig(r.storage);
    expect(again.open().clientId).toBe(PK + "." + DN + "|securemode=2,signmethod=hmacsha256|");
  });

  it("regnwl (preregistered: false): reply on /ext/regnwl or /ext/register → clientId + deviceToken stored → connwl login; restart logs in with the token", () => {
    for (const topic of ["/ext/regnwl", "/ext/register"]) {
      const r = rig();
      r.iot.setup(regConfig({ preregistered: false }));
      expect(r.open().clientId).toBe(
        PK + "." + DN + "|securemode=2,authType=regnwl,random=500000000,signmethod=hmacsha256|",
      );
      r.send(connack(0));
      r.send(reply(topic, { clientId: "cid-77", productKey: PK, deviceName: DN, deviceToken: TOKEN }));
      r.timers.advance(1);
      expect(r.stored()).toEqual({
        ssid: "home",
        password: WIFIPW,
        productKey: PK,
        deviceName: DN,
        clientId: "cid-77",
        deviceToken: TOKEN,
      });
      const login = r.open();
      expect([login.clientId, login.username, login.password.toString()]).toEqual([
        "cid-77|securemode=-2,authType=connwl|",
        DN + "&" + PK,
        TOKEN,
      ]);
      r.send(connack(0));
      expect(r.iot.status().state).toBe("online");
      r.iot.show();
      noRegSecrets(r.logs.join("\n"));
      expect(rig(r.storage).open().clientId).toBe("cid-77|securemode=-2,authType=connwl|");
    }
  });

  it("no reply within the CONNACK timeout after CONNACK: a failed attempt, long backoff, then it registers again", () => {
    const r = rig();
    r.iot.setup(regConfig());
    r.open();
    r.send(connack(0));
    r.timers.advance(board.connackTimeoutSeconds * 1000 - 1);
    expect(r.iot.status().state).toBe("registering");
    r.timers.advance(1);
    expect(r.iot.status()).toMatchObject({ state: "backoff", lastError: "register: no reply" });
    expect(r.sock().ended).toBe(true);
    r.timers.advance(999);
    expect(r.sockets).toHaveLength(1);
    r.timers.advance(1001); // the long schedule's first wait: 1-2 s
    expect(r.sockets).toHaveLength(2);
    expect(r.open().clientId).toContain("authType=register");
    expect(r.stored().productSecret).toBe(PS);
  });

  it("CONNACK 4 (bad productSecret): lastError names productSecret, long backoff growing 2 s, 4 s, 8 s", () => {
    const r = rig();
    r.iot.setup(regConfig());
    const gaps: number[] = [];
    let last = 0;
    for (let i = 0; i < 4; i++) {
      r.open();
      r.send(connack(4));
      expect(r.iot.status().lastError).toBe("connack 4: bad username or password, check productSecret");
      const n = r.sockets.length;
      while (r.sockets.length == n) r.timers.runNext();
      gaps.push(r.timers.now - last);
      last = r.timers.now;
    }
    // random 0.5: 3/4 of 2, 4, 8, 16 s
    expect(gaps.slice(1)).toEqual([3000, 6000, 12000]);
    noRegSecrets(r.logs.join("\n"));
  });

  it("power cut: while registering nothing is lost; a failed save of the reply keeps the old config and retries", () => {
    const r = rig();
    r.iot.setup(regConfig());
    r.open();
    r.send(connack(0));
    // power cut before the reply: the next boot registers again from the stored config (one
    // link per device: the rebooted board is the device from here on)
    const rebooted = rig(r.storage);
    expect(rebooted.open().clientId).toContain("authType=register");
    rebooted.send(connack(0));
    // the save of the reply fails (the write does not verify): old config kept, backoff, retry
    const before = rebooted.storage.snapshot();
    rebooted.storage.writeJSON = () => {
      throw new Error("power");
    };
    rebooted.send(reply("/ext/register", { productKey: PK, deviceName: DN, deviceSecret: SECRET }));
    rebooted.timers.advance(1);
    expect(rebooted.iot.status()).toMatchObject({ state: "backoff", lastError: "register: iot: Storage write failed" });
    expect(rebooted.storage.snapshot()).toBe(before);
    expect(rebooted.stored().productSecret).toBe(PS);
  });

  it("productSecret with tls: false is refused at setup, naming the rule", () => {
    const r = rig();
    expect(msgOf(() => r.iot.setup(regConfig({ tls: false })))).toBe("productSecret: registration needs tls: true");
  });
});
