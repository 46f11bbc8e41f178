// Pins and the globals an app uses to drive them: D0..D39 (the ESP32 build's 40 GPIOs),
// digitalWrite/digitalRead/pinMode and the Pin methods set/reset/read/write/mode. A write is
// logged ("D2 = 1") so that a relay app can be watched in `npm start`; the host reads and
// drives inputs with pins.get(n)/pins.set(n, v). State is per boot, as on the board.
//
// The ESP32 build of Espruino declares no LED1/BTN1 (boards/ESP32.py has an empty `devices`):
// reading them fails here with a ReferenceError that says so. Board APIs the simulator does not
// model (setWatch, analogWrite, I2C1, ...) fail with an Error naming them, never with undefined.
import type { Core } from "./core";

export const PIN_COUNT = 40;
const MODES = [
  "analog",
  "input",
  "input_pullup",
  "input_pulldown",
  "output",
  "opendrain",
  "af_output",
  "af_opendrain",
  "auto",
];

/** Globals of the real ESP32 build that the simulator does not model: touching one throws. */
export const NOT_SIMULATED = [
  "analogRead",
  "analogWrite",
  "digitalPulse",
  "setWatch",
  "clearWatch",
  "getPinMode",
  "Pin",
  "I2C",
  "I2C1",
  "I2C2",
  "SPI",
  "SPI1",
  "SPI2",
  "Serial2",
  "Serial3",
  "Waveform",
  "peek8",
  "poke8",
  "peek32",
  "poke32",
  "ESP32",
];

export function createGpio(core: Core) {
  let level: number[] = [];
  let mode: string[] = [];
  let pinOf = new WeakMap<object, number>();

  const num = (p: any, what: string): number => {
    const n = p !== null && typeof p === "object" ? pinOf.get(p) : undefined;
    if (n === undefined) throw core.err(what + ": not a pin (use D0..D" + (PIN_COUNT - 1) + ")");
    return n;
  };
  const write = (n: number, v: any) => {
    const b = v ? 1 : 0;
    if (mode[n] === "auto" || mode[n] === undefined) mode[n] = "output";
    if (level[n] !== b) core.log("D" + n + " = " + b);
    level[n] = b;
  };
  const read = (n: number) => {
    if (mode[n] === "auto" || mode[n] === undefined) mode[n] = "input";
    return level[n] || 0;
  };

  /** Installs the pins and functions into a fresh interpreter's global object. */
  function install(g: any) {
    level = [];
    mode = [];
    pinOf = new WeakMap();
    for (let n = 0; n < PIN_COUNT; n++) {
      const name = "D" + n;
      const pin = core.module(name, {});
      // methods not enumerable: the REPL prints a pin as { } like the board does (it prints D2 only in text)
      const def = (k: string, f: (...a: any[]) => any) =>
        Object.defineProperty(pin, k, { value: f, enumerable: false });
      def("set", () => write(n, 1));
      def("reset", () => write(n, 0));
      def("write", (v: any) => write(n, v));
      def("writeAtomic", (v: any) => write(n, v));
      def("read", () => read(n));
      def("toggle", () => {
        write(n, !level[n]);
        return !!level[n];
      });
      def("mode", (m: any) => setMode(n, m));
      def("getMode", () => mode[n] || "auto");
      def("getInfo", () => core.toCtx({ port: "D", num: n }));
      def("toString", () => name);
      pinOf.set(pin, n);
      g[name] = pin;
    }
    const setMode = (n: number, m: any) => {
      if (MODES.indexOf(m) < 0) throw core.err("pinMode: mode must be one of " + MODES.join(", "));
      mode[n] = m;
    };
    Object.assign(g, {
      digitalWrite(p: any, v: any) {
        write(num(p, "digitalWrite"), v);
      },
      digitalRead(p: any) {
        return read(num(p, "digitalRead"));
      },
      pinMode(p: any, m: any) {
        setMode(num(p, "pinMode"), m === undefined ? "auto" : m);
      },
    });
    for (const name of ["LED1", "LED2", "BTN1", "BTN"]) {
      Object.defineProperty(g, name, {
        configurable: true,
        get() {
          throw core.err(
            name +
              " is not defined: the ESP32 build of Espruino has no " +
              name +
              " (its board file declares no LEDs or buttons); use your board's pin, e.g. D2",
            "ReferenceError",
          );
        },
      });
    }
    for (const name of NOT_SIMULATED) {
      Object.defineProperty(g, name, {
        configurable: true,
        get() {
          throw core.err("simulator: " + name + " exists on the board but is not provided by the simulator");
        },
      });
    }
  }

  return {
    install,
    /** Host side: a pin's level (0/1). */
    get: (n: number) => level[n] || 0,
    /** Host side: drive an input pin (a button, a sensor line). */
    set: (n: number, v: number | boolean) => {
      level[n] = v ? 1 : 0;
    },
    mode: (n: number) => mode[n] || "auto",
  };
}
