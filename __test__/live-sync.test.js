'use strict'
// Live sync (`sync({ live: true })`: polling catch-up, then Change Data Capture over the Pub/Sub
// API) against the simulator process. A host keeps a copy as the README says (upserts merged by Id,
// deletes removed); every test ends with that copy equal to the org's records read over REST, after
// a mutation stream, a SIGKILL and resume, replay expiry, gaps and overflows, token expiry and a
// stalled stream. Waits are on conditions (bounded), never on sleeps.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { Forcelink } = require('..')
const { startSimulator, connectForTest } = require('../testing')

// Flat fields (the CDC event's compound `Name` maps to FirstName/LastName; `Name` itself is a
// formula of those on REST). The stream must give each of them as REST does.
const FIELDS = ['FirstName', 'LastName', 'Title', 'Phone', 'Email', 'AccountId', 'LastModifiedDate']
// The default contacts type's fields, which a change event cannot all give (the formula `Name`,
// parent fields): re-read over REST. Without `attributes`.
const PEOPLE = ['Name', 'Account.Name', 'Title', 'Phone', 'Email', 'Owner.Alias']
const exportTypes = { contacts: { object: 'Contact', fields: FIELDS }, people: { object: 'Contact', fields: PEOPLE, attributes: false } }
const conn = { accountId: 'live-acc', ownerId: 'live-usr', type: 'contacts' }
// Short enough for the stall test; the sim's keepalives (every 100 ms here) keep a healthy stream
// far inside it, even on a loaded machine.
const LIVE_STALL_MS = 1500

let sim, fl, dir, cfg, token
const events = []
let reconnects = 0

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
/** Polls `pred` (may be async) until true or `ms` passed; returns the last result. */
async function until(pred, ms = 20000, every = 25) {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await pred()
    if (ok || Date.now() > deadline) return ok
    await sleep(every)
  }
}

const control = async (p, body) => {
  const res = await fetch(`${sim.loginUrl}/__sim/${p}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`control ${p}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : null
}
const mutate = (body) => control('mutate', { object: 'Contact', ...body })
const truth = async () => (await control('truth?object=Contact')).records

async function serverToken() {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: sim.clientId, client_secret: sim.clientSecret })
  const res = await fetch(`${sim.myDomainUrl}/services/oauth2/token`, { method: 'POST', body })
  if (!res.ok) throw new Error(`token ${res.status}`)
  return res.json()
}
async function rest(method, p, body, again = true) {
  const res = await fetch(`${token.instance_url}/services/data/v62.0${p}`, {
    method,
    headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  })
  // The token-expiry test expires every access token, this one too.
  if (res.status === 401 && again) {
    token = await serverToken()
    return rest(method, p, body, false)
  }
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`)
  return res.status === 204 ? null : res.json()
}

/** Applies one step as the README says: upserts merged by Id (UPDATE patches), deletes removed. */
function apply(copy, step) {
  for (const r of step.upserts) copy.set(r.Id, { ...copy.get(r.Id), ...r })
  for (const d of step.deletes) copy.delete(d.Id)
}

/** A live sync in this process; `stop()` aborts it (which must end it cleanly). */
function live({ checkpoint, copy = new Map(), ...extra } = {}) {
  const ac = new AbortController()
  const run = { copy, checkpoint, steps: [], error: null, from: events.length, t0: Date.now() }
  run.done = (async () => {
    try {
      const it = fl.sync({ ...conn, checkpoint, live: true, signal: ac.signal, liveStallMs: LIVE_STALL_MS, ...extra })
      for await (const step of it) {
        apply(run.copy, step)
        run.checkpoint = step.checkpoint
        run.steps.push(step)
      }
    } catch (e) {
      run.error = e
    }
  })()
  run.stream = () => run.steps.filter((s) => s.meta && s.meta.source === 'stream')
  run.stop = async () => {
    ac.abort()
    await run.done
    expect(run.error).toBeNull()
  }
  return run
}

/** Whether `copy` has the org's Ids with the org's SystemModstamp and Title (cheap, no REST). */
async function inStep(copy) {
  const t = await truth()
  const ids = Object.keys(t)
  if (ids.length !== copy.size) return false
  return ids.every((id) => copy.has(id) && copy.get(id).SystemModstamp === t[id].SystemModstamp && copy.get(id).Title === t[id].Title)
}

/** The copy equals the org's records read over REST: same Ids, every field of the type equal. */
async function expectEqualToOrg(copy, run) {
  if (!(await until(() => inStep(copy)))) {
    if (process.env.LIVE_DEBUG && run) {
      const t = await truth()
      const odd = [...Object.keys(t).filter((id) => !copy.has(id)), ...[...copy.keys()].filter((id) => !(id in t))]
      for (const id of odd) for (const st of run.steps) if (st.upserts.some((r) => r.Id === id) || st.deletes.some((r) => r.Id === id)) console.log(id, st.meta, JSON.stringify(st.upserts.filter((r) => r.Id === id)), JSON.stringify(st.deletes.filter((r) => r.Id === id)))
      for (const id of odd) console.log('query', id, JSON.stringify(await rest('GET', `/query?q=${encodeURIComponent(`SELECT Id, Title, SystemModstamp FROM Contact WHERE Id IN ('${id}')`)}`)), JSON.stringify(await rest('GET', `/query?q=${encodeURIComponent(`SELECT Id, Title FROM Contact WHERE Id = '${id}'`)}`)))
      console.log(JSON.stringify(events.slice(run.from)), 'odd', odd.map((id) => [id, t[id]]), 'run started', new Date(run.t0).toISOString(), 'first stream step', (run.stream()[0] || {}).meta, run.steps.filter((x) => x.meta.source === 'poll').map((x) => x.upserts.length + '/' + x.deletes.length), JSON.stringify(run.stream().map((x) => [x.meta.changeTypes, x.upserts.map((r) => r.Id.slice(12, 15)).join(','), x.deletes.map((r) => r.Id.slice(12, 15)).join(',')])))
    }
    const t = await truth()
    const missing = Object.keys(t).filter((id) => !copy.has(id))
    const extra = [...copy.keys()].filter((id) => !(id in t))
    const stale = Object.keys(t).filter((id) => copy.has(id) && (copy.get(id).SystemModstamp !== t[id].SystemModstamp || copy.get(id).Title !== t[id].Title))
    const show = (ids) => ids.slice(0, 3).map((id) => `${id} have ${JSON.stringify(copy.get(id))} org ${JSON.stringify(t[id])}`)
    throw new Error(`copy differs from the org: ${missing.length} missing ${JSON.stringify(missing.slice(0, 5))}, ${extra.length} extra ${JSON.stringify(extra.slice(0, 5))}, ${stale.length} stale\n${show(stale).join('\n')}`)
  }
  const org = await sim.control.records('Contact')
  expect([...copy.keys()].sort()).toEqual(org.map((r) => r.Id).sort())
  const diffs = []
  for (const o of org) {
    const have = copy.get(o.Id)
    for (const f of ['Id', 'SystemModstamp', ...FIELDS]) {
      if (have[f] !== o[f]) diffs.push(`${o.Id}.${f}: have ${JSON.stringify(have[f])}, org ${JSON.stringify(o[f])}`)
    }
  }
  expect(diffs.slice(0, 10)).toEqual([])
}

const kinds = (from) => events.slice(from).map((e) => e.kind)
/** Resolves once the run is subscribed (its `subscribed` event, which may come before the
 *  polling catch-up's steps) and has yielded its first step. */
async function isLive(run) {
  expect(await until(() => (kinds(run.from).includes('subscribed') && run.steps.length > 0) || run.error !== null)).toBe(true)
  expect(run.error).toBeNull()
}

beforeAll(async () => {
  sim = await startSimulator({ contacts: 120, deals: 0, notes: 0 })
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-live-'))
  cfg = sim.forcelinkConfig({ storePath: path.join(dir, 'store.db'), pubsubUrl: sim.pubsubUrl, exportTypes, httpTimeoutMs: 10000 })
  fl = new Forcelink(cfg)
  fl.on('changeStream', (e) => events.push(e))
  fl.on('reconnectRequired', () => reconnects++)
  await connectForTest(fl, { accountId: conn.accountId, ownerId: conn.ownerId })
  await control('pubsub', { keepaliveMs: 100 })
  token = await serverToken()
})
afterAll(async () => {
  if (fl) await fl.close()
  if (sim) await sim.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

test('convergence under a mutation stream: creates, updates (patches), deletes, undeletes, transactions', async () => {
  const from = events.length
  const run = live()
  await isLive(run)
  expect(run.steps[0].meta.source).toBe('poll')
  expect(kinds(from)).toContain('subscribed')
  const sub = events.slice(from).find((e) => e.kind === 'subscribed')
  expect(sub).toMatchObject({ type: 'contacts', connection: { accountId: conn.accountId, ownerId: conn.ownerId } })
  expect(sub.orgId).toMatch(/^00D/)

  // An update through REST that changes one field and nulls another: a patch of just those.
  const [target] = await sim.control.insert('Contact', [{ LastName: 'Patch', FirstName: 'Pat', Title: 'Before', Phone: '555-0100', Email: 'p@example.org' }])
  expect(await until(() => run.copy.has(target))).toBe(true)
  expect(run.copy.get(target)).toMatchObject({ LastName: 'Patch', FirstName: 'Pat', Title: 'Before', Phone: '555-0100' })
  const created = run.stream().find((s) => s.upserts.some((r) => r.Id === target))
  expect(created.meta.changeTypes).toContain('CREATE')
  expect(created.meta.lagMs).toBeGreaterThanOrEqual(0)
  expect(created.upserts.find((r) => r.Id === target)).toMatchObject({ Email: 'p@example.org', AccountId: null })
  await rest('PATCH', `/sobjects/Contact/${target}`, { Title: 'After', Phone: null })
  expect(await until(() => run.copy.get(target).Title === 'After')).toBe(true)
  const patchStep = run.stream().find((s) => s.upserts.some((r) => r.Id === target && r.Title === 'After'))
  const patch = patchStep.upserts.find((r) => r.Id === target)
  expect(patchStep.meta.partial).toBe(true)
  expect(patchStep.meta.changeTypes).toContain('UPDATE')
  expect(patch).toMatchObject({ Title: 'After', Phone: null })
  // Never an unchanged field reported as null.
  for (const k of Object.keys(patch)) expect(['Id', 'SystemModstamp', 'attributes', 'Title', 'Phone', 'LastModifiedDate']).toContain(k)
  expect(run.copy.get(target)).toMatchObject({ LastName: 'Patch', FirstName: 'Pat', Email: 'p@example.org', Phone: null })

  // Random creates, updates, deletes and undeletes, some as one transaction each.
  for (let round = 0; round < 6; round++) await mutate({ count: 40, seed: 100 + round, transaction: round % 2 === 1 })
  // One transaction deleting three records: one multi-record event, one step.
  const before = new Set(Object.keys(await truth()))
  await control('delete-range', { from: 20, to: 23 })
  const after = new Set(Object.keys(await truth()))
  const removed = [...before].filter((id) => !after.has(id))
  await expectEqualToOrg(run.copy, run)
  if (removed.length > 1) {
    expect(run.stream().some((s) => removed.every((id) => s.deletes.some((d) => d.Id === id)))).toBe(true)
    const d = run.stream().flatMap((s) => s.deletes).find((x) => x.Id === removed[0])
    expect(Number.isNaN(Date.parse(d.deletedAt))).toBe(false)
  }
  const types = new Set(run.stream().flatMap((s) => s.meta.changeTypes || []))
  for (const t of ['CREATE', 'UPDATE', 'DELETE', 'UNDELETE']) expect(types).toContain(t)

  // Another object's changes move the stream's position: a keepalive step, no records, a new checkpoint.
  const n = run.steps.length
  const last = run.checkpoint
  await control('mutate', { object: 'Account', count: 5, seed: 150 })
  expect(await until(() => run.steps.slice(n).some((s) => s.meta.keepalive === true))).toBe(true)
  const ka = run.steps.slice(n).find((s) => s.meta.keepalive === true)
  expect(ka).toMatchObject({ upserts: [], deletes: [], meta: { source: 'stream' } })
  expect(ka.checkpoint).not.toBe(last)
  await run.stop()
})

test('resume from a live checkpoint after a SIGKILL of the consuming process: no change lost', async () => {
  // Its own TLS simulator: the child trusts the throwaway CA through NODE_EXTRA_CA_CERTS.
  const tls = await startSimulator({ contacts: 60, deals: 0, notes: 0, pubsubTls: true })
  const kdir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-live-kill-'))
  const kcfg = tls.forcelinkConfig({ storePath: path.join(kdir, 'store.db'), pubsubUrl: tls.pubsubUrl, exportTypes })
  const parent = new Forcelink(kcfg)
  const statePath = path.join(kdir, 'replica.json')
  const kmutate = (body) =>
    fetch(`${tls.loginUrl}/__sim/mutate`, { method: 'POST', body: JSON.stringify({ object: 'Contact', ...body }) }).then((r) => r.json())
  const ktruth = async () => (await (await fetch(`${tls.loginUrl}/__sim/truth?object=Contact`)).json()).records
  try {
    await connectForTest(parent, { accountId: conn.accountId, ownerId: conn.ownerId })
    await fetch(`${tls.loginUrl}/__sim/pubsub`, { method: 'POST', body: JSON.stringify({ keepaliveMs: 100 }) })
    const start = (checkpoint) => {
      const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'live-sync-child.js'), JSON.stringify(kcfg), JSON.stringify(conn), statePath, checkpoint || '', JSON.stringify({ liveStallMs: 5000 })], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.pubsubCaPath },
      })
      const p = { child, lines: [], stderr: '', last: null }
      const rl = readline.createInterface({ input: child.stdout })
      // Exited, and every line it printed read.
      p.exited = Promise.all([new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))), new Promise((r) => rl.once('close', r))]).then(([x]) => x)
      child.stderr.on('data', (d) => (p.stderr += d))
      rl.on('line', (l) => {
        p.lines.push(l)
        const m = /^CKPT (\S+) (\S+)$/.exec(l)
        if (m) p.last = { source: m[1], checkpoint: m[2] }
      })
      p.subscribed = () => p.lines.some((l) => l.startsWith('EVENT') && JSON.parse(l.slice(6)).kind === 'subscribed')
      return p
    }
    const copyNow = () => new Map(JSON.parse(fs.readFileSync(statePath, 'utf8')).copy)

    const first = start()
    expect(await until(() => first.subscribed() || first.child.exitCode !== null)).toBe(true)
    expect(first.stderr).not.toMatch(/live-sync-child/)
    // Changes while it runs; killed -9 once it applied some of them from the stream.
    const n0 = first.lines.length
    await kmutate({ count: 30, seed: 7 })
    expect(await until(() => first.lines.slice(n0).some((l) => l.startsWith('CKPT stream')) && first.last.source === 'stream')).toBe(true)
    await kmutate({ count: 30, seed: 8, transaction: true })
    first.child.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')
    const resumeFrom = first.last
    expect(resumeFrom.source).toBe('stream')
    // Changes while nobody listens.
    await kmutate({ count: 40, seed: 9 })

    const second = start(resumeFrom.checkpoint)
    const want = async () => {
      const t = await ktruth()
      if (!fs.existsSync(statePath)) return false
      const copy = copyNow()
      return Object.keys(t).length === copy.size && Object.keys(t).every((id) => copy.has(id) && copy.get(id).SystemModstamp === t[id].SystemModstamp && copy.get(id).Title === t[id].Title)
    }
    expect(await until(want)).toBe(true)
    // A live checkpoint resubscribes from its replay id: no polling.
    expect(second.lines.filter((l) => l.startsWith('CKPT poll'))).toEqual([])
    await kmutate({ count: 20, seed: 10 })
    expect(await until(want)).toBe(true)
    second.child.kill('SIGKILL')
    await second.exited
    expect(second.stderr).not.toMatch(/live-sync-child/)
    const org = await tls.control.records('Contact')
    const copy = copyNow()
    expect([...copy.keys()].sort()).toEqual(org.map((r) => r.Id).sort())
    for (const o of org) for (const f of ['SystemModstamp', ...FIELDS]) expect([o.Id, f, copy.get(o.Id)[f]]).toEqual([o.Id, f, o[f]])
  } finally {
    await parent.close()
    await tls.close()
    fs.rmSync(kdir, { recursive: true, force: true })
  }
})

test('replay expiry: polling catch-up from the checkpoint, then live again, with replayExpired and no error', async () => {
  const first = live()
  await isLive(first)
  await mutate({ count: 20, seed: 300 })
  await expectEqualToOrg(first.copy)
  // The checkpoint kept is a stream step's (a live checkpoint, holding a replay id).
  const n = first.steps.length
  await rest('POST', '/sobjects/Contact/', { LastName: 'Expiry' })
  expect(await until(() => first.steps.slice(n).some((s) => s.meta.source === 'stream' && s.upserts.length > 0))).toBe(true)
  await first.stop()
  expect(first.steps[first.steps.length - 1].meta.source).toBe('stream')
  const { checkpoint, copy } = first

  // Changes nobody received, then every stored event expires.
  await mutate({ count: 40, seed: 301 })
  await control('pubsub/expire', {})
  const from = events.length
  const again = live({ checkpoint, copy })
  await until(() => kinds(from).includes('replayExpired') && kinds(from).lastIndexOf('subscribed') > kinds(from).indexOf('replayExpired'))
  expect(kinds(from)).toEqual(expect.arrayContaining(['replayExpired', 'subscribed']))
  expect(kinds(from).lastIndexOf('subscribed')).toBeGreaterThan(kinds(from).indexOf('replayExpired'))
  expect(again.error).toBeNull()
  await expectEqualToOrg(again.copy, again)
  // The missed changes came from the polling catch-up.
  expect(again.steps.some((s) => s.meta.source === 'poll' && s.upserts.length + s.deletes.length > 0)).toBe(true)
  // And the stream carries on.
  await mutate({ count: 20, seed: 302 })
  await expectEqualToOrg(again.copy, again)
  expect(again.stream().some((s) => s.upserts.length + s.deletes.length > 0)).toBe(true)
  await again.stop()
})

test('gap and overflow events: records re-read, bounded catch-up, copy correct', async () => {
  const run = live()
  await isLive(run)
  const from = events.length
  await control('pubsub/gap', { object: 'Contact', count: 3 })
  await mutate({ count: 20, seed: 400 })
  expect(await until(() => kinds(from).includes('gap'))).toBe(true)
  const gap = events.slice(from).find((e) => e.kind === 'gap')
  expect(gap.recordIds.length).toBeGreaterThan(0)
  for (const id of gap.recordIds) expect(id).toMatch(/^003/)
  await expectEqualToOrg(run.copy, run)

  await control('pubsub/overflow', { object: 'Contact', count: 5 })
  await mutate({ count: 30, seed: 401 })
  expect(await until(() => kinds(from).includes('overflow'))).toBe(true)
  await expectEqualToOrg(run.copy, run)
  await mutate({ count: 10, seed: 402 })
  await expectEqualToOrg(run.copy, run)
  expect(run.error).toBeNull()
  await run.stop()
})

test('token expiry mid-stream: refreshed, resubscribed (reason auth), no reconnect required', async () => {
  const run = live()
  await isLive(run)
  const from = events.length
  const before = reconnects
  await sim.control.expireTokens()
  await mutate({ count: 20, seed: 500 })
  expect(await until(() => events.slice(from).some((e) => e.kind === 'resubscribed' && e.reason === 'auth'))).toBe(true)
  await expectEqualToOrg(run.copy, run)
  expect(reconnects).toBe(before)
  expect(run.error).toBeNull()
  await run.stop()
})

test('a stalled stream is resubscribed (reason stall) and the copy stays correct', async () => {
  const run = live()
  await isLive(run)
  const from = events.length
  await control('pubsub/stall', { ms: LIVE_STALL_MS + 1000 })
  expect(await until(() => events.slice(from).some((e) => e.kind === 'resubscribed' && e.reason === 'stall'))).toBe(true)
  await mutate({ count: 20, seed: 600 })
  await expectEqualToOrg(run.copy, run)
  expect(run.error).toBeNull()
  await run.stop()
})

test('a stream reset is resubscribed; break ends the iterator cleanly', async () => {
  const copy = new Map()
  const from = events.length
  let changed = false
  // Once subscribed: the stream is reset, then records change.
  const driver = (async () => {
    if (!(await until(() => kinds(from).includes('subscribed')))) return
    await control('pubsub/reset', {})
    expect(await until(() => kinds(from).includes('resubscribed'))).toBe(true)
    await mutate({ count: 10, seed: 700 })
    changed = true
  })()
  // A bound, so a stream that never converges fails the test instead of hanging it.
  const signal = AbortSignal.timeout(30000)
  for await (const step of fl.sync({ ...conn, live: true, liveStallMs: LIVE_STALL_MS, signal })) {
    apply(copy, step)
    if (changed && step.meta.source === 'stream' && (await inStep(copy))) break
  }
  await driver
  expect(signal.aborted).toBe(false)
  expect(events.slice(from).some((e) => e.kind === 'resubscribed' && e.reason === 'reset')).toBe(true)
  await expectEqualToOrg(copy)
})

test('a type with parent fields and the formula Name, attributes off: the copy equals the org read over REST', async () => {
  const run = live({ type: 'people' })
  await isLive(run)
  const [id] = await sim.control.insert('Contact', [{ FirstName: 'Ada', LastName: 'Parent', Title: 'T0' }])
  await rest('PATCH', `/sobjects/Contact/${id}`, { LastName: 'Lovelace', Title: 'T1' })
  await mutate({ count: 30, seed: 800 })
  await mutate({ count: 30, seed: 801, transaction: true })
  expect(await until(() => inStep(run.copy))).toBe(true)
  expect(run.copy.get(id)).toMatchObject({ Name: 'Ada Lovelace', Title: 'T1' })
  const soql = `SELECT Id, SystemModstamp, ${PEOPLE.join(', ')} FROM Contact`
  const org = (await rest('GET', `/query?q=${encodeURIComponent(soql)}`)).records
  expect(org.length).toBe(run.copy.size)
  const diffs = []
  for (const o of org) {
    const have = run.copy.get(o.Id)
    if (have.attributes !== undefined) diffs.push(`${o.Id}: attributes`)
    for (const f of ['SystemModstamp', 'Name', 'Title', 'Phone', 'Email']) if (have[f] !== o[f]) diffs.push(`${o.Id}.${f}: have ${JSON.stringify(have[f])}, org ${JSON.stringify(o[f])}`)
    for (const [rel, f] of [['Account', 'Name'], ['Owner', 'Alias']]) {
      const want = o[rel] === null ? null : o[rel][f]
      const got = have[rel] === null || have[rel] === undefined ? have[rel] : have[rel][f]
      if (got !== want) diffs.push(`${o.Id}.${rel}.${f}: have ${JSON.stringify(have[rel])}, org ${JSON.stringify(o[rel])}`)
    }
  }
  expect(diffs.slice(0, 10)).toEqual([])
  await run.stop()
})

test('72 hours later on the org clock the replay id is gone: catch-up by polling, no error', async () => {
  const first = live()
  await isLive(first)
  const n = first.steps.length
  await rest('POST', '/sobjects/Contact/', { LastName: 'Retention' })
  expect(await until(() => first.steps.slice(n).some((s) => s.meta.source === 'stream' && s.upserts.length > 0))).toBe(true)
  await first.stop()
  await mutate({ count: 20, seed: 900 })
  await sim.control.advanceClock(73 * 3600 * 1000)
  const from = events.length
  const again = live({ checkpoint: first.checkpoint, copy: first.copy })
  await expectEqualToOrg(again.copy, again)
  expect(kinds(from)).toContain('replayExpired')
  expect(reconnects).toBe(0)
  await again.stop()
})
