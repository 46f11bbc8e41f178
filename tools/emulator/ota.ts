// The platform's OTA service (docs/ALIYUN.md §7): a job pushes an upgrade to a device, then
// serves the file over MQTT download (binary download_reply: 2-byte big-endian header length,
// JSON header, data, CRC-16/IBM low byte first). Written from the docs with Node only, never
// from lib/: it is the oracle the firmware's downloader is tested against.
//
// Faults for tests: drop the first reply of given block offsets (the device must ask again),
// corrupt the CRC of the first reply of given offsets, push a wrong sign, push a URL instead.
// Events: ota_push, ota_request {offset, size}, ota_progress {step, desc, module},
// ota_inform {version, module}.
import { createHash } from "node:crypto";
import type { Context } from "./context";
import { who, type Conn } from "./connection";

export interface OtaFaults {
  /** block offsets whose first request gets no reply */
  drop?: number[];
  /** block offsets whose first reply carries a wrong CRC */
  corrupt?: number[];
  /** push a sign that does not match the file */
  badSign?: boolean;
}

export interface OtaJob {
  /** the file's bytes */
  file: Buffer;
  version: string;
  /** 'default' (firmware, the default) or 'app' */
  module?: string;
  /** 'SHA256' (default) or 'Md5' */
  signMethod?: string;
  /** push an https URL instead of MQTT download */
  url?: boolean;
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
    if (job.url) data.url = "https://ota.example.invalid/" + pk + "/" + dn + "/" + streamId;
    else Object.assign(data, { dProtocol: "mqtt", streamId, streamFileId: 1 });
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
    this.ctx.emit("ota_push", { productKey: pk, deviceName: dn, ...data });
    this.publish("/ota/device/upgrade/" + pk + "/" + dn, Buffer.from(JSON.stringify(msg)), 1);
    return msg;
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
