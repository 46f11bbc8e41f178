// Alink test helpers: one handler per event (alink.on is one function for all), a recording host.
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

/** A host for an Alink that records what it publishes and the errors it reports. */
export function recordingHost() {
  const pubs: { topic: string; payload: string; qos: number }[] = [];
  const errors: string[] = [];
  const host = {
    publish(topic: string, payload: string, qos: 0 | 1) {
      pubs.push({ topic, payload, qos });
    },
    error(message: string) {
      errors.push(message);
    },
  };
  return { host, pubs, errors };
}
