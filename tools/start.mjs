#!/usr/bin/env node
// `npm start`: runs dist/firmware.js in the host simulator against the local IoT Platform
// emulator (or, with --config, against the real cloud), shows the device's console and a live
// view of both sides, and takes console lines (iot.status(), iot.post({...}), ...) at its prompt.
//
// usage: node tools/start.mjs [--once] [--timeout s] [--config real.json] [--time-scale n]
//          [--port n] [--sim-dir .sim] [--emulator-dir .emulator] [--firmware dist/firmware.js]
//   --once          exit 0 once the device is online and got one post_reply (exit 1 on timeout)
//   --config file   a device config {productKey, deviceName, deviceSecret, region?, host?, ...}
//                   for a real endpoint: no emulator is started
// Env IOT_SIM_DIR / IOT_EMULATOR_DIR override the two folders (tests use temp folders).
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { createDevice, format } from './sim.mjs'
import { startEmulator } from './emulator.mjs'

const AP = { ssid: 'SimAP', password: 'sim-password' }
const POST_SECONDS = 10

// Demo application, kept in the simulated Storage as app.js; the firmware runs it after start.
const DEMO_APP = `// Demo app written by npm start: posts a fake temperature every ${POST_SECONDS} s while online.
var demoTimer = null;
function demoPost() {
  try { iot.post({Temp: Math.round((20 + Math.random() * 5) * 10) / 10}); }
  catch (e) { console.log("app: post failed: " + e.message); }
}
iot.on("online", function () {
  console.log("app: online, posting Temp every ${POST_SECONDS} s");
  demoPost();
  if (demoTimer === null) demoTimer = setInterval(demoPost, ${POST_SECONDS * 1000});
});
iot.on("offline", function () {
  if (demoTimer !== null) { clearInterval(demoTimer); demoTimer = null; }
});
iot.on("reply", function (id, code) { console.log("app: reply to " + id + ": " + code); });
iot.on("set", function (p) { console.log("app: cloud set " + JSON.stringify(p)); iot.post(p); });
`

function usage (/** @type {string} */ msg) {
  if (msg) console.error('start: ' + msg)
  console.error('usage: node tools/start.mjs [--once] [--timeout s] [--config real.json] [--time-scale n] [--port n]\n' +
    '         [--sim-dir .sim] [--emulator-dir .emulator] [--firmware dist/firmware.js]')
  process.exit(2)
}

/** @returns {{once: boolean, timeout: number, config: string, timeScale: number, port: number, simDir: string, emuDir: string, firmware: string}} */
function parseArgs (/** @type {string[]} */ argv) {
  const o = {
    once: false,
    timeout: 60,
    config: '',
    timeScale: 1,
    port: 0,
    simDir: process.env.IOT_SIM_DIR || '.sim',
    emuDir: process.env.IOT_EMULATOR_DIR || '.emulator',
    firmware: 'dist/firmware.js'
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]; const v = argv[i + 1]
    const num = () => { if (!(Number(v) >= 0) || v === undefined) usage(a + ' needs a number'); i++; return Number(v) }
    const str = () => { if (!v) usage(a + ' needs a value'); i++; return v }
    if (a === '--once') o.once = true
    else if (a === '--timeout') o.timeout = num()
    else if (a === '--config') o.config = str()
    else if (a === '--time-scale') { o.timeScale = num(); if (!(o.timeScale > 0)) usage('--time-scale must be > 0') } else if (a === '--port') o.port = num()
    else if (a === '--sim-dir') o.simDir = str()
    else if (a === '--emulator-dir') o.emuDir = str()
    else if (a === '--firmware') o.firmware = str()
    else if (a === '-h' || a === '--help') usage('')
    else usage('unknown argument ' + a)
  }
  return o
}

/** JS source of a setup call with the secrets masked, for display only. */
function shown (/** @type {Record<string, any>} */ c) {
  return 'iot.setup({' + Object.keys(c).map(k => k + ':' + (k === 'deviceSecret' || k === 'password' ? '"****"' : JSON.stringify(c[k]))).join(', ') + '})'
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  if (!fs.existsSync(o.firmware)) usage(o.firmware + ' not found: run `npm run build` (npm start does it for you)')
  const tty = !!process.stdout.isTTY && !o.once
  /** @type {readline.Interface | null} */ let rl = null
  const print = (/** @type {string} */ line) => {
    if (rl && tty) { readline.clearLine(process.stdout, 0); readline.cursorTo(process.stdout, 0) }
    process.stdout.write(line + '\n')
    if (rl && tty) rl.prompt(true)
  }

  /** @type {any} */ let real = null
  if (o.config) {
    try { real = JSON.parse(fs.readFileSync(o.config, 'utf8')) } catch (e) { usage('cannot read ' + o.config + ': ' + /** @type {Error} */ (e).message) }
    for (const k of ['productKey', 'deviceName', 'deviceSecret']) if (typeof real[k] !== 'string') usage(o.config + ': ' + k + ' is missing')
  }
  const ap = real && real.ssid ? { ssid: String(real.ssid), password: String(real.password || '') } : AP

  /** @type {any} */ let emu = null
  if (!real) {
    emu = await startEmulator({
      port: o.port,
      devicesFile: path.join(o.emuDir, 'devices.json'),
      timeScale: o.timeScale,
      log: (/** @type {string} */ l) => print('[cloud] ' + l)
    })
    emu.on('pingreq', (/** @type {any} */ e) => print('[cloud] pingreq ' + e.productKey + '/' + e.deviceName))
  }
  const demo = emu && (emu.demo || emu.devices[0])

  const storageDir = path.join(o.simDir, 'storage')
  const firstApp = !fs.existsSync(path.join(storageDir, 'app.js'))
  if (firstApp) {
    fs.mkdirSync(storageDir, { recursive: true })
    fs.writeFileSync(path.join(storageDir, 'app.js'), DEMO_APP)
  }

  print([
    '',
    '  Alibaba Cloud IoT firmware on a simulated ESP32 (' + o.firmware + ')',
    real
      ? '  target: the REAL cloud, device ' + real.productKey + '/' + real.deviceName + ' from ' + o.config
      : '  target: local IoT Platform emulator on 127.0.0.1:' + emu.port + ', device ' + demo.productKey + '/' + demo.deviceName +
        ' (' + path.join(o.emuDir, 'devices.json') + ')',
    '  Storage: ' + storageDir + (firstApp ? ' (demo app.js written: posts Temp every ' + POST_SECONDS + ' s)' : ''),
    '  Wi-Fi: simulated access point "' + ap.ssid + '"' + (o.timeScale !== 1 ? ', time x' + o.timeScale : ''),
    '  [device] = device console, [cloud] = platform side, [sim] = simulated hardware',
    o.once ? '  --once: exits after the first post_reply' : '  Type console lines at the prompt: iot.status(), iot.show(), iot.post({Temp: 22}), iot.help().',
    o.once ? '' : '  Quit with Ctrl-C (or .exit).',
    ''
  ].join('\n'))

  const device = createDevice({
    firmware: o.firmware,
    storageDir,
    timeScale: o.timeScale,
    wifi: ap,
    out: (/** @type {string} */ l) => print('[device] ' + l),
    log: (/** @type {string} */ l) => print('[sim] ' + l)
  })

  let done = false
  async function finish (/** @type {number} */ code, /** @type {string} */ msg) {
    if (done) return
    done = true
    if (msg) (code ? console.error : console.log)('start: ' + msg)
    device.close()
    if (emu) await emu.close()
    if (rl) rl.close()
    process.exit(code)
  }

  // Hooks the --once watcher into every boot (a watchdog reset replaces the interpreter).
  let online = false
  const hook = () => {
    if (!o.once) return
    const ctx = device.context
    ctx.__startOnline = () => { online = true }
    ctx.__startReply = (/** @type {any} */ id, /** @type {any} */ code) => {
      if (online && code === 200) finish(0, 'device online and post ' + id + ' answered with code 200')
    }
    device.eval('iot.on("online", function () { __startOnline() }); iot.on("reply", function (i, c) { __startReply(i, c) })')
  }
  device.events.on('boot', hook)
  hook()

  // Configure the device through its own console, as a user would type it.
  const type = (/** @type {Record<string, any>} */ c) => {
    print('> ' + shown(c))
    device.eval('iot.setup(' + JSON.stringify(c) + ')', { throws: true })
  }
  const marker = path.join(o.simDir, 'start.json')
  try {
    if (real) {
      type({ ...real, ssid: ap.ssid, password: ap.password })
    } else {
      let known = null
      try { known = JSON.parse(fs.readFileSync(marker, 'utf8')) } catch { }
      const configured = device.eval('iot.status().state') !== 'unconfigured'
      const same = known && known.productKey === demo.productKey && known.deviceName === demo.deviceName
      let ok = false
      if (configured && same) {
        try { type({ host: '127.0.0.1', port: emu.port }); ok = true } catch (e) { print('[start] ' + /** @type {Error} */ (e).message + '; configuring from scratch') }
      }
      if (!ok) {
        type({ ssid: ap.ssid, password: ap.password, productKey: demo.productKey, deviceName: demo.deviceName, deviceSecret: demo.deviceSecret, host: '127.0.0.1', port: emu.port })
        fs.writeFileSync(marker, JSON.stringify({ productKey: demo.productKey, deviceName: demo.deviceName }) + '\n')
      }
    }
  } catch (e) {
    return finish(1, 'iot.setup failed: ' + /** @type {Error} */ (e).message)
  }

  if (o.once) {
    setTimeout(() => {
      let st = ''
      try { st = JSON.stringify(device.eval('iot.status()')) } catch { }
      finish(1, 'no post_reply within ' + o.timeout + ' s (status ' + st + ')')
    }, o.timeout * 1000)
    return
  }

  rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: '> ', terminal: tty })
  rl.on('line', line => {
    const l = line.trim()
    if (l === '.exit' || l === 'quit()') return finish(0, '')
    if (l) {
      // Like the Espruino REPL: "=result", or the "Uncaught ..." line from the device.
      let r; let ok = true
      try { r = device.eval(l, { throws: true }) } catch (e) {
        ok = false
        const x = /** @type {any} */ (e)
        print('[device] Uncaught ' + (x && x.message !== undefined ? (x.name || 'Error') + ': ' + x.message : format(x, true)))
      }
      if (ok) print('=' + format(r, true))
    }
    if (rl && tty) rl.prompt()
  })
  rl.on('close', () => finish(0, ''))
  rl.on('SIGINT', () => finish(0, ''))
  process.on('SIGTERM', () => finish(0, ''))
  if (tty) rl.prompt()
}

main().catch(e => {
  console.error('start: ' + (e && e.stack ? e.stack : e))
  process.exit(1)
})
