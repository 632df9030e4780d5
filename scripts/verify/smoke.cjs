'use strict'
// The package smoke suite: run by scripts/verify-packages.js inside an empty folder where the packed
// tarballs were installed, under each Node (and under qemu for arm64). Self-contained: it needs
// only the installed `forcelink` and a simulator whose login URL is in FORCELINK_SIM_LOGIN_URL.
// Prints one JSON line with what it saw; exits non-zero on the first failure.
const assert = require('node:assert/strict')

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
  assert.equal(typeof Forcelink.prototype.__panicForTest, 'undefined', 'no test hooks in a package')
  assert.equal(paginate(10, 2, 3).next_page, 3)

  const store = new MapStore()
  const fl = new Forcelink({
    clientId: process.env.FORCELINK_SIM_CLIENT_ID,
    clientSecret: process.env.FORCELINK_SIM_CLIENT_SECRET,
    redirectUri: process.env.FORCELINK_SIM_REDIRECT_URI,
    stateSecret: 'smoke-state-secret-0123456789abcdef-XYZ',
    loginUrl,
    httpTimeoutMs: 20000,
    store,
  })

  // Connect: beginLogin → the simulator's authorize (auto-approve) → handleCallback.
  const start = await fl.beginLogin({ accountId: 'acc', ownerId: 'user', forwardUrl: '/done' })
  const res = await fetch(start.redirectUrl, { redirect: 'manual' })
  assert.equal(res.status, 302)
  const q = new URL(res.headers.get('location')).searchParams
  const back = await fl.handleCallback({ code: q.get('code') ?? undefined, state: q.get('state') ?? undefined, binding: start.binding })
  assert.match(back.redirectUrl, /status=success/)
  assert.ok(store.calls > 0 && store.docs.size === 1, 'the JS TokenStore was called')

  const conn = { accountId: 'acc', ownerId: 'user' }
  const page = await fl.exportPage({ ...conn, type: 'contacts', page: 2, limit: 7 })
  assert.equal(page.data.length, 7)
  assert.equal(page.pagination.total, total)

  let all = 0
  for await (const batch of fl.exportAll({ ...conn, type: 'contacts', batchSize: 200 })) all += batch.length
  assert.equal(all, total)

  const chunks = []
  for await (const c of fl.exportStream({ ...conn, type: 'contacts', format: 'csv' })) chunks.push(c)
  const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n')
  assert.equal(lines[0], 'Name,Account.Name,Title,Phone,Email,Owner.Alias')
  assert.equal(lines.length, total + 1)

  const err = await fl.exportPage({ ...conn, type: 'nope' }).then(
    () => null,
    (e) => e,
  )
  assert.ok(err instanceof ForcelinkError, 'a typed error')
  assert.equal(err.code, 'INVALID_TYPE')
  assert.equal(err.status, 400)

  console.log(JSON.stringify({ ok: true, node: process.version, arch: process.arch, page: page.data.length, all, csvLines: lines.length }))
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
