import { describe, it, expect } from "vitest";
import { handle, recordingHost } from "./support/alink";
import mqttPacket from "mqtt-packet";
import { Alink, alinkHost, json, subscriptions } from "../lib/alink";
import { Link, type LinkEnv } from "../lib/link";
import { fakeTimers } from "./support/fake-time";
import {
  ESPRUINO,
  ESPRUINO_HINT,
  HARNESS_HELPERS,
  asciiSource,
  libScript,
  minifyAsShipped,
  runInEspruino,
} from "./support/espruino";

const PK = "a1X2bEnP82z",
  DN = "example1";
const SYS = `/sys/${PK}/${DN}/thing/`;
const NTP = `/ext/ntp/${PK}/${DN}/`;

// Host stand-in recording publishes and errors; the shared fake timers.
function setup() {
  const { host, pubs, errors } = recordingHost();
  const timers = fakeTimers();
  let clock = 1571724098000;
  const times: number[] = [];
  alinkHost(
    host,
    timers,
    () => clock,
    (s) => times.push(s),
  );
  const a = Alink(PK, DN);
  return {
    a,
    pubs,
    errors,
    timers,
    times,
    setClock(ms: number) {
      clock = ms;
    },
    armed: () => [...timers.pending.values()].map((t) => t.ms),
  };
}

// Node's JSON.stringify with its short escapes (\b \t \n \f \r) spelled \u00XX, as json() does.
const stringify = (v: any) =>
  JSON.stringify(v).replace(/\\([\s\S])/g, (m, c) => {
    const i = "btnfr".indexOf(c);
    return i < 0 ? m : "\\u00" + ["08", "09", "0a", "0c", "0d"][i];
  });

// Decode a byte-string payload the way the platform does: bytes → UTF-8 text → JSON.
const decode = (p: string) => JSON.parse(Buffer.from(p, "latin1").toString("utf8"));
const bytes = (p: string) => Buffer.from(p, "latin1");
const postMsg = (id: string, params: any, e = "property") => ({
  id,
  version: "1.0",
  params,
  method: `thing.event.${e}.post`,
});

describe("subscriptions", () => {
  it("lists the eight topics: requests from the cloud at QoS 1, answers to ours at QoS 0", () => {
    expect(subscriptions(PK, DN)).toEqual([
      [`/sys/${PK}/${DN}/thing/service/property/set`, 1],
      [`/sys/${PK}/${DN}/thing/event/+/post_reply`, 0],
      [`/ext/ntp/${PK}/${DN}/response`, 0],
      [`/sys/${PK}/${DN}/thing/service/+`, 1],
      [`/ext/rrpc/+/sys/${PK}/${DN}/thing/service/+`, 1],
      [`/sys/${PK}/${DN}/rrpc/request/+`, 1],
      [`/sys/${PK}/${DN}/thing/config/log/get_reply`, 0],
      [`/sys/${PK}/${DN}/thing/config/log/push`, 1],
    ]);
  });
});

describe("json", () => {
  // Seeded PRNG so a failure reproduces.
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const chars = [
    '"',
    "\\",
    "/",
    "\n",
    "\r",
    "\t",
    "\b",
    "\f",
    "\u0000",
    "\u0001",
    "\u001f",
    "\u000b",
    " ",
    "a",
    "Z",
    "9",
    "\u007f",
    "é",
    "ü",
    "温",
    "度",
    "€",
    "\u2028",
    "😀",
    "'",
    "<",
    "{",
    "]",
  ];
  const rstr = () => {
    let s = "";
    const n = Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) s += pick(chars);
    return s;
  };
  const rnum = () =>
    pick([0, -0, 1, -1, 21.5, -3.25, 0.1, 1e21, 1e-7, -1.5e300, 4294967295, 123456789.125, rnd() * 2000 - 1000]);
  const rval = (d: number): any => {
    const k = Math.floor(rnd() * (d > 3 ? 4 : 6));
    if (k == 0) return rstr();
    if (k == 1) return rnum();
    if (k == 2) return pick([true, false, null]);
    if (k == 3) return rstr() + "温";
    if (k == 4) {
      const a: any[] = [];
      const n = Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) a.push(rval(d + 1));
      return a;
    }
    const o: any = {};
    const n = Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) o[rstr()] = rval(d + 1);
    return o;
  };

  it("matches Node's JSON.stringify + UTF-8 on random values", () => {
    for (let i = 0; i < 2000; i++) {
      const v = rval(0);
      expect(bytes(json(v))).toEqual(Buffer.from(stringify(v), "utf8"));
      expect(decode(json(v))).toEqual(JSON.parse(JSON.stringify(v)));
    }
  });

  // Printable ASCII strings take the native JSON.stringify path, others the own encoder:
  // both, and their mix in one value, must give Node's text.
  const printable = () => {
    let s = "";
    const n = Math.floor(rnd() * 12);
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(rnd() * 95));
    return s;
  };
  const mapStrings = (v: any, f: (s: string) => string): any =>
    typeof v == "string"
      ? f(v)
      : Array.isArray(v)
        ? v.map((x) => mapStrings(x, f))
        : v && typeof v == "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [f(k), mapStrings(x, f)]))
          : v;

  it("printable ASCII (native fast path) and mixed values match Node's JSON.stringify", () => {
    for (let i = 0; i < 2000; i++) {
      const v = mapStrings(rval(0), (s) => (rnd() < 0.8 ? printable() + (rnd() < 0.3 ? '"\\' : "") : s));
      expect(json(v)).toBe(Buffer.from(stringify(v), "utf8").toString("latin1"));
    }
    expect(json('a"b\\c ~')).toBe(JSON.stringify('a"b\\c ~'));
  });

  it("each string is made UTF-8 on its own: byte strings next to Unicode ones are not encoded twice", () => {
    const b = (x: string) => Buffer.from(x, "utf8").toString("latin1");
    expect(bytes(json({ u: "温度", b: b("温度\n"), l: "café", k: [b("é"), "😀"] }))).toEqual(
      Buffer.from(stringify({ u: "温度", b: "温度\n", l: "café", k: ["é", "😀"] }), "utf8"),
    );
  });

  it("random values with ESP32-style byte strings (UTF-8 bytes) give the same bytes", () => {
    for (let i = 0; i < 2000; i++) {
      const v = rval(0),
        asBytes = mapStrings(v, (s) => Buffer.from(s, "utf8").toString("latin1"));
      expect(bytes(json(asBytes))).toEqual(Buffer.from(stringify(v), "utf8"));
    }
  });

  it("escapes every char below 0x80 like JSON.stringify", () => {
    let s = "";
    for (let c = 0; c < 128; c++) s += String.fromCharCode(c);
    expect(json(s)).toBe(stringify(s));
    expect(json(s)).toBe(
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\u0009\\u000a\\u000b\\u000c\\u000d\\u000e\\u000f' +
        "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f" +
        ' !\\"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\x7f"',
    );
  });

  it("passes UTF-8 byte strings (ESP32 source strings) through unchanged", () => {
    const v = { name: '温度 "x"', list: ["é", "😀"] };
    const asBytes = {
      name: Buffer.from(v.name).toString("latin1"),
      list: v.list.map((x) => Buffer.from(x).toString("latin1")),
    };
    expect(bytes(json(asBytes))).toEqual(Buffer.from(JSON.stringify(v)));
  });

  it("rejects values JSON cannot carry; leaves out undefined and function members as JSON.stringify does", () => {
    const cyc: any = { a: 1 };
    cyc.self = cyc;
    for (const v of [undefined, () => 1, NaN, Infinity, -Infinity, [NaN], { a: 1, b: [Infinity] }, cyc, [cyc]]) {
      expect(() => json(v)).toThrow(/json: /);
    }
    for (const v of [{ a: undefined, b: 1 }, { f: () => 1 }, [undefined, () => 1, 2], { a: [undefined], s: "é" }])
      expect(bytes(json(v))).toEqual(Buffer.from(JSON.stringify(v), "utf8"));
    let deep: any = 1;
    for (let i = 0; i < 10; i++) deep = [deep];
    expect(json(deep)).toBe(JSON.stringify(deep));
    // the exact encoder (non-ASCII text) stops at 10 levels, which also stops cycles; the
    // native one (plain ASCII) has no such limit: its cycles are caught by their "..." mark
    expect(() => json([deep, "é"])).toThrow(/over 10 deep/);
    expect(json([deep])).toBe(JSON.stringify([deep]));
  });
});

describe("post / event", () => {
  it("publishes the property post at QoS 1 with increasing ids", () => {
    const t = setup();
    expect(t.a.event("property", { Temp: 21.5 })).toBe("1");
    expect(t.a.event("property", { Temp: -3, On: true, Mode: null })).toBe("2");
    expect(t.pubs.map((p) => [p.topic, p.qos])).toEqual([
      [SYS + "event/property/post", 1],
      [SYS + "event/property/post", 1],
    ]);
    expect(decode(t.pubs[0].payload)).toEqual(postMsg("1", { Temp: 21.5 }));
    expect(decode(t.pubs[1].payload)).toEqual(postMsg("2", { Temp: -3, On: true, Mode: null }));
    expect(bytes(t.pubs[0].payload)).toEqual(Buffer.from(JSON.stringify(postMsg("1", { Temp: 21.5 }))));
  });

  it("event(params) is the property post, the same bytes as event('property', params)", () => {
    const t = setup();
    expect(t.a.event({ Temp: 21.5 })).toBe("1");
    expect(t.a.event("property", { Temp: 21.5 })).toBe("2");
    expect(t.pubs[0].topic).toBe(t.pubs[1].topic);
    expect(bytes(t.pubs[0].payload)).toEqual(Buffer.from(JSON.stringify(postMsg("1", { Temp: 21.5 }))));
    // an array is no params object, whichever argument it is; params alone name the params
    expect(() => t.a.event([1] as any)).toThrow(/params must be an object/);
    for (const bad of [null, undefined, 5, true]) expect(() => t.a.event(bad)).toThrow(/params must be an object/);
    expect(() => t.a.event(null, {})).toThrow(/identifier/);
    expect(t.pubs.length).toBe(2);
  });

  it("wraps the id after 4294967295 back to 1", () => {
    const t = setup();
    (t.a as any)._lastId = 4294967294;
    expect(t.a.event("property", { a: 1 })).toBe("4294967295");
    expect(t.a.event("property", { a: 1 })).toBe("1");
    expect(t.a.event("property", { a: 1 })).toBe("2");
    expect(t.pubs.map((p) => decode(p.payload).id)).toEqual(["4294967295", "1", "2"]);
  });

  it("sends Chinese text as UTF-8, from Unicode strings and from UTF-8 byte strings", () => {
    const params = { name: "温度传感器", unit: "°C", v: 21.5 };
    const esp = {
      name: Buffer.from(params.name).toString("latin1"),
      unit: Buffer.from(params.unit).toString("latin1"),
      v: 21.5,
    };
    const t = setup();
    t.a.event("property", params);
    t.a.event("property", esp);
    expect(bytes(t.pubs[0].payload)).toEqual(Buffer.from(JSON.stringify(postMsg("1", params))));
    expect(bytes(t.pubs[1].payload)).toEqual(Buffer.from(JSON.stringify(postMsg("2", params))));
    expect(decode(t.pubs[1].payload).params.name).toBe("温度传感器");
  });

  it("posts events on their own topic and method", () => {
    const t = setup();
    const id50 = "A_" + "x".repeat(47) + "9";
    expect(t.a.event("Alarm_1", { level: 3 })).toBe("1");
    expect(t.a.event(id50, {})).toBe("2");
    expect(t.pubs[0].topic).toBe(SYS + "event/Alarm_1/post");
    expect(t.pubs[0].qos).toBe(1);
    expect(decode(t.pubs[0].payload)).toEqual(postMsg("1", { level: 3 }, "Alarm_1"));
    expect(t.pubs[1].topic).toBe(SYS + `event/${id50}/post`);
    for (const bad of ["", "a-b", "a/b", "+", "温度", id50 + "x", "a b", undefined, null, 5] as any[]) {
      expect(() => t.a.event(bad, {})).toThrow(/identifier/);
    }
    expect(t.pubs.length).toBe(2);
  });

  it("throws only for invalid params, without using an id", () => {
    const t = setup();
    for (const bad of [null, undefined, [], [1], "x", 5, true]) {
      expect(() => t.a.event("property", bad as any)).toThrow(/params must be an object/);
    }
    for (const bad of [{ n: NaN }, { n: Infinity }, { a: [1, -Infinity] }]) {
      expect(() => t.a.event("property", bad)).toThrow(/json: /);
    }
    const cyc: any = {};
    cyc.c = cyc;
    expect(() => t.a.event("property", cyc)).toThrow(/over 10 deep/);
    expect(t.pubs.length).toBe(0);
    expect(t.a.event("property", { ok: 1 })).toBe("1");
  });

  it("a post over the link's maxPacket (whole PUBLISH, mqtt-packet's size) throws and uses no id; at the limit it is sent", () => {
    const topic = SYS + "event/property/post";
    const params = (k: number) => ({ s: "温" + "x".repeat(k) }); // grows one byte per k
    const size = (k: number, id: string) =>
      mqttPacket.generate({
        cmd: "publish",
        topic,
        qos: 1,
        messageId: 1,
        dup: false,
        retain: false,
        payload: Buffer.from(JSON.stringify(postMsg(id, params(k)))),
      }).length;
    // limits around the 2/3-byte remaining-length step (16386 cannot occur: 16385 -> 16387)
    let exact = 0;
    for (const max of [150, 151, 200, 4096, 16386, 16387, 16388, 16389, 20000]) {
      let k = 0,
        hi = max; // largest k with size(k) <= max (size grows with k)
      while (k < hi) {
        const m = (k + hi + 1) >> 1;
        if (size(m, "1") <= max) k = m;
        else hi = m - 1;
      }
      if (size(k, "1") == max) exact++;
      // the real Link as the host: offline, so a post is queued, not written
      const timers = fakeTimers(),
        env = {
          set: timers.set,
          clear: timers.clear,
          _kick() {},
          _memory: () => ({ free: 0 }),
          _uptime: () => 0,
          _log() {},
        } as any as LinkEnv;
      const link = Link(env, {
        keepAlive: 60,
        queueLength: 4,
        maxPacket: max,
        watchdogSeconds: 40,
        offlineResetMinutes: 30,
        connackTimeoutSeconds: 10,
        pingTimeoutSeconds: 10,
        wifiTimeoutSeconds: 30,
        stableSeconds: 180,
      });
      alinkHost(
        link,
        timers,
        () => 0,
        () => {},
      );
      const a = Alink(PK, DN);
      expect(() => a.event("property", params(k + 1))).toThrow(new RegExp(`^mqtt: packet over ${max} bytes$`));
      expect(link.status().queue).toBe(0);
      expect(a.event("property", params(k))).toBe("1"); // the id of the rejected post was not used
      expect(link.status().queue).toBe(1);
    }
    expect(exact).toBe(8);
  });
});

describe("cloud messages", () => {
  const setTopic = SYS + "service/property/set";
  const setMsg = (id: string, params: any) =>
    Buffer.from(JSON.stringify({ id, version: "1.0", params, method: "thing.service.property.set" })).toString(
      "latin1",
    );

  it("answers a set with 200 without a handler and posts the values back", () => {
    const t = setup();
    t.a.message(setTopic, setMsg("7", { Light: 1, Name: "灯" }));
    expect(t.pubs.length).toBe(2);
    expect(t.pubs[0].topic).toBe(setTopic + "_reply");
    expect(t.pubs[0].qos).toBe(0);
    expect(decode(t.pubs[0].payload)).toEqual({ id: "7", code: 200, data: {} });
    expect(t.pubs[1].topic).toBe(SYS + "event/property/post");
    expect(t.pubs[1].qos).toBe(1);
    expect(decode(t.pubs[1].payload)).toEqual(postMsg("1", { Light: 1, Name: "灯" }));
  });

  it("uses the handler's numeric return, 500 when it throws, posts back only on 200", () => {
    const t = setup();
    const got: any[] = [];
    handle(t.a, "set", (p) => {
      got.push(p);
      return 404;
    });
    t.a.message(setTopic, setMsg("8", { Light: 0 }));
    handle(t.a, "set", () => {
      throw new Error("boom");
    });
    t.a.message(setTopic, setMsg("9", { Light: 0 }));
    handle(t.a, "set", () => "ignored");
    t.a.message(setTopic, setMsg("10", { Light: 1 }));
    handle(t.a, "set", () => 200);
    t.a.message(setTopic, setMsg("11", { Light: 2 }));
    expect(got).toEqual([{ Light: 0 }]);
    expect(t.pubs.map((p) => [p.topic.slice(SYS.length), decode(p.payload)])).toEqual([
      ["service/property/set_reply", { id: "8", code: 404, data: {} }],
      ["service/property/set_reply", { id: "9", code: 500, data: {} }],
      ["service/property/set_reply", { id: "10", code: 200, data: {} }],
      ["event/property/post", postMsg("1", { Light: 1 })],
      ["service/property/set_reply", { id: "11", code: 200, data: {} }],
      ["event/property/post", postMsg("2", { Light: 2 })],
    ]);
    expect(t.errors).toEqual([]);
  });

  it("answers a set whose params are not an object with 460, without calling the handler", () => {
    const t = setup();
    let calls = 0;
    handle(t.a, "set", () => {
      calls++;
    });
    for (const [id, params] of [
      ["20", null],
      ["21", "x"],
      ["22", [1, 2]],
      ["23", 5],
    ] as [string, any][])
      t.a.message(setTopic, setMsg(id, params));
    t.a.message(setTopic, '{"id":"24","version":"1.0"}');
    expect(calls).toBe(0);
    expect(t.pubs.map((p) => decode(p.payload))).toEqual(
      ["20", "21", "22", "23", "24"].map((id) => ({ id, code: 460, data: {} })),
    );
  });

  it("never throws on bad input from the cloud", () => {
    const t = setup();
    for (const topic of [setTopic, SYS + "event/property/post_reply", NTP + "response", "/other"]) {
      for (const p of ["", "{", "nul", "null", "5", "[]", "\xff\xfe"]) {
        expect(() => t.a.message(topic, p)).not.toThrow();
      }
    }
    expect(t.errors.length).toBeGreaterThan(0);
    expect(t.errors.every((e) => e.startsWith("alink "))).toBe(true);
    expect(t.times).toEqual([]);
  });

  it("matches post replies by id and reports non-200 codes", () => {
    const t = setup();
    const replies: any[] = [];
    handle(t.a, "reply", (id, code, msg) => replies.push([id, code, msg.message]));
    const reply = (topic: string, id: string, code: number, message: string) =>
      t.a.message(
        SYS + topic,
        JSON.stringify({ code, data: {}, id, message, method: "thing.event.property.post", version: "1.0" }),
      );
    const id1 = t.a.event("property", { a: 1 }),
      id2 = t.a.event("property", { a: 2 }),
      id3 = t.a.event("Alarm", { b: 1 });
    reply("event/property/post_reply", id1, 200, "success");
    reply("event/property/post_reply", id2, 6106, "map size must less than 200");
    reply("event/Alarm/post_reply", id3, 200, "success");
    reply("event/property/post_reply", id1, 200, "duplicate"); // already answered
    reply("event/property/post_reply", "999", 460, "not ours"); // never posted
    expect(replies).toEqual([
      ["1", 200, "success"],
      ["2", 6106, "map size must less than 200"],
      ["3", 200, "success"],
    ]);
    expect(t.errors).toEqual(["post 2: code 6106 map size must less than 200"]);
  });

  it("keeps a bounded record of pending ids", () => {
    const t = setup();
    const replies: string[] = [];
    handle(t.a, "reply", (id) => replies.push(id));
    for (let i = 0; i < 100; i++) t.a.event("property", { i });
    for (const id of ["1", "68", "69", "100"])
      t.a.message(SYS + "event/property/post_reply", JSON.stringify({ code: 200, id }));
    expect(replies).toEqual(["69", "100"]); // only the last 32 (69..100) are remembered
  });
});

describe("NTP", () => {
  it("computes the time from the docs/ALIYUN.md vector", () => {
    const t = setup();
    t.setClock(1571724098000.73); // Espruino's Date.now() is fractional
    t.a.setOnline(true);
    expect(t.pubs).toEqual([{ topic: NTP + "request", payload: '{"deviceSendTime":"1571724098000"}', qos: 0 }]);
    t.setClock(1571724098099.4);
    t.a.message(
      NTP + "response",
      JSON.stringify({
        deviceSendTime: "1571724098000",
        serverRecvTime: "1571724098110",
        serverSendTime: "1571724098115",
      }),
    );
    expect(t.times).toEqual([1571724098.162]);
    // the request is answered: a replay is ignored
    t.a.message(
      NTP + "response",
      JSON.stringify({
        deviceSendTime: "1571724098000",
        serverRecvTime: "1571724098110",
        serverSendTime: "1571724098115",
      }),
    );
    expect(t.times.length).toBe(1);
    expect(t.errors).toEqual([]);
  });

  it("ignores responses that don't match the outstanding request or aren't numeric", () => {
    const t = setup();
    const resp = (d: any, r: any, s: any) =>
      t.a.message(NTP + "response", JSON.stringify({ deviceSendTime: d, serverRecvTime: r, serverSendTime: s }));
    resp("1571724098000", "1571724098110", "1571724098115"); // nothing outstanding
    t.a.setOnline(true);
    resp("1571724097000", "1571724098110", "1571724098115");
    resp(undefined, "1571724098110", "1571724098115");
    resp("1571724098000", "abc", "1571724098115");
    resp("1571724098000", "1571724098110", "");
    resp("1571724098000", null, "1571724098115");
    resp("1571724098000", "1571724098110", "-5");
    expect(t.times).toEqual([]);
    resp("1571724098000", "1571724098110", "1571724098115");
    expect(t.times.length).toBe(1);
  });

  it("retries an unanswered request each minute, repeats daily after a sync, restarts on online() and stops on stop()", () => {
    const t = setup();
    const requests = () => t.pubs.filter((p) => p.topic == NTP + "request").length;
    t.a.setOnline(true);
    expect(t.armed()).toEqual([60000]); // lost request or response (QoS 0): retried
    t.a.setOnline(true); // reconnect: old schedule cancelled, one new
    expect(t.armed()).toEqual([60000]);
    expect(requests()).toBe(2);
    t.timers.runNext();
    expect(requests()).toBe(3);
    const sent = decode(t.pubs[2].payload).deviceSendTime;
    t.a.message(
      NTP + "response",
      JSON.stringify({ deviceSendTime: sent, serverRecvTime: "1571724098110", serverSendTime: "1571724098115" }),
    );
    expect(t.times.length).toBe(1);
    expect(t.armed()).toEqual([86400000]); // synced: next one a day later
    t.setClock(1571810498000);
    t.timers.runNext();
    expect(requests()).toBe(4);
    expect(decode(t.pubs[3].payload)).toEqual({ deviceSendTime: "1571810498000" });
    expect(t.armed()).toEqual([60000]);
    t.a.setOnline(false);
    expect(t.armed()).toEqual([]);
    t.a.setOnline(false); // twice: must not clear an undefined/stale handle
    // a response after stop() has no outstanding request
    t.a.message(
      NTP + "response",
      JSON.stringify({ deviceSendTime: "1571810498000", serverRecvTime: "1", serverSendTime: "1" }),
    );
    expect(t.times.length).toBe(1);
  });
});

// lib/bytes.ts + lib/crypto.ts + lib/alink.ts, minified as shipped, run in the real
// interpreter (a Unicode build: source strings are Unicode, E.toString() gives bytes).
describe.skipIf(!ESPRUINO)("alink in the real Espruino interpreter (" + ESPRUINO_HINT + ")", () => {
  const values: any[] = [
    { a: 1, b: [true, null, -2.5, 0.1, 1e-7], c: {} },
    { 名称: "温度传感器", q: '"\\/\n\t\u0001\u001f\u007f', e: "😀€é" },
    [[], {}, ""],
    "x",
    42,
    { 'k"\\': 'a"b\\c ~/', n: [21.5, -0.001, 1e-7, 123456789012, 4294967295], t: "ok" },
  ];
  const harness =
    HARNESS_HELPERS +
    `
var O=OUT;
var V=${asciiSource(JSON.stringify(values))},pubs=[],errs=[],times=[],tm={},th=1,clock=1571724098000.5;
V.forEach(function(v,i){O("json"+i,H(json(v)))});
O("bytes",H(json({s:E.toString(new Uint8Array([0xe6,0xb8,0xa9,0x22,0x0a,0x42,0xc3,0xa9]))})));
O("mix",H(json({u:"\\u6e29\\u5ea6",n:"caf\\xe9\\n",a:"ok",s:E.toString(new Uint8Array([0xe6,0xb8,0xa9,0x22,0x0a,0x42,0xc3,0xa9]))})));
alinkHost({publish:function(t,p,q){pubs.push([t,H(p),q])},error:function(m){errs.push(m)}},
 {set:function(f,ms){tm[th]=[f,ms];return th++},clear:function(h){if(!tm[h])throw new Error("dead "+h);delete tm[h]}},
 function(){return clock},function(s){times.push(s)});
var a=Alink("pk","dn");
a.event("property", V[1]);
try{a.event("a-b",{})}catch(e){errs.push(e.message)}
a.on=function(e,p){if(e!="set")return;if(p.x==2)throw new Error("no");return p.x==3?404:undefined};
[1,2,3].forEach(function(x){a.message("/sys/pk/dn/thing/service/property/set",'{"id":"'+(6+x)+'","params":{"x":'+x+'}}')});
a.message("/sys/pk/dn/thing/event/property/post_reply",'{"code":6106,"id":"1","message":"m"}');
a.message("/sys/pk/dn/thing/service/property/set","{bad");
a.setOnline(true);
clock=1571724098099.9;
a.message("/ext/ntp/pk/dn/response",'{"deviceSendTime":"1571724098000","serverRecvTime":"1571724098110","serverSendTime":"1571724098115"}');
a.setOnline(false);
O("pubs",pubs);O("errs",errs);O("times",times);O("timers",Object.keys(tm).length);
quit();
`;
  it("json(), post, set replies and NTP match the Node oracle", async () => {
    const { markers: out, output } = runInEspruino(
      (await minifyAsShipped(await libScript("bytes.ts", "crypto.ts", "alink.ts"))) + harness,
    );
    {
      const hex = (s: string) => Buffer.from(s).toString("hex");
      expect(out.timers, "ran to the end; output:\n" + output).toBe(0);
      values.forEach((v, i) => expect(out["json" + i], "value " + i).toBe(hex(stringify(v))));
      // starts with a byte >= 0x80: the case where the Unicode build re-encodes concatenated chars
      expect(out.bytes).toBe(hex(stringify({ s: '温"\nBé' })));
      // Unicode and Latin-1 strings next to a byte string in one value: all UTF-8, none twice
      expect(out.mix).toBe(hex(stringify({ u: "温度", n: "café\n", a: "ok", s: '温"\nBé' })));
      expect(out.pubs).toEqual([
        [`/sys/pk/dn/thing/event/property/post`, hex(stringify(postMsg("1", values[1]))), 1],
        ["/sys/pk/dn/thing/service/property/set_reply", hex('{"id":"7","code":200,"data":{}}'), 0],
        ["/sys/pk/dn/thing/event/property/post", hex(JSON.stringify(postMsg("2", { x: 1 }))), 1],
        ["/sys/pk/dn/thing/service/property/set_reply", hex('{"id":"8","code":500,"data":{}}'), 0],
        ["/sys/pk/dn/thing/service/property/set_reply", hex('{"id":"9","code":404,"data":{}}'), 0],
        ["/ext/ntp/pk/dn/request", hex('{"deviceSendTime":"1571724098000"}'), 0],
      ]);
      expect(out.errs.length).toBe(3);
      expect(out.errs[0]).toMatch(/identifier/);
      expect(out.errs[1]).toBe("post 1: code 6106 m");
      expect(out.errs[2]).toMatch(/^alink \/sys\/pk\/dn\/thing\/service\/property\/set: /);
      expect(out.times).toEqual([1571724098.162]);
    }
  }, 30000);
});
