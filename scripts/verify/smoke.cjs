'use strict'
// The package smoke suite: run by scripts/verify-packages.js inside an empty folder where the packed
// tarballs were installed, under each runtime (Node 18.17-26, Bun, Deno, Node for Windows under
// Wine, and under qemu for arm64). Self-contained: it needs only the installed `forcelink` (and
// `forcelink-simulator` for the testing kit) and a simulator whose login URL is in
// FORCELINK_SIM_LOGIN_URL. Prints one JSON line with what it saw (to FORCELINK_SMOKE_OUT instead when
// set: Node under Wine cannot write to a pipe); exits non-zero on the first failure.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

// Wine 8.0 fails a TCP connect whose socket got keep-alive options before connecting ("connect
// UNKNOWN"), which undici (fetch) does; node:http does not. Under Wine only, fetch's sockets skip
// keep-alive. forcelink's own HTTP (Rust) is untouched.
if (process.env.FORCELINK_SMOKE_WINE === '1') require('node:net').Socket.prototype.setKeepAlive = function () {
  return this
}

const { Forcelink, ForcelinkError, paginate } = require('forcelink')
const { salesforceRouter } = require('forcelink/express')

const loginUrl = process.env.FORCELINK_SIM_LOGIN_URL
const total = Number(process.env.FORCELINK_SIM_CONTACTS)

class MapStore {
  constructor() {
    this.docs = new Map()
    this.calls = 0
  }
  async find(a, o) {
    this.calls++
    return this.docs.get(`${a}/${o}`) ?? null
  }
  save(r) {
    this.calls++
    this.docs.set(`${r.account_id}/${r.owner}`, r) // a plain value, not a Promise: also accepted
  }
  async delete(a, o) {
    this.calls++
    return this.docs.delete(`${a}/${o}`)
  }
}

async function main() {
  const esm = await import('forcelink')
  assert.equal(esm.Forcelink, Forcelink, 'import and require load the same module')
  assert.equal(typeof salesforceRouter, 'function')
  // FORCELINK_SMOKE_DEV_BUILD=1: tarballs from `npm run package:host` (a build:debug binary) while iterating.
  if (process.env.FORCELINK_SMOKE_DEV_BUILD !== '1') assert.equal(typeof Forcelink.prototype.__panicForTest, 'undefined', 'no test hooks in a package')
  assert.equal(paginate(10, 2, 3).next_page, 3)

  const store = new MapStore()
  const config = {
    clientId: process.env.FORCELINK_SIM_CLIENT_ID,
    clientSecret: process.env.FORCELINK_SIM_CLIENT_SECRET,
    redirectUri: process.env.FORCELINK_SIM_REDIRECT_URI,
    stateSecret: 'smoke-state-secret-0123456789abcdef-XYZ',
    loginUrl,
    httpTimeoutMs: 20000,
  }
  const fl = new Forcelink({ ...config, store })

  // Connect: beginLogin → the simulator's authorize (auto-approve) → handleCallback.
  const connect = async (instance) => {
    const start = await instance.beginLogin({ accountId: 'acc', ownerId: 'user', forwardUrl: '/done' })
    const res = await fetch(start.redirectUrl, { redirect: 'manual' })
    assert.equal(res.status, 302)
    const q = new URL(res.headers.get('location')).searchParams
    const back = await instance.handleCallback({ code: q.get('code') ?? undefined, state: q.get('state') ?? undefined, binding: start.binding })
    assert.match(back.redirectUrl, /status=success/)
  }
  await connect(fl)
  assert.ok(store.calls > 0 && store.docs.size === 1, 'the JS TokenStore was called')

  // The embedded SQLite store at a real path: backslashes on Windows, owner-only (0600) elsewhere.
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-smoke-'))
  const storePath = path.join(storeDir, 'tokens.db')
  const embedded = new Forcelink({ ...config, storePath })
  await connect(embedded)
  assert.equal((await embedded.exportPage({ accountId: 'acc', ownerId: 'user', type: 'contacts', limit: 3 })).data.length, 3)
  assert.ok(fs.existsSync(storePath), 'the store file is where storePath says')
  if (process.platform === 'win32') assert.ok(storePath.includes('\\'), `a Windows path: ${storePath}`)
  else assert.equal(fs.statSync(storePath).mode & 0o777, 0o600)
  await embedded.close()
  try {
    fs.rmSync(storeDir, { recursive: true, force: true })
  } catch (_) {
    /* Windows may hold the file a moment after close */
  }

  const conn = { accountId: 'acc', ownerId: 'user' }
  const page = await fl.exportPage({ ...conn, type: 'contacts', page: 2, limit: 7 })
  assert.equal(page.data.length, 7)
  assert.equal(page.pagination.total, total)

  let all = 0
  for await (const batch of fl.exportAll({ ...conn, type: 'contacts', batchSize: 200 })) all += batch.length
  assert.equal(all, total)

  const chunks = []
  for await (const c of fl.exportStream({ ...conn, type: 'contacts', format: 'csv' })) chunks.push(c)
  const csv = Buffer.concat(chunks).toString('utf8')
  assert.ok(!csv.includes('\r'), 'CSV lines end in LF on every OS')
  const lines = csv.trimEnd().split('\n')
  assert.equal(lines[0], 'Name,Account.Name,Title,Phone,Email,Owner.Alias')
  assert.equal(lines.length, total + 1)

  const err = await fl.exportPage({ ...conn, type: 'nope' }).then(
    () => null,
    (e) => e,
  )
  assert.ok(err instanceof ForcelinkError, 'a typed error')
  assert.equal(err.code, 'INVALID_TYPE')
  assert.equal(err.status, 400)

  // forcelink/testing runs the simulator from the installed forcelink-simulator package (native
  // hosts only: under qemu-user a spawned aarch64 executable would need binfmt, which CI machines
  // may lack).
  let testingKit = 'skipped'
  if (process.env.FORCELINK_SMOKE_TESTING_KIT !== '0') {
    const { startSimulator } = require('forcelink/testing')
    const sim = await startSimulator({ contacts: 3 })
    try {
      assert.equal((await sim.control.records('contacts')).length, 3)
      testingKit = 'ok'
    } finally {
      await sim.close()
    }
  }

  const runtime = process.versions.bun ? `bun ${process.versions.bun}` : process.versions.deno ? `deno ${process.versions.deno}` : `node ${process.version}`
  const line = JSON.stringify({ ok: true, runtime, platform: process.platform, arch: process.arch, page: page.data.length, all, csvLines: lines.length, store: 'sqlite', testingKit })
  if (process.env.FORCELINK_SMOKE_OUT) fs.writeFileSync(process.env.FORCELINK_SMOKE_OUT, line + '\n')
  else console.log(line)
}

main().catch((e) => {
  const text = String(e && e.stack ? e.stack : e)
  if (process.env.FORCELINK_SMOKE_OUT) fs.writeFileSync(process.env.FORCELINK_SMOKE_OUT, `FAIL ${text}\n`)
  else console.error(text)
  process.exit(1)
})
