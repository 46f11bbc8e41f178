// The `net` module: TCP sockets over real Node sockets, with Espruino's behaviour where Node's
// differs:
// - DNS is resolved synchronously (a blocking child process, like the device's blocking
//   lookup); a failed lookup THROWS InternalError "Unable to locate host", and with Wi-Fi down
//   connect throws "Unable to create socket".
// - A TCP connect cannot be synchronous in Node, so a refused connect is reported the way
//   Espruino reports async socket failures: 'error' {code, message}, then 'end', then 'close'
//   (hadError = true).
// - Wi-Fi loss and reboots abandon open sockets on the device side ('end' + 'close' fire in the
//   device) without closing the TCP link: like a real board, the broker only notices through
//   its keep-alive limit or a second login. Only close() of the whole device destroys them.
// - With `rechunk`, received data is split at random, as TCP may deliver it on the board.
// - `tls` (the tls module): Node's TLS with no certificate check and no SNI, as Espruino 2v29.
//   The two 2v29 crashes (docs/ESPRUINO.md §4) are reproduced as a loud failure instead of an
//   interpreter abort: creating a TLS socket inside any socket's 'data' callback, or writing
//   to a TLS socket inside ANOTHER socket's 'data' callback, prints "simulator: CRASH ..." to
//   the console, throws, and power-cycles the device (as the board's watchdog would after the
//   assert), so tests see it.
// - `http` (the http module): get(url | {host, port, path, protocol}, cb) over Node's http and
//   https (no certificate check, no SNI). As on Espruino: res.statusCode is a STRING ("200"),
//   the body comes as 'data' events (byte strings, at most 1024 bytes each), then 'close'; a
//   failed request fires 'error' {code, message} and 'close' on the request; an https body that
//   ends complete also fires 'error' {code: -30848, "unknown error"} (the server's TLS
//   close_notify, measured on 2v29) on the request before the response's 'close'. An https get
//   inside a socket's 'data' callback is the first crash above; a response's 'data' callback counts as
//   a socket's (a write to a TLS socket from it is the second).
import net from "node:net";
import tls from "node:tls";
import http from "node:http";
import https from "node:https";
import { execFileSync } from "node:child_process";
import type { Core } from "./core";

interface Entry {
  ns: net.Socket | null;
  kill: () => void;
}

/** @param wifiConnected whether the station is associated (sockets need it) */
export function createNet(core: Core, wifiConnected: () => boolean) {
  const dns = new Map([["localhost", "127.0.0.1"], ...Object.entries(core.opts.hosts || {})]);
  const sockets = new Set<Entry>();
  /** Host sockets the device abandoned, still open until the peer or close() ends them. */
  const orphans = new Set<net.Socket>();

  function resolve(host: string): string {
    if (net.isIP(host)) return host;
    const known = dns.get(host);
    if (known !== undefined) return known;
    let ip = "";
    try {
      ip = execFileSync(
        process.execPath,
        ["-e", 'require("dns").lookup(process.argv[1],{family:4},(e,a)=>{process.stdout.write(e?"":a)})', host],
        { timeout: 10000, encoding: "utf8" },
      ).trim();
    } catch {
      ip = "";
    }
    if (!ip) return "";
    dns.set(host, ip);
    return ip;
  }

  function httpGet(o: any, cb: any) {
    let url: URL;
    try {
      url =
        typeof o === "string"
          ? new URL(o)
          : new URL(
              (o.protocol || "http:").replace(/:?$/, "://") +
                (o.host || "127.0.0.1") +
                (o.port ? ":" + o.port : "") +
                (o.path || "/"),
            );
    } catch {
      throw core.err("simulator: http.get needs a URL or {host, port, path}");
    }
    const secure = url.protocol === "https:";
    if (secure && inData) crash("http.get of an https URL inside a socket data callback");
    if (!wifiConnected()) throw core.err("Unable to create socket", "InternalError");
    const host = url.hostname;
    const ip = resolve(host);
    if (!ip) throw core.err("Unable to locate host", "InternalError");
    const g = core.gen;
    const req = new core.C.Object();
    let closed = false;
    const port = Number(url.port || (secure ? 443 : 80));
    const options: any = { host: ip, port, path: url.pathname + url.search, headers: { Host: url.host } };
    const nreq = secure ? https.get({ ...options, rejectUnauthorized: false, servername: "" }) : http.get(options);
    const entry = {
      ns: null as any,
      kill() {
        sockets.delete(entry);
        closed = true;
        nreq.destroy();
      },
    };
    sockets.add(entry);
    core.log("http: get " + url.href);
    const live = () => !closed && g === core.gen;
    nreq.on("socket", (s) => {
      entry.ns = s;
    });
    nreq.on("error", (e: any) => {
      if (!live()) return;
      closed = true;
      sockets.delete(entry);
      core.log("http: error " + url.href + " " + e.code);
      const code = e.code === "ECONNREFUSED" ? -11 : e.code === "ECONNRESET" ? -9 : -10;
      core.fire(req, "error", [
        core.toCtx({ code, message: e.code === "ECONNREFUSED" ? "connection refused" : "unknown" }),
      ]);
      core.fire(req, "close", []);
    });
    nreq.on("response", (nres) => {
      if (!live()) return;
      const res = new core.C.Object();
      Object.assign(res, {
        statusCode: String(nres.statusCode),
        statusMessage: nres.statusMessage || "",
        httpVersion: nres.httpVersion,
        headers: core.toCtx(nres.headers),
      });
      const proxy = core.stand("httpCRs", res);
      if (typeof cb === "function") cb(proxy);
      // complete: the body ended normally (a cut connection only closes)
      const finish = (complete: boolean) => {
        if (!live()) return;
        closed = true;
        sockets.delete(entry);
        core.log("http: closed " + url.href);
        // as 2v29 does: the server's close_notify at the end of an https body comes as an error
        if (secure && complete) core.fire(req, "error", [core.toCtx({ code: -30848, message: "unknown error" })]);
        core.fire(res, "close", []);
      };
      nres.on("data", (b: Buffer) => {
        const s = b.toString("latin1");
        for (let i = 0; i < s.length && live(); i += 1024) {
          inData = res;
          try {
            core.fire(res, "data", [s.slice(i, i + 1024)]);
          } finally {
            inData = null;
          }
        }
      });
      nres.on("end", () => finish(true));
      nres.on("close", () => finish(false));
      nres.on("error", () => {});
    });
    return core.stand("httpCRq", req);
  }

  /** The device socket whose 'data' listeners are running (null outside one). */
  let inData: any = null;

  function crash(what: string): never {
    const msg =
      "simulator: CRASH: " +
      what +
      " kills Espruino 2v29 (ASSERT(net) FAILED, docs/ESPRUINO.md §4); defer it with setTimeout";
    core.out(msg);
    core.log(msg);
    const g = core.gen;
    setImmediate(() => {
      if (g === core.gen) crashed(msg);
    });
    throw core.err(msg);
  }
  let crashed: (why: string) => void = () => {};

  function connect(o: any, cb: any, secure?: boolean) {
    if (!o || typeof o !== "object") throw core.err("simulator: net.connect needs {host, port}");
    if (secure && inData) crash("tls.connect inside a socket data callback");
    const host = o.host === undefined ? "127.0.0.1" : String(o.host);
    const port = Number(o.port);
    if (!wifiConnected()) throw core.err("Unable to create socket", "InternalError");
    const ip = resolve(host);
    if (!ip) throw core.err("Unable to locate host", "InternalError");
    const g = core.gen;
    const sock = new core.C.Object();
    // handlers run with `this` = the socket the firmware holds, as in Espruino
    const proxy = core.stand("socket", sock);
    const st = { ended: false, closed: false, error: null as any };
    // no certificate check and no SNI (servername '' suppresses it in Node), as on the device
    const ns: net.Socket = secure
      ? tls.connect({ host: ip, port, rejectUnauthorized: false, servername: "" })
      : net.connect({ host: ip, port });
    ns.setNoDelay(true);
    const entry = { ns, kill };
    sockets.add(entry);
    core.log("net: connect " + host + ":" + port);
    function finish(hadError: boolean) {
      if (st.closed) return;
      st.closed = true;
      sockets.delete(entry);
      if (g !== core.gen) return;
      if (hadError && st.error) core.fire(proxy, "error", [core.toCtx(st.error)]);
      core.fire(proxy, "end", []);
      core.fire(proxy, "close", [hadError]);
    }
    function kill() {
      // The device's side is gone; the TCP link is left for the broker to time out.
      sockets.delete(entry);
      ns.removeAllListeners("data");
      ns.on("data", () => {});
      orphans.add(ns);
      ns.on("close", () => orphans.delete(ns));
      setImmediate(() => finish(false));
    }
    ns.on(secure ? "secureConnect" : "connect", () => {
      if (st.closed || g !== core.gen) return;
      core.log("net: open " + host + ":" + port);
      core.fire(proxy, "connect", [proxy]);
    });
    const fireData = (s: string) => {
      inData = sock;
      try {
        core.fire(proxy, "data", [s]);
      } finally {
        inData = null;
      }
    };
    ns.on("data", (b: Buffer) => {
      if (st.closed || g !== core.gen) return;
      const s = b.toString("latin1");
      const rechunk = core.opts.rechunk;
      if (!rechunk) return fireData(s);
      const max = rechunk === true ? 64 : rechunk;
      for (let i = 0; i < s.length && !st.closed; ) {
        const n = 1 + Math.floor(Math.random() * max);
        fireData(s.slice(i, i + n));
        i += n;
      }
    });
    ns.on("error", (e: any) => {
      st.error = {
        code: e.code === "ECONNRESET" ? -9 : e.code === "ECONNREFUSED" ? -11 : -10,
        message:
          e.code === "ECONNRESET" ? "connection reset" : e.code === "ECONNREFUSED" ? "connection refused" : "unknown",
      };
      core.log("net: error " + host + ":" + port + " " + e.code);
    });
    ns.on("close", () => {
      core.log("net: closed " + host + ":" + port);
      finish(!!st.error);
    });
    Object.assign(sock, {
      write(d: any) {
        if (secure && inData && inData !== sock) crash("a write to a TLS socket inside another socket's data callback");
        if (st.ended || st.closed) throw core.err("This socket is closed");
        // Espruino converts a non-string with jsvAsString: arrays and typed arrays become "1,2,3".
        let s;
        if (typeof d === "string") s = d;
        else if (ArrayBuffer.isView(d) || Object.prototype.toString.call(d) === "[object ArrayBuffer]")
          s = Array.prototype.join.call(ArrayBuffer.isView(d) ? d : new Uint8Array(d), ",");
        else if (Array.isArray(d)) s = d.join(",");
        else s = String(d);
        ns.write(core.bytesOf(s, "socket.write"));
      },
      end(d: any) {
        if (st.ended || st.closed) return;
        if (d !== undefined) sock.write(d);
        st.ended = true;
        ns.end();
      },
    });
    if (typeof cb === "function") sock.on("connect", cb);
    return proxy;
  }

  /** The device loses every socket (Wi-Fi drop, reboot); the TCP links stay open. */
  function abandonAll() {
    for (const s of [...sockets]) s.kill();
  }

  /** Really closes every host socket (device close()). */
  function destroyAll() {
    for (const s of sockets) s.ns?.destroy();
    for (const s of orphans) s.destroy();
    orphans.clear();
  }

  return {
    connect: (o: any, cb: any) => connect(o, cb),
    tlsConnect: (o: any, cb: any) => connect(o, cb, true),
    httpGet: (o: any, cb: any) => httpGet(o, cb),
    abandonAll,
    destroyAll,
    /** what a crash does (device.ts: reboot) */
    onCrash(f: (why: string) => void) {
      crashed = f;
    },
  };
}
