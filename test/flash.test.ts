import { describe, it, expect } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { buildArgs } from "../tools/flash/flash";

const board = JSON.parse(readFileSync("board.json", "utf8"));
const dir = process.cwd();
const value = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
const configs = (args: string[]) => args.filter((_, i) => args[i - 1] === "--config");

describe("flash/console arguments", () => {
  it("flash sends the OTA install script (run once from RAM), offline, without BLE", () => {
    const args = buildArgs("flash", ["--port", "/dev/ttyUSB0"], board, dir);
    expect(args[0]).toBe(`${dir}/node_modules/espruino/bin/espruino-cli.js`);
    expect(existsSync(args[0])).toBe(true);
    expect(args).toContain("--no-ble");
    expect(value(args, "-p")).toBe("/dev/ttyUSB0");
    expect(value(args, "-b")).toBe(String(board.baud));
    expect(configs(args)).toEqual([
      `BOARD_JSON_URL=${dir}/tools/flash/espruino-board`,
      `MODULE_URL=${dir}/tools/flash/espruino-board`,
    ]);
    expect(args[args.length - 1]).toBe(`${dir}/dist/install.js`);
    expect(args).not.toContain("-m"); // the CLI's minifier breaks ES2015 classes
  });

  it("the committed board description lists every module the firmware requires as built in", () => {
    const args = buildArgs("flash", ["-p", "x"], board, dir);
    const json = JSON.parse(readFileSync(value(args, "--board"), "utf8"));
    for (const m of ["net", "crypto", "Storage", "Wifi", "TelnetServer"])
      expect(json.info.builtin_modules).toContain(m);
  });

  it("accepts a tcp:// port and a baud override", () => {
    const args = buildArgs("flash", ["--port=tcp://192.168.4.1:23", "--baud", "921600"], board, dir);
    expect(value(args, "-p")).toBe("tcp://192.168.4.1:23");
    expect(value(args, "-b")).toBe("921600");
  });

  it("console opens the REPL: no file, nothing saved", () => {
    const args = buildArgs("console", ["--port", "/dev/ttyUSB0"], board, dir);
    expect(args.some((a: string) => a.endsWith("firmware.js"))).toBe(false);
    expect(configs(args)).not.toContain("SAVE_ON_SEND=1");
    expect(args).toContain("--no-ble");
  });

  it("names what is wrong with the arguments", () => {
    expect(() => buildArgs("flash", [], board, dir)).toThrow(/--port is required/);
    expect(() => buildArgs("flash", ["--prot", "x"], board, dir)).toThrow(/unknown argument --prot/);
    expect(() => buildArgs("flash", ["-p", "x", "-b", "fast"], board, dir)).toThrow(/--baud/);
  });
});
