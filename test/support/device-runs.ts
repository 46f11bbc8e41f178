// The interpreter runs and emulators a real-interpreter test starts: killed and closed after
// each test, whatever its outcome; and the usual start of such a test, a device with new
// credentials on an emulator of its own.
import { afterEach } from "vitest";
import { startDevice, randomName, type DeviceRun } from "../../tools/real-interpreter/run";
import { startEmulator } from "../../tools/emulator/index";

export interface EmulatorEvent {
  ev: string;
  d: any;
  t: number;
}

export function closedAfterEach() {
  const runs: DeviceRun[] = [],
    emus: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const r of runs.splice(0)) await r.kill();
    for (const e of emus.splice(0)) await e.close();
  });
  /** A device with new credentials on a new emulator, booted in the interpreter as a flashed
   * board and set up for that emulator (plus `setup`, which may override). The emulator's
   * events named in `watch` are recorded, with the time they came. */
  const onEmulator = async (o: {
    espruino: string;
    postlude: string;
    deviceName: string;
    watch: string[];
    plan?: Record<string, unknown>;
    setup?: Record<string, unknown>;
  }) => {
    const dev = { productKey: randomName(11), deviceName: o.deviceName, deviceSecret: randomName(32) };
    const emu = await startEmulator({ port: 0, devices: [dev] });
    emus.push(emu);
    const events: EmulatorEvent[] = [];
    for (const ev of o.watch) emu.on(ev, (d: any) => events.push({ ev, d, t: Date.now() }));
    const run = startDevice({
      espruino: o.espruino,
      postlude: o.postlude,
      plan: o.plan,
      timeoutMs: 120000,
      setup: { ssid: "emulator", password: "password123", host: "127.0.0.1", port: emu.port, ...dev, ...o.setup },
    });
    runs.push(run);
    /** the data of every recorded event `ev` */
    const of = (ev: string) => events.filter((e) => e.ev == ev).map((e) => e.d);
    return { dev, emu, run, events, of };
  };
  return { runs, emus, onEmulator };
}
