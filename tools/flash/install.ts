// The script `npm run flash` sends to the board's REPL (RAM only, run once): it writes what
// the board needs to boot from Storage and take OTA updates (docs/ESPRUINO.md "What this
// means for OTA"): the image as fw.a in 1 KB pieces (the REPL never holds it whole), a fresh
// boot state (ota.s0/ota.s1: fw.a, nothing on trial) and the loader as .bootcde, then
// restarts with load(). Every other Storage file (app.js, .boot0-.boot3, the config) stays.
// The CLI resets the board before it sends (RESET_BEFORE_SEND), so no code runs from fw.a
// while it is rewritten.
import { initialState, FIRMWARE_SLOTS, STATE_FILE } from "../../lib/ota";

const CHUNK = 1024;

/** The install script for `image` (dist/firmware.js) and `loader` (dist/loader.js). */
export function installScript(image: string, loader: string): string {
  const slot = JSON.stringify(FIRMWARE_SLOTS[0]),
    lines = ['var S=require("Storage");'];
  for (let offset = 0; offset < image.length; offset += CHUNK) {
    const piece = JSON.stringify(image.slice(offset, offset + CHUNK));
    lines.push(offset ? `S.write(${slot},${piece},${offset});` : `S.write(${slot},${piece},0,${image.length});`);
  }
  lines.push(
    `S.erase("${STATE_FILE}0");S.erase("${STATE_FILE}1");S.writeJSON("${STATE_FILE}1",${JSON.stringify(initialState())});`,
    `S.write(".bootcde",${JSON.stringify(loader)});`,
    `console.log(S.read(${slot}).length==${image.length}?"installed: loader, ${FIRMWARE_SLOTS[0]} (${image.length} bytes), boot state; restarting":"install FAILED: ${FIRMWARE_SLOTS[0]} incomplete");`,
    "load();",
  );
  return lines.join("\n") + "\n";
}
