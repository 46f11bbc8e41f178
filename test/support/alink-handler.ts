// Alink has one handler for every event (alink.on): tests set one event's function at a time.
import type { Alink } from "../../lib/alink";

/** Makes `fn` the handler of `event`, keeping what was set for the others. An event nobody
 * handles gets undefined, except a service: 404, as the console answers without a listener. */
export function handle(alink: Alink, event: "set" | "reply" | "service" | "rrpc", fn: (...args: any[]) => any) {
  const others = alink.on;
  alink.on = (name, first, second, third) =>
    name == event
      ? fn(first, second, third)
      : others
        ? others(name, first, second, third)
        : name == "service"
          ? 404
          : undefined;
}
