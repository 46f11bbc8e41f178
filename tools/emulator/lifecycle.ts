// Lifecycle: startEmulator() assembles the parts (registry, connection layer, broker hooks,
// platform replies) and returns the emulator object: an EventEmitter with start/stop (a stop
// then start is a broker restart on the same port; sessions and pending sets are dropped),
// close, fault injection, the list of logged-in clients and setProperty.
// One port serves TLS and plain TCP, as the platform's 1883 does: the first byte of a link
// tells them apart (0x16 opens a TLS handshake; an MQTT CONNECT starts with 0x10).
import { createServer, type Server, type AddressInfo, type Socket } from "node:net";
import { TLSSocket, createSecureContext, DEFAULT_CIPHERS, type SecureContext } from "node:tls";
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import { dirname } from "node:path";
import { loadCertificate } from "./certificate";
import type { Context } from "./context";
import { Connections, type Fault, type ClientInfo } from "./connection";
import { createBroker } from "./broker";
import { Platform, type SetReply, type SetPropertyOptions } from "./platform";
import { OtaService, type OtaJob } from "./ota";
import { loadDevices, checkDevices, type Device, type Registry } from "./registry";
import { Services, type ServiceReply, type CallServiceOptions } from "./services";

export interface EmulatorOptions {
  /** TCP port; 0 = ephemeral (default 1883) */
  port?: number;
  /** interface to listen on (default 127.0.0.1; 0.0.0.0 lets boards on the LAN connect) */
  host?: string;
  /** JSON file [{productKey, deviceName, deviceSecret}] (default .emulator/devices.json) */
  devicesFile?: string;
  /** inline devices instead of devicesFile */
  devices?: Device[];
  /** >1 compresses the keepalive silence limit (default 1) */
  timeScale?: number;
  /** event lines; never contain secrets */
  log?: (line: string) => void;
  /** default setProperty timeout in real ms (default 5000) */
  setTimeout?: number;
  /** folder for the TLS certificate (made on first start); default: the devices file's folder,
   * or none (a per-process certificate) with inline devices */
  certDir?: string;
}

export interface Emulator extends EventEmitter {
  /** the listening port (known once started) */
  readonly port: number;
  /** the interface it listens on */
  readonly host: string;
  devices: Device[];
  /** the demo device created with a new devices file, else null */
  demo: Device | null;
  start: () => Promise<void>;
  stop: () => Promise<void>;
  /** stop and remove every listener */
  close: () => Promise<void>;
  setFault: (f: Fault) => void;
  /** closes device pk/dn's link as the platform's console does ("kick offline"); false if it was not online */
  kick: (pk: string, dn: string, reason?: string) => boolean;
  clients: () => ClientInfo[];
  setProperty: (pk: string, dn: string, params: Record<string, any>, o?: SetPropertyOptions) => Promise<SetReply>;
  /** services.ts: service calls (async or sync RRPC), classic RRPC, the device's log switch */
  callService: (
    pk: string,
    dn: string,
    identifier: string,
    params: Record<string, any>,
    o?: CallServiceOptions,
  ) => Promise<ServiceReply | null>;
  rrpc: (pk: string, dn: string, payload: string, timeout?: number) => Promise<string>;
  setLogMode: (pk: string, dn: string, mode: 0 | 1) => void;
  /** pushes an OTA job to pk/dn and serves its file over MQTT download (tools/emulator/ota.ts) */
  ota: (pk: string, dn: string, job: OtaJob) => any;
}

/** Start the emulator. See index.ts for the rules and events. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const timeScale = opts.timeScale || 1;
  if (!(timeScale > 0)) throw new Error("emulator: timeScale must be > 0");
  const log = opts.log || (() => {});
  const loaded: Registry = opts.devices
    ? { devices: checkDevices(opts.devices, "options.devices"), demo: null }
    : loadDevices(opts.devicesFile || ".emulator/devices.json");

  const emu = new EventEmitter();
  const ctx: Context = {
    timeScale,
    log,
    emit(ev, data) {
      try {
        emu.emit(ev, data);
      } catch (e) {
        log("listener of " + ev + " threw: " + (e as Error).message);
      }
    },
    devices: loaded.devices,
    broker: null,
  };
  const conns = new Connections(ctx);
  const platform = new Platform(ctx, conns, opts.setTimeout || 5000);
  const services = new Services(ctx, conns, (topic, obj, qos) => platform.send(topic, obj, qos));
  const ota = new OtaService(ctx);
  let server: Server | null = null;
  let port = opts.port === undefined ? 1883 : opts.port;
  const host = opts.host || "127.0.0.1";
  let secureContext: SecureContext | null = null;

  // A link's first byte decides: TLS (handshake record 0x16) or plain MQTT. The TLS layer gets
  // a stream that replays that byte (a TLSSocket on the socket itself would read its handle
  // directly and miss what was already read).
  function sniff(sock: Socket) {
    sock.on("error", () => sock.destroy());
    sock.once("data", (first: Buffer) => {
      sock.pause();
      if (first[0] !== 0x16) {
        sock.unshift(first);
        conns.accept(sock, false);
        return sock.resume();
      }
      const stream = new Duplex({
        read() {
          sock.resume();
        },
        write(chunk, _enc, cb) {
          sock.write(chunk, () => cb());
        },
        final(cb) {
          sock.end();
          cb();
        },
        destroy(err, cb) {
          sock.destroy();
          cb(err);
        },
      });
      sock.on("data", (d: Buffer) => {
        if (!stream.push(d)) sock.pause();
      });
      sock.on("end", () => stream.push(null));
      sock.on("close", () => stream.destroy());
      stream.push(first);
      const secure = new TLSSocket(stream as any, { isServer: true, secureContext: secureContext as SecureContext });
      secure.once("secure", () => conns.accept(secure, true));
      secure.on("error", (e) => {
        log("tls: " + e.message);
        sock.destroy();
      });
    });
  }

  async function start(): Promise<void> {
    if (server) return;
    if (!secureContext) {
      const pem = await loadCertificate(
        opts.certDir || (opts.devices ? undefined : dirname(opts.devicesFile || ".emulator/devices.json")),
      );
      // RSA key exchange first: Espruino's mbedTLS has no ECDHE (docs/ESPRUINO.md §4)
      secureContext = createSecureContext({
        key: pem.key,
        cert: pem.cert,
        minVersion: "TLSv1.2",
        ciphers: "AES256-GCM-SHA384:AES128-SHA256:AES128-SHA:" + DEFAULT_CIPHERS,
      });
    }
    ctx.broker = await createBroker(ctx, conns, (s, topic, payload) => {
      if (services.onDevicePublish(s, topic, payload)) return;
      platform.onDevicePublish(s, topic, payload);
      ota.onDevicePublish(s, topic, payload);
    });
    const srv = createServer(sniff);
    try {
      await new Promise((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(port, host, () => {
          srv.off("error", reject);
          resolve(undefined);
        });
      });
    } catch (e) {
      const b = ctx.broker as NonNullable<Context["broker"]>;
      ctx.broker = null;
      await new Promise((resolve) => b.close(() => resolve(undefined)));
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE")
        throw new Error(
          "emulator: port " +
            port +
            " on " +
            host +
            " is in use (another emulator or MQTT broker?); choose another with --port",
        );
      if (code === "EADDRNOTAVAIL")
        throw new Error("emulator: " + host + " is not an address of this machine (--host)");
      if (code === "EACCES")
        throw new Error(
          "emulator: no permission to listen on port " +
            port +
            " (ports below 1024 need root); choose another with --port",
        );
      throw e;
    }
    server = srv;
    port = (srv.address() as AddressInfo).port;
    Object.defineProperty(emu, "port", { value: port, configurable: true, enumerable: true });
    log(
      "listening on " +
        host +
        ":" +
        port +
        " (TLS and TCP; " +
        loaded.devices.length +
        " devices, timeScale " +
        timeScale +
        ")",
    );
  }

  async function stop(): Promise<void> {
    if (!server) return;
    const srv = server;
    const b = ctx.broker as NonNullable<Context["broker"]>;
    server = null;
    for (const s of conns.all) conns.kill(s, "broker stopped", false);
    platform.rejectPending();
    services.rejectPending();
    await new Promise((resolve) => b.close(() => resolve(undefined)));
    await new Promise((resolve) => srv.close(() => resolve(undefined)));
    ctx.broker = null;
    log("stopped");
  }

  Object.assign(emu, {
    devices: loaded.devices,
    demo: loaded.demo,
    host,
    start,
    stop,
    close: async () => {
      await stop();
      await ota.close();
      emu.removeAllListeners();
    },
    setFault(f: Fault) {
      conns.fault = { ...(f || {}) };
      log("fault " + JSON.stringify(conns.fault));
    },
    kick(pk: string, dn: string, reason?: string) {
      let found = false;
      for (const c of conns.all) {
        if (c.authed && !c.closed && c.productKey === pk && c.deviceName === dn) {
          conns.kill(c, reason || "kicked by the operator", true);
          found = true;
        }
      }
      return found;
    },
    clients: () => conns.list(),
    setProperty: (pk: string, dn: string, params: Record<string, any>, o?: SetPropertyOptions) =>
      platform.setProperty(pk, dn, params, o),
    callService: (pk: string, dn: string, identifier: string, params: Record<string, any>, o?: CallServiceOptions) =>
      services.callService(pk, dn, identifier, params, o),
    rrpc: (pk: string, dn: string, payload: string, timeout?: number) => services.rrpc(pk, dn, payload, timeout),
    setLogMode: (pk: string, dn: string, mode: 0 | 1) => services.setLogMode(pk, dn, mode),
    ota: (pk: string, dn: string, job: OtaJob) => ota.push(pk, dn, job),
  });
  await start();
  return emu as Emulator;
}
