// `npm run flash -- --port P` installs dist/firmware.js with the espruino CLI so that the
// board boots from Storage and takes OTA updates (tools/flash/install.ts: the loader as
// .bootcde, the image as fw.a, a fresh boot state); `npm run upload-app -- --port P [app.js]` writes the user's app to the Storage
// file app.js and restarts the firmware; `npm run console -- --port P` opens the board's REPL.
// Works offline: the CLI reads the board description and modules from
// tools/flash/espruino-board/ instead of downloading them.
//
// The espruino CLI exits 0 even when no board answers, so this wrapper reads its output: a
// failed connection or an upload that never completed exits 1 with one line saying what to check.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { installScript } from "./install";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { checkBundle } from "../build/check-bundle";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const USAGE: Record<string, string> = {
  flash: `usage: npm run flash -- --port P [--baud N]
  Builds dist/firmware.js and installs it on the board: the OTA loader as boot code (.bootcde),
  the image as Storage file fw.a; app.js, .boot0-.boot3 and the config are left as they are.
  P: a serial port (/dev/ttyUSB0, /dev/ttyACM0, COM3) or tcp://<board-ip>:23 (Telnet; see README).
  Exit 0 once the CLI reported "Upload Complete", 1 when no board answered or the upload failed.`,
  "upload-app": `usage: npm run upload-app -- --port P [--baud N] [--no-load] [app.js]
  Writes your application (default ./app.js) to the board's Storage file app.js, then runs load()
  so the firmware restarts and runs it (--no-load: leave the board running).
  The file is checked first: ASCII, ES2015 and the Espruino subset (as npm run build checks the bundle).`,
  console: `usage: npm run console -- --port P [--baud N]
  Opens the board's console (Ctrl-C twice quits). Exit 1 when no board answered.`,
};

/** The part of board.json flashing needs. */
export interface Board {
  baud: number;
  /** name of the board description in tools/flash/espruino-board/ */
  espruinoBoard: string;
}

export interface FlashOptions {
  mode: string;
  port: string;
  baud: number;
  /** upload-app: the file to write as Storage app.js */
  app?: string;
  /** upload-app: run load() after writing (default true) */
  load?: boolean;
  help?: boolean;
}

/** Reads the user's argv for `mode` ("flash" | "upload-app" | "console"); throws with the usage. */
export function parseFlashArgs(mode: string, argv: string[], board: Board): FlashOptions {
  if (!USAGE[mode]) throw new Error(`unknown mode ${mode} (flash, upload-app or console)`);
  const o: FlashOptions = { mode, port: "", baud: board.baud, load: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") o.help = true;
    else if (a === "--port" || a === "-p") o.port = argv[++i];
    else if (a.startsWith("--port=")) o.port = a.slice(7);
    else if (a === "--baud" || a === "-b") o.baud = Number(argv[++i]);
    else if (a === "--no-load" && mode === "upload-app") o.load = false;
    else if (mode === "upload-app" && !a.startsWith("-") && !o.app) o.app = a;
    else throw new Error(`unknown argument ${a}\n${USAGE[mode]}`);
  }
  if (o.help) return o;
  if (!o.port) throw new Error(`--port is required\n${USAGE[mode]}`);
  if (!(o.baud > 0)) throw new Error(`--baud must be a positive number`);
  if (mode === "upload-app" && !o.app) o.app = "app.js";
  return o;
}

/**
 * Builds the espruino CLI arguments for `mode` ("flash" | "upload-app" | "console") from the
 * user's argv and board.json; `dir` is the repository root.
 */
export function buildArgs(mode: string, argv: string[], board: Board, dir: string): string[] {
  return cliArgs(parseFlashArgs(mode, argv, board), board, dir);
}

/** The espruino CLI command line for parsed options. */
export function cliArgs(o: FlashOptions, board: Board, dir: string): string[] {
  const boardDir = `${dir}/tools/flash/espruino-board`;
  const args = [
    `${dir}/node_modules/espruino/bin/espruino-cli.js`,
    "--no-ble", // the CLI crashes probing Bluetooth on machines without D-Bus
    "-p",
    o.port,
    "-b",
    String(o.baud),
    "--board",
    `${boardDir}/${board.espruinoBoard}.json`,
    "--config",
    `BOARD_JSON_URL=${boardDir}`,
    "--config",
    `MODULE_URL=${boardDir}`,
  ];
  // the install script (written by main) runs once from RAM and writes Storage
  if (o.mode === "flash") args.push(`${dir}/dist/install.js`);
  if (o.mode === "upload-app") {
    // RESET_BEFORE_SEND=false: a reset would stop the firmware mid-upload; load() restarts it after
    args.push("--config", "RESET_BEFORE_SEND=false", "--storage", `app.js:${o.app}`);
    // the CLI uploads only with code or an expression to send (else it opens its terminal)
    args.push("-e", o.load ? "load()" : ";");
  }
  return args;
}

/**
 * What went wrong, judged from the CLI's output (it exits 0 either way): null when the run
 * succeeded, else one line saying what to check.
 */
export function failure(mode: string, port: string, output: string): string | null {
  const tcp = port.startsWith("tcp://");
  if (/Port "[^"]*" not found|Port named .* not found/.test(output))
    return `no serial port ${port}: check the USB cable and the port name (ls /dev/ttyUSB* /dev/ttyACM*; COMn on Windows)`;
  if (/ECONNREFUSED/.test(output))
    return `connection refused by ${port}: check the board's IP and that its Telnet console is on (iot.setup({telnet: true}) over serial, then reset)`;
  if (/EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN/.test(output))
    return `cannot reach ${port}: check the board's IP address and that this machine is on the board's network`;
  if (/EACCES|Permission denied/.test(output))
    return `no permission to open ${port}: add yourself to the dialout (or uucp) group, or close the program holding the port`;
  if (/Unable to connect|RECEIVE ERROR/.test(output))
    return `no board answered on ${port}: check the cable, that no other program (Web IDE, npm run console) holds the port${tcp ? "" : ", and --baud"}`;
  if (mode !== "console" && !/Upload Complete/.test(output))
    return `the upload to ${port} did not complete: check that the board runs Espruino (README: Putting Espruino on the board) and that nothing else is connected to it`;
  return null;
}

async function main(mode: string, argv: string[]) {
  const board = JSON.parse(readFileSync(`${root}/board.json`, "utf8"));
  let o: FlashOptions;
  try {
    o = parseFlashArgs(mode, argv, board);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  if (o.help) {
    console.log(USAGE[mode]);
    process.exit(0);
  }
  let what = "";
  if (mode === "flash") {
    const file = `${root}/dist/firmware.js`;
    try {
      const image = readFileSync(file, "latin1"),
        loader = readFileSync(`${root}/dist/loader.js`, "latin1");
      writeFileSync(`${root}/dist/install.js`, installScript(image, loader), "latin1");
      what = `dist/firmware.js (${statSync(file).size} bytes) as Storage file fw.a, booted by the OTA loader (.bootcde)`;
    } catch {
      console.error(`${mode}: dist/firmware.js or dist/loader.js not found: run npm run build`);
      process.exit(1);
    }
  }
  if (mode === "upload-app") {
    let code = "";
    try {
      code = readFileSync(o.app!, "latin1");
    } catch (e) {
      console.error(
        `${mode}: cannot read ${o.app}: ${(e as Error).message} (give the file: npm run upload-app -- --port P path/to/app.js)`,
      );
      process.exit(1);
    }
    const problems = checkBundle(code);
    if (problems.length) {
      console.error(`${mode}: ${o.app} would fail on Espruino (${problems.length}):\n  ` + problems.join("\n  "));
      process.exit(1);
    }
    what = `${o.app} (${Buffer.byteLength(code, "latin1")} bytes) as Storage file app.js${o.load ? ", then load()" : ""}`;
  }
  const started = Date.now();
  // stdin stays the terminal (the console's raw mode); output is passed through and kept for failure()
  const child = spawn(process.execPath, cliArgs(o, board, root), { stdio: ["inherit", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (b) => {
    output += b;
    process.stdout.write(b);
  });
  child.stderr.on("data", (b) => {
    output += b;
    process.stderr.write(b);
  });
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  const why = failure(mode, o.port, output);
  if (why) {
    console.error(`\n${mode}: FAILED: ${why}`);
    process.exit(1);
  }
  if (code !== 0) {
    console.error(`\n${mode}: the espruino CLI exited with code ${code}`);
    process.exit(code);
  }
  if (what) console.log(`\n${mode}: wrote ${what} to ${o.port} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv[2], process.argv.slice(3));
