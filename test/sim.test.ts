// Unit tests of the simulator's Espruino stand-ins (tools/simulator/). Device code is given as
// small Espruino-style scripts; timers are faked except where a real loopback socket is used.
import { describe, it, expect, afterEach, vi } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { createHash } from "node:crypto";
import { createServer as createTlsServer } from "node:tls";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createHttpServer } from "node:http";
import { generate } from "selfsigned";
import { createDevice, parseLiberal, espruinoJSON } from "../tools/simulator";

const dirs: string[] = [];
const devices: any[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "sim-test-"));
  dirs.push(d);
  return d;
}
function device(source: string, o: any = {}): { d: any; lines: string[] } {
  const lines: string[] = [];
  const d = createDevice({ source, storageDir: o.storageDir || tmp(), out: (l: string) => lines.push(l), ...o });
  devices.push(d);
  return { d, lines };
}
afterEach(() => {
  vi.useRealTimers();
  while (devices.length) devices.pop().close();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe("timers", () => {
  it("clearTimeout(undefined) throws like Espruino, clearTimeout() clears every timer", () => {
    vi.useFakeTimers();
    const { d, lines } = device(`
      var fired = [];
      setTimeout(function () { fired.push("a") }, 10);
      setInterval(function () { fired.push("b") }, 10);
    `);
    expect(() => d.eval("clearTimeout(undefined)", { throws: true })).toThrow(/clearTimeout\(undefined\) not allowed/);
    expect(() => d.eval("clearInterval(undefined)", { throws: true })).toThrow(
      /clearInterval\(undefined\) not allowed/,
    );
    d.eval("clearTimeout()");
    vi.advanceTimersByTime(100);
    expect(d.eval("fired.length")).toBe(0);
    expect(d.timerCount()).toBe(0);
    expect(lines).toEqual([]);
  });

  it("ids are small integers that get reused, so a stale handle cancels someone else's timer", () => {
    vi.useFakeTimers();
    const { d } = device(`
      var log = [];
      var a = setTimeout(function () { log.push("a") }, 10);
    `);
    expect(d.eval("a")).toBe(1);
    vi.advanceTimersByTime(20);
    const b = d.eval('b = setTimeout(function () { log.push("b") }, 10)');
    expect(b).toBe(1); // reused
    d.eval("clearTimeout(a)"); // the stale handle kills b
    vi.advanceTimersByTime(20);
    expect(d.eval("log.join()")).toBe("a");
    expect(d.eval("setTimeout(function(){}, 5) + ',' + setTimeout(function(){}, 5)")).toBe("1,2");
  });

  it("timeScale divides delays", () => {
    vi.useFakeTimers();
    const { d } = device(`var t = 0; setTimeout(function () { t = 1 }, 10000);`, { timeScale: 20 });
    vi.advanceTimersByTime(499);
    expect(d.eval("t")).toBe(0);
    vi.advanceTimersByTime(2);
    expect(d.eval("t")).toBe(1);
  });

  it("an uncaught exception in a callback is printed and the device keeps running", () => {
    vi.useFakeTimers();
    const { d, lines } = device(`
      var n = 0;
      setTimeout(function () { throw new Error("boom") }, 5);
      setInterval(function () { n++ }, 10);
    `);
    vi.advanceTimersByTime(35);
    expect(lines).toContain("Uncaught Error: boom");
    expect(d.eval("n")).toBe(3);
  });
});

describe("missing APIs and the language subset", () => {
  it("a member the stand-ins lack fails loudly, naming it", () => {
    const { d } = device("");
    expect(() => d.eval("E.foo()", { throws: true })).toThrow("simulator: E.foo is not provided by the stand-in");
    expect(() => d.eval('require("crypto").MD5("x")', { throws: true })).toThrow(
      "simulator: crypto.MD5 is not provided",
    );
    expect(() => d.eval('require("Wifi").save()', { throws: true })).toThrow("simulator: Wifi.save is not provided");
    expect(() => d.eval('require("dgram")', { throws: true })).toThrow('simulator: require("dgram") is not provided');
    expect(() => d.eval("process.hrtime()", { throws: true })).toThrow("simulator: process.hrtime");
  });

  it("what Espruino lacks is missing here too", () => {
    const { d } = device("");
    for (const expr of [
      "new Map()",
      "new Set()",
      "Symbol()",
      "Array.from([1])",
      "Uint8Array.from([1])",
      "Number.isInteger(1)",
      "Math.trunc(1.5)",
      "Object.freeze({})",
      "new ArrayBuffer(4).slice(1)",
      "Reflect.ownKeys({})",
    ]) {
      expect(() => d.eval(expr, { throws: true }), expr).toThrow();
    }
    expect(d.eval("new Uint8Array([1,2]).length")).toBe(2);
  });

  it("errors thrown by stand-ins are the device's own Error class", () => {
    const { d } = device("");
    expect(d.eval("try { E.nope } catch (e) { e instanceof Error }")).toBe(true);
  });

  it("every object is an emitter whose listeners are visible #on properties", async () => {
    const { d } = device(`var o = {a: 1}, got = []; o.on("x", function (v) { got.push(v) }); o.emit("x", 5);`);
    expect(d.eval("Object.keys(o).join()")).toBe("a,#onx");
    expect(d.eval("got.length")).toBe(0); // emit() delivers asynchronously
    await new Promise((r) => setImmediate(r));
    expect(d.eval("got[0]")).toBe(5);
  });
});

describe("E, time and process", () => {
  it("E.toString / E.toUint8Array convert to bytes", () => {
    const { d } = device("");
    expect(d.eval("E.toString(new Uint8Array([104, 105, 200]))")).toBe("hi\u00c8");
    expect(d.eval('E.toString([1, 2], "ab", 3).length')).toBe(5);
    expect(d.eval('Array.prototype.join.call(E.toUint8Array("A\\xff"), ",")')).toBe("65,255");
  });

  it("crypto hashes return ArrayBuffer of Node's digest and take byte strings", () => {
    const { d } = device("");
    const got = d.eval('var h = require("crypto").SHA256("abc\\xff"); E.toString(new Uint8Array(h))');
    expect(d.eval("Object.prototype.toString.call(h)")).toBe("[object ArrayBuffer]");
    expect(Buffer.from(got, "latin1").toString("hex")).toBe(
      createHash("sha256")
        .update(Buffer.from([97, 98, 99, 255]))
        .digest("hex"),
    );
  });

  it("setTime steps Date.now()/getTime() by an offset; values are fractional ms", () => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate"],
    });
    const { d } = device("var t = 0; setTimeout(function () { t = 1 }, 1000);");
    d.eval("setTime(1000000)");
    const now = d.eval("Date.now()");
    expect(now).toBeGreaterThanOrEqual(1000000000);
    expect(now).toBeLessThan(1000000000 + 5000);
    expect(d.eval("getTime()")).toBeCloseTo(now / 1000, 0);
    expect(d.eval("new Date().getFullYear()")).toBe(1970);
    // Fractional: over many reads at least one is not a whole number.
    expect(d.eval("var f = false; for (var i = 0; i < 200; i++) if (Date.now() % 1) f = true; f")).toBe(true);
    vi.advanceTimersByTime(1000); // timers keep firing after the step
    expect(d.eval("t")).toBe(1);
  });

  it("process.memory() and process.env look like an ESP32 on 2v29", () => {
    const { d } = device("");
    const m = d.eval("process.memory()");
    expect(m.total).toBe(16000);
    expect(m.free + m.usage).toBe(m.total);
    expect(d.eval("process.env.BOARD + ' ' + process.env.VERSION")).toBe("ESP32 2v29");
  });

  it("watchdog: not kicked within the period -> 'watchdog reset' and a reboot with the same Storage", () => {
    vi.useFakeTimers();
    const dir = tmp();
    const src = `var S = require("Storage"); S.write("boots", String(Number(S.read("boots") || 0) + 1));
      if (!global.noWatchdog) E.enableWatchdog(5, false);`;
    const { d, lines } = device(src, { storageDir: dir });
    vi.advanceTimersByTime(4000);
    expect(d.boots).toBe(1);
    vi.advanceTimersByTime(2000);
    expect(lines.some((l) => /watchdog reset/.test(l))).toBe(true);
    expect(d.boots).toBe(2);
    expect(d.eval('require("Storage").read("boots")')).toBe("2");
  });

  it("watchdog: kicked regularly -> no reset; timeScale shortens the period", () => {
    vi.useFakeTimers();
    const { d } = device(`E.enableWatchdog(10, false); setInterval(function () { E.kickWatchdog() }, 2000);`, {
      timeScale: 10,
    });
    vi.advanceTimersByTime(10000); // 100 s of device time
    expect(d.boots).toBe(1);
    d.eval("clearTimeout()");
    vi.advanceTimersByTime(1300); // 13 s of device time without a kick (checked every period/8)
    expect(d.boots).toBe(2);
  });
});

describe("Storage", () => {
  it("names longer than 28 chars are silently truncated; one host file per name", () => {
    const dir = tmp();
    const { d } = device("", { storageDir: dir });
    const long = "abcdefghijklmnopqrstuvwxyz0123456789";
    d.eval(`require("Storage").write("${long}", "v1")`);
    expect(d.eval(`require("Storage").read("${long.slice(0, 28)}")`)).toBe("v1");
    expect(d.eval(`require("Storage").read("${long.slice(0, 30)}")`)).toBe("v1");
    expect(d.eval('require("Storage").list().join()')).toBe(long.slice(0, 28));
    expect(readdirSync(dir)).toEqual([long.slice(0, 28)]);
    expect(d.eval('require("Storage").read("nope")')).toBe(undefined);
  });

  it("writeJSON writes Espruino's format (unquoted keys); readJSON reads it; garbage throws or gives undefined", () => {
    const dir = tmp();
    const { d } = device("", { storageDir: dir });
    d.eval(`require("Storage").writeJSON("c.json", {n: 2, c: {ssid: "x\\xe9", "a-b": [1, true, null]}})`);
    expect(readFileSync(join(dir, "c.json"), "latin1")).toBe('{n:2,c:{ssid:"x\\xe9","a-b":[1,true,null]}}');
    expect(d.eval('JSON.stringify(require("Storage").readJSON("c.json"))')).toBe(
      '{"n":2,"c":{"ssid":"x\u00e9","a-b":[1,true,null]}}',
    );
    d.eval('require("Storage").write("bad", "{n:2, c:")');
    expect(() => d.eval('require("Storage").readJSON("bad")', { throws: true })).toThrow(/expected/);
    expect(d.eval('require("Storage").readJSON("bad", true)')).toBe(undefined);
    expect(d.eval('require("Storage").readJSON("missing")')).toBe(undefined);
  });

  it("liberal parser and writer agree with JSON on plain data", () => {
    const v = { a: 1, "b c": ['x\n"y', -2.5e3, false, null], d: {} };
    expect(parseLiberal(espruinoJSON(v)!)).toEqual(v);
    expect(parseLiberal(JSON.stringify(v))).toEqual(v);
    expect(() => parseLiberal("{a:1} x")).toThrow(/expected EOF/);
  });
});

describe("net and Wi-Fi", () => {
  let server: Server | null = null;
  afterEach(() => {
    server?.close();
    server = null;
  });
  function listen(onConn: (s: Socket) => void): Promise<number> {
    server = createServer(onConn);
    return new Promise((r) => server!.listen(0, "127.0.0.1", () => r((server!.address() as any).port)));
  }
  const until = async (f: () => any, what: string) => {
    for (let i = 0; i < 500; i++) {
      if (f()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("timed out waiting for " + what);
  };

  it("write() sends a Uint8Array as its decimal text, strings as bytes; write after end() throws", async () => {
    const chunks: Buffer[] = [];
    let ended = false;
    const port = await listen((s) => {
      s.on("data", (b) => chunks.push(b));
      s.on("end", () => {
        ended = true;
        s.end();
      });
    });
    const { d } = device(
      `
      var W = require("Wifi"), ev = [];
      W.connect("SimAP", {password: "sim-password"}, function (e) {
        var s = require("net").connect({host: "127.0.0.1", port: ${port}}, function () {
          s.write(new Uint8Array([16, 0, 255]));
          s.write("\\x10\\x00\\xff");
          s.end();
          try { s.write("x") } catch (e) { ev.push(e.message) }
        });
        s.on("end", function () { ev.push("end") });
        s.on("close", function () { ev.push("close") });
      });
    `,
      { wifiDelay: 0 },
    );
    await until(() => d.eval("ev.length") >= 3, "end/close");
    expect(d.eval("ev.join('|')")).toBe("This socket is closed|end|close");
    expect(ended).toBe(true);
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([Buffer.from("16,0,255"), Buffer.from([16, 0, 255])]));
  });

  it("a refused connect reports error, end, close; with Wi-Fi down connect throws", async () => {
    const port = await listen(() => {});
    server!.close();
    server = null;
    const { d } = device(
      `
      var ev = [];
      require("Wifi").connect("SimAP", {password: "sim-password"}, function () {
        var s = require("net").connect({host: "127.0.0.1", port: ${port}}, function () { ev.push("open") });
        s.on("error", function (e) { ev.push("error " + e.message) });
        s.on("end", function () { ev.push("end") });
        s.on("close", function (h) { ev.push("close " + h) });
      });
    `,
      { wifiDelay: 0 },
    );
    await until(() => d.eval("ev.length") >= 3, "close");
    expect(d.eval("ev.join('|')")).toBe("error connection refused|end|close true");
    d.wifiDown();
    expect(() => d.eval(`require("net").connect({host: "127.0.0.1", port: ${port}})`, { throws: true })).toThrow(
      "Unable to create socket",
    );
  });

  it("Wi-Fi: wrong password -> 'disconnected' then cb(error); drop -> 'disconnected' and open sockets die", async () => {
    const peers: Socket[] = [];
    const port = await listen((s) => peers.push(s));
    const { d } = device(
      `
      var W = require("Wifi"), ev = [];
      W.on("disconnected", function (x) { ev.push("disc " + x.msg) });
      W.on("connected", function (x) { ev.push("conn " + x.ip) });
      W.connect("SimAP", {password: "wrong"}, function (e) { ev.push("cb " + e) });
    `,
      { wifiDelay: 0 },
    );
    await until(() => d.eval("ev.length") >= 2, "auth failure");
    expect(d.eval("ev.join('|')")).toBe("disc AUTH_FAIL|cb AUTH_FAIL");
    d.eval(`ev = []; W.connect("SimAP", {password: "sim-password"}, function (e) {
      ev.push("cb " + e);
      var s = require("net").connect({host: "127.0.0.1", port: ${port}}, function () { ev.push("open") });
      s.on("close", function () { ev.push("sock close") });
    })`);
    await until(() => d.eval("ev.indexOf('open') >= 0"), "open");
    expect(d.eval("W.getIP().ip")).toBe("192.168.4.2");
    d.wifiDown();
    await until(() => d.eval("ev.length") >= 5, "drop");
    expect(d.eval("ev.slice(3).sort().join('|')")).toBe("disc BEACON_TIMEOUT|sock close");
    expect(d.eval("W.getStatus().station")).toBe("off");
    d.eval(`ev = []; W.connect("SimAP", {password: "sim-password"}, function (e) { ev.push("cb " + e) })`);
    await until(() => d.eval("ev.length") >= 2, "no AP");
    expect(d.eval("ev.join('|')")).toBe("disc NO_AP_FOUND|cb NO_AP_FOUND");
    d.wifiUp();
    d.eval(`ev = []; W.connect("SimAP", {password: "sim-password"}, function (e) { ev.push("cb " + e) })`);
    await until(() => d.eval("ev.length") >= 1, "back");
    expect(d.eval("ev[0]")).toBe("cb null");
  });
});

describe("tls stand-in: Node's TLS, no certificate check, and the two Espruino 2v29 crashes", () => {
  let pem: any = null,
    tlsPort = 0,
    tcpPort = 0;
  const servers: any[] = [];
  const until = async (f: () => any, what: string) => {
    for (let i = 0; i < 500; i++) {
      if (f()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("timed out waiting for " + what);
  };
  afterEach(() => {
    while (servers.length) servers.pop().close();
  });
  // a TLS echo server with a self-signed certificate (no check on the device) and a TCP one that greets
  async function start() {
    pem = pem || (await generate([{ name: "commonName", value: "sim-test" }], { keySize: 2048 }));
    const t = createTlsServer({ key: pem.private, cert: pem.cert }, (s) => {
      s.on("data", (b) => s.write(b));
      s.on("error", () => {});
    });
    const n = createServer((s) => {
      s.write("hello");
      s.on("error", () => {});
    });
    servers.push(t, n);
    tlsPort = await new Promise((r) => t.listen(0, "127.0.0.1", () => r((t.address() as any).port)));
    tcpPort = await new Promise((r) => n.listen(0, "127.0.0.1", () => r((n.address() as any).port)));
  }
  const open = (body: string) => `
    var ev = [];
    require("Wifi").connect("SimAP", {password: "sim-password"}, function () { ${body} });`;

  it("connects without checking the self-signed certificate; data flows both ways; writes in its own data callback are fine", async () => {
    await start();
    const { d, lines } = device(
      open(`
      var s = require("tls").connect({host: "127.0.0.1", port: ${tlsPort}}, function () { s.write("ping") });
      s.on("data", function (x) { ev.push(x); if (x == "ping") s.write("pong") });`),
      { wifiDelay: 0 },
    );
    await until(() => d.eval("ev.length") >= 2, "echo");
    expect(d.eval("ev.join('|')")).toBe("ping|pong");
    expect(lines).toEqual([]);
  });

  it("tls.connect inside a socket's data callback: a clear CRASH line, a throw, and a power cycle", async () => {
    await start();
    const { d, lines } = device(
      open(`
      var n = require("net").connect({host: "127.0.0.1", port: ${tcpPort}});
      n.on("data", function () {
        try { require("tls").connect({host: "127.0.0.1", port: ${tlsPort}}) } catch (e) { ev.push(e.message) }
      });`),
      { wifiDelay: 0 },
    );
    const boots: number[] = [];
    d.events.on("boot", (n: number) => boots.push(n));
    await until(() => boots.length > 0, "reboot");
    expect(lines.join("\n")).toMatch(/simulator: CRASH: tls.connect inside a socket data callback kills Espruino 2v29/);
  });

  it("a write to a TLS socket inside ANOTHER socket's data callback crashes too", async () => {
    await start();
    const { lines } = device(
      open(`
      var t = require("tls").connect({host: "127.0.0.1", port: ${tlsPort}}, function () {
        var n = require("net").connect({host: "127.0.0.1", port: ${tcpPort}});
        n.on("data", function () {
          setTimeout(function () { t.write("later"); ev.push("timer write ok") }, 0);
          try { t.write("now") } catch (e) { ev.push("threw") }
        });
      });`),
      { wifiDelay: 0 },
    );
    await until(() => lines.some((l) => l.includes("CRASH")), "crash line");
    expect(lines.join("\n")).toMatch(/a write to a TLS socket inside another socket's data callback/);
  });
});

describe("http stand-in: Espruino's http.get (statusCode a string, data chunks, close) and the https crash", () => {
  const servers: any[] = [];
  let pem: any = null;
  const until = async (f: () => any, what: string) => {
    for (let i = 0; i < 500; i++) {
      if (f()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("timed out waiting for " + what);
  };
  afterEach(() => {
    while (servers.length) servers.pop().close();
  });
  const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 255));
  const handler = (req: any, res: any) => {
    if (req.url === "/file") res.writeHead(200, { "Content-Length": body.length }).end(body);
    else res.writeHead(404).end("nope");
  };
  async function listen(server: any): Promise<number> {
    servers.push(server);
    return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port)));
  }
  const open = (body: string) => `
    var ev = [], got = "";
    require("Wifi").connect("SimAP", {password: "sim-password"}, function () { ${body} });`;

  it("http and https (self-signed, unchecked): status as a string, the body in byte-string chunks, then close", async () => {
    pem = pem || (await generate([{ name: "commonName", value: "sim-test" }], { keySize: 2048 }));
    const port = await listen(createHttpServer(handler));
    const securePort = await listen(createHttpsServer({ key: pem.private, cert: pem.cert }, handler));
    const get = (url: string) => `
      require("http").get("${url}", function (res) {
        ev.push(typeof res.statusCode + " " + res.statusCode);
        res.on("data", function (d) { got += d; ev.push("data") });
        res.on("close", function () { ev.push("close " + got.length) });
      }).on("error", function (e) { ev.push("error " + e.code) });`;
    const { d, lines } = device(
      open(
        get("http://127.0.0.1:" + port + "/file") +
          `setTimeout(function () { ${get("https://127.0.0.1:" + securePort + "/missing")} }, 300);`,
      ),
      { wifiDelay: 0 },
    );
    await until(() => d.eval("ev.filter(function (e) { return /^close/.test(e) }).length") >= 2, "two responses");
    const ev: string[] = d.eval("ev");
    expect(ev[0]).toBe("string 200");
    expect(ev.filter((e) => e === "data").length).toBeGreaterThanOrEqual(5); // at most 1024 bytes each
    expect(ev).toContain("string 404");
    expect(ev).toContain("close 5004"); // 5000 + "nope"
    // the https body's end: 2v29 reports the server's close_notify as an error, before 'close'
    expect(ev.slice(-2)).toEqual(["error -30848", "close 5004"]);
    expect(ev.filter((e) => e.startsWith("error"))).toEqual(["error -30848"]);
    expect(Buffer.from(d.eval("got").slice(0, 5000), "latin1").equals(body)).toBe(true);
    expect(lines).toEqual([]);
  });

  it("a refused get fires 'error' and 'close' on the request", async () => {
    const port = await listen(createHttpServer(handler));
    servers.pop().close();
    await new Promise((r) => setTimeout(r, 50));
    const { d } = device(
      open(`require("http").get("http://127.0.0.1:${port}/file", function () { ev.push("res") })
        .on("error", function (e) { ev.push("error " + e.message) }).on("close", function () { ev.push("close") });`),
      { wifiDelay: 0 },
    );
    await until(() => d.eval("ev.length") >= 2, "error");
    expect(d.eval("ev.join('|')")).toBe("error connection refused|close");
  });

  it("http.get of an https URL inside a socket's data callback: the 2v29 CRASH, a throw, a power cycle", async () => {
    pem = pem || (await generate([{ name: "commonName", value: "sim-test" }], { keySize: 2048 }));
    const securePort = await listen(createHttpsServer({ key: pem.private, cert: pem.cert }, handler));
    const tcp = createServer((s) => {
      s.write("hello");
      s.on("error", () => {});
    });
    const tcpPort = await listen(tcp);
    const { d, lines } = device(
      open(`
      var n = require("net").connect({host: "127.0.0.1", port: ${tcpPort}});
      n.on("data", function () {
        try { require("http").get("https://127.0.0.1:${securePort}/file", function () {}) } catch (e) { ev.push(e.message) }
      });`),
      { wifiDelay: 0 },
    );
    const boots: number[] = [];
    d.events.on("boot", (n: number) => boots.push(n));
    await until(() => boots.length > 0, "reboot");
    expect(lines.join("\n")).toMatch(
      /simulator: CRASH: http.get of an https URL inside a socket data callback kills Espruino 2v29/,
    );
  });
});
