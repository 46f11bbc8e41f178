// Over-the-air updates on the device (docs/ALIYUN.md §7, docs/ESPRUINO.md "What this means
// for OTA"). Resident while no update runs: two functions and a few variables. The
// state is read from Storage when needed, and everything else (the push handling, the
// downloader, CRC, the state functions of lib/ota.ts) is created by the message that needs
// it and freed after, or lives only while an update runs.
//
// An update: the push names the module (firmware "default" or "app"), size, sign and the
// MQTT stream or an http(s) URL (downloaded with Espruino's http module). The file is downloaded into the slot that is not running, checked (size and
// SHA256 or MD5 over the stored file), then the state puts it on trial and the board
// restarts. The loader (firmware/loader.js) runs it; once online it is confirmed here. A
// trial that throws, resets or is not online within otaTrialMinutes goes back to the
// previous file; the next time online reports step -1 with the reason.
import { otaTrialMinutes, maxPacket } from "../board.json";
import { otaKit } from "../lib/ota";
import { link } from "../lib/link";
import { deviceLog } from "../lib/logs";
import { cryptoKit } from "../lib/crypto";
import { env } from "./device";
import type { Ota } from "./console";

// One OTA per device: its state is module-level and makeOta() (re)sets it; the object is made
// once at the top level with its methods written in it (a function there keeps no scope: one
// JsVar less than a closure made in a factory, docs/ESPRUINO.md §7).
// It uses the device's own parts: the link (publishes), env (timers and the console log),
// deviceLog (the cloud log), require("Storage") where needed: no name of its own for them
// (each would be resident). booted: booted by the loader, the only way a new file in another
// slot can ever run. (The "/productKey/deviceName" of OTA's topics is taken from the upgrade
// topic that _message() gets: a string kept here would be resident.)
let booted: number, // 0 or 1: a number costs one JsVar, a boolean two (docs/ESPRUINO.md §7)
  trialTimer: any, // undefined when none (null would take a JsVar of its own)
  messageId: number;

export const ota: Ota = {
  _download: undefined,
  // Called only for OTA's own messages (the console routes them by topic): Espruino lexes
  // all of a function's text at every call, and this one is long. Everything is created for
  // this message and freed after (the downloader's closures live as long as the download).
  _message(topic: string, payload?: string) {
    const prefix = topic.slice(19), // after "/ota/device/upgrade"
      storage = require("Storage"),
      kit = otaKit(),
      state = kit._read(storage),
      MODULES = ["default", "app"];
    // every OTA outcome goes to the console and the cloud log: failures (negative steps) as ERROR
    const log = (line: string) => {
      env._log(line);
      deviceLog.add(/ failed /.test(line) ? "ERROR" : "INFO", line.slice(5), "ota");
    };
    const publish = (kind: string, params: any, qos: 0 | 1) =>
      link.publish("/ota/device/" + kind + prefix, JSON.stringify({ id: "" + ++messageId, params: params }), qos);
    // failures (negative steps) are queued at QoS 1: they must reach the platform
    const progress = (step: number, desc: string, index: number) => {
      if (step < 0) log("ota: " + MODULES[index] + " failed (" + step + "): " + desc);
      publish("progress", { step: "" + step, desc: desc, module: MODULES[index] }, step < 0 ? 1 : 0);
    };
    let push: any,
      data: any,
      index: number,
      record: any,
      file: string,
      size: number,
      method: string,
      sign: string,
      changed = 0;
    const fail = (step: number, desc: string) => {
      ota._download = undefined;
      progress(step, desc, index);
    };

    if (payload == null) {
      // online: confirm a trial, report a rollback, inform the versions
      if (trialTimer != null) {
        env.clear(trialTimer);
        trialTimer = undefined;
      }
      state.m.forEach((record, index) => {
        // only a trial this boot runs (the loader set t = 2): one installed a moment ago (t = 1,
        // its restart pending; online again after an https download) is not confirmed by the
        // old file coming online
        if (record.t > 1) {
          record.t = 0;
          changed = 1;
        }
        if (record.r) {
          progress(-1, "rolled back from " + record.r, index);
          record.r = "";
          changed = 1;
        }
      });
      if (changed) kit._save(storage, state);
      // the version each module runs: a file installed a moment ago (t = 1) runs from the next
      // boot, the previous one (w) until then
      const running = (record: any) => (record.t == 1 ? record.w : record.v);
      publish("inform", { version: running(state.m[0]) || VERSION }, 0);
      if (running(state.m[1])) publish("inform", { version: running(state.m[1]), module: "app" }, 0);
      return;
    }

    // an upgrade push
    try {
      push = JSON.parse(payload as string);
      if (!push || typeof push != "object") throw Error("not a JSON object");
      data = push.data;
      if (!data || typeof data != "object") throw Error("no data");
    } catch (thrown) {
      log("ota: bad push " + thrown);
      return;
    }
    index = data.module == "app" ? 1 : 0;
    if (ota._download) log("ota: busy");
    else if (data.module && MODULES.indexOf(data.module) < 0) fail(-1, "unknown module " + data.module);
    else if (!booted) fail(-1, "no OTA loader: npm run flash");
    // two patterns: 2v29's regex misreads `s?` in /^https?:/ (never matches; measured)
    else if (data.dProtocol != "mqtt" && !/^http:\/\//.test(data.url) && !/^https:\/\//.test(data.url))
      fail(-2, "neither MQTT download nor an http(s) url");
    else {
      size = data.size;
      method = ("" + data.signMethod).toLowerCase();
      sign = ("" + data.sign).toLowerCase();
      if (!(size > 0) || (method != "sha256" && method != "md5")) return fail(-2, "bad size or signMethod");
      record = state.m[index];
      file = kit._slot(state, index);
      try {
        // the download overwrites the previous file: it is no rollback target any more
        if (record.g == file) {
          record.g = record.w = "";
          kit._save(storage, state);
        }
        // The slot's old file goes first, so that its room counts (it is neither running nor a
        // rollback target). A compaction is the one moment a power cut can wipe Storage: now,
        // never mid-update; so the room asked for keeps 4096 bytes to spare for the state
        // files written during the update (were Storage to fill up, Espruino would compact it
        // by itself).
        storage.erase(file);
        if (storage.getFree() < size + 4096) {
          storage.compact();
          if (storage.getFree() < size + 4096)
            throw Error("no room for " + size + " bytes and 4096 to spare, " + storage.getFree() + " free");
        }
      } catch (thrown) {
        return fail(-4, "Storage: " + thrown);
      }
      log("ota: " + data.version + " > " + file);
      // both downloads store the file the same way: offset 0 creates it with its full size
      const write = (bytes: string, offset: number) => {
        if (!(offset ? storage.write(file, bytes, offset) : storage.write(file, bytes, 0, size)))
          throw Error("write failed");
      };
      // the end of either download: check the stored file, put it on trial, restart
      const done = (failure: [number, string] | null) => {
        if (failure) return fail(failure[0], failure[1]);
        const stored = storage.read(file);
        // our MD5 and hex (lib/crypto.ts); the native SHA256 gives undefined when out of memory:
        // then an empty digest, a mismatch
        const jsCrypto = cryptoKit();
        if (
          !stored ||
          stored.length != size ||
          jsCrypto._hex(method == "md5" ? jsCrypto._md5(stored) : E.toString(require("crypto").SHA256(stored) || "")) !=
            sign
        ) {
          storage.erase(file);
          return fail(-3, method + " or size mismatch: upload the file again");
        }
        // on trial from the next boot; the running file becomes the rollback target
        record.g = record.f;
        record.w = record.v;
        record.f = file;
        record.v = "" + data.version;
        record.t = 1;
        record.r = "";
        try {
          kit._save(storage, state);
        } catch (thrown) {
          return fail(-4, "Storage: " + thrown);
        }
        // busy until the restart: a second push now would take the running file as its slot
        // (the state already names the new one) and erase it
        ota._download = () => {};
        log("ota: " + data.version + " ok, restart");
        // lets the last progress leave
        env.set(() => {
          // the Linux builds (BOARD "LINUX", "LINUX_…") have no E.reboot(): see makeOta()
          if (process.env.BOARD.slice(0, 5) == "LINUX") load();
          else E.reboot();
        }, 1000);
      };
      if (data.dProtocol == "mqtt")
        ota._download = kit._download(
          {
            _request: (request) => link.publish("/sys" + prefix + "/thing/file/download", request, 0),
            _write: write,
            _progress: (percent) => progress(percent, "", index),
            _done: done,
          },
          env,
          {
            _streamId: data.streamId,
            _fileId: data.streamFileId,
            _size: size,
            // a reply carries the block plus topic and a JSON header: well under maxPacket
            _blockSize: maxPacket - 1024,
            _retryMs: 10000,
          },
        );
      else {
        // URL download with Espruino's http module (https too: the build has TLS). A no-op
        // download_reply handler marks the update as running (a second push is "busy").
        // https: a second TLS session may not fit next to the MQTT one on an ESP32, so the
        // link is stopped for the download and started again after it, whatever the outcome
        // (a success restarts the board 1 s later anyway). Its progress is dropped meanwhile
        // (QoS 0 offline); a failure is queued at QoS 1 and reaches the platform once online.
        // http: the link stays up and reports the progress.
        ota._download = () => {};
        const secure = /^https:/.test(data.url),
          iot = (global as any).iot;
        let offset = 0,
          reported = 0,
          finished = false,
          stallTimer: any = null;
        // Deferred: the push and the response's data both arrive inside a socket's data
        // callback, where an https get or a write to the TLS link kills 2v29 (docs/ESPRUINO.md §4).
        const end = (failure: [number, string] | null) => {
          if (finished) return;
          finished = true;
          // a handle is cleared only while set: a stale or null one is not ours to clear
          if (stallTimer != null) env.clear(stallTimer);
          stallTimer = null;
          env.set(() => {
            if (secure) iot.start();
            done(failure);
          }, 0);
        };
        // no byte for 60 s: the server or the network is gone
        const watch = () => {
          if (stallTimer != null) env.clear(stallTimer);
          stallTimer = env.set(() => {
            stallTimer = null;
            end([-2, "no data for 60 s at " + offset]);
          }, 60000);
        };
        env.set(() => {
          if (secure) iot.stop();
          watch();
          try {
            require("http")
              .get(data.url, (response: any) => {
                if (response.statusCode != "200") return end([-2, "HTTP " + response.statusCode]);
                response.on("data", (bytes: string) => {
                  if (finished) return;
                  if (offset + bytes.length > size) return end([-2, "longer than size " + size]);
                  try {
                    write(bytes, offset);
                  } catch (thrown) {
                    return end([-4, "Storage: " + thrown]);
                  }
                  offset += bytes.length;
                  watch();
                  const percent = Math.floor((offset * 100) / size);
                  if (percent >= reported + 5 || percent == 100) {
                    reported = percent;
                    env.set(() => progress(percent, "", index), 0);
                  }
                });
                response.on("close", () =>
                  end(offset == size ? null : [-2, "HTTP body ended at " + offset + " of " + size]),
                );
              })
              // 2v29 reports the server's TLS close_notify at the end of an https body as an
              // error (code -30848, "unknown error"; measured): with every byte in, it is the end
              .on("error", (failure: any) =>
                end(offset == size ? null : [-2, "HTTP " + ((failure && failure.message) || failure)]),
              );
          } catch (thrown) {
            end([-2, "HTTP " + thrown]);
          }
        }, 0);
      }
    }
  },
};

export const makeOta = (): Ota => {
  booted = (global as any).otaLoader == 1 ? 1 : 0;
  trialTimer = undefined;
  messageId = 0;
  ota._download = undefined;
  // Booted on trial: not online in time means back to the previous file. Armed for any trial
  // (t > 0): this runs while the loader evaluates the firmware, before it sets an app on trial
  // to t = 2. When it fires, only a trial that booted (t = 2) is rolled back, and the board
  // restarts only if one was.
  if (
    booted &&
    otaKit()
      ._read(require("Storage"))
      .m.some((record) => record.t)
  )
    trialTimer = env.set(() => {
      const storage = require("Storage"),
        kit = otaKit(),
        state = kit._read(storage);
      let rolledBack = 0;
      trialTimer = undefined;
      state.m.forEach((record) => {
        if (record.t > 1) {
          kit._rollBack(record, "not online within " + otaTrialMinutes + " min");
          rolledBack = 1;
        }
      });
      if (!rolledBack) return;
      kit._save(storage, state);
      // The Linux builds (BOARD "LINUX", or a variant such as "LINUX_ESP32LIKE") have no
      // E.reboot(): it prints "Not implemented" and returns, and the board would stay on the
      // old image. load() restarts them in process (the boot code runs again).
      if (process.env.BOARD.slice(0, 5) == "LINUX") load();
      else E.reboot();
    }, otaTrialMinutes * 60000);

  return ota;
};
