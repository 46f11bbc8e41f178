// `npm start`: runs dist/firmware.js in the host simulator against the local IoT Platform
// emulator (or, with --config, against the real cloud), shows the device's console and a live
// view of both sides, and takes console lines (iot.status(), iot.post({...}), ...) at its prompt.
//
// usage: npm start -- [--once] [--timeout s] [--config real.json] [--time-scale n]
//          [--port n] [--sim-dir .sim] [--emulator-dir .emulator] [--firmware dist/firmware.js]
//   --once          exit 0 once the device is online and got one post_reply (exit 1 on timeout)
//   --config file   a device config {productKey, deviceName, deviceSecret, region?, host?, ...}
//                   for a real endpoint: no emulator is started
// Env IOT_SIM_DIR / IOT_EMULATOR_DIR override the two folders (tests use temp folders).
//
// This file is the wiring; the command line is in args.ts, the demo app.js in demo-app.ts and
// the prompt in terminal.ts.
import fs from 'node:fs'
import path from 'node:path'
import { createDevice } from '../simulator/index'
import { startEmulator } from '../emulator'
import { parseArgs, usage } from './args'
import { DEMO_APP, POST_SECONDS } from './demo-app'
import { createTerminal } from './terminal'

const AP = { ssid: 'SimAP', password: 'sim-password' }

/** JS source of a setup call with the secrets masked, for display only. */
function shown (c: Record<string, any>) {
  return 'iot.setup({' + Object.keys(c).map(k => k + ':' + (['deviceSecret', 'productSecret', 'deviceToken', 'password'].includes(k) ? '"****"' : JSON.stringify(c[k]))).join(', ') + '})'
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  if (!fs.existsSync(o.firmware)) usage(o.firmware + ' not found: run `npm run build` (npm start does it for you)')
  const tty = !!process.stdout.isTTY && !o.once
  const terminal = createTerminal(tty)
  const print = terminal.print

  let real: any = null
  if (o.config) {
    try { real = JSON.parse(fs.readFileSync(o.config, 'utf8')) } catch (e) { usage('cannot read ' + o.config + ': ' + (e as Error).message) }
    for (const k of ['productKey', 'deviceName']) if (typeof real[k] !== 'string') usage(o.config + ': ' + k + ' is missing')
    if (!['deviceSecret', 'productSecret', 'deviceToken'].some(k => typeof real[k] === 'string')) usage(o.config + ': deviceSecret (or productSecret, or clientId + deviceToken) is missing')
  }
  const ap = real && real.ssid ? { ssid: String(real.ssid), password: String(real.password || '') } : AP

  let emu: any = null
  if (!real) {
    emu = await startEmulator({
      port: o.port,
      devicesFile: path.join(o.emuDir, 'devices.json'),
      timeScale: o.timeScale,
      log: (l: string) => print('[cloud] ' + l)
    })
    emu.on('pingreq', (e: any) => print('[cloud] pingreq ' + e.productKey + '/' + e.deviceName))
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
      : '  target: local IoT Platform emulator on 127.0.0.1:' + emu.port + ' (TLS, as the device uses by default), device ' + demo.productKey + '/' + demo.deviceName +
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
    out: l => print('[device] ' + l),
    log: l => print('[sim] ' + l)
  })

  let done = false
  async function finish (code: number, msg: string) {
    if (done) return
    done = true
    if (msg) (code ? console.error : console.log)('start: ' + msg)
    device.close()
    if (emu) await emu.close()
    terminal.close()
    process.exit(code)
  }

  // Hooks the --once watcher into every boot (a watchdog reset replaces the interpreter).
  let online = false
  const hook = () => {
    if (!o.once) return
    const ctx = device.context
    ctx.__startOnline = () => { online = true }
    ctx.__startReply = (id: any, code: any) => {
      if (online && code === 200) finish(0, 'device online and post ' + id + ' answered with code 200')
    }
    device.eval('iot.on("online", function () { __startOnline() }); iot.on("reply", function (i, c) { __startReply(i, c) })')
  }
  device.events.on('boot', hook)
  hook()

  // Configure the device through its own console, as a user would type it.
  const type = (c: Record<string, any>) => {
    print('> ' + shown(c))
    device.eval('iot.setup(' + JSON.stringify(c) + ')', { throws: true })
  }
  const marker = path.join(o.simDir, 'start.json')
  try {
    if (real) {
      type({ ...real, ssid: ap.ssid, password: ap.password })
    } else {
      let known: any = null
      try { known = JSON.parse(fs.readFileSync(marker, 'utf8')) } catch { }
      const configured = device.eval('iot.status().state') !== 'unconfigured'
      const same = known && known.productKey === demo.productKey && known.deviceName === demo.deviceName
      let ok = false
      if (configured && same) {
        try { type({ host: '127.0.0.1', port: emu.port }); ok = true } catch (e) { print('[start] ' + (e as Error).message + '; configuring from scratch') }
      }
      if (!ok) {
        type({ ssid: ap.ssid, password: ap.password, productKey: demo.productKey, deviceName: demo.deviceName, deviceSecret: demo.deviceSecret, host: '127.0.0.1', port: emu.port })
        fs.writeFileSync(marker, JSON.stringify({ productKey: demo.productKey, deviceName: demo.deviceName }) + '\n')
      }
    }
  } catch (e) {
    return finish(1, 'iot.setup failed: ' + (e as Error).message)
  }

  if (o.once) {
    setTimeout(() => {
      let st = ''
      try { st = JSON.stringify(device.eval('iot.status()')) } catch { }
      finish(1, 'no post_reply within ' + o.timeout + ' s (status ' + st + ')')
    }, o.timeout * 1000)
    return
  }

  process.on('SIGTERM', () => finish(0, ''))
  terminal.prompt(line => device.eval(line, { throws: true }), () => finish(0, ''))
}

main().catch(e => {
  console.error('start: ' + (e && e.stack ? e.stack : e))
  process.exit(1)
})
