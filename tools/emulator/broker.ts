// The broker hooks: a plain aedes MQTT broker made to judge logins and topics as the platform
// does. preConnect reads the clientId/username and decides the refusals that do not need the
// secret (CONNACK 1, 2, 5); authenticate checks the password (CONNACK 4) and kicks an older
// login of the same device; authorizePublish/authorizeSubscribe close the link on a foreign
// topic or QoS 2. Accepted device publishes go on to the platform replies (platform.ts).
//
// Transport: securemode=2 must come over TLS and securemode=3 over TCP, as the platform
// requires (CONNACK 2 otherwise, logged with the reason); securemode=-2 (connwl) is taken on both.
// Dynamic registration (docs/ALIYUN.md §6, TLS only): a CONNECT with authType=register|regnwl signed
// with the product's secret gets CONNACK 0, then the reply on /ext/register or /ext/regnwl
// (no SUBSCRIBE needed), then the link is closed. register answers the registered device's
// deviceSecret; regnwl creates the device if needed and answers a new clientId + deviceToken,
// which the connwl login then takes. Events: 'register' {productKey, deviceName, authType}.
import { randomBytes } from 'node:crypto'
import mqttPacket from 'mqtt-packet'
import { Aedes, type AuthenticateError } from 'aedes'
import type { Context } from './context'
import { connOf, who, nameOf, type Connections, type Conn } from './connection'
import { findDevice, productSecretOf } from './registry'
import { parseClientId, expectedPassword, registrationPassword, ownTopic } from './rules'

/** A shortened payload for a log line. */
function preview (b: Buffer): string {
  const t = b.toString('utf8')
  return t.length > 120 ? t.slice(0, 120) + '...' : t
}

/** A new aedes broker with the platform's hooks; `onDevicePublish` gets every accepted device publish. */
export async function createBroker (ctx: Context, conns: Connections, onDevicePublish: (s: Conn, topic: string, payload: Buffer) => void): Promise<Aedes> {
  const { log, emit } = ctx
  // aedes' own keepalive limit is off: the silence limit is ours (connection.ts), scaled by timeScale.
  const b = await Aedes.createBroker({ keepaliveLimit: 0, connectTimeout: 30000 })

  b.preConnect = (client, packet, cb) => {
    const s = connOf(client)
    const up = /^([^&]+)&([^&]+)$/.exec(packet.username || '')
    s.clientId = packet.clientId
    s.info = parseClientId(packet.clientId)
    s.keepalive = packet.keepalive
    if (up) { s.deviceName = up[1]; s.productKey = up[2] }
    const info = {
      productKey: s.productKey, deviceName: s.deviceName, clientId: packet.clientId, keepalive: packet.keepalive,
      signMethod: s.info ? s.info.signMethod : undefined, clean: packet.clean, protocolVersion: packet.protocolVersion, will: !!packet.will,
      tls: s.secure, authType: s.info ? s.info.authType : undefined
    }
    log('connect ' + nameOf(s) + (s.secure ? ' tls' : ' tcp') + ' keepalive=' + packet.keepalive + ' signmethod=' + info.signMethod + ' clean=' + packet.clean + ' level=' + packet.protocolVersion)
    emit('connect', info)
    const mode = s.info && s.info.secureMode
    if (packet.protocolVersion !== 4) packet.protocolVersion = 5 // aedes then answers CONNACK 1
    else if (!s.info) s.refuse = 2
    else if ((mode === '2' && !s.secure) || (mode === '3' && s.secure)) {
      s.refuse = 2
      log('refused ' + nameOf(s) + ': securemode=' + mode + ' over ' + (s.secure ? 'TLS' : 'TCP') + ' (2 needs TLS, 3 needs TCP)')
    }
    else if ((packet.keepalive as number) < 30 || (packet.keepalive as number) > 1200) s.refuse = 2
    else if (packet.will) s.refuse = 5
    packet.keepalive = 0 // the silence limit is ours (scaled); disable aedes' own timer
    cb(null, true)
  }

  b.authenticate = (client, _username, password, cb) => {
    const s = connOf(client)
    const dev = s.productKey && findDevice(ctx.devices, s.productKey, s.deviceName as string)
    const info = s.info
    const given = password ? password.toString('utf8') : ''
    let code = s.refuse || 0
    if (!code && info && (info.authType === 'register' || info.authType === 'regnwl')) {
      const productSecret = productSecretOf(ctx.devices, s.productKey as string)
      const want = productSecret && registrationPassword(info.signMethod, productSecret, { deviceName: s.deviceName as string, productKey: s.productKey as string, random: info.random as string })
      // register: only a device registered in advance (it has a deviceSecret to hand out)
      if (!want || given.toLowerCase() !== want || (info.authType === 'register' && !(dev && dev.deviceSecret))) code = 4
      if (code) log('registration refused ' + nameOf(s) + (want ? '' : ': the product has no productSecret'))
      else s.registering = info.authType
    } else if (!code && info && info.authType === 'connwl') {
      if (!dev || !dev.deviceToken || dev.clientId !== info.id || given !== dev.deviceToken) code = 4
    } else if (!code && (!dev || !dev.deviceSecret || !password)) code = 4
    else if (!code && dev && info && password) {
      const want = expectedPassword(info.signMethod, dev.deviceSecret as string, { ...info, deviceName: dev.deviceName, productKey: dev.productKey })
      if (given.toLowerCase() !== want) code = 4
    }
    if (code) {
      const err = new Error('refused') as AuthenticateError
      err.returnCode = code
      return cb(err, false)
    }
    if (s.registering) return cb(null, true)
    for (const o of conns.all) {
      if (o !== s && o.authed && o.productKey === s.productKey && o.deviceName === s.deviceName) {
        conns.kill(o, 'kicked: newer login of the same device (clientId ' + s.clientId + ')', true)
      }
    }
    s.authed = true
    s.limit = Math.round(1.5 * (s.keepalive as number) * 1000 / ctx.timeScale)
    conns.touch(s)
    cb(null, true)
  }

  b.on('connackSent', (connack, client) => {
    const s = connOf(client)
    log('connack ' + nameOf(s) + ' returnCode=' + connack.returnCode)
    emit('connack', { ...who(s), clientId: s.clientId, returnCode: connack.returnCode })
    if (s.registering && connack.returnCode === 0) register(s)
  })

  // The registration reply, then the platform closes the link. Secrets never go to the log.
  function register (s: Conn) {
    const pk = s.productKey as string; const dn = s.deviceName as string
    let dev = findDevice(ctx.devices, pk, dn)
    let reply: Record<string, string>
    if (s.registering === 'register') {
      reply = { productKey: pk, deviceName: dn, deviceSecret: (dev as NonNullable<typeof dev>).deviceSecret as string }
    } else {
      if (!dev) ctx.devices.push(dev = { productKey: pk, deviceName: dn })
      dev.clientId = randomBytes(8).toString('hex')
      dev.deviceToken = randomBytes(16).toString('hex')
      reply = { clientId: dev.clientId, productKey: pk, deviceName: dn, deviceToken: dev.deviceToken }
    }
    const topic = s.registering === 'register' ? '/ext/register' : '/ext/regnwl'
    log('register ' + nameOf(s) + ' ' + s.registering + ': reply on ' + topic + ', then close')
    emit('register', { ...who(s), authType: s.registering })
    // straight to the socket: the device has no subscription, the reply is the platform's own
    s.sock.write(mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(reply)), qos: 0, retain: false, dup: false } as any))
    setTimeout(() => conns.kill(s, 'registration done', false), 50)
  }

  b.authorizePublish = (client, packet, cb) => {
    if (!client) return cb(new Error('no client'))
    const s = connOf(client)
    const pk = s.productKey as string; const dn = s.deviceName as string
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload || '')
    log('publish ' + nameOf(s) + ' ' + packet.topic + ' qos=' + packet.qos + (packet.dup ? ' dup' : '') + ' ' + payload.length + ' B: ' + preview(payload))
    emit('publish', { ...who(s), topic: packet.topic, payload, qos: packet.qos, dup: !!packet.dup, retain: !!packet.retain, messageId: packet.messageId })
    if (packet.qos > 1) {
      conns.kill(s, 'QoS 2 publish on ' + packet.topic, true)
      return cb(new Error('QoS 2 not supported'))
    }
    if (!ownTopic(packet.topic, pk, dn, false)) {
      conns.kill(s, 'publish on a foreign topic ' + packet.topic, true)
      return cb(new Error('forbidden topic'))
    }
    packet.retain = false
    cb(null)
    onDevicePublish(s, packet.topic, payload)
  }

  b.authorizeSubscribe = (client, sub, cb) => {
    const s = connOf(client)
    if (!ownTopic(sub.topic, s.productKey as string, s.deviceName as string, true)) {
      conns.kill(s, 'subscribe to a foreign topic ' + sub.topic, true)
      return cb(new Error('forbidden topic'))
    }
    cb(null, sub)
  }

  b.authorizeForward = (_client, packet) => packet

  b.on('subscribe', (subs, client) => {
    const s = connOf(client)
    const topics = subs.map(x => ({ topic: x.topic, qos: x.qos }))
    log('subscribe ' + nameOf(s) + ' ' + topics.map(t => t.topic + '@' + t.qos).join(' '))
    emit('subscribe', { ...who(s), topics })
  })
  b.on('ping', (_packet, client) => emit('pingreq', who(connOf(client))))
  b.on('clientError', (client, err) => {
    const s = client && client.conn && connOf(client)
    if (s && !s.reason) s.reason = 'broker: ' + err.message
  })
  b.on('connectionError', () => {})
  return b
}
