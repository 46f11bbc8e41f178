// The interpreter runs and emulators a real-interpreter test starts: killed and closed after
// each test, whatever its outcome.
import { afterEach } from "vitest";
import type { DeviceRun } from "../../tools/real-interpreter/run";

export function closedAfterEach(): { runs: DeviceRun[]; emus: { close(): Promise<void> }[] } {
  const runs: DeviceRun[] = [],
    emus: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const r of runs.splice(0)) await r.kill();
    for (const e of emus.splice(0)) await e.close();
  });
  return { runs, emus };
}
