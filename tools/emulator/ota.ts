// The platform's OTA service (docs/ALIYUN.md §7): a job pushes an upgrade to a device, then
// serves the file over MQTT download (binary download_reply: 2-byte big-endian header length,
// JSON header, data, CRC-16/IBM low byte first). Written from the docs with Node only, never
// from lib/: it is the oracle the firmware's downloader is tested against.
//
// Faults for tests: drop the first reply of given block offsets (the device must ask again),
// corrupt the CRC of the first reply of given offsets, push a wrong sign.
// URL download (job.url): the file is served by a small HTTP server of the emulator on
// 127.0.0.1 (a random port, https with the emulator's self-signed certificate when
// job.url == "https"), at /ota/<pk>/<dn>/<streamId>; faults: another HTTP status, or a body
// cut short (the connection closes after that many bytes).
// Events: ota_push, ota_request {offset, size}, ota_progress {step, desc, module},
// ota_inform {version, module}.
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { DEFAULT_CIPHERS } from "node:tls";
import type { AddressInfo } from "node:net";
import { loadCertificate } from "./certificate";
import type { Context } from "./context";
import { who, type Conn } from "./connection";

export interface OtaFaults {
  /** block offsets whose first request gets no reply */
  drop?: number[];
  /** block offsets whose first reply carries a wrong CRC */
  corrupt?: number[];
  /** push a sign that does not match the file */
  badSign?: boolean;
  /** URL download: answer with this HTTP status (and no file) */
  httpStatus?: number;
  /** URL download: close the connection after this many bytes of the file */
  cut?: number;
}

export interface OtaJob {
  /** the file's bytes */
  file: Buffer;
  version: string;
  /** 'default' (firmware, the default) or 'app' */
  module?: string;
  /** 'SHA256' (default) or 'Md5' */
  signMethod?: string;
  /** URL download instead of MQTT: true or "http" serves over HTTP, "https" over TLS */
  url?: boolean | "http" | "https";
  faults?: OtaFaults;
}

/** CRC-16/IBM (ARC), bit by bit: reflected polynomial 0xA001, init 0. */
export function crc16ibm(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** A download_reply payload for one block. */
export function blockReply(file: Buffer, offset: number, size: number, fileToken: string, badCrc = false): Buffer {
  const data = file.subarray(offset, Math.min(file.length, offset + size));
  const header = Buffer.from(
    JSON.stringify({
      code: 200,
      data: { bSize: data.length, bOffset: offset, fileLength: file.length, fileToken },
      id: "1",
      msg: "success",
    }),
  );
  const crc = crc16ibm(data) ^ (badCrc ? 0x5a5a : 0);
  return Buffer.concat([
    Buffer.from([header.length >> 8, header.length & 255]),
    header,
    data,
    Buffer.from([crc & 255, crc >> 8]),
  ]);
}

export class OtaService {
  private readonly ctx: Context;
  /** the job per pk/dn and its stream id */
  private readonly jobs = new Map<
    string,
    OtaJob & { streamId: number; dropped: Set<number>; corrupted: Set<number> }
  >();
  private nextStream = 1;
  /** the URL download servers, made on first use: one per scheme */
  private readonly servers: Record<string, Promise<{ server: http.Server; port: number }>> = {};
  /** the files they serve, by path */
  private readonly served = new Map<string, OtaJob>();

  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  private publish(topic: string, payload: Buffer, qos: 0 | 1): void {
    const b = this.ctx.broker;
    if (!b) return;
    setImmediate(() => {
      if (!b.closed) b.publish({ cmd: "publish", topic, payload, qos, retain: false, dup: false }, () => {});
    });
  }

  /** Pushes an upgrade to pk/dn (delivered if it is subscribed). Returns the push message. */
  push(pk: string, dn: string, job: OtaJob): any {
    const streamId = this.nextStream++;
    const module = job.module || "default";
    const method = job.signMethod || "SHA256";
    const hash = createHash(/md5/i.test(method) ? "md5" : "sha256")
      .update(job.file)
      .digest("hex");
    const md5 = createHash("md5").update(job.file).digest("hex");
    const sign = job.faults?.badSign ? hash.replace(/^./, (c) => (c === "0" ? "1" : "0")) : hash;
    this.jobs.set(pk + "/" + dn, { ...job, streamId, dropped: new Set(), corrupted: new Set() });
    const data: any = {
      size: job.file.length,
      version: job.version,
      sign,
      signMethod: method,
      md5,
      module,
      extData: {},
    };
    const scheme = job.url === "https" ? "https" : "http";
    const path = "/ota/" + pk + "/" + dn + "/" + streamId;
    if (job.url) {
      this.served.set(path, job);
      data.url = "";
    } else Object.assign(data, { dProtocol: "mqtt", streamId, streamFileId: 1 });
    const msg = { code: "1000", data, id: Date.now(), message: "success" };
    this.ctx.log(
      "ota push " +
        pk +
        "/" +
        dn +
        " " +
        module +
        " " +
        job.version +
        " (" +
        job.file.length +
        " B, " +
        method +
        (job.url ? ", url" : ", mqtt") +
        ")",
    );
    const send = () => {
      this.ctx.emit("ota_push", { productKey: pk, deviceName: dn, ...data });
      this.publish("/ota/device/upgrade/" + pk + "/" + dn, Buffer.from(JSON.stringify(msg)), 1);
    };
    // a URL push goes out once its server listens (msg.data.url is set then)
    if (job.url)
      this.server(scheme).then(
        (s) => {
          data.url = scheme + "://127.0.0.1:" + s.port + path;
          send();
        },
        (e) => this.ctx.log("ota url server failed: " + e),
      );
    else send();
    return msg;
  }

  /** The URL download server of `scheme`, started on first use. */
  private server(scheme: string) {
    this.servers[scheme] =
      this.servers[scheme] ||
      (async () => {
        const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
          const job = this.served.get(req.url || "");
          const faults = job?.faults || {};
          const status = !job ? 404 : faults.httpStatus || 200;
          this.ctx.emit("ota_http", { path: req.url, status });
          this.ctx.log("ota http GET " + req.url + " -> " + status + (faults.cut !== undefined ? " cut" : ""));
          if (!job || status !== 200) return res.writeHead(status, { "Content-Type": "text/plain" }).end("no file");
          res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": job.file.length });
          if (faults.cut === undefined) return res.end(job.file);
          // short body: the bytes up to `cut`, then the connection closes
          res.write(job.file.subarray(0, faults.cut), () => setTimeout(() => res.destroy(), 50));
        };
        // RSA key exchange first, as on the MQTT port: Espruino's mbedTLS has no ECDHE (docs/ESPRUINO.md §4)
        const server =
          scheme === "https"
            ? https.createServer(
                {
                  ...(await loadCertificate()),
                  minVersion: "TLSv1.2",
                  ciphers: "AES256-GCM-SHA384:AES128-SHA256:AES128-SHA:" + DEFAULT_CIPHERS,
                },
                handler,
              )
            : http.createServer(handler);
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        server.unref();
        return { server, port: (server.address() as AddressInfo).port };
      })();
    return this.servers[scheme];
  }

  /** Stops the URL download servers. */
  async close(): Promise<void> {
    for (const scheme of Object.keys(this.servers)) {
      const s = await this.servers[scheme].catch(() => null);
      delete this.servers[scheme];
      if (!s) continue;
      s.server.closeAllConnections();
      await new Promise((resolve) => s.server.close(() => resolve(undefined)));
    }
  }

  /** Device publishes: download requests, progress and inform. */
  onDevicePublish(s: Conn, topic: string, payload: Buffer): void {
    const pk = s.productKey as string;
    const dn = s.deviceName as string;
    let msg: any;
    try {
      msg = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    if (topic === "/ota/device/progress/" + pk + "/" + dn) {
      const p = msg?.params;
      if (p) this.ctx.emit("ota_progress", { ...who(s), step: p.step, desc: p.desc, module: p.module });
    } else if (topic === "/ota/device/inform/" + pk + "/" + dn) {
      const p = msg?.params;
      if (p) this.ctx.emit("ota_inform", { ...who(s), version: p.version, module: p.module || "default" });
    } else if (topic === "/sys/" + pk + "/" + dn + "/thing/file/download") {
      const job = this.jobs.get(pk + "/" + dn);
      const p = msg?.params;
      const block = p?.fileBlock;
      if (!job || !block || !p.fileInfo || p.fileInfo.streamId !== job.streamId)
        return this.ctx.log("ota download request without a job: " + payload.toString("utf8"));
      const offset = block.offset;
      const size = block.size;
      this.ctx.emit("ota_request", { ...who(s), offset, size });
      const faults = job.faults || {};
      if ((faults.drop || []).includes(offset) && !job.dropped.has(offset)) {
        job.dropped.add(offset);
        return this.ctx.log("ota fault: block " + offset + " dropped");
      }
      const corrupt = (faults.corrupt || []).includes(offset) && !job.corrupted.has(offset);
      if (corrupt) {
        job.corrupted.add(offset);
        this.ctx.log("ota fault: block " + offset + " with a bad CRC");
      }
      this.publish(topic + "_reply", blockReply(job.file, offset, size, p.fileToken, corrupt), 0);
    }
  }
}
