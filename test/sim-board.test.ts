// The simulator's board APIs an app uses (pins, load()) and how it reports what it does not
// provide, plus the origin of an error thrown by app.js. Device code is a tiny script that runs
// app.js the way the firmware bundle's footer does.
import { describe, it, expect, afterEach } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevice } from "../tools/simulator";

// the bundle's footer (rollup.config.mjs): app.js runs through this one eval
const FOOTER = '(function(c){if(c)eval(c)})(require("Storage").read("app.js"));';
const open: { close(): void }[] = [];
const dirs: string[] = [];
afterEach(() => {
  while (open.length) open.pop()!.close();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function board(app?: string) {
  const dir = mkdtempSync(join(tmpdir(), "sim-board-"));
  dirs.push(dir);
  if (app !== undefined) writeFileSync(join(dir, "app.js"), app);
  const out: string[] = [];
  const log: string[] = [];
  const d = createDevice({
    source: "var booted = (typeof booted == 'undefined' ? 0 : booted) + 1;\n" + FOOTER,
    storageDir: dir,
    out: (l) => out.push(l),
    log: (l) => log.push(l),
  });
  open.push(d);
  return { d, out, log };
}
const tick = () => new Promise((r) => setTimeout(r, 20));

describe("simulated pins", () => {
  it("digitalWrite/digitalRead/pinMode and the Pin methods on D0..D39", () => {
    const { d, log } = board();
    d.eval("digitalWrite(D2, 1)");
    expect(d.pins.get(2)).toBe(1);
    expect(d.eval("digitalRead(D2)")).toBe(1);
    expect(log).toContain("D2 = 1");
    d.eval("D2.reset()");
    expect(d.pins.get(2)).toBe(0);
    expect(d.eval("D39.set(); D39.read()")).toBe(1);
    expect(d.eval("String(D17)")).toBe("D17");
    d.eval('pinMode(D4, "input_pullup")');
    expect(d.pins.mode(4)).toBe("input_pullup");
    d.pins.set(4, 1); // a button pulls the line
    expect(d.eval("digitalRead(D4)")).toBe(1);
    expect(() => d.eval("D40", { throws: true })).toThrow(/D40 is not defined/);
    expect(() => d.eval("digitalWrite(2, 1)", { throws: true })).toThrow(/digitalWrite: not a pin/);
    expect(() => d.eval('pinMode(D4, "fast")', { throws: true })).toThrow(/pinMode: mode must be one of/);
  });

  it("LED1/BTN1 fail saying the ESP32 build has none; unmodelled board APIs name themselves", () => {
    const { d } = board();
    expect(() => d.eval("digitalWrite(LED1, 1)", { throws: true })).toThrow(
      /LED1 is not defined: the ESP32 build of Espruino has no LED1/,
    );
    expect(() => d.eval("BTN1.read()", { throws: true })).toThrow(/no BTN1/);
    expect(() => d.eval("setWatch(function () {}, D0)", { throws: true })).toThrow(
      /setWatch exists on the board but is not provided by the simulator/,
    );
    expect(() => d.eval("I2C1.setup({})", { throws: true })).toThrow(/I2C1 exists on the board/);
    expect(() => d.eval("D2.analog()", { throws: true })).toThrow(/D2\.analog is not provided/);
    // what README's app example uses is there
    expect(typeof d.eval("E.getTemperature()")).toBe("number");
  });

  it("load() restarts the interpreter, which runs app.js again; pin state does not survive", async () => {
    const { d, out } = board('digitalWrite(D5, 1); console.log("app ran");');
    expect(out.filter((l) => l === "app ran")).toHaveLength(1);
    d.pins.set(7, 1);
    d.eval("load()");
    await tick();
    expect(d.boots).toBe(2);
    expect(out.filter((l) => l === "app ran")).toHaveLength(2);
    expect(d.pins.get(7)).toBe(0);
    expect(d.pins.get(5)).toBe(1);
  });
});

describe("errors from app.js", () => {
  it("a throw at the top level of app.js names app.js and the line", () => {
    const { out } = board("var a = 1;\nvar b = 2;\n  notDefinedAnywhere();\n");
    expect(out).toContain("Uncaught ReferenceError: notDefinedAnywhere is not defined (in app.js, line 3 col 3)");
  });

  it("a throw in an app.js callback names app.js; console errors do not", async () => {
    const { d, out } = board('setTimeout(function () {\n  throw new Error("late");\n}, 5);\n');
    d.eval("undefinedOnConsole()");
    await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain("Uncaught Error: late (in app.js, line 2 col 9)");
    expect(out).toContain("Uncaught ReferenceError: undefinedOnConsole is not defined");
  });
});
