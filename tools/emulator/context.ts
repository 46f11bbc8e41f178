// What the emulator's parts share: its settings, its log and event outlet, the registered
// devices, and the aedes broker of the current run (null while stopped; a restart makes a new one).
import type { Aedes } from "aedes";
import type { Device } from "./registry";

export interface Context {
  /** >1 compresses the keepalive silence limit */
  timeScale: number;
  /** event lines; never contain secrets */
  log: (line: string) => void;
  /** emits an event of the emulator; a throwing listener is logged, never breaks the broker */
  emit: (event: string, data: unknown) => void;
  devices: Device[];
  broker: Aedes | null;
}
