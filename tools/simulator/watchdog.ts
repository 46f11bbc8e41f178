// The hardware watchdog behind E.enableWatchdog / E.kickWatchdog. In manual-kick mode a
// firmware that stops kicking for the period (rounded to whole seconds, as on the ESP32) is
// reset, which is how tests prove the firmware's own watchdog handling. Auto mode never fires:
// on the device the idle loop kicks it.
import { hostNow, type Core } from "./core";

/** @param reset power-cycles the device */
export function createWatchdog(core: Core, reset: (reason: string) => void) {
  const wd = { period: 0, auto: true, last: 0, timer: null as any };

  function arm() {
    clearInterval(wd.timer);
    if (!wd.period) return;
    const realMs = (wd.period * 1000) / core.timeScale;
    wd.timer = setInterval(
      () => {
        if (core.closed || wd.auto) return;
        if (hostNow() - wd.last > realMs) {
          core.out("simulator: watchdog reset (not kicked for " + wd.period + " s)");
          reset("watchdog reset");
        }
      },
      Math.max(5, realMs / 8),
    );
  }

  /** Members of the device's E object. */
  const members = {
    enableWatchdog(t: any, isAuto: any) {
      wd.period = Math.max(1, Math.round(Number(t) || 1)); // ESP32 rounds to whole seconds
      wd.auto = isAuto === undefined ? true : !!isAuto;
      wd.last = hostNow();
      core.log("watchdog: " + wd.period + " s, " + (wd.auto ? "auto" : "manual") + " kick");
      arm();
    },
    kickWatchdog() {
      wd.last = hostNow();
    },
  };

  /** Off until the firmware enables it again (reboot, close). */
  function stop() {
    wd.period = 0;
    clearInterval(wd.timer);
  }

  return { members, stop };
}
