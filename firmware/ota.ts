// Over-the-air updates on the device (docs/ALIYUN.md §7, docs/ESPRUINO.md "What this means
// for OTA"). Resident while no update runs: the trial timer and a few small functions (the
// state is read from Storage when needed); the downloader exists only while an update runs.
//
// An update: the push names the module (firmware "default" or "app"), size, sign and the
// MQTT stream. The file is downloaded into the slot that is not running, checked (size and
// SHA256 or MD5 over the stored file), then the state puts it on trial and the board
// restarts. The loader (firmware/loader.js) runs it; once online it is confirmed here. A
// trial that throws, resets or is not online within otaTrialMinutes goes back to the
// previous file; the next time online reports step -1 with the reason.
import { otaTrialMinutes, maxPacket } from "../board.json";
import { readState, saveState, downloadSlot, rollBack, mqttDownload } from "../lib/ota";
import type { Timers } from "../lib/link";
import { md5, hex } from "../lib/crypto";
import { sha256 } from "./device";

// `_` names: firmware-internal (main → ota), mangled to one or two letters
export interface OtaDeps {
  _storage: any;                                             // require("Storage")
  _publish(topic: string, payload: string, qos: 0 | 1): void; // the link's
  _timers: Timers;
  _log(line: string): void;
  _restart(): void;
}

const MODULES = ["default", "app"];

export const makeOta = (deps: OtaDeps) => {
  // the state is read where it is needed, never kept: no RAM while no update runs
  const storage = deps._storage, timers = deps._timers,
    // booted by the loader: the only way a new file in another slot can ever run
    booted = (global as any).otaLoader == 1;
  // prefix: "/productKey/deviceName"; download: the running download's reply handler
  let prefix = "", download: any = null, trialTimer: any = null, messageId = 0;

  const publish = (kind: string, params: any, qos: 0 | 1) =>
    deps._publish("/ota/device/" + kind + prefix, JSON.stringify({ id: "" + ++messageId, params: params }), qos);
  // failures (negative steps) are queued at QoS 1: they must reach the platform
  const progress = (step: number, desc: string, index: number) => {
    if (step < 0) deps._log("ota: " + MODULES[index] + " failed (" + step + "): " + desc);
    publish("progress", { step: "" + step, desc: desc, module: MODULES[index] }, step < 0 ? 1 : 0);
  };

  // Handles one upgrade push. Everything of the download is created here and dropped when
  // it ends, so none of it stays resident.
  const upgrade = (payload: string) => {
    let push: any, data: any, index: number, record: any, file: string, size: number, method: string, sign: string, state: any;
    const fail = (step: number, desc: string) => {
      download = null;
      progress(step, desc, index);
    };
    try {
      push = JSON.parse(payload);
      if (!push || typeof push != "object") throw Error("not a JSON object");
      data = push.data;
      if (!data || typeof data != "object") throw Error("no data");
    } catch (thrown) {
      return deps._log("ota: bad push " + thrown);
    }
    index = data.module == "app" ? 1 : 0;
    if (download) return deps._log("ota: busy");
    if (data.module && MODULES.indexOf(data.module) < 0) return fail(-1, "unknown module " + data.module);
    if (!booted) return fail(-1, "no OTA loader: npm run flash");
    if (data.dProtocol != "mqtt") return fail(-2, "url download not supported; use MQTT download");
    size = data.size; method = ("" + data.signMethod).toLowerCase(); sign = ("" + data.sign).toLowerCase();
    if (!(size > 0) || (method != "sha256" && method != "md5")) return fail(-2, "bad size or signMethod");
    state = readState(storage);
    record = state.m[index];
    file = downloadSlot(state, index);
    try {
      // the download overwrites the previous file: it is no rollback target any more
      if (record.g == file) { record.g = record.w = ""; saveState(storage, state) }
      // a compaction is the one moment a power cut can wipe Storage: now, never mid-update
      if (storage.getFree() < size + 4096) storage.compact();
    } catch (thrown) {
      return fail(-4, "Storage: " + thrown);
    }
    deps._log("ota: " + data.version + " > " + file);
    download = mqttDownload({
      _request: (request) => deps._publish("/sys" + prefix + "/thing/file/download", request, 0),
      _write: (bytes, offset) => {
        if (!(offset ? storage.write(file, bytes, offset) : storage.write(file, bytes, 0, size))) throw Error("write failed");
      },
      _progress: (percent) => progress(percent, "", index),
      _done: (failure) => {
        let stored: any;
        if (failure) return fail(failure[0], failure[1]);
        stored = storage.read(file);
        if (!stored || stored.length != size || hex(method == "md5" ? md5(stored) : sha256(stored)) != sign) {
          storage.erase(file);
          return fail(-3, method + " or size mismatch: upload the file again");
        }
        // on trial from the next boot; the running file becomes the rollback target
        record.g = record.f; record.w = record.v; record.f = file; record.v = "" + data.version; record.t = 1; record.r = "";
        try { saveState(storage, state) } catch (thrown) { return fail(-4, "Storage: " + thrown) }
        download = null;
        deps._log("ota: " + data.version + " ok, restart");
        timers.set(deps._restart, 1000); // lets the last progress leave
      },
    }, timers, {
      _streamId: data.streamId, _fileId: data.streamFileId, _size: size,
      // a reply carries the block plus topic and a JSON header: well under maxPacket
      _blockSize: maxPacket - 1024, _retryMs: 10000,
    });
  };

  // Booted on trial (the loader set t = 2): not online in time means back to the previous file.
  if (booted && readState(storage).m.some((record) => record.t)) trialTimer = timers.set(() => {
    const state = readState(storage);
    trialTimer = null;
    state.m.forEach((record) => { if (record.t) rollBack(record, "not online within " + otaTrialMinutes + " min") });
    saveState(storage, state);
    deps._restart();
  }, otaTrialMinutes * 60000);

  return {
    /** The topics to subscribe for this device (set before the link starts). */
    _topics(productKey: string, deviceName: string): string[] {
      prefix = "/" + productKey + "/" + deviceName;
      return ["/ota/device/upgrade" + prefix, "/sys" + prefix + "/thing/file/download_reply"];
    },
    /** After every CONNACK: confirms a trial, reports a rollback, informs the versions. */
    _online() {
      const state = readState(storage);
      let changed = 0;
      if (trialTimer != null) { timers.clear(trialTimer); trialTimer = null }
      state.m.forEach((record, index) => {
        if (record.t) { record.t = 0; changed = 1 }
        if (record.r) { progress(-1, "rolled back from " + record.r, index); record.r = ""; changed = 1 }
      });
      if (changed) saveState(storage, state);
      publish("inform", { version: state.m[0].v || VERSION }, 0);
      if (state.m[1].v) publish("inform", { version: state.m[1].v, module: "app" }, 0);
    },
    /** True when the message was OTA's (the caller then does not pass it on). */
    _message(topic: string, payload: string): boolean {
      if (topic == "/sys" + prefix + "/thing/file/download_reply") { if (download) download(payload) }
      else if (topic == "/ota/device/upgrade" + prefix) upgrade(payload);
      else return false;
      return true;
    },
  };
};
