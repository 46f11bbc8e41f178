// OTA in the REAL Espruino interpreter (the Linux builds: $ESPRUINO and the 32-bit one beside
// it), booting as a flashed board (loader + image in Storage; tools/real-interpreter/run.ts),
// against the emulator's OTA service: a firmware update (load() restarts into the new slot),
// URL downloads, power cuts at moments spread over an update, and a rollback of an image that
// throws. Prints download time and JsVars (resident idle, peak during the update).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { startDevice } from "../tools/real-interpreter/run";
import { closedAfterEach } from "./support/device-runs";
import { until } from "./support/until";
import { buildsOrNone, ESPRUINO, ESPRUINO_HINT, runInEspruino } from "./support/espruino";
import { installScript } from "../tools/flash/install";

// Samples memory every 100 ms (marker "mem") and reports each time online.
const POSTLUDE = `
(function(SETUP,PLAN){
if(typeof iot!="object")return __out("fail",{why:"no iot"});
iot.on("online",function(){__out("online",{usage:process.memory().usage})});
setInterval(function(){__out("mem",{usage:process.memory().usage})},100);
setTimeout(function(){if(iot.status().state=="unconfigured")iot.setup(SETUP)},1);
})(%SETUP%,%PLAN%);
`;

const { runs, onEmulator } = closedAfterEach();

// what the device printed, without the memory samples
const withoutMem = (output: string) =>
  output
    .split("\n")
    .filter((l) => !l.includes("@@mem"))
    .join("\n");

async function rig(espruino: string) {
  const r = await onEmulator({
    espruino,
    postlude: POSTLUDE,
    deviceName: "ota-real",
    watch: ["ota_progress", "ota_inform", "ota_request"],
  });
  const informs = () => r.of("ota_inform").map((d) => d.version);
  const steps = () => r.of("ota_progress").map((d) => +d.step);
  await until("first inform", () => informs().length == 1);
  return { ...r, informs, steps };
}

// On every build there is: the OTA restart once differed by process.env.BOARD, and only the
// 64-bit build ran here (docs/ESPRUINO.md §12)
describe.skipIf(!ESPRUINO)(
  "OTA in the real interpreter, booting from Storage (" + (ESPRUINO ? "" : ESPRUINO_HINT) + ")",
  () => {
    for (const [build, espruino] of buildsOrNone())
      describe(build, () => {
        it("firmware update: downloads, verifies, restarts with load() into the new slot and informs it", async () => {
          const r = await rig(espruino);
          await new Promise((res) => setTimeout(res, 500)); // settle, then read the resident figure
          const idle = r.run.seen("mem").at(-1).usage;
          const image = readFileSync("dist/firmware.js");
          const t0 = Date.now(),
            before = r.run.seen("mem").length;
          r.emu.ota(r.dev.productKey, r.dev.deviceName, { file: image, version: "2.0.0" });
          await until("step 100", () => r.steps().includes(100), 60000);
          const downloadMs = Date.now() - t0;
          const peak = Math.max(
            ...r.run
              .seen("mem")
              .slice(before)
              .map((m: any) => m.usage),
          );
          await until("informs 2.0.0", () => r.informs().includes("2.0.0"), 60000).catch((e) => {
            throw new Error(e.message + " steps " + r.steps() + "\n" + withoutMem(r.run.output()).slice(-3000));
          });
          expect(r.steps().filter((s) => s < 0)).toEqual([]);
          expect(r.run.output()).not.toMatch(/Uncaught|threw/);
          const online = r.run.seen("online");
          expect(online.length).toBe(2);
          const after = await new Promise<number>((res) => setTimeout(() => res(r.run.seen("mem").at(-1).usage), 800));
          console.log(
            `OTA real interpreter: ${image.length} B in ${downloadMs} ms (${r.of("ota_request").length} blocks); ` +
              `JsVars idle ${idle}, peak during update ${peak}, idle after the switch ${after}`,
          );
        }, 150000);

        for (const scheme of ["http", "https"] as const)
          it(`URL download over ${scheme} with Espruino's http module: verifies, restarts into the new slot, informs it`, async () => {
            const r = await rig(espruino);
            const image = readFileSync("dist/firmware.js");
            r.emu.ota(r.dev.productKey, r.dev.deviceName, { file: image, version: "3.0.0", url: scheme });
            await until("informs 3.0.0", () => r.informs().includes("3.0.0"), 60000).catch((e) => {
              const lines = r.run
                .output()
                .split("\n")
                .filter((l: string) => !l.includes("@@mem"));
              throw new Error(e.message + " steps " + r.steps() + "\n" + lines.join("\n").slice(-3000));
            });
            expect(r.steps().filter((s) => s < 0)).toEqual([]);
            // over http the link stayed up and reported the progress up to 100
            if (scheme == "http") expect(r.steps().at(-1)).toBe(100);
            expect(r.run.output()).not.toMatch(/Uncaught|threw|ASSERT/);
            // over https the link starts again after the download: the old file may come online
            // before the restart; it informs its own version then, never the new one
            if (scheme == "http") expect(r.run.seen("online").length).toBe(2);
            else await until("one inform per online", () => r.run.seen("online").length == r.informs().length, 5000);
            expect(
              r
                .informs()
                .slice(0, -1)
                .every((v) => v == "0.1.0"),
            ).toBe(true);
            expect(r.informs().at(-1)).toBe("3.0.0");
          }, 150000);

        // A power cut (SIGKILL of the interpreter: its Storage file keeps what was written) at
        // moments spread over an update, from the first block to the new image's first minutes
        // online; the board is then powered again on the same Storage. Every boot must come
        // online running the old or the new version (no third state, no boot loop), and after all
        // of that an update must still go through.
        for (const url of [undefined, "http"] as const)
          it("power cuts at moments spread over an update (" +
            (url ? "URL download over " + url : "blocks over MQTT") +
            "): every boot comes online on the old or the new version", async () => {
            const r = await rig(espruino);
            const image = readFileSync("dist/firmware.js");
            // how long an update takes here, push to the new version informed
            let t0 = Date.now();
            r.emu.ota(r.dev.productKey, r.dev.deviceName, { file: image, version: "2.0.0", url });
            await until("informs 2.0.0", () => r.informs().includes("2.0.0"), 60000);
            const updateMs = Date.now() - t0;
            let running = "2.0.0",
              run = r.run;
            const cuts = [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 1.0, 1.2];
            for (let i = 0; i < cuts.length; i++) {
              const version = "3.0." + i,
                informsBefore = r.informs().length;
              t0 = Date.now();
              r.emu.ota(r.dev.productKey, r.dev.deviceName, { file: image, version, url });
              await new Promise((res) => setTimeout(res, Math.round(cuts[i] * updateMs)));
              await run.kill();
              const cutAt = Date.now() - t0;
              expect(run.output(), "before the cut " + i).not.toMatch(/Uncaught|threw|ASSERT/);
              // power back: the same Storage, booted as a board boots (no setup)
              run = startDevice({
                espruino,
                postlude: POSTLUDE,
                timeoutMs: 120000,
                setup: null,
                dir: r.run.dir,
              });
              runs.push(run);
              await until(
                "online after the cut at " + cutAt + " ms (" + cuts[i] + " of an update)",
                () => run.seen("online").length && r.informs().length > informsBefore,
                60000,
              ).catch((e) => {
                throw new Error(e.message + "\n" + run.output().slice(-3000));
              });
              // a boot that rolls back informs the old version; one that finished the switch, the new
              const informed = r.informs().slice(informsBefore);
              for (const v of informed) expect([running, version], "informed after cut " + i).toContain(v);
              running = informed.at(-1)!;
              expect(run.output(), "after the cut " + i).not.toMatch(/Uncaught|threw|ASSERT/);
            }
            // the board still takes an update
            r.emu.ota(r.dev.productKey, r.dev.deviceName, { file: image, version: "4.0.0", url });
            await until("informs 4.0.0", () => r.informs().includes("4.0.0"), 60000).catch((e) => {
              throw new Error(e.message + "\n" + run.output().slice(-3000));
            });
            expect(r.steps().filter((s) => s < 0 && s != -1)).toEqual([]);
            console.log(
              "OTA power cuts (real interpreter, " +
                (url || "mqtt") +
                "): update " +
                updateMs +
                " ms; versions informed " +
                r.informs().join(" "),
            );
          }, 300000);

        // The faults of test/ota-e2e.test.ts (there in the simulator), here in the interpreter:
        // each ends in the new version or in a named failure with nothing switched, online.
        const desc = (r: Awaited<ReturnType<typeof rig>>, step: number) =>
          r.of("ota_progress").find((d) => +d.step == step)?.desc;
        const stayedOld = async (r: Awaited<ReturnType<typeof rig>>) => {
          // no restart: online once, the old version informed once, nothing uncaught
          await new Promise((res) => setTimeout(res, 1500));
          expect(r.run.seen("online").length).toBe(1);
          expect(r.informs()).toEqual(["0.1.0"]);
          expect(r.run.output()).not.toMatch(/Uncaught|threw|ASSERT/);
        };
        it("a wrong sign: -3 naming the digest, nothing switched", async () => {
          const r = await rig(espruino);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: readFileSync("dist/firmware.js"),
            version: "2.0.0",
            faults: { badSign: true },
          });
          await until("-3", () => r.steps().includes(-3), 60000);
          expect(desc(r, -3)).toMatch(/sha256/);
          await stayedOld(r);
        }, 150000);

        it("an image larger than Storage: -4 naming Storage, nothing switched, and a reboot still boots", async () => {
          const r = await rig(espruino);
          // the Linux builds have 256 KB of Storage (an ESP32 about 1 MB): this cannot fit
          const big = Buffer.alloc(300 * 1024, 0x20);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, { file: big, version: "2.0.0" });
          await until("a failure", () => r.steps().some((s) => s < 0), 60000).catch((e) => {
            throw new Error(e.message + " steps " + r.steps() + "\n" + withoutMem(r.run.output()).slice(-3000));
          });
          expect(r.steps().filter((s) => s < 0)).toEqual([-4]);
          expect(desc(r, -4)).toMatch(/^Storage: Error: no room for 307200 bytes and 4096 to spare, \d+ free$/);
          await stayedOld(r);
          // power cycle: the old image boots and comes online
          await r.run.kill();
          const again = startDevice({ espruino, postlude: POSTLUDE, timeoutMs: 60000, setup: null, dir: r.run.dir });
          runs.push(again);
          await until("online after the reboot", () => again.seen("online").length && r.informs().length == 2, 60000);
          expect(r.informs()).toEqual(["0.1.0", "0.1.0"]);
          console.log("OTA image larger than Storage (" + build + "): " + desc(r, -4));
        }, 150000);

        it("a lost block and a block with a bad CRC are asked for again; the update completes", async () => {
          const r = await rig(espruino);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: readFileSync("dist/firmware.js"),
            version: "2.0.0",
            faults: { drop: [3072], corrupt: [6144] },
          });
          await until("informs 2.0.0", () => r.informs().includes("2.0.0"), 90000);
          const offsets = r.of("ota_request").map((d) => d.offset);
          expect(offsets.filter((o) => o == 3072).length).toBe(2);
          expect(offsets.filter((o) => o == 6144).length).toBe(2);
        }, 150000);

        it("a broker restart in the middle of an MQTT download: the download goes on once online", async () => {
          const r = await rig(espruino);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: readFileSync("dist/firmware.js"),
            version: "2.0.0",
            // the third block is never answered the first time: the broker goes away meanwhile
            faults: { drop: [6144] },
          });
          await until("block 6144 asked", () => r.of("ota_request").some((d) => d.offset == 6144));
          await r.emu.stop();
          await new Promise((res) => setTimeout(res, 2000));
          await r.emu.start();
          await until("informs 2.0.0", () => r.informs().includes("2.0.0"), 90000).catch((e) => {
            throw new Error(e.message + " steps " + r.steps() + "\n" + withoutMem(r.run.output()).slice(-3000));
          });
          expect(r.steps().filter((s) => s < 0)).toEqual([]);
        }, 150000);

        it("a URL answered 404, and a body cut short over http and over https: -2 each, nothing switched", async () => {
          const r = await rig(espruino);
          const image = readFileSync("dist/firmware.js");
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: image,
            version: "2.0.0",
            url: "http",
            faults: { httpStatus: 404 },
          });
          await until("-2", () => r.steps().includes(-2), 60000);
          expect(desc(r, -2)).toBe("HTTP 404");
          await stayedOld(r);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: image,
            version: "2.0.1",
            url: "http",
            faults: { cut: 5000 },
          });
          await until("second -2", () => r.steps().filter((s) => s == -2).length == 2, 90000);
          expect(r.of("ota_progress").filter((d) => d.step == "-2")[1].desc).toBe(
            "HTTP body ended at 5000 of " + image.length,
          );
          // over https the link is stopped for the download: it comes back to report the failure
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: image,
            version: "2.0.2",
            url: "https",
            faults: { cut: 3000 },
          });
          await until("third -2", () => r.steps().filter((s) => s == -2).length == 3, 90000).catch((e) => {
            throw new Error(e.message + " steps " + r.steps() + "\n" + withoutMem(r.run.output()).slice(-3000));
          });
          expect(r.of("ota_progress").filter((d) => d.step == "-2")[2].desc).toBe(
            "HTTP body ended at 3000 of " + image.length,
          );
          // back online after the https download (no restart): the old version informed again
          await until("online again", () => r.run.seen("online").length == 2);
          expect(r.informs()).toEqual(["0.1.0", "0.1.0"]);
          expect(r.run.output()).not.toMatch(/Uncaught|threw|ASSERT/);
        }, 150000);

        it("an app update with an MD5 sign: the loader runs the new app after the firmware", async () => {
          const r = await rig(espruino);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            module: "app",
            file: Buffer.from('console.log("@@app "+JSON.stringify({v:2,iot:typeof iot}));'),
            version: "app-2",
            signMethod: "Md5",
          });
          await until("the new app ran", () => r.run.seen("app").length, 60000).catch((e) => {
            throw new Error(e.message + " steps " + r.steps() + "\n" + withoutMem(r.run.output()).slice(-3000));
          });
          expect(r.run.seen("app")[0]).toEqual({ v: 2, iot: "object" });
          await until("app informs app-2", () =>
            r.of("ota_inform").some((d) => d.module == "app" && d.version == "app-2"),
          );
          expect(r.steps().filter((s) => s < 0)).toEqual([]);
        }, 150000);

        it("an image that throws is rolled back: -1 with the reason, the old version informed again", async () => {
          const r = await rig(espruino);
          r.emu.ota(r.dev.productKey, r.dev.deviceName, {
            file: Buffer.from('throw new Error("broken image")'),
            version: "bad-1",
          });
          await until("-1", () => r.steps().includes(-1), 60000).catch((e) => {
            throw new Error(e.message + "\n" + r.run.output().slice(-3000));
          });
          const report = r.of("ota_progress").find((d) => d.step == "-1");
          expect(report.desc).toMatch(/bad-1: threw at load: .*broken image/);
          await until("old version informed", () => r.informs().filter((v) => v == "0.1.0").length == 2);
          expect(r.run.seen("online").length).toBe(2);
        }, 150000);
      });
  },
);

describe.skipIf(!ESPRUINO)("npm run flash's install script in the real interpreter", () => {
  it("installs loader, fw.a and state, boots the firmware from Storage, leaves app.js and .boot0 alone", () => {
    const image = readFileSync("dist/firmware.js", "latin1"),
      loader = readFileSync("dist/loader.js", "latin1");
    // what a user already has: a .boot0 (here the Linux build's Wi-Fi stand-in) and an app
    const user =
      'var S=require("Storage");' +
      'S.write(".boot0","Modules.addCached(\\"Wifi\\",function(){module.exports={connect:function(){},on:function(){}}});console.log(\\"@@boot0 1\\")");' +
      'S.write("app.js","console.log(\\"@@app \\"+JSON.stringify(typeof iot))");\n';
    const r = runInEspruino(user + installScript(image, loader), 8000);
    expect(r.output).toContain("installed: loader, fw.a (" + image.length + " bytes)");
    expect(r.markers.boot0).toBe(1);
    expect(r.markers.app).toBe("object"); // the app ran after the firmware, from the loader
    expect(r.output).toContain("iot: not configured");
    expect(r.output).not.toMatch(/Uncaught|threw/);
  }, 20000);
});
