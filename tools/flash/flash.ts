// `npm run flash -- --port P` installs dist/firmware.js with the espruino CLI so that the
// board boots from Storage and takes OTA updates (tools/flash/install.ts: loader as .bootcde,
// image as fw.a, boot state); `npm run console -- --port P` opens the board's REPL.
// Works offline: the CLI reads the board description and modules from
// tools/flash/espruino-board/ instead of downloading them.
import { readFileSync, writeFileSync } from "node:fs";
import { installScript } from "./install";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const usage = "usage: npm run flash -- --port /dev/ttyUSB0 | tcp://host:port   (or: npm run console -- --port …) [--baud N]";

/** The part of board.json flashing needs. */
export interface Board {
  baud: number;
  /** name of the board description in tools/flash/espruino-board/ */
  espruinoBoard: string;
}

/**
 * Builds the espruino CLI arguments for `mode` ("flash" | "console") from the user's argv and
 * board.json; `dir` is the repository root.
 */
export function buildArgs(mode: string, argv: string[], board: Board, dir: string): string[] {
  let port: string | undefined, baud = board.baud;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port" || a === "-p") port = argv[++i];
    else if (a.startsWith("--port=")) port = a.slice(7);
    else if (a === "--baud" || a === "-b") baud = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}\n${usage}`);
  }
  if (!port) throw new Error(`--port is required\n${usage}`);
  if (mode !== "flash" && mode !== "console") throw new Error(`unknown mode ${mode}`);
  if (!(baud > 0)) throw new Error(`--baud must be a positive number`);
  const boardDir = `${dir}/tools/flash/espruino-board`;
  const args = [
    `${dir}/node_modules/espruino/bin/espruino-cli.js`,
    "--no-ble", // the CLI crashes probing Bluetooth on machines without D-Bus
    "-p", port,
    "-b", String(baud),
    "--board", `${boardDir}/${board.espruinoBoard}.json`,
    "--config", `BOARD_JSON_URL=${boardDir}`,
    "--config", `MODULE_URL=${boardDir}`,
  ];
  // the install script (written by main below) runs once from RAM and writes Storage
  if (mode === "flash") args.push(`${dir}/dist/install.js`);
  return args;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const board = JSON.parse(readFileSync(`${root}/board.json`, "utf8"));
  let args: string[] = [];
  try {
    args = buildArgs(process.argv[2], process.argv.slice(3), board, root);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  if (process.argv[2] === "flash") {
    const image = readFileSync(`${root}/dist/firmware.js`, "latin1"), loader = readFileSync(`${root}/dist/loader.js`, "latin1");
    writeFileSync(`${root}/dist/install.js`, installScript(image, loader), "latin1");
  }
  const r = spawnSync(process.execPath, args, { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
