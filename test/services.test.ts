// Services (async and RRPC over /ext/rrpc), classic RRPC and device logs: lib/alink.ts,
// lib/logs.ts and the console hooks in firmware/console.ts.
import { handle, recordingHost } from "./support/alink";
import { describe, it, expect, beforeAll } from "vitest";
import { Alink, alinkHost } from "../lib/alink";
import { DeviceLog } from "../lib/logs";
import { makeIot } from "../firmware/console";
import { fakeTimers } from "./support/fake-time";
import { FakeStorage } from "./support/fake-storage";
import {
  ESPRUINO,
  ESPRUINO_HINT,
  HARNESS_HELPERS,
  libScript,
  minifyAsShipped,
  runInEspruino,
} from "./support/espruino";

const PK = "a1X2bEnP82z",
  DN = "example1";
const SYS = `/sys/${PK}/${DN}/`,
  SVC = SYS + "thing/service/";
const decode = (p: string) => JSON.parse(Buffer.from(p, "latin1").toString("utf8"));

beforeAll(() => {
  (globalThis as any).VERSION = "9.8.7-test";
});

function setup(logSize = 8) {
  const { host, pubs, errors } = recordingHost();
  const timers = fakeTimers();
  const clock = { ms: 5000 }; // a board before NTP: a few seconds after 1970
  const logs = DeviceLog(logSize, () => clock.ms);
  alinkHost(
    host,
    timers,
    () => clock.ms,
    (s) => {
      clock.ms = s * 1000;
    },
    logs,
  );
  const a = Alink(PK, DN);
  const replies = () => pubs.filter((p) => !p.topic.startsWith("/ext/ntp/") && !p.topic.endsWith("/config/log/get"));
  // goes online and answers the NTP request so that real time is known (2020-03-06T07:15:26.464Z at the response)
  const sync = () => {
    a.setOnline(true);
    const sent = decode(pubs.filter((p) => p.topic.endsWith("/request")).pop()!.payload).deviceSendTime;
    clock.ms += 100;
    a.message(
      `/ext/ntp/${PK}/${DN}/response`,
      JSON.stringify({ deviceSendTime: sent, serverRecvTime: "1583478926414", serverSendTime: "1583478926414" }),
    );
  };
  return { a, pubs, errors, logs, clock, replies, sync };
}

const request = (id: string, params: any, identifier = "Reboot", extra: any = {}) =>
  JSON.stringify({ id, version: "1.0", params, method: "thing.service." + identifier, ...extra });

describe("services", () => {
  it("asynchronous: an object return is the data (200), a number the code, a throw 500, no handler 404; replies on + _reply at QoS 0", () => {
    const t = setup();
    t.a.message(SVC + "Reboot", request("1", { delay: 1 }));
    handle(t.a, "service", (identifier, params) => {
      if (params.mode == "obj") return { identifier, echo: params.v, name: "温度" };
      if (params.mode == "num") return 6813;
      if (params.mode == "throw") throw new Error("boom");
      return undefined;
    });
    t.a.message(SVC + "Reboot", request("2", { mode: "obj", v: [1, 2] }));
    t.a.message(SVC + "Reboot", request("3", { mode: "num" }));
    t.a.message(SVC + "Reboot", request("4", { mode: "throw" }));
    t.a.message(SVC + "Reboot", request("5", { mode: "none" }));
    handle(t.a, "service", () => ({ n: Number.NaN })); // data JSON cannot carry: 500, nothing else breaks
    t.a.message(SVC + "Reboot", request("6", {}));
    expect(t.pubs.map((p) => [p.topic, p.qos, decode(p.payload)])).toEqual([
      [SVC + "Reboot_reply", 0, { id: "1", code: 404, data: {} }],
      [SVC + "Reboot_reply", 0, { id: "2", code: 200, data: { identifier: "Reboot", echo: [1, 2], name: "温度" } }],
      [SVC + "Reboot_reply", 0, { id: "3", code: 6813, data: {} }],
      [SVC + "Reboot_reply", 0, { id: "4", code: 500, data: {} }],
      [SVC + "Reboot_reply", 0, { id: "5", code: 200, data: {} }],
      [SVC + "Reboot_reply", 0, { id: "6", code: 500, data: {} }],
    ]);
    expect(t.errors).toEqual([]);
  });

  it("synchronous (RRPC over /ext/rrpc): the reply goes back on the request's own topic", () => {
    const t = setup();
    const topic = `/ext/rrpc/1234567890123456789/sys/${PK}/${DN}/thing/service/GetInfo`;
    handle(t.a, "service", (identifier, params) => ({ identifier, got: params.q }));
    t.a.message(topic, request("9", { q: 5 }, "GetInfo"));
    expect(t.pubs.map((p) => [p.topic, p.qos, decode(p.payload)])).toEqual([
      [topic, 0, { id: "9", code: 200, data: { identifier: "GetInfo", got: 5 } }],
    ]);
  });

  it('params not an object: 460 without calling the handler; "sys":{"ack":0}: handled, no reply', () => {
    const t = setup();
    let calls = 0;
    handle(t.a, "service", () => {
      calls++;
      return {};
    });
    t.a.message(SVC + "S", request("1", [1]));
    t.a.message(SVC + "S", JSON.stringify({ id: "2", version: "1.0" }));
    t.a.message(SVC + "S", request("3", { a: 1 }, "S", { sys: { ack: 0 } }));
    t.a.message(SVC + "S", request("4", { a: 1 }, "S", { sys: { ack: 1 } }));
    expect(calls).toBe(2);
    expect(t.pubs.map((p) => decode(p.payload))).toEqual([
      { id: "1", code: 460, data: {} },
      { id: "2", code: 460, data: {} },
      { id: "4", code: 200, data: {} },
    ]);
  });

  it("ignores our own replies echoed back (a code, or a _reply topic): no reply loop", () => {
    const t = setup();
    handle(t.a, "service", () => ({}));
    const rrpc = `/ext/rrpc/77/sys/${PK}/${DN}/thing/service/S`;
    t.a.message(rrpc, JSON.stringify({ id: "1", code: 200, data: {} }));
    t.a.message(SVC + "S_reply", JSON.stringify({ id: "1", code: 200, data: {} }));
    t.a.message(SVC + "S_reply", request("2", {}));
    expect(t.pubs).toEqual([]);
  });

  it("property/set still goes to the set handler, never to services", () => {
    const t = setup();
    const sets: any[] = [],
      services: any[] = [];
    handle(t.a, "set", (p) => {
      sets.push(p);
    });
    handle(t.a, "service", (i, p) => {
      services.push([i, p]);
    });
    t.a.message(SVC + "property/set", request("5", { Light: 1 }, "property.set"));
    expect(sets).toEqual([{ Light: 1 }]);
    expect(services).toEqual([]);
    expect(t.pubs[0].topic).toBe(SVC + "property/set_reply");
  });

  it("topics that only look alike (Espruino's indexOf trap, other devices, extra levels) get no answer", () => {
    const t = setup();
    handle(t.a, "service", () => ({}));
    handle(t.a, "rrpc", () => "x");
    for (const topic of [
      SYS + "thing/serv",
      SYS + "thing/service",
      SYS + "thing/service/",
      SVC + "a/b",
      `/sys/${PK}/other/thing/service/S`,
      `/ext/rrpc/1/sys/${PK}/${DN}/thing/service/`,
      `/ext/rrpc/1/sys/${PK}/${DN}/thing/serv`,
      `/ext/rrpc/sys/${PK}/${DN}/thing/service/S`,
      `/ext/rrpc/1/2/sys/${PK}/${DN}/thing/service/S`,
      SYS + "rrpc/request/",
      SYS + "rrpc/request/1/2",
      SYS + "rrpc/reques",
    ]) {
      t.a.message(topic, request("1", {}));
    }
    expect(t.pubs).toEqual([]);
  });
});

describe("classic RRPC", () => {
  it("answers /rrpc/request/{messageId} on /rrpc/response/{messageId} at QoS 0 with the handler's text", () => {
    const t = setup();
    t.a.message(SYS + "rrpc/request/1", "ping"); // no handler: no response (the caller times out)
    const got: string[] = [];
    handle(t.a, "rrpc", (payload) => {
      got.push(payload);
      return payload == "obj" ? { ok: 1 } : payload == "none" ? undefined : "pong:" + payload;
    });
    t.a.message(SYS + "rrpc/request/1234567890", "ping");
    t.a.message(SYS + "rrpc/request/2", "obj");
    t.a.message(SYS + "rrpc/request/3", "none");
    handle(t.a, "rrpc", () => {
      throw new Error("boom");
    });
    t.a.message(SYS + "rrpc/request/4", "x");
    expect(got).toEqual(["ping", "obj", "none"]);
    expect(t.pubs).toEqual([
      { topic: SYS + "rrpc/response/1234567890", payload: "pong:ping", qos: 0 },
      { topic: SYS + "rrpc/response/2", payload: '{"ok":1}', qos: 0 },
    ]);
    expect(t.errors).toEqual([`alink ${SYS}rrpc/request/4: boom`]);
  });
});

// the strict shape the platform's log service takes (docs/ALIYUN.md §8)
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$/;
function checkLogPost(p: { topic: string; payload: string; qos: number }) {
  expect(p.topic).toBe(SYS + "thing/log/post");
  expect(p.qos).toBe(0);
  const m = decode(p.payload);
  expect(Object.keys(m)).toEqual(["id", "version", "sys", "params", "method"]);
  expect(m.id).toMatch(/^\d+$/);
  expect(m.version).toBe("1.0");
  expect(m.sys).toEqual({ ack: 0 });
  expect(m.method).toBe("thing.log.post");
  expect(Array.isArray(m.params)).toBe(true);
  for (const e of m.params) {
    expect(Object.keys(e)).toEqual(["utcTime", "logLevel", "module", "code", "logContent"]);
    expect(e.utcTime).toMatch(ISO);
    expect(["ERROR", "WARN", "INFO", "DEBUG"]).toContain(e.logLevel);
    for (const k of ["module", "code", "logContent"]) expect(typeof e[k]).toBe("string");
  }
  return m.params;
}

describe("device logs", () => {
  it("kept until online and synced, then posted once with real times: entries before the sync are corrected by the clock step", () => {
    const t = setup();
    t.logs.add("WARN", "down 42 s: socket closed", "link");
    t.clock.ms += 250;
    t.logs.add("ERROR", "sensor 温度 failed");
    t.a.setOnline(true);
    expect(t.replies()).toEqual([]); // online but the clock is not real yet
    t.sync();
    const posts = t.replies();
    expect(posts.length).toBe(1);
    // response at device 5350 ms = 1583478926414 + (5350 - 5250) / 2 ... the step is (real - device) at the sync
    const step = 1583478926414 + 50 - 5350;
    expect(checkLogPost(posts[0])).toEqual([
      {
        utcTime: new Date(5000 + step).toISOString(),
        logLevel: "WARN",
        module: "link",
        code: "",
        logContent: "down 42 s: socket closed",
      },
      {
        utcTime: new Date(5250 + step).toISOString(),
        logLevel: "ERROR",
        module: "app",
        code: "",
        logContent: "sensor 温度 failed",
      },
    ]);
    // once online and synced, each entry goes at once, with the real clock
    t.logs.add("WARN", "later");
    expect(checkLogPost(t.replies()[1])[0].utcTime).toBe(new Date(t.clock.ms).toISOString());
    // offline: kept again
    t.a.setOnline(false);
    t.logs.add("WARN", "offline");
    expect(t.replies().length).toBe(2);
    t.a.setOnline(true);
    t.logs.add("WARN", "back");
    expect(checkLogPost(t.replies()[2]).map((e: any) => e.logContent)).toEqual(["offline", "back"]);
  });

  it("the buffer is bounded: the oldest are dropped and their count is reported in the next post", () => {
    const t = setup(3);
    for (let i = 1; i <= 7; i++) t.logs.add("WARN", "line " + i);
    t.sync();
    const entries = checkLogPost(t.replies()[0]);
    expect(entries.map((e: any) => e.logContent)).toEqual(["line 5", "line 6", "line 7", "4 older entries dropped"]);
    expect(entries[3]).toMatchObject({ logLevel: "WARN", module: "log", code: "dropped" });
    t.logs.add("WARN", "next");
    expect(checkLogPost(t.replies()[1]).length).toBe(1); // the count was reset
  });

  it("level filter: WARN by default; _level follows LOG_LEVELS; an unknown level throws", () => {
    const t = setup();
    t.logs.add("DEBUG", "d");
    t.logs.add("INFO", "i");
    t.logs.add("WARN", "w");
    t.logs.add("ERROR", "e");
    t.logs._level = 0;
    t.logs.add("DEBUG", "d2");
    t.logs._level = 3;
    t.logs.add("WARN", "w2");
    expect(() => t.logs.add("FATAL!", "x")).toThrow(/log level: one of DEBUG,INFO,WARN,ERROR/);
    t.sync();
    expect(checkLogPost(t.replies()[0]).map((e: any) => e.logContent)).toEqual(["w", "e", "d2"]);
  });

  it("long lines are cut to 256 chars; 8 entries of them fit the board's maxPacket", () => {
    const t = setup();
    for (let i = 0; i < 8; i++) t.logs.add("ERROR", "x".repeat(5000));
    t.sync();
    const p = t.replies()[0];
    expect(checkLogPost(p).every((e: any) => e.logContent.length == 256)).toBe(true);
    expect(p.payload.length).toBeLessThan(4000);
  });

  it("follows the platform's log switch: asks at every online (no sys, so it is answered), get_reply/push mode 0 holds the entries, mode 1 sends", () => {
    const t = setup();
    t.a.setOnline(true);
    const get = t.pubs.find((p) => p.topic == SYS + "thing/config/log/get")!;
    expect(get.qos).toBe(0);
    const m = decode(get.payload);
    expect(m).toEqual({
      id: m.id,
      version: "1.0",
      params: { configScope: "device", getType: "content" },
      method: "thing.config.log.get",
    });
    t.a.message(
      SYS + "thing/config/log/get_reply",
      JSON.stringify({ id: m.id, version: "1.0", code: 200, data: { getType: "content", content: { mode: 0 } } }),
    );
    t.sync();
    t.logs.add("WARN", "held");
    expect(t.replies()).toEqual([]);
    // malformed configs change nothing
    for (const bad of ['{"params":{"content":{"mode":"1"}}}', '{"params":{}}', '{"data":5}', "[]"])
      t.a.message(SYS + "thing/config/log/push", bad);
    expect(t.replies()).toEqual([]);
    t.a.message(
      SYS + "thing/config/log/push",
      JSON.stringify({
        id: "3",
        version: "1.0",
        params: { getType: "content", content: { mode: 1 } },
        method: "thing.config.log.push",
      }),
    );
    expect(checkLogPost(t.replies()[0]).map((e: any) => e.logContent)).toEqual(["held"]);
    expect(t.errors).toEqual([]);
  });

  it("a stopped Alink sends nothing", () => {
    const t = setup();
    t.sync();
    t.a.setOnline(false);
    t.logs.add("ERROR", "after stop");
    expect(t.replies()).toEqual([]);
  });
});

describe("console hooks", () => {
  const full = {
    ssid: "home",
    password: "Wifi-Pass-7391",
    productKey: PK,
    deviceName: DN,
    deviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ypgqw",
  };
  function rig() {
    const lines: string[] = [],
      alinks: any[] = [];
    let status: any = { state: "wifi", reconnects: 0, lastError: "" };
    const link: any = { start() {}, stop() {}, status: () => ({ ...status }) };
    const logs = DeviceLog(8, () => Date.now());
    const iot = makeIot({
      _storage: new FakeStorage() as any,
      _link: link,
      _log: (l) => lines.push(l),
      _telnet() {},
      _alink: () => {
        const a: any = { stop() {}, setOnline() {}, message() {} };
        alinks.push(a);
        return a;
      },
      _creds: () => ({ host: "h", port: 1, clientId: "c", username: "u", password: "p" }),
      _logs: logs,
    });
    return {
      iot,
      link,
      logs,
      alinks,
      lines,
      setStatus: (s: any) => {
        status = { ...status, ...s };
      },
    };
  }
  const taken = (logs: any) => {
    const t = logs._take();
    return t ? JSON.parse(t).map((e: any) => [e.logLevel, e.module, e.logContent]) : [];
  };

  it("iot.on('service'): the first listener's value that is not undefined; 404 without listeners; iot.on('rrpc') likewise", () => {
    const r = rig();
    r.iot.setup(full);
    const a = r.alinks[0];
    expect(a.on("service", "S", {})).toBe(404);
    expect(a.on("rrpc", "p")).toBe(undefined);
    const seen: any[] = [];
    r.iot.on("service", (id: string, p: any) => {
      seen.push([id, p]);
    });
    r.iot.on("service", (id: string) => (id == "A" ? { a: 1 } : 7));
    r.iot.on("service", () => 9);
    expect(a.on("service", "A", { x: 1 })).toEqual({ a: 1 });
    expect(a.on("service", "B", {})).toBe(7);
    expect(seen).toEqual([
      ["A", { x: 1 }],
      ["B", {}],
    ]);
    r.iot.on("rrpc", (p: string) => "re:" + p);
    expect(a.on("rrpc", "p")).toBe("re:p");
  });

  it("iot.log adds app lines under the configured logLevel; setup rejects an unknown level", () => {
    const r = rig();
    taken(r.logs); // the boot entry
    r.iot.setup(full);
    r.iot.log("INFO", "not kept at WARN");
    r.iot.log("ERROR", "kept");
    r.iot.setup({ logLevel: "DEBUG" });
    r.iot.log("DEBUG", "now kept");
    expect(() => r.iot.log("LOUD", "x")).toThrow(/log level/);
    expect(() => r.iot.setup({ logLevel: "warn" })).toThrow(/^logLevel: one of DEBUG,INFO,WARN,ERROR$/);
    expect(taken(r.logs)).toEqual([
      ["ERROR", "app", "kept"],
      ["DEBUG", "app", "now kept"],
    ]);
  });

  it("logs each boot, and one entry per outage when back online: how long, why, failed attempts and the last error", () => {
    const r = rig();
    expect(taken(r.logs)).toEqual([["WARN", "boot", "boot 9.8.7-test"]]);
    r.iot.setup(full);
    // the real link calls onOnline when online, onOffline when no longer
    r.setStatus({ state: "online" });
    r.link.onOnline(); // first connect at once: nothing to say
    expect(taken(r.logs)).toEqual([]);
    r.setStatus({ state: "backoff", reconnects: 1, lastError: "ping timeout" });
    r.link.onOffline();
    r.setStatus({ state: "online", reconnects: 4, lastError: "connack 5: not authorized" });
    r.link.onOnline();
    expect(taken(r.logs)).toEqual([
      ["WARN", "link", "down 0 s: ping timeout; then 3 failed attempts, last: connack 5: not authorized"],
    ]);
    r.setStatus({
      reconnects: 5,
      state: "backoff",
      lastError: "3 closes soon after login: another device is probably using these credentials",
    });
    r.link.onOffline();
    r.setStatus({ state: "online" });
    r.link.onOnline();
    expect(taken(r.logs)).toEqual([
      ["WARN", "link", "down 0 s: 3 closes soon after login: another device is probably using these credentials"],
    ]);
    expect(r.lines.join("\n")).not.toMatch(/Wifi-Pass|ga7XA6/);
  });
});

// lib/alink.ts + lib/logs.ts minified as shipped, in the real interpreter: topic parsing with
// startsWith/split (no indexOf), service outcomes, classic RRPC, and a log post whose times
// come from Espruino's own Date.toISOString and parseInt.
describe.skipIf(!ESPRUINO)("services and logs in the real Espruino interpreter (" + ESPRUINO_HINT + ")", () => {
  const harness =
    HARNESS_HELPERS +
    `
var pubs=[],errs=[],tm={},th=1,clock=5000;
var logs=DeviceLog(3,function(){return clock});
alinkHost({publish:function(t,p,q){pubs.push([t,p,q])},error:function(m){errs.push(m)}},
 {set:function(f,ms){tm[th]=[f,ms];return th++},clear:function(h){delete tm[h]}},
 function(){return clock},function(s){clock=s*1000},logs);
var a=Alink("pk","dn");
var S="/sys/pk/dn/thing/service/";
a.message(S+"None",'{"id":"1","params":{}}');
a.on=function(e,id,p){if(e=="rrpc")return "pong "+id;if(e!="service")return;if(p.m==1)return {id:id};if(p.m==2)return 6813;if(p.m==3)throw new Error("x")};
[1,2,3,4].forEach(function(m){a.message(S+"Svc",'{"id":"'+(m+1)+'","params":{"m":'+m+'}}')});
a.message("/ext/rrpc/99/sys/pk/dn/thing/service/Svc",'{"id":"6","params":{"m":1}}');
a.message("/ext/rrpc/99/sys/pk/dn/thing/service/Svc",'{"id":"6","code":200,"data":{}}');
a.message("/sys/pk/dn/thing/serv",'{"id":"7","params":{}}');
a.message(S+"Svc_reply",'{"id":"8","params":{"m":1}}');
a.message("/sys/pk/dn/rrpc/request/123","ping");
a.message("/sys/pk/dn/rrpc/reques",'{"id":"9","params":{}}');
for(var i=1;i<=5;i++)logs.add("WARN","line "+i);
logs.add("DEBUG","filtered");
a.setOnline(true);
clock=5100;
a.message("/ext/ntp/pk/dn/response",'{"deviceSendTime":"5000","serverRecvTime":"1583478926414","serverSendTime":"1583478926414"}');
a.setOnline(false);
OUT("pubs",pubs);OUT("errs",errs);
quit();
`;
  it("service replies, RRPC and a log post match the Node results", async () => {
    const { markers: out, output } = runInEspruino(
      (await minifyAsShipped(await libScript("bytes.ts", "crypto.ts", "alink.ts", "logs.ts"))) + harness,
    );
    expect(out.errs, output).toEqual([]);
    const pubs = out.pubs.map((p: any[]) => [
      p[0],
      p[2],
      p[0].endsWith("log/post") || p[1][0] == "{" ? JSON.parse(p[1]) : p[1],
    ]);
    const S = "/sys/pk/dn/thing/service/";
    expect(pubs.slice(0, 7)).toEqual([
      [S + "None_reply", 0, { id: "1", code: 404, data: {} }],
      [S + "Svc_reply", 0, { id: "2", code: 200, data: { id: "Svc" } }],
      [S + "Svc_reply", 0, { id: "3", code: 6813, data: {} }],
      [S + "Svc_reply", 0, { id: "4", code: 500, data: {} }],
      [S + "Svc_reply", 0, { id: "5", code: 200, data: {} }],
      ["/ext/rrpc/99/sys/pk/dn/thing/service/Svc", 0, { id: "6", code: 200, data: { id: "Svc" } }],
      ["/sys/pk/dn/rrpc/response/123", 0, "pong ping"],
    ]);
    const post = pubs.find((p: any[]) => p[0] == "/sys/pk/dn/thing/log/post")!;
    // step at the sync: 1583478926414 + (5100 - 5000) / 2 - 5100; every entry was logged at 5000
    const utcTime = new Date(5000 + 1583478926464 - 5100).toISOString();
    expect(post[2]).toEqual({
      id: expect.stringMatching(/^\d+$/),
      version: "1.0",
      sys: { ack: 0 },
      method: "thing.log.post",
      params: [
        ...[3, 4, 5].map((i) => ({ utcTime, logLevel: "WARN", module: "app", code: "", logContent: "line " + i })),
        {
          utcTime: new Date(1583478926464).toISOString(),
          logLevel: "WARN",
          module: "log",
          code: "dropped",
          logContent: "2 older entries dropped",
        },
      ],
    });
  }, 30000);
});
