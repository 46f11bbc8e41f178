// Refused logins and flash wear in the REAL Espruino interpreter (the Linux builds: $ESPRUINO
// and the 32-bit one beside it), the bundle booted from Storage, over TLS, against the
// emulator. test/e2e.test.ts covers the same in the simulator; this is what a board runs.
import { describe, it, expect } from "vitest";
import { closedAfterEach } from "./support/device-runs";
import { until } from "./support/until";
import { buildsOrNone, ESPRUINO, ESPRUINO_HINT } from "./support/espruino";

// Prints the Storage files with a CRC of each (what was written to flash) on demand, and the
// status on each change of lastError (plain ES5).
const POSTLUDE = `
(function(SETUP,PLAN){
if(typeof iot!="object")return __out("fail",{why:"no iot"});
var S=require("Storage"),last="",n=0;
global.__storage=function(tag){var o={};S.list().forEach(function(f){o[f]=E.CRC32(S.read(f))});__out("storage",{tag:tag,files:o})};
iot.on("online",function(){__out("online",{})});
iot.on("reply",function(id){__out("reply",{id:id})});
setInterval(function(){var s=iot.status();if(s.lastError!=last){last=s.lastError;__out("status",s)}},100);
setTimeout(function(){if(iot.status().state=="unconfigured")iot.setup(SETUP);setTimeout(function(){__storage("start")},300)},1);
if(PLAN.posts)iot.on("online",function(){if(n)return;n=1;__storage("online");
(function post(){if(n++<=PLAN.posts){iot.post({Seq:n});setTimeout(post,50)}else setTimeout(function(){__storage("after posts")},500)})()});
})(%SETUP%,%PLAN%);
`;

const { onEmulator } = closedAfterEach();

const device = (espruino: string, secret?: string, plan: Record<string, unknown> = {}) =>
  onEmulator({
    espruino,
    postlude: POSTLUDE,
    deviceName: "login-real",
    watch: ["connect", "connack", "post", "set_reply", "subscribe"],
    plan,
    setup: secret ? { deviceSecret: secret } : {},
  });

describe.skipIf(!ESPRUINO)(
  "refused logins and flash wear in the real interpreter (" + (ESPRUINO ? "" : ESPRUINO_HINT) + ")",
  () => {
    for (const [build, espruino] of buildsOrNone())
      describe(build, () => {
        it("a wrong deviceSecret: CONNACK 4 each time, lastError says so, gaps grow, Storage unchanged, no secret shown", async () => {
          const wrong = "WRONGsecretWRONGsecretWRONGsecre";
          const r = await device(espruino, wrong);
          await until("the config stored", () => r.run.seen("storage").length);
          await until("4 refused logins", () => r.of("connack").length >= 4, 60000);
          expect(r.of("connack").every((d) => d.returnCode == 4)).toBe(true);
          expect(r.run.seen("online")).toEqual([]);
          const status = r.run.seen("status").at(-1);
          expect(status.state).not.toBe("online");
          expect(status.lastError).toMatch(/connack 4/);
          // the login schedule backs off (equal jitter, doubling: the third gap is at least 4 / 2
          // times the first, whatever the jitter)
          const connects = r.events.filter((e) => e.ev == "connect").map((e) => e.t);
          const gaps = connects.slice(1).map((t, i) => t - connects[i]);
          expect(gaps[2]).toBeGreaterThan(1.5 * gaps[0]);
          // nothing written to flash by the failures
          r.run.proc.stdin!.write('__storage("end")\n');
          await until("Storage listed again", () => r.run.seen("storage").length == 2, 5000);
          const [start, end] = r.run.seen("storage");
          expect(end.files).toEqual(start.files);
          expect(r.run.output()).not.toContain("WRONGsecret");
          expect(r.run.output()).not.toContain("password123");
        }, 120000);

        it("writes nothing to flash per message: Storage unchanged across 30 posts and 5 property sets", async () => {
          const r = await device(espruino, undefined, { posts: 30 });
          await until("online", () => r.run.seen("online").length, 60000);
          // online is the CONNACK: a set is delivered once the device has subscribed its topic
          await until("subscribed to property/set", () =>
            r.of("subscribe").some((d) => JSON.stringify(d.topics).includes("/thing/service/property/set")),
          );
          for (let i = 0; i < 5; i++)
            await r.emu.setProperty(r.dev.productKey, r.dev.deviceName, { Switch: i % 2 }, { timeout: 5000 });
          await until("posts done", () => r.run.seen("storage").some((s: any) => s.tag == "after posts"), 30000);
          expect(r.run.seen("reply").length).toBeGreaterThanOrEqual(30);
          expect(r.of("set_reply").length).toBe(5);
          const online = r.run.seen("storage").find((s: any) => s.tag == "online"),
            after = r.run.seen("storage").find((s: any) => s.tag == "after posts");
          expect(after.files).toEqual(online.files);
        }, 120000);
      });
  },
);
