// What `npm run flash` puts on a board for OTA, written straight into a simulated Storage
// folder: the image as the first firmware slot and the initial boot state (lib/ota.ts). The
// loader itself is not a Storage file here: createDevice({loader}) runs it at every boot.
import fs from "node:fs";
import path from "node:path";
import { initialState, FIRMWARE_SLOTS, STATE_FILE } from "../../lib/ota";
import { parseLiberal } from "./espruino-json";

/** Installs `image` (firmware bytes) as fw.a with a fresh state, unless a state is there already. */
export function installOta(storageDir: string, image: Buffer | string, force = false): boolean {
  fs.mkdirSync(storageDir, { recursive: true });
  if (!force && [0, 1].some((i) => fs.existsSync(path.join(storageDir, STATE_FILE + i)))) return false;
  for (const i of [0, 1]) fs.rmSync(path.join(storageDir, STATE_FILE + i), { force: true });
  fs.writeFileSync(path.join(storageDir, FIRMWARE_SLOTS[0]), image);
  fs.writeFileSync(path.join(storageDir, STATE_FILE + 1), JSON.stringify(initialState()));
  return true;
}

/** The boot state as the device would pick it (highest valid sequence), or null. */
export function readOtaState(storageDir: string): any {
  let best: any = null;
  for (const i of [0, 1]) {
    try {
      const s = parseLiberal(fs.readFileSync(path.join(storageDir, STATE_FILE + i), "latin1"));
      if (s?.m?.[1] && !(best && best.n > s.n)) best = s;
    } catch {}
  }
  return best;
}
