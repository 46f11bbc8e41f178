// Services, RRPC, events and device logs in the REAL Espruino interpreter (the Linux builds:
// $ESPRUINO and the 32-bit one beside it), the bundle booted from Storage and online over TLS,
// against the emulator's platform side (tools/emulator/services.ts, written from the docs).
// test/e2e.test.ts covers the same in the simulator; this is what a board runs.
import { describe, it, expect } from "vitest";
import { closedAfterEach } from "./support/device-runs";
import { until } from "./support/until";
import { buildsOrNone, ESPRUINO, ESPRUINO_HINT } from "./support/espruino";

// The app of README's "Services, RRPC and device logs", as a user writes it (plain ES5).
const POSTLUDE = `
(function(SETUP,PLAN){
if(typeof iot!="object")return __out("fail",{why:"no iot"});
iot.on("service",function(identifier,params){
if(identifier=="Add")return{sum:params.a+params.b};
if(identifier=="Busy")return 6813;
__out("service",{identifier:identifier});
throw new Error("no");});
iot.on("rrpc",function(payload){return "pong "+payload});
iot.on("reply",function(id,code){__out("reply",{id:id,code:code})});
var first=1;
iot.on("online",function(){__out("online",{});
if(first&&PLAN.post)setTimeout(function(){iot.event("Alarm",{Level:2});iot.post({Temp:21.5});iot.log("INFO","app line")},300);first=0});
setTimeout(function(){if(iot.status().state=="unconfigured")iot.setup(SETUP)},1);
})(%SETUP%,%PLAN%);
`;

const { onEmulator } = closedAfterEach();

async function online(espruino: string, plan: Record<string, unknown> = {}) {
  const r = await onEmulator({
    espruino,
    postlude: POSTLUDE,
    deviceName: "services-real",
    watch: ["post", "log", "service_reply", "rrpc_reply", "subscribe"],
    plan,
    // logLevel INFO: the boot line and the app's INFO line are posted
    setup: { logLevel: "INFO" },
  });
  await until("online", () => r.run.seen("online").length, 60000).catch((e) => {
    throw new Error(e.message + "\n" + r.run.output().slice(-3000));
  });
  // online is the CONNACK: the calls below wait for the subscriptions to be in place
  await until("subscribed to services and RRPC", () => {
    const topics = r.of("subscribe").flatMap((d) => d.topics.map((t: any) => t.topic || t));
    return topics.some((t) => t.endsWith("/thing/service/+")) && topics.some((t) => t.includes("/rrpc/request/"));
  });
  return r;
}

describe.skipIf(!ESPRUINO)(
  "services, RRPC, events and device logs in the real interpreter (" + (ESPRUINO ? "" : ESPRUINO_HINT) + ")",
  () => {
    for (const [build, espruino] of buildsOrNone())
      describe(build, () => {
        it("answers asynchronous and synchronous service calls with the handler's data, code or error", async () => {
          const r = await online(espruino);
          const { productKey: pk, deviceName: dn } = r.dev;
          expect(await r.emu.callService(pk, dn, "Add", { a: 2, b: 40 })).toMatchObject({
            code: 200,
            data: { sum: 42 },
          });
          expect(await r.emu.callService(pk, dn, "Add", { a: 1, b: 2 }, { sync: true })).toMatchObject({
            code: 200,
            data: { sum: 3 },
          });
          expect(await r.emu.callService(pk, dn, "Busy", {})).toMatchObject({ code: 6813 });
          expect(await r.emu.callService(pk, dn, "Nope", {}, { sync: true })).toMatchObject({ code: 500 });
          // "sys":{"ack":0}: the handler runs, no reply
          expect(await r.emu.callService(pk, dn, "Other", {}, { noAck: true, timeout: 1500 })).toBe(null);
          expect(r.run.seen("service").map((s: any) => s.identifier)).toEqual(["Nope", "Other"]);
          expect(r.run.output()).not.toMatch(/Uncaught|ASSERT/);
        }, 120000);

        it("answers a classic RRPC with the handler's text", async () => {
          const r = await online(espruino);
          expect(await r.emu.rrpc(r.dev.productKey, r.dev.deviceName, "ping")).toBe("pong ping");
        }, 120000);

        it("posts events and properties with their replies, and its device log in the documented shape", async () => {
          // (from the app, 300 ms after online: lines piped into stdin can abort the Linux build,
          // docs/ESPRUINO.md §12)
          const r = await online(espruino, { post: 1 });
          await until("two replies", () => r.run.seen("reply").length >= 2);
          expect(r.run.seen("reply").map((x: any) => x.code)).toEqual([200, 200]);
          const posts = r.of("post");
          expect(posts.find((p) => p.identifier == "Alarm")).toMatchObject({ params: { Level: 2 }, code: 200 });
          expect(posts.find((p) => p.identifier == "property")).toMatchObject({ params: { Temp: 21.5 }, code: 200 });
          // the log: the boot line, then the app's, each post valid to the emulator's strict check
          await until("the app's log line", () =>
            r.of("log").some((l) => l.entries.some((e: any) => e.logContent == "app line" && e.module == "app")),
          );
          const logs = r.of("log");
          expect(logs.flatMap((l) => l.errors)).toEqual([]);
          expect(logs.flatMap((l) => l.entries.map((e: any) => e.logContent))).toContain("boot " + "0.1.0");
          // no secret in any log line
          const text = JSON.stringify(logs);
          expect(text).not.toContain("password123");
        }, 120000);
      });
  },
);
