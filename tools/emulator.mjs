// Local emulator of the Alibaba Cloud IoT Platform MQTT endpoint (see /work/shared/ALIYUN.md).
// A real MQTT broker (aedes) on 127.0.0.1 plus the platform's rules. It is the oracle of our
// end-to-end tests, so it is written independently of lib/: Node crypto + aedes only.
//
// Choices where the platform docs are silent (documented here so tests can rely on them):
// - keepalive outside 30..1200 s -> CONNACK 2; Will flag set -> CONNACK 5; protocol level != 4 -> CONNACK 1.
// - clean session 0 is accepted (aedes keeps the session while the emulator runs).
// - the retain flag of device publishes is cleared (the platform has no retained messages).
// - subscriptions asking QoS 2 are granted QoS 1; device PUBLISH with QoS 2 closes the link.
// - 'kick' is emitted when the emulator closes a device on purpose (twin login, forbidden topic,
//   QoS 2); every end of an authenticated link then emits 'disconnect' with the reason.
// - the silence limit (1.5 x keepalive / timeScale) is ours alone: aedes' own keepalive timer is
//   disabled by zeroing packet.keepalive in preConnect, so timeScale < 1 works too.
// - 'connect' is emitted when a CONNECT arrives (before it is judged); 'connack' tells the verdict.
// - besides the documented topics, /shadow/{get,update}/pk/dn and /ext/session/pk/dn/... are the
//   device's own (the official Node SDK subscribes them); unknown clientId params (lan=, _v=) are ignored.
// - replies go out at QoS 1 and reach the device at min(1, granted QoS); setProperty's qos option
//   (default 1) likewise. A set towards an offline device rejects at once.
import { createServer } from 'node:net'
import { Duplex } from 'node:stream'
import { EventEmitter } from 'node:events'
import { createHmac, randomInt } from 'node:crypto'
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { Aedes } from 'aedes'

/** @typedef {{productKey: string, deviceName: string, deviceSecret: string}} Device */
/**
 * @typedef {object} EmulatorOptions
 * @property {number} [port] TCP port on 127.0.0.1; 0 = ephemeral (default 1883)
 * @property {string} [devicesFile] JSON file [{productKey, deviceName, deviceSecret}] (default .emulator/devices.json)
 * @property {Device[]} [devices] inline devices instead of devicesFile
 * @property {number} [timeScale] >1 compresses the keepalive silence limit (default 1)
 * @property {(line: string) => void} [log] event lines; never contain secrets
 * @property {number} [setTimeout] default setProperty timeout in real ms (default 5000)
 */
/**
 * @typedef {object} Conn per-TCP-connection state
 * @property {import('node:net').Socket} sock
 * @property {Duplex} duplex
 * @property {any} client aedes Client
 * @property {string} [productKey]
 * @property {string} [deviceName]
 * @property {string} [clientId]
 * @property {number} [keepalive]
 * @property {number} [refuse] CONNACK code decided in preConnect
 * @property {any} [info] parsed clientId
 * @property {boolean} authed
 * @property {boolean} closed
 * @property {string} [reason]
 * @property {number} limit silence limit in ms (0 = not armed)
 * @property {any} timer
 * @property {number} rxTime Date.now() of the last inbound bytes
 */

/** @type {Record<string, string>} */
const SIGN = { hmacmd5: 'md5', hmacsha1: 'sha1', hmacsha256: 'sha256' }
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** @param {number} n */
function randomString (n) {
  let s = ''
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)]
  return s
}

/**
 * Parse `${id}|k=v,k=v|`. Returns null when malformed (-> CONNACK 2).
 * @param {string} clientId
 * @returns {{id: string, secureMode: string, signMethod: string, timestamp?: string} | null}
 */
export function parseClientId (clientId) {
  const m = /^([^|]{1,64})\|([^|]*)\|$/.exec(clientId || '')
  if (!m) return null
  /** @type {Record<string, string>} */
  const p = {}
  for (const kv of m[2].split(',')) {
    const i = kv.indexOf('=')
    if (i < 1) return null
    const k = kv.slice(0, i).trim()
    if (k in p) return null
    p[k] = kv.slice(i + 1).trim()
  }
  const signMethod = p.signmethod === undefined ? 'hmacmd5' : p.signmethod
  if (p.securemode !== '3' && p.securemode !== '2') return null
  if (!SIGN[signMethod] || p.authType !== undefined) return null
  if (p.timestamp !== undefined && !/^\d+$/.test(p.timestamp)) return null
  return { id: m[1], secureMode: p.securemode, signMethod, timestamp: p.timestamp }
}

/**
 * The platform's password: hex HMAC(deviceSecret, sorted params).
 * @param {string} method hmacmd5 | hmacsha1 | hmacsha256
 * @param {string} secret
 * @param {{id: string, deviceName: string, productKey: string, timestamp?: string}} c
 */
export function expectedPassword (method, secret, c) {
  const content = 'clientId' + c.id + 'deviceName' + c.deviceName + 'productKey' + c.productKey +
    (c.timestamp !== undefined ? 'timestamp' + c.timestamp : '')
  return createHmac(SIGN[method], secret).update(content).digest('hex')
}

/**
 * Does `topic` (a filter when `sub`) lie inside the device's own topic space?
 * @param {string} topic
 * @param {string} pk
 * @param {string} dn
 * @param {boolean} sub wildcards allowed (only after the device's own prefix)
 */
export function ownTopic (topic, pk, dn, sub) {
  // /ota/device/{inform,upgrade,progress,request}/pk/dn and /shadow/{get,update}/pk/dn (official SDK)
  const ota = /^\/(?:ota\/device|shadow)\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(topic)
  if (ota) return ota[2] === pk && ota[3] === dn && !/[+#]/.test(ota[1])
  for (const pre of ['/sys/', '/ext/ntp/', '/ext/session/', '/'].map(p => p + pk + '/' + dn + '/')) {
    if (topic.startsWith(pre) && topic.length > pre.length) {
      const rest = topic.slice(pre.length)
      if (!sub) return !/[+#]/.test(rest)
      // MQTT wildcard syntax: '+' a whole level, '#' a whole last level
      return rest.split('/').every((l, i, a) => l === '+' || (l === '#' && i === a.length - 1) || !/[+#]/.test(l))
    }
  }
  return false
}

/**
 * @param {string} file
 * @returns {{devices: Device[], demo: Device | null}}
 */
function loadDevices (file) {
  if (!existsSync(file)) {
    const demo = { productKey: randomString(11), deviceName: 'demo-device', deviceSecret: randomString(32) }
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, JSON.stringify([demo], null, 2) + '\n', { mode: 0o600 })
    return { devices: [demo], demo }
  }
  let list
  try {
    list = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    throw new Error('emulator: devices file ' + file + ' is not valid JSON: ' + /** @type {Error} */ (e).message)
  }
  return { devices: checkDevices(list, file), demo: null }
}

/**
 * @param {any} list
 * @param {string} where
 * @returns {Device[]}
 */
function checkDevices (list, where) {
  if (!Array.isArray(list)) throw new Error('emulator: devices (' + where + ') must be a JSON array')
  return list.map((d, i) => {
    for (const k of ['productKey', 'deviceName', 'deviceSecret']) {
      if (!d || typeof d[k] !== 'string' || !d[k]) throw new Error('emulator: device #' + i + ' in ' + where + ' has no ' + k)
    }
    return { productKey: d.productKey, deviceName: d.deviceName, deviceSecret: d.deviceSecret }
  })
}

/**
 * Start the emulator. See the file header for the rules and events.
 * @param {EmulatorOptions} [opts]
 */
export async function startEmulator (opts = {}) {
  const timeScale = opts.timeScale || 1
  if (!(timeScale > 0)) throw new Error('emulator: timeScale must be > 0')
  const log = opts.log || (() => {})
  const loaded = opts.devices
    ? { devices: checkDevices(opts.devices, 'options.devices'), demo: null }
    : loadDevices(opts.devicesFile || '.emulator/devices.json')
  const setTimeoutMs = opts.setTimeout || 5000

  const emu = new EventEmitter()
  /** @type {Set<Conn>} */
  const conns = new Set()
  /** @type {Map<string, {resolve: Function, reject: Function, timer: any}>} */
  const pending = new Map()
  /** @type {{mute?: boolean, splitWrites?: boolean}} */
  let fault = {}
  let nextId = 1
  /** @type {any} */
  let broker = null
  /** @type {import('node:net').Server | null} */
  let server = null
  let port = opts.port === undefined ? 1883 : opts.port

  /** @param {string} pk @param {string} dn */
  const find = (pk, dn) => loaded.devices.find(d => d.productKey === pk && d.deviceName === dn)
  /** @param {Conn} s */
  const who = s => ({ productKey: s.productKey, deviceName: s.deviceName })
  /** @param {Conn} s */
  const name = s => (s.productKey ? s.productKey + '/' + s.deviceName : '?') + ' [' + (s.clientId || '') + ']'

  /** Close a link on purpose. @param {Conn} s @param {string} reason @param {boolean} kick */
  function kill (s, reason, kick) {
    if (s.closed) return
    s.reason = s.reason || reason
    if (kick) {
      log('kick ' + name(s) + ': ' + reason)
      emit('kick', { ...who(s), clientId: s.clientId, reason })
    }
    s.sock.destroy()
  }

  /** @param {string} ev @param {any} data */
  function emit (ev, data) {
    try { emu.emit(ev, data) } catch (e) { log('listener of ' + ev + ' threw: ' + /** @type {Error} */ (e).message) }
  }

  /** Bytes towards the device, honouring the faults. @param {Conn} s @param {Buffer} buf @param {() => void} cb */
  function writeOut (s, buf, cb) {
    if (fault.mute || s.sock.destroyed) return cb()
    if (!fault.splitWrites) return void s.sock.write(buf, () => cb())
    let i = 0
    const next = () => {
      if (i >= buf.length || fault.mute || s.sock.destroyed) return cb()
      s.sock.write(buf.subarray(i, ++i))
      setImmediate(next)
    }
    next()
  }

  /** (Re)arm the silence timer. @param {Conn} s */
  function touch (s) {
    s.rxTime = Date.now()
    if (!s.limit) return
    clearTimeout(s.timer)
    s.timer = setTimeout(() => kill(s, 'keepalive timeout: no packet for ' + s.limit + ' ms (1.5 x ' + s.keepalive + ' s / timeScale ' + timeScale + ')', false), s.limit)
  }

  /** @param {import('node:net').Socket} sock */
  function onSocket (sock) {
    sock.setNoDelay(true)
    /** @type {Conn} */
    const s = /** @type {any} */ ({ sock, authed: false, closed: false, limit: 0, timer: null, rxTime: Date.now() })
    // A proxy between the socket and aedes: lets us observe inbound bytes and shape outbound ones.
    s.duplex = new Duplex({
      read () {},
      writev (chunks, cb) { writeOut(s, Buffer.concat(chunks.map(c => c.chunk)), () => cb()) },
      write (chunk, _enc, cb) { writeOut(s, chunk, () => cb()) },
      final (cb) { sock.end(); cb() },
      destroy (err, cb) {
        if (s.client && s.client._disconnected) s.reason = s.reason || 'device sent DISCONNECT'
        sock.destroy()
        cb(null)
      }
    });
    /** @type {any} */ (s.duplex).emu = s
    conns.add(s)
    sock.on('data', d => { touch(s); s.duplex.push(d) })
    sock.on('end', () => { s.reason = s.reason || 'device closed the connection'; s.duplex.push(null) })
    sock.on('error', e => { s.reason = s.reason || 'socket error: ' + e.message })
    sock.on('close', () => {
      s.closed = true
      clearTimeout(s.timer)
      conns.delete(s)
      s.duplex.destroy()
      if (s.authed) {
        const reason = s.reason || 'connection closed'
        log('disconnect ' + name(s) + ': ' + reason)
        emit('disconnect', { ...who(s), clientId: s.clientId, reason })
      }
    })
    s.client = broker.handle(s.duplex)
    // The platform has no QoS 2: grant 1. aedes fixes the SUBACK code before authorizeSubscribe, so
    // lower the request as it leaves the parser (aedes 1.2 internals: Client._parser).
    if (s.client._parser) {
      s.client._parser.prependListener('packet', (/** @type {any} */ p) => {
        if (p.cmd === 'subscribe') for (const x of p.subscriptions) x.qos = Math.min(x.qos, 1)
      })
    }
  }

  /** @param {any} client @returns {Conn} */
  const connOf = client => client.conn.emu

  function makeBroker () {
    return Aedes.createBroker({ keepaliveLimit: 0, connectTimeout: 30000 }).then(b => {
      b.preConnect = (/** @type {any} */ client, /** @type {any} */ packet, /** @type {Function} */ cb) => {
        const s = connOf(client)
        const up = /^([^&]+)&([^&]+)$/.exec(packet.username || '')
        s.clientId = packet.clientId
        s.info = parseClientId(packet.clientId)
        s.keepalive = packet.keepalive
        if (up) { s.deviceName = up[1]; s.productKey = up[2] }
        const info = {
          productKey: s.productKey, deviceName: s.deviceName, clientId: packet.clientId, keepalive: packet.keepalive,
          signMethod: s.info ? s.info.signMethod : undefined, clean: packet.clean, protocolVersion: packet.protocolVersion, will: !!packet.will
        }
        log('connect ' + name(s) + ' keepalive=' + packet.keepalive + ' signmethod=' + info.signMethod + ' clean=' + packet.clean + ' level=' + packet.protocolVersion)
        emit('connect', info)
        if (packet.protocolVersion !== 4) packet.protocolVersion = 5 // aedes then answers CONNACK 1
        else if (!s.info) s.refuse = 2
        else if (packet.keepalive < 30 || packet.keepalive > 1200) s.refuse = 2
        else if (packet.will) s.refuse = 5
        packet.keepalive = 0 // the silence limit is ours (scaled); disable aedes' own timer
        cb(null, true)
      }
      b.authenticate = (/** @type {any} */ client, /** @type {any} */ _username, /** @type {any} */ password, /** @type {Function} */ cb) => {
        const s = connOf(client)
        const dev = s.productKey && find(/** @type {string} */ (s.productKey), /** @type {string} */ (s.deviceName))
        let code = s.refuse || 0
        if (!code && (!dev || !password)) code = 4
        if (!code && dev && s.info) {
          const want = expectedPassword(s.info.signMethod, dev.deviceSecret, { ...s.info, deviceName: dev.deviceName, productKey: dev.productKey })
          if (password.toString('utf8').toLowerCase() !== want) code = 4
        }
        if (code) {
          const err = /** @type {any} */ (new Error('refused'))
          err.returnCode = code
          return cb(err, false)
        }
        for (const o of conns) {
          if (o !== s && o.authed && o.productKey === s.productKey && o.deviceName === s.deviceName) {
            kill(o, 'kicked: newer login of the same device (clientId ' + s.clientId + ')', true)
          }
        }
        s.authed = true
        s.limit = Math.round(1.5 * /** @type {number} */ (s.keepalive) * 1000 / timeScale)
        touch(s)
        cb(null, true)
      }
      b.on('connackSent', (/** @type {any} */ connack, /** @type {any} */ client) => {
        const s = connOf(client)
        log('connack ' + name(s) + ' returnCode=' + connack.returnCode)
        emit('connack', { ...who(s), clientId: s.clientId, returnCode: connack.returnCode })
      })
      b.authorizePublish = (/** @type {any} */ client, /** @type {any} */ packet, /** @type {Function} */ cb) => {
        if (!client) return cb(new Error('no client'))
        const s = connOf(client)
        const pk = /** @type {string} */ (s.productKey); const dn = /** @type {string} */ (s.deviceName)
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload || '')
        log('publish ' + name(s) + ' ' + packet.topic + ' qos=' + packet.qos + (packet.dup ? ' dup' : '') + ' ' + payload.length + ' B: ' + preview(payload))
        emit('publish', { ...who(s), topic: packet.topic, payload, qos: packet.qos, dup: !!packet.dup, retain: !!packet.retain, messageId: packet.messageId })
        if (packet.qos > 1) {
          kill(s, 'QoS 2 publish on ' + packet.topic, true)
          return cb(new Error('QoS 2 not supported'))
        }
        if (!ownTopic(packet.topic, pk, dn, false)) {
          kill(s, 'publish on a foreign topic ' + packet.topic, true)
          return cb(new Error('forbidden topic'))
        }
        packet.retain = false
        cb(null)
        onDevicePublish(s, packet.topic, payload)
      }
      b.authorizeSubscribe = (/** @type {any} */ client, /** @type {any} */ sub, /** @type {Function} */ cb) => {
        const s = connOf(client)
        if (!ownTopic(sub.topic, /** @type {string} */ (s.productKey), /** @type {string} */ (s.deviceName), true)) {
          kill(s, 'subscribe to a foreign topic ' + sub.topic, true)
          return cb(new Error('forbidden topic'))
        }
        cb(null, sub)
      }
      b.authorizeForward = (/** @type {any} */ _c, /** @type {any} */ packet) => packet
      b.on('subscribe', (/** @type {any[]} */ subs, /** @type {any} */ client) => {
        const s = connOf(client)
        const topics = subs.map(x => ({ topic: x.topic, qos: x.qos }))
        log('subscribe ' + name(s) + ' ' + topics.map(t => t.topic + '@' + t.qos).join(' '))
        emit('subscribe', { ...who(s), topics })
      })
      b.on('ping', (/** @type {any} */ _p, /** @type {any} */ client) => {
        const s = connOf(client)
        emit('pingreq', who(s))
      })
      b.on('clientError', (/** @type {any} */ client, /** @type {Error} */ err) => {
        const s = client && client.conn && connOf(client)
        if (s && !s.reason) s.reason = 'broker: ' + err.message
      })
      b.on('connectionError', () => {})
      return b
    })
  }

  /** @param {Buffer} b */
  function preview (b) {
    const t = b.toString('utf8')
    return t.length > 120 ? t.slice(0, 120) + '...' : t
  }

  /** Publish towards devices (delivered only to subscribers, at min(qos, granted)). @param {string} topic @param {any} obj @param {number} qos */
  function send (topic, obj, qos) {
    const b = broker
    if (!b) return
    log('send ' + topic + ' qos=' + qos + ': ' + JSON.stringify(obj))
    // Deferred: aedes 1.2 loses a QoS 1 delivery published while it is still dispatching a
    // device's read chunk (seen with two PUBLISHes in one TCP chunk).
    setImmediate(() => { if (!b.closed) b.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(obj)), qos, retain: false, dup: false }, () => {}) })
  }

  /** @param {Buffer} payload @returns {any} parsed JSON object, or undefined */
  function parseJson (payload) {
    try {
      const v = JSON.parse(utf8.decode(payload))
      return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined
    } catch (e) { return undefined }
  }

  /** The platform's side of device messages. @param {Conn} s @param {string} topic @param {Buffer} payload */
  function onDevicePublish (s, topic, payload) {
    const pk = s.productKey; const dn = s.deviceName
    const sys = '/sys/' + pk + '/' + dn + '/'
    const ev = topic.startsWith(sys) && /^thing\/event\/([^/]+)\/post$/.exec(topic.slice(sys.length))
    if (ev) {
      const msg = parseJson(payload)
      const ok = msg && typeof msg.id === 'string' && /^\d+$/.test(msg.id) && msg.params && typeof msg.params === 'object' && !Array.isArray(msg.params)
      const code = ok ? 200 : 460
      const method = 'thing.event.' + ev[1] + '.post'
      emit('post', { ...who(s), identifier: ev[1], id: msg && msg.id, params: ok ? msg.params : undefined, code })
      send(topic + '_reply', { code, data: {}, id: msg && typeof msg.id === 'string' ? msg.id : '', message: ok ? 'success' : 'request parameter error', method, version: '1.0' }, 1)
      return
    }
    if (topic === sys + 'thing/service/property/set_reply') {
      const msg = parseJson(payload)
      const reply = msg ? { id: msg.id, code: msg.code, data: msg.data } : { id: undefined, code: undefined, data: undefined }
      emit('set_reply', { ...who(s), ...reply })
      const key = pk + '/' + dn + '/' + reply.id
      const p = pending.get(key)
      if (p) {
        pending.delete(key)
        clearTimeout(p.timer)
        p.resolve(reply)
      } else log('set_reply ' + name(s) + ' with unknown id ' + reply.id)
      return
    }
    if (topic === '/ext/ntp/' + pk + '/' + dn + '/request') {
      const msg = parseJson(payload)
      if (!msg || msg.deviceSendTime === undefined) return log('ntp request ' + name(s) + ' without deviceSendTime ignored')
      const res = { deviceSendTime: String(msg.deviceSendTime), serverRecvTime: String(s.rxTime), serverSendTime: String(Date.now()) }
      emit('ntp', { ...who(s), ...res })
      send('/ext/ntp/' + pk + '/' + dn + '/response', res, 1)
    }
  }

  async function start () {
    if (server) return
    broker = await makeBroker()
    const srv = createServer(onSocket)
    await new Promise((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(port, '127.0.0.1', () => { srv.off('error', reject); resolve(undefined) })
    })
    server = srv
    port = /** @type {import('node:net').AddressInfo} */ (srv.address()).port
    Object.defineProperty(emu, 'port', { value: port, configurable: true, enumerable: true })
    log('listening on 127.0.0.1:' + port + ' (' + loaded.devices.length + ' devices, timeScale ' + timeScale + ')')
  }

  async function stop () {
    if (!server) return
    const srv = server; const b = broker
    server = null
    for (const s of conns) kill(s, 'broker stopped', false)
    for (const [key, p] of pending) { clearTimeout(p.timer); p.reject(new Error('emulator: stopped before set_reply ' + key)) }
    pending.clear()
    await new Promise(r => b.close(r))
    await new Promise(r => srv.close(r))
    broker = null
    log('stopped')
  }

  Object.assign(emu, {
    devices: loaded.devices,
    demo: loaded.demo,
    start,
    stop,
    close: async () => { await stop(); emu.removeAllListeners() },
    /** @param {{mute?: boolean, splitWrites?: boolean}} f */
    setFault (f) {
      fault = { ...(f || {}) }
      log('fault ' + JSON.stringify(fault))
    },
    clients: () => [...conns].filter(s => s.authed && !s.closed).map(s => ({ ...who(s), clientId: s.clientId, keepalive: s.keepalive })),
    /**
     * Cloud -> device property set; resolves with the device's set_reply {id, code, data}.
     * @param {string} pk @param {string} dn @param {Record<string, any>} params
     * @param {{qos?: 0 | 1, timeout?: number}} [o]
     */
    setProperty (pk, dn, params, o = {}) {
      if (!find(pk, dn)) return Promise.reject(new Error('emulator: unknown device ' + pk + '/' + dn))
      if (!params || typeof params !== 'object') return Promise.reject(new Error('emulator: setProperty params must be an object'))
      if (!broker || ![...conns].some(s => s.authed && !s.closed && s.productKey === pk && s.deviceName === dn)) {
        return Promise.reject(new Error('emulator: device ' + pk + '/' + dn + ' is offline'))
      }
      const id = String(nextId++)
      const key = pk + '/' + dn + '/' + id
      const timeout = o.timeout || setTimeoutMs
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(key)
          reject(new Error('emulator: no set_reply for ' + key + ' within ' + timeout + ' ms'))
        }, timeout)
        pending.set(key, { resolve, reject, timer })
        send('/sys/' + pk + '/' + dn + '/thing/service/property/set', { id, version: '1.0', params, method: 'thing.service.property.set' }, o.qos === undefined ? 1 : o.qos)
      })
    }
  })
  await start()
  return /** @type {EventEmitter & {port: number, devices: Device[], demo: Device | null, start: () => Promise<void>, stop: () => Promise<void>, close: () => Promise<void>, setFault: (f: {mute?: boolean, splitWrites?: boolean}) => void, clients: () => any[], setProperty: (pk: string, dn: string, params: Record<string, any>, o?: {qos?: 0 | 1, timeout?: number}) => Promise<{id: string, code: number, data: any}>}} */ (/** @type {any} */ (emu))
}
