// The commands of `npm start`'s prompt that act as the cloud or the hardware, not as the
// device's console: lines starting with "." (and `help`). Everything else is a console line
// for the simulated board. Each command is one entry of COMMANDS, so new ones (a service call,
// an OTA job) are one entry each.
import type { Emulator } from "../emulator/index";
import fs from "node:fs";
import type { Device } from "../simulator/index";

export interface CommandContext {
  /** the local emulator, or null when the target is the real cloud */
  emu: Emulator | null;
  device: Device;
  /** the simulated board's identity on the emulator */
  productKey: string;
  deviceName: string;
  print: (line: string) => void;
  /** the firmware image `.ota` pushes by default (dist/firmware.js) */
  firmware: string;
}

interface Command {
  /** argument synopsis for help */
  args: string;
  help: string;
  /** needs the local emulator (not available against the real cloud) */
  cloud: boolean;
  run: (c: CommandContext, rest: string) => void | Promise<void>;
}

/** `{"a":1}` or `a=1 b=on name="x"`: property params typed at the prompt. */
export function parseParams(text: string): Record<string, any> {
  const t = text.trim();
  if (t.startsWith("{")) {
    const v = JSON.parse(t);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("params must be a JSON object");
    return v;
  }
  const out: Record<string, any> = {};
  for (const kv of t.match(/[^\s=]+=("[^"]*"|\S*)/g) || []) {
    const i = kv.indexOf("=");
    const raw = kv.slice(i + 1);
    let v: any = raw;
    try {
      v = JSON.parse(raw);
    } catch {}
    out[kv.slice(0, i)] = v;
  }
  if (!Object.keys(out).length) throw new Error('give params as {"Key": value} or Key=value');
  return out;
}

export const COMMANDS: Record<string, Command> = {
  help: { args: "", help: "this list", cloud: false, run: (c) => c.print(helpText()) },
  set: {
    args: "Key=value … | {json}",
    help: "the cloud sets properties (thing.service.property.set); shows the device's set_reply",
    cloud: true,
    async run(c, rest) {
      const params = parseParams(rest);
      const r = await c.emu!.setProperty(c.productKey, c.deviceName, params);
      c.print(
        "[cloud] set_reply " +
          r.id +
          ": code " +
          r.code +
          (r.data && Object.keys(r.data).length ? " " + JSON.stringify(r.data) : ""),
      );
    },
  },
  service: {
    args: "<identifier> [{params}]",
    help: "call a service on the device (thing.service.<identifier>); shows its reply",
    cloud: true,
    run: (c, rest) => callService(c, rest, false),
  },
  sync: {
    args: "<identifier> [{params}]",
    help: "call a service synchronously (RRPC over /ext/rrpc); shows its reply",
    cloud: true,
    run: (c, rest) => callService(c, rest, true),
  },
  rrpc: {
    args: "<text>",
    help: "classic RRPC (/sys/.../rrpc/request); shows the device's response",
    cloud: true,
    async run(c, rest) {
      const reply = await c.emu!.rrpc(c.productKey, c.deviceName, rest.trim());
      c.print("[cloud] rrpc response " + JSON.stringify(reply));
    },
  },
  logs: {
    args: "on|off",
    help: "the platform's device-log switch (the device follows it)",
    cloud: true,
    run(c, rest) {
      const mode = rest.trim();
      if (mode !== "on" && mode !== "off") return c.print("[start] .logs on or .logs off");
      c.emu!.setLogMode(c.productKey, c.deviceName, mode === "on" ? 1 : 0);
      c.print("[cloud] log switch " + mode);
    },
  },
  ota: {
    args: "[file] [version]",
    help: "push a firmware OTA job (default: the running build dist/firmware.js); watch ota_progress",
    cloud: true,
    run: (c, rest) => pushOta(c, "default", rest, false),
  },
  "ota-app": {
    args: "<file> [version]",
    help: "push an app OTA job (the file becomes app.js; the old app is kept for rollback)",
    cloud: true,
    run: (c, rest) => pushOta(c, "app", rest, false),
  },
  "ota-broken": {
    args: "",
    help: "push a firmware image that throws at load: watch the device roll back (-1)",
    cloud: true,
    run: (c, rest) => pushOta(c, "default", rest, true),
  },
  kick: {
    args: "",
    help: "the cloud closes the device's connection (it must reconnect by itself)",
    cloud: true,
    run: (c) => {
      if (!c.emu!.kick(c.productKey, c.deviceName, "kicked from the npm start prompt"))
        c.print("[start] the device is not connected");
    },
  },
  stop: {
    args: "",
    help: "stop the broker (the device loses its link and backs off)",
    cloud: true,
    run: (c) => c.emu!.stop(),
  },
  start: { args: "", help: "start the broker again on the same port", cloud: true, run: (c) => c.emu!.start() },
  wifi: {
    args: "down|up",
    help: "the access point disappears / comes back",
    cloud: false,
    run(c, rest) {
      if (rest.trim() === "down") c.device.wifiDown();
      else if (rest.trim() === "up") c.device.wifiUp();
      else c.print("[start] .wifi down or .wifi up");
    },
  },
  reboot: {
    args: "",
    help: "power-cycle the board (same Storage)",
    cloud: false,
    run: (c) => c.device.reboot(".reboot at the prompt"),
  },
  exit: { args: "", help: "quit (also Ctrl-C)", cloud: false, run: () => {} },
};

/** `.service Id {json}` / `.sync Id {json}`: a thing-model service call and its reply. */
async function callService(c: CommandContext, rest: string, sync: boolean): Promise<void> {
  const m = /^(\w+)\s*([\s\S]*)$/.exec(rest.trim());
  if (!m) return c.print('[start] give a service identifier, e.g. .service Reboot {"delay": 5}');
  const params = m[2] ? parseParams(m[2]) : {};
  const reply = await c.emu!.callService(c.productKey, c.deviceName, m[1], params, { sync });
  c.print("[cloud] " + (sync ? "sync " : "service ") + m[1] + " -> " + JSON.stringify(reply));
}

/** `.ota`, `.ota-app`, `.ota-broken`: an OTA job as the platform's console would push it. */
function pushOta(c: CommandContext, module: string, rest: string, broken: boolean): void {
  const words = rest.trim().split(/\s+/).filter(Boolean);
  if (module === "app" && !words[0]) return c.print("[start] give the app file: .ota-app path/to/app.js [version]");
  const file = broken ? Buffer.from('throw new Error("broken image (demo)")') : fs.readFileSync(words[0] || c.firmware);
  const version = (broken ? words[0] : words[1]) || "sim-" + Date.now().toString(36);
  c.emu!.ota(c.productKey, c.deviceName, { file, version, module });
  c.print(
    "[start] OTA job pushed: " +
      module +
      " " +
      version +
      " (" +
      file.length +
      " bytes); watch [cloud] ota_progress / ota_inform",
  );
}

export function helpText(): string {
  const rows = Object.keys(COMMANDS).map((k) => {
    const x = COMMANDS[k];
    return "  ." + (k + (x.args ? " " + x.args : "")).padEnd(30) + x.help;
  });
  return [
    "commands (anything else is a line for the device's console, e.g. iot.status()):",
    ...rows,
    "  cloud commands (.set .service .sync .rrpc .logs .ota* .kick .stop .start) need the local emulator, not --config",
  ].join("\n");
}

/** Is `line` a prompt command rather than a device console line? */
export function isCommand(line: string): boolean {
  return line === "help" || /^\.[a-z][a-z-]*(\s|$)/.test(line);
}

/** Runs a prompt command; problems are printed, never thrown. */
export async function runCommand(c: CommandContext, line: string): Promise<void> {
  const m = /^\.?([a-z][a-z-]*)\s*([\s\S]*)$/.exec(line);
  const cmd = m && COMMANDS[m[1]];
  if (!m || !cmd) return c.print("[start] unknown command " + line.split(/\s/)[0] + "; type help");
  if (cmd.cloud && !c.emu)
    return c.print(
      "[start] ." + m[1] + " needs the local emulator; against the real cloud use the IoT Platform console",
    );
  try {
    await cmd.run(c, m[2]);
  } catch (e) {
    c.print("[start] ." + m[1] + ": " + (e as Error).message);
  }
}
