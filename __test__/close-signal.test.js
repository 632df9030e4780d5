'use strict'
// Lifecycle: close() / Symbol.asyncDispose, `signal` on every async method, exportStream().destroy()
// closing the native cursor at once, and HEAD on the Express download route.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const express = require('express')
const { Forcelink } = require('..')
const { salesforceRouter } = require('../express')
const { startSimulator, connectForTest } = require('../testing')

let sim
beforeAll(async () => {
  sim = await startSimulator({ contacts: 3000 })
})
afterAll(() => sim.close())

const soql = 'SELECT Id FROM Contact LIMIT 5'

test('close(): in-flight calls finish, exports are cancelled, later calls reject CLOSED; asyncDispose closes', async () => {
  const fl = new Forcelink(sim.forcelinkConfig())
  const who = { accountId: 'c1', ownerId: 'u' }
  await connectForTest(fl, who)
  await sim.control.setLatency(300)
  let inflight
  try {
    inflight = fl.query({ ...who, soql })
    await new Promise((r) => setTimeout(r, 50))
    const exporting = (async () => {
      for await (const _ of fl.exportAll({ ...who, type: 'contacts', batchSize: 200 })) {
        /* keeps going until closed */
      }
    })()
    await new Promise((r) => setTimeout(r, 50))
    await fl.close()
    expect(fl.closed).toBe(true)
    expect((await inflight).records).toHaveLength(5)
    await expect(exporting).rejects.toMatchObject({ code: 'CANCELLED' })
  } finally {
    await sim.control.setLatency(0)
  }
  for (const call of [
    () => fl.query({ ...who, soql }),
    () => fl.exportPage({ ...who, type: 'contacts', page: 1, limit: 1 }),
    () => fl.beginLogin({ ...who, forwardUrl: '/' }),
    () => fl.getAccessToken(who),
    () => fl.disconnect(who),
  ]) {
    await expect(call()).rejects.toMatchObject({ code: 'CLOSED', status: 503 })
  }
  await expect(fl.exportAll({ ...who, type: 'contacts' }).next()).rejects.toMatchObject({ code: 'CLOSED' })
  expect(() => fl.exportStream({ ...who, type: 'contacts' })).toThrow(expect.objectContaining({ code: 'CLOSED' }))
  await fl.close() // idempotent

  const fd = new Forcelink(sim.forcelinkConfig())
  const dispose = fd[Symbol.asyncDispose || Symbol.for('nodejs.asyncDispose')]
  expect(typeof dispose).toBe('function')
  await dispose.call(fd)
  await expect(fd.query({ ...who, soql })).rejects.toMatchObject({ code: 'CLOSED' })
})

test('close() closes the embedded SQLite store: its WAL is checkpointed and removed, the file reopens with the connection in it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-close-'))
  const storePath = path.join(dir, 'tokens.db')
  const who = { accountId: 'store-close', ownerId: 'u' }
  try {
    const fl = new Forcelink(sim.forcelinkConfig({ storePath }))
    await connectForTest(fl, who)
    // While open, SQLite (WAL mode) keeps the -wal and -shm companions next to the file.
    expect(fs.existsSync(`${storePath}-wal`)).toBe(true)
    await fl.close()
    // The last connection to close checkpoints the WAL and deletes both companions.
    expect(fs.existsSync(`${storePath}-wal`)).toBe(false)
    expect(fs.existsSync(`${storePath}-shm`)).toBe(false)
    await expect(fl.getAccessToken(who)).rejects.toMatchObject({ code: 'CLOSED' })
    await fl.close() // idempotent, the store already closed
    const again = new Forcelink(sim.forcelinkConfig({ storePath }))
    try {
      expect((await again.getAccessToken(who)).instanceUrl).toBe(sim.instanceUrl)
    } finally {
      await again.close()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('the process exits on its own after close()', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-exit-'))
  const storePath = path.join(dir, 'tokens.db')
  const script = `
    const { Forcelink } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const { connectForTest } = require(${JSON.stringify(path.join(__dirname, '..', 'testing'))})
    ;(async () => {
      // The embedded store on a file, as in production.
      const fl = new Forcelink(${JSON.stringify(sim.forcelinkConfig({ storePath }))})
      fl.on('apiUsage', () => {})
      await connectForTest(fl, { accountId: 'exit', ownerId: 'u' })
      await fl.query({ accountId: 'exit', ownerId: 'u', soql: 'SELECT Id FROM Contact LIMIT 1' })
      await fl.close()
      console.log('closed')
    })()
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('the process did not exit within 15 s of close()'))
    }, 15_000)
    child.once('exit', (c) => {
      clearTimeout(t)
      resolve(c)
    })
  })
  expect(out.trim()).toBe('closed')
  expect(code).toBe(0)
  expect(fs.existsSync(`${storePath}-wal`)).toBe(false)
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('signal', () => {
  let fl
  const who = { accountId: 's1', ownerId: 'u' }
  beforeAll(async () => {
    fl = new Forcelink(sim.forcelinkConfig())
    await connectForTest(fl, who)
  })
  afterAll(() => fl.close())

  const calls = {
    beginLogin: (signal) => fl.beginLogin({ accountId: 'other', ownerId: 'u', forwardUrl: '/', signal }),
    handleCallback: (signal) => fl.handleCallback({ code: 'x', state: 'y', signal }),
    disconnect: (signal) => fl.disconnect({ accountId: 'nobody', ownerId: 'u', signal }),
    getAccessToken: (signal) => fl.getAccessToken({ ...who, signal }),
    query: (signal) => fl.query({ ...who, soql, signal }),
    queryMore: (signal) => fl.queryMore({ ...who, nextRecordsUrl: '/services/data/v62.0/query/01gx-2000', signal }),
    exportPage: (signal) => fl.exportPage({ ...who, type: 'contacts', page: 1, limit: 5, signal }),
    exportPageJson: (signal) => fl.exportPageJson({ ...who, type: 'contacts', page: 1, limit: 5, signal }),
    createRecord: (signal) => fl.createRecord({ ...who, object: 'Contact', fields: { LastName: 'Sig' }, signal }),
    updateRecord: (signal) => fl.updateRecord({ ...who, object: 'Contact', id: '003000000000001AAA', fields: { LastName: 'Sig' }, signal }),
    describe: (signal) => fl.describe({ ...who, type: 'contacts', signal }),
    exportAll: (signal) => fl.exportAll({ ...who, type: 'contacts', signal }).next(),
    exportAllJson: (signal) => fl.exportAllJson({ ...who, type: 'contacts', signal }).next(),
    sync: (signal) => fl.sync({ ...who, type: 'contacts', signal }).next(),
    exportStream: (signal) => drain(fl.exportStream({ ...who, type: 'contacts', signal })),
  }
  /** Reads a stream to its end: resolves with the byte count, rejects with its error. */
  const drain = (stream) =>
    new Promise((resolve, reject) => {
      let n = 0
      stream.on('data', (b) => (n += b.length))
      stream.once('error', reject)
      stream.once('end', () => resolve(n))
    })

  test('the list covers every async method of Forcelink (async functions, async generators, exportStream)', () => {
    const source = fs.readFileSync(path.join(__dirname, '..', 'index.js'), 'utf8')
    const declared = [...source.matchAll(/^ {2}async \*?(\w+)\(/gm)].map((m) => m[1]).filter((n) => n !== 'close')
    expect(declared.length).toBeGreaterThan(10)
    for (const n of declared) expect(typeof Forcelink.prototype[n]).toBe('function')
    expect([...declared, 'exportStream'].sort()).toEqual(Object.keys(calls).sort())
  })

  test.each(Object.keys(calls))('%s: an aborted signal rejects CANCELLED with cause = signal.reason', async (name) => {
    const ac = new AbortController()
    const reason = new Error(`stop ${name}`)
    ac.abort(reason)
    const err = await calls[name](ac.signal).catch((e) => e)
    expect(err).toMatchObject({ name: 'ForcelinkError', code: 'CANCELLED', status: 499 })
    expect(err.cause).toBe(reason)
  })

  test('aborting mid-call rejects at once', async () => {
    await sim.control.setLatency(2000)
    try {
      const ac = new AbortController()
      const t0 = Date.now()
      const p = fl.query({ ...who, soql, signal: ac.signal })
      setTimeout(() => ac.abort(), 100)
      const err = await p.catch((e) => e)
      expect(err).toMatchObject({ code: 'CANCELLED' })
      expect(err.cause).toBe(ac.signal.reason)
      expect(Date.now() - t0).toBeLessThan(1500)
      const ac2 = new AbortController()
      const it = fl.exportAll({ ...who, type: 'contacts', signal: ac2.signal })
      setTimeout(() => ac2.abort(new Error('bye')), 100)
      const e2 = await it.next().catch((e) => e)
      expect(e2).toMatchObject({ code: 'CANCELLED' })
      expect(e2.cause.message).toBe('bye')
      const ac3 = new AbortController()
      const stream = fl.exportStream({ ...who, type: 'contacts', signal: ac3.signal })
      const t3 = Date.now()
      setTimeout(() => ac3.abort(new Error('stream bye')), 100)
      const e3 = await drain(stream).catch((e) => e)
      expect(e3).toMatchObject({ code: 'CANCELLED' })
      expect(e3.cause.message).toBe('stream bye')
      expect(Date.now() - t3).toBeLessThan(1500)
      expect(stream.destroyed).toBe(true)
    } finally {
      await sim.control.setLatency(0)
    }
  })

  test('a signal that is not an AbortSignal is INVALID_INPUT', async () => {
    await expect(fl.query({ ...who, soql, signal: {} })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'signal' })
  })
})

test('exportStream().destroy() closes the native cursor at once and aborts the Bulk job', async () => {
  const fl = new Forcelink(sim.forcelinkConfig())
  const who = { accountId: 'd1', ownerId: 'u' }
  await connectForTest(fl, who)
  await sim.control.setConfig({ bulkJobMs: 60_000 })
  try {
    const created = new Promise((resolve) => fl.once('bulkJob', resolve))
    const stream = fl.exportStream({ ...who, type: 'contacts', engine: 'bulk', format: 'csv' })
    stream.on('error', () => {})
    stream.resume()
    const job = await created
    const t0 = Date.now()
    stream.destroy()
    await new Promise((r) => stream.once('close', r))
    let state
    for (let i = 0; i < 40; i++) {
      const jobs = await (await fetch(`${sim.loginUrl}/__sim/jobs`)).json()
      state = jobs.find((j) => j.id === job.jobId).state
      if (state === 'Aborted') break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(state).toBe('Aborted')
    expect(Date.now() - t0).toBeLessThan(3000)
  } finally {
    await sim.control.setConfig({ bulkJobMs: 500 })
    await fl.close()
  }
})

test('HEAD on the Express download route answers the headers without running the export', async () => {
  const fl = new Forcelink(sim.forcelinkConfig())
  const who = { accountId: 'h1', ownerId: 'u' }
  await connectForTest(fl, who)
  const app = express()
  app.use('/sf', salesforceRouter(fl, { getAuth: () => ({ account_id: who.accountId, uid: who.ownerId }) }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  try {
    await sim.control.resetCounts()
    const res = await fetch(`http://127.0.0.1:${server.address().port}/sf/export/contacts?download=csv`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/csv/)
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="contacts.csv"')
    const counts = await sim.control.counts()
    expect(counts.rest).toBe(0)
    expect(counts.bulk).toBe(0)
  } finally {
    await new Promise((r) => server.close(r))
    await fl.close()
  }
})
