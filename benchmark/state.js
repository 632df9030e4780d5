'use strict'
// Benchmark 4: OAuth state sign + verify per second. The same claims everywhere (aid, uid,
// forward_url, an 18-byte random nonce, iat, exp = 1 h), HS256 with the same 38-byte secret.
//   jsonwebtoken           jwt.sign + jwt.verify (sync; what the incumbent uses, string secret)
//   jsonwebtoken-keyobject the same with the secret as a KeyObject (the fast way to call it)
//   node-rs-jsonwebtoken   signSync + verifySync (@node-rs/jsonwebtoken, Rust via napi)
//   forcelink              beginLogin (signs the state, derives the PKCE challenge) + handleCallback
//                          with `error=access_denied` (verifies the state, consumes its nonce, no
//                          Salesforce call): the whole state round trip as a host pays it, through
//                          the async API; 64 in flight. The Rust core alone (StateCodec sign+verify,
//                          no JS boundary) is measured by `cargo bench` (benchmark/micro/) and reported beside.
const crypto = require('node:crypto')
const { performance } = require('node:perf_hooks')
const peers = require('./lib/peers')
const { STATE_SECRET } = require('./lib/sim')

const DURATION_MS = 1500
const claims = () => ({
  aid: 'acc-bench',
  uid: 'user-bench',
  forward_url: peers.FORWARD,
  nonce: crypto.randomBytes(18).toString('base64url'),
})

/** Runs `op` (sync) for DURATION_MS after a warm-up; ops/s. */
function loopSync(op) {
  for (let i = 0; i < 2000; i++) op()
  let n = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < DURATION_MS) {
    for (let i = 0; i < 100; i++) op()
    n += 100
    t = performance.now()
  }
  return { ops: n, opsPerSec: (n * 1000) / (t - t0) }
}

/** Keeps `inflight` async ops running for DURATION_MS; ops/s. */
async function loopAsync(op, inflight = 64) {
  const warm = performance.now()
  while (performance.now() - warm < 300) await Promise.all(Array.from({ length: inflight }, op))
  let n = 0
  const t0 = performance.now()
  let stop = false
  const worker = async () => {
    while (!stop) {
      await op()
      n++
      if (performance.now() - t0 >= DURATION_MS) stop = true
    }
  }
  await Promise.all(Array.from({ length: inflight }, worker))
  return { ops: n, opsPerSec: (n * 1000) / (performance.now() - t0) }
}

const contenders = {
  jsonwebtoken: {
    setup: () => require('jsonwebtoken'),
    run(jwt) {
      return loopSync(() => {
        const t = jwt.sign(claims(), STATE_SECRET, { algorithm: 'HS256', expiresIn: '1h' })
        const c = jwt.verify(t, STATE_SECRET, { algorithms: ['HS256'] })
        if (!c.nonce) throw new Error('verify')
      })
    },
  },
  // jsonwebtoken 9 first tries the secret as a PEM private key (crypto.createPrivateKey, which
  // throws for a plain string after OpenSSL 3 has tried every decoder); a KeyObject skips that.
  'jsonwebtoken-keyobject': {
    setup: () => ({ jwt: require('jsonwebtoken'), key: crypto.createSecretKey(Buffer.from(STATE_SECRET)) }),
    run({ jwt, key }) {
      return loopSync(() => {
        const t = jwt.sign(claims(), key, { algorithm: 'HS256', expiresIn: '1h' })
        const c = jwt.verify(t, key, { algorithms: ['HS256'] })
        if (!c.nonce) throw new Error('verify')
      })
    },
  },
  'node-rs-jsonwebtoken': {
    setup: () => {
      const j = require('@node-rs/jsonwebtoken')
      return { j, key: STATE_SECRET, validation: { algorithms: ['HS256'] } }
    },
    run({ j, key, validation }) {
      return loopSync(() => {
        const now = Math.floor(Date.now() / 1000)
        const t = j.signSync({ ...claims(), iat: now, exp: now + 3600 }, key)
        const c = j.verifySync(t, key, validation)
        if (!c.nonce) throw new Error('verify')
      })
    },
  },
  forcelink: {
    async setup(ctx) {
      const { Forcelink } = peers.loadForcelink()
      // Not connected (the store finds nothing), so beginLogin always signs a new state.
      const fl = new Forcelink(peers.forcelinkConfig(ctx.sim, { store: new peers.MapStore() }))
      return { fl }
    },
    async run({ fl }) {
      let i = 0
      return loopAsync(async () => {
        const { redirectUrl, binding } = await fl.beginLogin({ accountId: 'acc-bench', ownerId: `user-${i++}`, forwardUrl: peers.FORWARD })
        const state = new URL(redirectUrl).searchParams.get('state')
        // The browser that started the flow presents its binding again (as a cookie would).
        const r = await fl.handleCallback({ state, error: 'access_denied', errorDescription: 'bench', binding })
        if (!r.redirectUrl.includes('status=error')) throw new Error('callback')
      })
    },
  },
}

module.exports = { contenders }
