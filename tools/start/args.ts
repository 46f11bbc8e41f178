// Command line of `npm start` (see start.ts for what it does).
export const USAGE =
  "usage: npm start -- [--once] [--timeout s] [--config real.json] [--app app.js] [--time-scale n] [--port n]\n" +
  "         [--sim-dir .sim] [--emulator-dir .emulator] [--firmware dist/firmware.js]\n" +
  "  --once          exit 0 once the device is online and answered one post of its own (exit 1 on --timeout, default 60 s)\n" +
  "  --config file   run against the REAL cloud with this device config (README: real.json); no emulator\n" +
  "  --app file      your application, copied to the board's Storage as app.js at every start\n" +
  "                  (default ./app.js if it exists; else the demo app, and against the real cloud no app)\n" +
  "  --port n        emulator port (default: any free port)\n" +
  "  --time-scale n  the board's timers and getTime() run n times faster (Date.now() stays the wall clock)\n" +
  "  boards: .sim/emulator and .sim/real (one simulated board per target); at the prompt type help";

export interface StartOptions {
  once: boolean;
  /** seconds --once waits for a post_reply */
  timeout: number;
  /** device config file for the real cloud ('' = local emulator) */
  config: string;
  /** the user's app.js ('' = ./app.js if it exists) */
  app: string;
  timeScale: number;
  /** emulator port (0 = any free port) */
  port: number;
  simDir: string;
  emuDir: string;
  firmware: string;
}

/** Prints what is wrong and the usage, and exits 2. */
export function usage(msg: string): never {
  if (msg) console.error("start: " + msg);
  console.error(USAGE);
  process.exit(2);
}

export function parseArgs(argv: string[]): StartOptions {
  const o: StartOptions = {
    once: false,
    timeout: 60,
    config: "",
    app: "",
    timeScale: 1,
    port: 0,
    simDir: process.env.IOT_SIM_DIR || ".sim",
    emuDir: process.env.IOT_EMULATOR_DIR || ".emulator",
    firmware: "dist/firmware.js",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const num = () => {
      if (!(Number(v) >= 0) || v === undefined) usage(a + " needs a number");
      i++;
      return Number(v);
    };
    const str = () => {
      if (!v) usage(a + " needs a value");
      i++;
      return v;
    };
    if (a === "--once") o.once = true;
    else if (a === "--timeout") o.timeout = num();
    else if (a === "--config") o.config = str();
    else if (a === "--time-scale") {
      o.timeScale = num();
      if (!(o.timeScale > 0)) usage("--time-scale must be > 0");
    } else if (a === "--port") o.port = num();
    else if (a === "--app") o.app = str();
    else if (a === "--sim-dir") o.simDir = str();
    else if (a === "--emulator-dir") o.emuDir = str();
    else if (a === "--firmware") o.firmware = str();
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else usage("unknown argument " + a);
  }
  return o;
}
