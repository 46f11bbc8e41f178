// Fault scenarios for the firmware bundle in the REAL Espruino interpreter ($ESPRUINO):
// broker restart, dead link, hostile broker bytes, a twin device, Wi-Fi loss, reboots and
// a soak. Each runs the interpreter (real time) against the emulator or a raw TCP server and
// returns {name, ok, checks:[{name, ok, detail}], figures}. Their building blocks are in
// scenario-kit.ts and hostile-broker.ts; test/device-scenarios.test.ts runs them under vitest.
// CLI: `ESPRUINO=... [SOAK_MS=180000] npx tsx tools/real-interpreter/scenarios.ts [-v] [name ...]` (default: all
// but outageSoak); `npm run soak -- --minutes 60 [--wifi] [-v]` runs outageSoak.
import { createServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { findEspruino, until, DEFAULT_FIRMWARE } from "./run";
import {
  Ctx,
  KEEPALIVE,
  sleep,
  newDevice,
  setupFor,
  onlineDevice,
  type ScenarioOptions,
  type Check,
} from "./scenario-kit";
import { rawBroker, HOSTILE, hostilePublishes, type RawCase } from "./hostile-broker";
import type { Device } from "../emulator/index";

// 1. Broker restart: back online, resubscribed, posts made offline delivered in order.
async function brokerRestart(c: Ctx): Promise<void> {
  const { emu, d, on: on1 } = await onlineDevice(c, { offPosts: 3 });
  await until(() => emu.count("subscribe") >= 1, 5000, "subscribe");
  const rc0 = on1.s.reconnects;
  await emu.stop();
  const t0 = Date.now();
  const off = await d.wait("offline", 10000, true);
  c.check("leaves online when the broker goes away", off.s.state !== "online", JSON.stringify(off.s));
  await sleep(3000);
  await emu.start();
  const on2 = await d.wait("online", 60000);
  c.figures.restartToOnlineMs = Date.now() - t0;
  await until(() => emu.count("subscribe") >= 2, 5000, "second subscribe").catch(() => {});
  const ids = d
    .m("p")
    .filter((p) => p.p && "Off" in p.p)
    .map((p) => p.id);
  await until(() => ids.every((id) => d.m("reply").some((r) => r.id === id)), 15000, "replies to offline posts").catch(
    () => {},
  );
  const got = d.m("reply").filter((r) => ids.includes(r.id));
  const emuOrder = emu.events
    .filter((e) => e.ev === "post" && e.d.params && "Off" in e.d.params)
    .map((e) => e.d.params.Off);
  c.check(
    "back online: second CONNACK 0 and subscribe again",
    emu.count("connack", (x) => x.returnCode === 0) >= 2 && emu.count("subscribe") >= 2,
    "connack0 " +
      emu.count("connack", (x) => x.returnCode === 0) +
      ", subscribes " +
      emu.count("subscribe") +
      ", online after " +
      c.figures.restartToOnlineMs +
      " ms",
  );
  c.check(
    "3 posts made offline each get post_reply 200, in order",
    ids.length === 3 &&
      got.length === 3 &&
      got.every((r) => r.code === 200) &&
      got.map((r) => r.id).join() === ids.join() &&
      emuOrder.join() === "0,1,2",
    "posted " +
      ids.join() +
      ", replies " +
      got.map((r) => r.id + ":" + r.code).join() +
      ", emulator order " +
      emuOrder.join(),
  );
  c.check("status.reconnects grew", on2.s.reconnects > rc0, rc0 + " -> " + on2.s.reconnects);
  c.noErrors();
}

// 2. Dead link: the broker stops answering (TCP open). Noticed within keepAlive + 30 s.
async function deadLink(c: Ctx): Promise<void> {
  const { emu, d } = await onlineDevice(c, {});
  await sleep(1000);
  emu.setFault({ mute: true });
  const t0 = Date.now();
  const st = await until(
    () =>
      d
        .m("st")
        .find(
          (s) =>
            s.s.state !== "online" && Date.now() >= t0 && s.ms > 0 && d.m("online").length >= 1 && s.s.reconnects > 0,
        ),
    (KEEPALIVE + 40) * 1000,
    "leaving online",
  );
  c.figures.detectMs = Date.now() - t0;
  c.check(
    "dead link noticed within keepAlive + 30 s, lastError ping timeout",
    c.figures.detectMs <= (KEEPALIVE + 30) * 1000 && st.s.lastError === "ping timeout",
    c.figures.detectMs + " ms, " + JSON.stringify(st.s),
  );
  emu.setFault({});
  const on2 = await d
    .wait("online", 60000, true)
    .then(() => until(() => d.m("online").length >= 2, 60000, "second online"));
  c.check(
    "reconnects once the link works again",
    on2,
    "onlines " + d.m("online").length + ", connack0 " + emu.count("connack", (x) => x.returnCode === 0),
  );
  await sleep(500);
  c.watchdog(d, 30000);
  c.noErrors();
}

// The raw brokers below speak plain TCP (the closed port is tried with TLS, the default).
const plainFor = (dev: Device, port: number) => Object.assign(setupFor(dev, port), { tls: false });

// 3. Hostile bytes, a silent server, a closed port.
async function hostile(c: Ctx): Promise<void> {
  const dev = newDevice();
  const groups = [
    ["random", "lengthOf5Bytes", "topicBeyondPacket"],
    ["remaining10MB", "type0", "type15"],
    ["subackWrongLength", "random", "random", "random", "random"],
  ];
  await Promise.all(
    groups.map(async (g, gi) => {
      const cases: RawCase[] = g.map((k) => ({ k, bytes: HOSTILE[k] }));
      const srv = await rawBroker(c, cases.concat([{ k: "silent", connack: false, bytes: () => Buffer.alloc(0) }]));
      const d = c.device(plainFor(dev, srv.port), {}, undefined, "dev" + gi);
      // every case: connection closed by the device; then one more connection
      await until(() => srv.conns.length > g.length, 120000, "reconnect after " + g.join(",")).catch((e) =>
        c.check("group " + g.join(","), false, e.message),
      );
      for (let i = 0; i < g.length; i++) {
        const r = srv.conns[i];
        const life = r?.closedAt ? r.closedAt - r.t : null;
        c.check(
          "drops the link on " + g[i] + " and reconnects",
          r?.closedAt && srv.conns.length > i + 1,
          "link lived " + life + " ms",
        );
      }
      const errs = d
        .m("st")
        .map((s) => s.s.lastError)
        .filter((e, i, a) => e && a.indexOf(e) === i);
      c.figures["errors" + gi] = errs;
      const back = d
        .m("st")
        .filter((s) => s.s.state === "backoff")
        .map((s) => s.mem);
      c.figures["memBackoff" + gi] = back;
      if (gi === 2)
        c.check(
          "JsVars bounded over hostile rounds (backoff 2 vs the lower of the last two)",
          back.length >= 4 && Math.min(...back.slice(-2)) - back[1] < 40,
          back.join(","),
        );
      c.check(
        "alive and not crashed after " + g.join(","),
        !d.proc.exitCode && d.proc.exitCode === null,
        "exit " + d.proc.exitCode,
      );
    }),
  );
  c.log("hostile: errors " + JSON.stringify(c.figures));
  await hostilePayloads(c, dev, false); // while the devices above still run (and load the machine)
  // A server that accepts but never answers CONNECT; a closed port.
  const silent = await rawBroker(c, [{ k: "silent", connack: false, bytes: () => Buffer.alloc(0) }]);
  const ds = c.device(plainFor(dev, silent.port), {}, undefined, "silent");
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const dc = c.device(setupFor(dev, closedPort), {}, undefined, "closed");
  await sleep(32000);
  const sErr = ds.m("st").map((s) => s.s.lastError);
  c.check(
    "never-answered CONNECT: connack timeout, then backoff and retry",
    sErr.includes("connack timeout") && silent.conns.length >= 2,
    "connections " + silent.conns.length + ", errors " + [...new Set(sErr)].join("; "),
  );
  const rcs = dc.m("st").filter((s) => s.s.state === "backoff");
  const times: number[] = [];
  let lastRc = -1;
  for (const s of rcs)
    if (s.s.reconnects !== lastRc) {
      lastRc = s.s.reconnects;
      times.push(s.ms);
    }
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  c.figures.closedPortGapsMs = gaps;
  c.check(
    "closed port: retries with growing gaps, no crash",
    times.length >= 3 && gaps.every((g, i) => i === 0 || g >= gaps[i - 1] - 150) && dc.proc.exitCode === null,
    "attempts " +
      times.length +
      ", gaps " +
      gaps.join(",") +
      ", lastError " +
      (rcs.length ? rcs[rcs.length - 1].s.lastError : ""),
  );
  c.noErrors();
}

// 3b. Valid framing, hostile payloads on the device's own topics.
async function hostilePayloads(c: Ctx, dev?: Device | null, errs?: boolean): Promise<void> {
  dev = dev || newDevice();
  const pubs = await rawBroker(c, [{ k: "publishes", bytes: () => hostilePublishes(dev.productKey, dev.deviceName) }]);
  const dp = c.device(plainFor(dev, pubs.port), {}, undefined, "payloads");
  await sleep(4000);
  const pErr = dp
    .m("st")
    .map((s) => s.s.lastError)
    .filter((e, i, a) => e && a.indexOf(e) === i);
  c.check(
    "hostile payloads on its own topics: no crash, stays online",
    dp.proc.exitCode === null && pubs.conns.length === 1 && !pubs.conns[0].closedAt && dp.lastSt().s.state === "online",
    "connections " +
      pubs.conns.length +
      ", state " +
      dp.lastSt()?.s.state +
      ", errors " +
      pErr.join("; ") +
      ", got " +
      pubs.conns[0].got +
      " bytes back",
  );
  if (errs !== false) c.noErrors();
}

// 4. Twin: two devices with the same credentials; the emulator kicks the older login.
async function twin(c: Ctx): Promise<void> {
  const { dev, emu, d: a } = await onlineDevice(c, {}, "A");
  const b = c.device(setupFor(dev, emu.port), {}, undefined, "B");
  const t0 = Date.now();
  await sleep(90000);
  const n60 = emu.events.filter((e) => e.ev === "connack" && e.d.returnCode === 0 && e.t >= t0 + 30000).length;
  const nAll = emu.events.filter((e) => e.ev === "connack" && e.t >= t0).length;
  c.figures.twinConnacksTotal90s = nAll;
  c.figures.twinConnacksLast60s = n60;
  c.figures.kicks = emu.count("kick");
  c.check(
    "no tight reconnect loop (logins in the last 60 s of 90 s <= 10)",
    n60 <= 10,
    "logins: " + nAll + " in 90 s, " + n60 + " in the last 60 s, kicks " + emu.count("kick"),
  );
  for (const d of [a, b]) {
    const errs = d.m("st").map((s) => s.s.lastError);
    const online = d.m("online").map((o) => o.ms);
    const back = d.m("st").filter((s) => s.s.state === "backoff");
    c.check(
      d.tag + " reports that another device probably uses the credentials (and still does at the end)",
      errs.some((e) => /another device/.test(e)) && /another device/.test(errs[errs.length - 1]),
      [...new Set(errs)].join("; ") + "; last: " + errs[errs.length - 1],
    );
    const gaps = online.slice(1).map((t, i) => t - online[i]);
    c.check(
      d.tag + " logins spread out (the last gap is longer than the first)",
      gaps.length >= 2 && gaps[gaps.length - 1] > gaps[0],
      gaps.join(","),
    );
    c.watchdog(d, 90000);
    c.figures["online" + d.tag] = online;
    c.figures["backoff" + d.tag] = back.map((s) => s.ms);
  }
  c.noErrors();
}

// 5. Wi-Fi loss: the 'disconnected' event, two failed reconnects, then success.
async function wifiLoss(c: Ctx): Promise<void> {
  const { d } = await onlineDevice(c, { wifiDropAt: 1500, wifiFails: 2, offPosts: 3, offOnWifi: 1 });
  const w = await d.wait("wdisc", 10000, true);
  c.check(
    "leaves online in the same tick as Wi-Fi 'disconnected'",
    w.state !== "online" && w.wifi !== "up",
    JSON.stringify(w),
  );
  const on2 = await until(() => d.m("online")[1], 60000, "second online");
  const wErr = d
    .m("st")
    .map((s) => s.s.lastError)
    .filter((e, i, a) => a.indexOf(e) === i);
  c.check(
    "reconnects Wi-Fi with backoff after 2 failures, back online",
    on2 && wErr.some((e) => /wifi/.test(e)),
    "online after " + (on2.ms - w.ms) + " ms; errors " + wErr.join("; "),
  );
  const ids = d
    .m("p")
    .filter((p) => p.p && "Off" in p.p)
    .map((p) => p.id);
  await until(() => ids.length && ids.every((id) => d.m("reply").some((r) => r.id === id)), 15000, "replies").catch(
    () => {},
  );
  const got = d.m("reply").filter((r) => ids.includes(r.id));
  c.check(
    "posts queued while Wi-Fi was down delivered (post_reply 200, in order)",
    ids.length === 3 && got.map((r) => r.id).join() === ids.join() && got.every((r) => r.code === 200),
    "posted " + ids.join() + ", replies " + got.map((r) => r.id + ":" + r.code).join(),
  );
  c.noErrors();
}

// 6. Reboot: kill mid-session and restart on the same Storage; kill during config writes.
async function reboot(c: Ctx): Promise<void> {
  const { dev, emu, d } = await onlineDevice(c, {}, "boot1");
  await sleep(500);
  await d.kill();
  const d2 = c.device(null, {}, d.dir, "boot2");
  const on = await d2.wait("online", 30000, true).catch((e) => null);
  c.check(
    "after a kill, boots online from the stored config",
    on,
    on ? "online after " + on.ms + " ms" : "never online",
  );
  // config writes every 30 ms; kill at random moments; every boot must come up configured
  let okBoots = 0,
    runs = 8,
    setups = 0;
  for (let i = 0; i < runs; i++) {
    const w = c.device(i ? null : setupFor(dev, emu.port), { setupEvery: 20 }, d.dir, "write" + i);
    await w.wait("online", 30000, true).catch(() => {});
    await until(() => w.m("setup").length >= 2, 10000, "setups").catch(() => {});
    await sleep(50 + Math.floor(Math.random() * 400));
    await w.kill();
    const b = c.device(null, {}, d.dir, "check" + i);
    const ok = await b.wait("online", 30000, true).then(
      () => true,
      () => false,
    );
    setups += w.m("setup").length;
    if (ok) okBoots++;
    else c.log("boot after interrupted write " + i + " failed: " + JSON.stringify(b.m("load")));
    await b.kill();
  }
  c.check(
    "kills during config writes never leave it unbootable",
    okBoots === runs,
    okBoots + "/" + runs + " boots online after " + setups + " config writes",
  );
  c.noErrors();
}

// 7. Soak: posts every 200 ms, sets every 3 s, a broker restart in the middle.
async function soak(c: Ctx): Promise<void> {
  const dur = c.o.soakMs || 180000;
  const { dev, emu, d } = await onlineDevice(c, { every: 200, postFor: dur, memEvery: 5000 });
  const t0 = Date.now();
  let sets = 0,
    setOk = 0,
    restarted = false;
  while (Date.now() - t0 < dur) {
    await sleep(3000);
    if (!restarted && Date.now() - t0 > dur / 2) {
      restarted = true;
      await emu.stop();
      await sleep(3000);
      await emu.start();
      continue;
    }
    sets++;
    await emu.setProperty(dev.productKey, dev.deviceName, { Switch: sets % 2, N: sets }, { timeout: 5000 }).then(
      (r) => {
        if (r.code === 200) setOk++;
      },
      () => {},
    );
  }
  await d.wait("postsdone", 20000, true);
  await sleep(8000);
  const posts = d.m("p"),
    replies = new Set(
      d
        .m("reply")
        .filter((r) => r.code === 200)
        .map((r) => r.id),
    );
  const mems = d.m("mem");
  const last = mems[mems.length - 1];
  const lost = posts.filter((p) => !replies.has(p.id)).length;
  const dropped = last.s.dropped;
  c.figures.soak = {
    posts: posts.length,
    replied: replies.size,
    lost,
    dropped,
    sets,
    setOk,
    mem: mems.map((m) => m.mem),
  };
  c.check(
    "every post answered except those dropped from a full queue",
    lost <= dropped,
    posts.length + " posts, " + replies.size + " answered, " + lost + " unanswered, status.dropped " + dropped,
  );
  c.check("property sets answered 200 (all but those during the restart)", setOk >= sets - 2, setOk + "/" + sets);
  // JsVars while online and idle-ish: sample 2 (10 s in) vs the last sample (posting stopped)
  const m0 = mems.find((m) => m.ms > 10000 && m.s.state === "online");
  c.watchdog(d, dur);
  c.check(
    "JsVars after the soak within 60 of the early sample",
    m0 && last.mem - m0.mem < 60,
    "early " + m0?.mem + ", end " + last.mem + ", all " + mems.map((m) => m.mem).join(","),
  );
  c.noErrors();
}

// 8. Outage soak (issue 19): a QoS 1 post every 2 s for `minutes` (default 10) while every 20 s
// the broker goes away for 3 s (outage "broker") or Wi-Fi drops for 3 s ("wifi"). Every post
// must reach the emulator (ids sent vs received), and resident JsVars (booted from Storage,
// sampled online with an empty queue) must stay flat.
// CLI: `npm run soak -- --minutes 60 [--wifi]`.
async function outageSoak(c: Ctx): Promise<void> {
  const minutes = c.o.minutes || 10,
    outage = c.o.outage || "broker",
    durMs = minutes * 60000;
  const plan: Record<string, unknown> = { every: 2000, postFor: durMs, memEvery: 5000, poll: 250 };
  if (outage === "wifi") Object.assign(plan, { wifiDropEvery: 20000, wifiDownMs: 3000 });
  const { emu, d, on } = await onlineDevice(c, plan);
  const t0 = Date.now();
  let outages = 0;
  while (Date.now() - t0 < durMs) {
    await sleep(Math.min(17000, Math.max(0, durMs - (Date.now() - t0))));
    if (Date.now() - t0 >= durMs) break;
    if (outage === "broker") {
      await emu.stop();
      outages++;
      await sleep(3000);
      await emu.start();
    } else {
      outages++;
      await sleep(3000);
    }
  }
  await d.wait("postsdone", 30000, true);
  // drained: online with an empty queue (a post still in flight gets its PUBACK)
  await until(
    () => {
      const s = d.lastSt();
      const m = d.m("mem");
      const l = m[m.length - 1];
      return s && s.s.state === "online" && l && l.s.queue === 0 && l.ms > d.m("postsdone")[0].ms;
    },
    60000,
    "queue drained",
  ).catch(() => {});
  await sleep(2000);
  const sent = d.m("p").map((p) => p.id),
    received = new Map<string, number>();
  for (const e of emu.events)
    if (e.ev === "post" && e.d.params && "Seq" in e.d.params)
      received.set(String(e.d.id), (received.get(String(e.d.id)) || 0) + 1);
  const lost = sent.filter((id) => !received.has(String(id)));
  const duplicates = [...received.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0);
  const mems = d.m("mem").filter((m) => m.s.state === "online" && m.s.queue === 0);
  // first idle sample after the first outage (lazily made state exists by then) and the last one
  const early = mems.find((m) => m.ms > 30000) || mems[0],
    last = mems[mems.length - 1];
  const status = last ? last.s : d.lastSt().s;
  const f = (c.figures.outageSoak = {
    outage,
    minutes,
    outages,
    posts: sent.length,
    received: received.size,
    lost: lost.length,
    duplicates,
    dropped: status.dropped,
    reconnects: status.reconnects,
    connects: status.connects,
    postErrors: d.m("perr").length,
    jsvarsBootOnline: on.mem,
    jsvarsEarly: early?.mem,
    jsvarsEnd: last?.mem,
    jsvarsSamples: mems.filter((m, i) => i % 12 === 0).map((m) => m.mem),
  });
  c.log("outageSoak: " + JSON.stringify(f));
  c.check(
    "every post reached the platform (ids sent vs received)",
    sent.length > 0 && lost.length === 0 && f.postErrors === 0,
    sent.length +
      " sent, " +
      received.size +
      " received, lost " +
      lost.slice(0, 10).join(",") +
      ", post errors " +
      f.postErrors +
      ", dropped " +
      f.dropped,
  );
  c.check(
    "reconnected after every outage",
    status.reconnects >= outages && status.connects >= outages + 1,
    outages + " outages, reconnects " + status.reconnects + ", connects " + status.connects,
  );
  c.check(
    "resident JsVars flat (idle online, after the first outage vs the end: < 20)",
    early && last && last.mem - early.mem < 20,
    "early " + early?.mem + ", end " + last?.mem,
  );
  c.watchdog(d, durMs);
  c.noErrors();
}

// Status shape: JSON-serialisable, the documented keys, state from the documented set.
async function statusShape(c: Ctx): Promise<void> {
  const { d } = await onlineDevice(c, {});
  await sleep(500);
  const states = new Set(
    d
      .m("st")
      .map((s) => s.s.state)
      .concat(d.m("load").map((l) => l.status.state)),
  );
  const keys = "state,wifi,connects,reconnects,lastError,uptime,queue,dropped,free".split(",");
  const s = d.lastSt().s;
  c.check(
    "status has exactly the documented keys with plain values",
    keys.every((k) => k in s) &&
      Object.keys(s).every((k) => keys.includes(k)) &&
      Object.values(s).every((v) => typeof v === "string" || typeof v === "number"),
    JSON.stringify(s),
  );
  c.check(
    "states seen are documented",
    [...states].every((x) => ["unconfigured", "wifi", "connecting", "online", "backoff", "stopped"].includes(x)),
    [...states].join(","),
  );
  c.noErrors();
}

export const SCENARIOS: Record<string, (c: Ctx) => Promise<void>> = {
  brokerRestart,
  deadLink,
  hostile,
  hostilePayloads,
  twin,
  wifiLoss,
  reboot,
  soak,
  statusShape,
  outageSoak,
};

export interface ScenarioResult {
  name: string;
  ok: boolean;
  checks: Check[];
  figures: Record<string, any>;
}

/** Run one scenario by its name in SCENARIOS. */
export async function runScenario(name: string, o: ScenarioOptions): Promise<ScenarioResult> {
  const c = new Ctx(name, o);
  try {
    await SCENARIOS[name](c);
  } catch (e: any) {
    c.check("scenario ran to the end", false, e.message);
  } finally {
    await c.cleanup();
  }
  return { name, ok: c.checks.length > 0 && c.checks.every((x) => x.ok), checks: c.checks, figures: c.figures };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const verbose = process.argv.includes("-v");
  // outageSoak options: --minutes N, --wifi (Wi-Fi drops instead of the broker)
  const argv = process.argv.slice(2),
    mi = argv.indexOf("--minutes");
  const minutes = mi >= 0 ? Number(argv[mi + 1]) : undefined,
    outage: "broker" | "wifi" = argv.includes("--wifi") ? "wifi" : "broker";
  if (mi >= 0) argv.splice(mi, 2);
  const names = argv.filter((a) => !a.startsWith("-"));
  const found = findEspruino();
  if (!found.path) {
    console.log("scenarios skipped: " + found.reason);
    process.exit(0);
  }
  const firmware = process.env.FIRMWARE || DEFAULT_FIRMWARE;
  let failed = 0;
  // the outage soak runs only when named (npm run soak)
  for (const n of names.length ? names : Object.keys(SCENARIOS).filter((x) => x !== "outageSoak")) {
    const t = Date.now();
    const r = await runScenario(n, {
      espruino: found.path,
      firmware,
      soakMs: Number(process.env.SOAK_MS) || undefined,
      minutes,
      outage,
      log: (l) => {
        if (verbose || /^(ok|FAIL) |^outageSoak: /.test(l))
          console.log(new Date().toISOString().slice(11, 19) + "  " + l);
      },
    });
    console.log(
      (r.ok ? "PASS " : "FAIL ") + n + " (" + Math.round((Date.now() - t) / 1000) + " s) " + JSON.stringify(r.figures),
    );
    if (!r.ok) failed++;
  }
  process.exit(failed ? 1 : 0);
}
