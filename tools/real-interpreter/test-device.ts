// `npm run test:device`: the bundle (dist/firmware.js, or $FIRMWARE) in the real Espruino
// interpreter against the local emulator: measureDevice()'s checks, then its figures. Needs
// ESPRUINO=/path/to/espruino (Linux build of Espruino); without it this prints how to enable
// it and exits 0, so the script is safe on any machine. `-v` shows the device's output.
import { existsSync } from "node:fs";
import { findEspruino, DEFAULT_FIRMWARE } from "./run";
import { measureDevice } from "./measure";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(
    "usage: npm run test:device [-- --verbose]\n" +
      "  Runs dist/firmware.js (or $FIRMWARE) in the Linux build of Espruino at $ESPRUINO against the local\n" +
      "  emulator, checks it and prints its figures (README: The real interpreter). Without ESPRUINO: skipped, exit 0.",
  );
  process.exit(0);
}
const verbose = process.argv.includes("--verbose") || process.argv.includes("-v");
const found = findEspruino();
if (!found.path) {
  // Unset: skip. Set but wrong: that is a mistake worth failing on.
  if (process.env.ESPRUINO) {
    console.error("test:device: " + found.reason);
    process.exit(1);
  }
  console.log("test:device skipped: " + found.reason);
  process.exit(0);
}
const firmware = process.env.FIRMWARE || DEFAULT_FIRMWARE;
if (!existsSync(firmware)) {
  console.error("test:device: " + firmware + " does not exist; run `npm run build` first");
  process.exit(1);
}
console.log("test:device: " + firmware + " in " + found.path);
const tls = !process.argv.includes("--tcp");
console.log("transport: " + (tls ? "TLS (the default; --tcp for plain TCP)" : "plain TCP"));
const r = await measureDevice({
  espruino: found.path,
  firmware,
  tls,
  log: (l) => {
    if (verbose || /^(ok|FAIL) /.test(l))
      console.log(l.startsWith("ok") || l.startsWith("FAIL") ? "  " + l : "    " + l);
  },
});
const row = (k: string, v: unknown, unit?: string) =>
  console.log("  " + k.padEnd(36) + (v == null ? "n/a" : v + (unit ? " " + unit : "")));
console.log("figures (Linux build: JsVar counts are a lower bound for an ESP32):");
row("JsVars of the test harness alone", r.jsvarsHarness);
row("JsVars after load (unconfigured)", r.jsvarsAfterLoad);
row("JsVars online" + (tls ? " (TLS: mbedTLS's session counts here, native heap on an ESP32)" : ""), r.jsvarsOnline);
row(
  "  firmware share idle / online",
  r.jsvarsFirmwareIdle == null ? null : r.jsvarsFirmwareIdle + " / " + r.jsvarsFirmwareOnline,
);
row(
  "  firmware online, from Storage",
  r.jsvarsFirmwareOnlineBooted == null
    ? null
    : r.jsvarsFirmwareOnlineBooted + " (budget " + r.ramBudgetOnlineJsVars + ")",
);
row("JsVars after 10 posts", r.jsvarsAfter10);
row("JsVars after 50 posts", r.jsvarsAfter50);
row("JsVars after all posts", r.jsvarsEnd);
row("load time", r.loadMs, "ms");
row("load to online (setup run)", r.loadToOnlineMs, "ms");
row("load to online (boot from Storage)", r.rebootLoadToOnlineMs, "ms");
row("QoS 1 posts/s (1 in flight)", r.qos1PerSec);
row("QoS 1 posts/s (" + r.window + " in flight)", r.qos1WindowPerSec);
row(
  "QoS 1 round trip median / p90",
  r.qos1RttMedianMs == null ? null : r.qos1RttMedianMs + " / " + r.qos1RttP90Ms,
  "ms",
);
row("machine load average (1 min)", r.loadAverage);
const failed = r.checks.filter((c) => !c.ok);
console.log(
  failed.length
    ? "test:device FAILED: " + failed.map((c) => c.name + (c.detail ? " (" + c.detail + ")" : "")).join("; ")
    : "test:device passed (" + r.checks.length + " checks)",
);
process.exit(failed.length ? 1 : 0);
