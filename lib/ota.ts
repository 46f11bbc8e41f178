// Over-the-air updates: the boot state shared with the loader (firmware/loader.js), and the
// MQTT download of one file, block by block (docs/ALIYUN.md §7). Pure: Storage, timers and
// the link are injected.
import type { Timers } from "./link";

// One module's boot record. Module 0 is the firmware ("default"), module 1 the app.
//   f: the file the loader runs; v: its version ("" = the firmware's compiled VERSION / unknown app)
//   g: the previous, known-good file to roll back to ("" = none); w: its version
//   t: trial: 0 none, 1 installed but not booted yet, 2 booted (the loader sets 2 before it
//      runs the file: a boot that finds 2 ran the new file once and never came online)
//   r: why the last update of this module was rolled back ("" = nothing to report)
export interface OtaModule {
  f: string;
  v: string;
  g: string;
  w: string;
  t: number;
  r: string;
}
// n: sequence number; the record lives in file STATE_FILE + (n & 1), so each save goes to the
// file NOT holding the current record and a power cut during it leaves the old one whole.
export interface OtaState {
  n: number;
  m: OtaModule[];
}
export interface OtaStore {
  readJSON(name: string, noExceptions: boolean): any;
  writeJSON(name: string, value: any): any;
}

export const STATE_FILE = "ota.s";
export const FIRMWARE_SLOTS = ["fw.a", "fw.b"],
  APP_FILE = "app.js",
  APP_SLOTS = ["app.a", "app.b"];

const moduleRecord = (file: string): OtaModule => ({ f: file, v: "", g: "", w: "", t: 0, r: "" });
/** What `npm run flash` installs: firmware in fw.a, the user's app.js, nothing on trial. */
export const initialState = (): OtaState => ({ n: 1, m: [moduleRecord(FIRMWARE_SLOTS[0]), moduleRecord(APP_FILE)] });

export interface DownloadJob {
  _streamId: number;
  _fileId: number;
  _size: number;
  _blockSize: number;
  _retryMs: number; // a block not answered (or answered badly) in this time is asked for again
}
export interface DownloadHost {
  _request(payload: string): void; // publish on .../thing/file/download
  _write(data: string, offset: number): void; // store a block; throws when Storage cannot
  _progress(percent: number): void; // rising, at most every 5 %
  // done: null on success, else [step, desc] (-2 download failed, -4 could not store)
  _done(failure: [number, string] | null): void;
}
export interface OtaKit {
  _read(storage: OtaStore): OtaState;
  _save(storage: OtaStore, state: OtaState): void;
  _slot(state: OtaState, index: number): string;
  _rollBack(record: OtaModule, why: string): void;
  _crc16(bytes: string): number;
  _parseBlock(payload: string): { _offset: number; _total: number; _data: string } | null;
  _download(host: DownloadHost, timers: Timers, job: DownloadJob): (payload: string) => void;
}

/**
 * The OTA functions, created by each call and freed when the caller drops them (RAM: none
 * of this is resident on the device while no update runs; the firmware calls it where an
 * OTA message or a boot check needs it). The named exports below are the same functions
 * one at a time, for the host (tests, tools); the bundle leaves them out.
 */
export function otaKit(): OtaKit {
  // CRC-16/IBM (also CRC-16/ARC), the check the platform appends to every MQTT download
  // block (docs/ALIYUN.md): polynomial 0x8005 processed reflected (0xA001), initial value 0,
  // no final XOR. A 16-entry table, one nibble at a time: 2 lookups per byte instead of 8
  // shift steps, and 16 numbers instead of 256 while a block is checked (built per call: 64 steps).
  const crc16 = (bytes: string): number => {
    const table: number[] = [];
    let crc = 0,
      i: number,
      bit: number;
    for (i = 0; i < 16; i++) {
      for (crc = i, bit = 0; bit < 4; bit++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
      table[i] = crc;
    }
    for (crc = 0, i = 0; i < bytes.length; i++) {
      crc ^= bytes.charCodeAt(i);
      crc = (crc >> 4) ^ table[crc & 15];
      crc = (crc >> 4) ^ table[crc & 15];
    }
    return crc;
  };
  // One block of a download_reply: 2 bytes big-endian header length L, a JSON header
  // {code, data: {bSize, bOffset, fileLength}}, bSize data bytes, CRC-16/IBM of the data low
  // byte first. Null when it does not hold together (the caller asks for it again).
  const parseBlock = (payload: string): { _offset: number; _total: number; _data: string } | null => {
    const headerLength = (payload.charCodeAt(0) << 8) | payload.charCodeAt(1),
      end = payload.length - 2;
    let header: any, data: string;
    try {
      header = JSON.parse(payload.substr(2, headerLength)).data;
    } catch (ignored) {}
    data = payload.substring(headerLength + 2, end);
    return headerLength + 2 <= end &&
      header &&
      header.bSize == data.length &&
      crc16(data) == (payload.charCodeAt(end) | (payload.charCodeAt(end + 1) << 8))
      ? { _offset: header.bOffset, _total: header.fileLength, _data: data }
      : null;
  };
  return {
    // The valid record with the highest sequence (as the loader picks it), or the initial state.
    _read(storage) {
      let state: any = null,
        record: any,
        i: number;
      for (i = 0; i < 2; i++) {
        record = storage.readJSON(STATE_FILE + i, true);
        if (record && record.m && record.m[1] && !(state && state.n > record.n)) state = record;
      }
      return (
        state || {
          n: 1,
          m: [
            { f: "fw.a", v: "", g: "", w: "", t: 0, r: "" },
            { f: "app.js", v: "", g: "", w: "", t: 0, r: "" },
          ],
        }
      );
    },
    // Saves the next sequence of state into the file that does not hold the current one.
    _save(storage, state) {
      state.n++;
      storage.writeJSON(STATE_FILE + (state.n & 1), state);
    },
    // The file a download of module `index` goes into: never the running one, never app.js
    // (slots fw.a/fw.b, app.a/app.b).
    _slot(state, index) {
      const slot = index ? "app." : "fw.";
      return slot + (state.m[index].f == slot + "a" ? "b" : "a");
    },
    // Back to the previous file (the loader does the same at boot).
    _rollBack(record, why) {
      record.r = record.v + ": " + why;
      record.f = record.g;
      record.v = record.w;
      record.g = record.w = "";
      record.t = 0;
    },
    _crc16: crc16,
    _parseBlock: parseBlock,
    // MQTT download of one file, blocks requested one at a time, in order, each offset stored
    // once. Replies for any offset but the one awaited are ignored (a late duplicate of block 0
    // would restart the file: docs/ESPRUINO.md §6). A block missing or bad is asked for again
    // after `_retryMs`, 3 times, then the download fails. Returns the download_reply handler.
    _download(host, timers, job) {
      let offset = 0,
        retries = 0,
        timer: any = null,
        reported = 0,
        id = 0,
        finished = false;
      const stopTimer = () => {
        if (timer != null) timers.clear(timer);
        timer = null;
      };
      const finish = (failure: [number, string] | null) => {
        stopTimer();
        finished = true;
        host._done(failure);
      };
      const request = () => {
        stopTimer();
        timer = timers.set(() => {
          timer = null;
          if (++retries > 3) finish([-2, "no block " + offset + " after 3 retries"]);
          else request();
        }, job._retryMs);
        host._request(
          JSON.stringify({
            id: "" + ++id,
            version: "1.0",
            params: {
              fileToken: "1",
              fileInfo: { streamId: job._streamId, fileId: job._fileId },
              fileBlock: { size: Math.min(job._blockSize, job._size - offset), offset: offset },
            },
          }),
        );
      };
      request();
      return (payload: string) => {
        let block: any, percent: number;
        if (finished) return;
        // a bad block is asked for again on timeout
        block = parseBlock(payload);
        if (!block || block._offset != offset) return;
        if (block._total != job._size) return finish([-2, "fileLength " + block._total + " but size " + job._size]);
        if (!block._data.length) return;
        try {
          host._write(block._data, offset);
        } catch (thrown) {
          return finish([-4, "Storage: " + thrown]);
        }
        offset += block._data.length;
        retries = 0;
        percent = Math.floor((offset * 100) / job._size);
        if (percent >= reported + 5 || percent == 100) host._progress((reported = percent));
        if (offset >= job._size) finish(null);
        else request();
      };
    },
  };
}

// The host's view, one function at a time (not in the bundle: the firmware calls otaKit()).
/** The valid record with the highest sequence (as the loader picks it), or the initial state. */
export const readState = (storage: OtaStore): OtaState => otaKit()._read(storage);
/** Saves the next sequence of state into the file that does not hold the current one. */
export const saveState = (storage: OtaStore, state: OtaState): void => otaKit()._save(storage, state);
/** The file a download of module `index` goes into: never the running one, never app.js. */
export const downloadSlot = (state: OtaState, index: number): string => otaKit()._slot(state, index);
/** Back to the previous file (the loader does the same at boot). */
export const rollBack = (record: OtaModule, why: string): void => otaKit()._rollBack(record, why);
/** One block of a download_reply (see otaKit), or null when it does not hold together. */
export const parseBlock = (payload: string) => otaKit()._parseBlock(payload);
/** The MQTT download of one file (see otaKit); returns the download_reply handler. */
export const mqttDownload = (host: DownloadHost, timers: Timers, job: DownloadJob) =>
  otaKit()._download(host, timers, job);
