#!/usr/bin/env node
'use strict'
// keepAlive over many stored connections (issue 20), on the embedded SQLite store and on
// PostgreSQL (forcelink/stores/postgres):
//   - listing cost: a sweep with nothing due walks the whole index once (every record fresh);
//     on PostgreSQL each listConnections page is also timed (a timing wrapper around the store);
//   - a full sweep (every connection due): token requests/s at the default concurrency (4);
//   - memory: the process's RSS sampled every 250 ms during the sweep (keyset paging: flat).
//
//   node benchmark/keepalive.js [--connections 100000] [--store sqlite,postgres] [--write]
//
// The simulator mints the connections (`/__sim/mint-connections`), so every stored refresh token is
// real to it; the stores are seeded in bulk (SQLite through the `sqlite3` shell into forcelink's own
// file, PostgreSQL through multi-row INSERTs). --write replaces the keepAlive section of BENCHMARKS.md.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Forcelink } = require('..')
const { simBinary } = require('../sim/build')
const { spawnSim } = require('../sim/client')
const { PostgresStore } = require('../stores/postgres')
const { startPostgres } = require('../__test__/support/pg-cluster')

const CLIENT_ID = 'bench-keepalive'
const CLIENT_SECRET = 'bench-keepalive-secret-0123456789'
const REDIRECT_URI = 'http://localhost:3999/cb'
const DAY = 86_400_000

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def
}

/** `n` connections the simulator knows, as forcelink records last granted at `refreshedAt`. */
async function mint(sim, n, refreshedAt) {
  const out = []
  while (out.length < n) {
    const count = Math.min(10_000, n - out.length)
    const r = await sim.control('mint-connections', { count })
    for (const c of r.connections) {
      const i = out.length
      out.push({
        account_id: `acc-${String(i).padStart(7, '0')}`,
        owner: 'bench-user',
        token: { access_token: c.accessToken, refresh_token: c.refreshToken, instance_url: c.instanceUrl, id: c.id, issued_at: String(refreshedAt) },
        token_invalidated: false,
        refreshed_at: refreshedAt,
        version: 1,
      })
    }
  }
  return out
}

function seedSqlite(file, records) {
  // forcelink creates its schema (and the keepAlive index) on open.
  new Forcelink(cfgFor({ storePath: file })).close()
  const sql = path.join(path.dirname(file), 'seed.sql')
  const q = (s) => `'${s.replace(/'/g, "''")}'`
  const lines = ['BEGIN;']
  for (const r of records) {
    lines.push(
      `INSERT INTO forcelink_tokens (account_id, owner, record, updated_at, live, refreshed_at) VALUES (${q(r.account_id)}, ${q(r.owner)}, ${q(JSON.stringify(r))}, ${r.refreshed_at}, 1, ${r.refreshed_at});`,
    )
  }
  lines.push('COMMIT;')
  fs.writeFileSync(sql, lines.join('\n'))
  execFileSync('sqlite3', [file, `.read ${sql}`])
  fs.rmSync(sql)
}

async function seedPostgres(store, records) {
  await store.find('none', 'none') // creates the tables and the index
  for (let i = 0; i < records.length; i += 5_000) {
    const chunk = records.slice(i, i + 5_000)
    await store.pool.query(
      `INSERT INTO ${store.t.tokens} (account_id, owner, record, version)
       SELECT r->>'account_id', r->>'owner', r, 1 FROM jsonb_array_elements($1::jsonb) AS r`,
      [JSON.stringify(chunk)],
    )
  }
  await store.pool.query(`ANALYZE ${store.t.tokens}`)
}

let loginUrl = ''
function cfgFor(extra) {
  return { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, stateSecret: 'bench-keepalive-state-secret-0123456789abcdef', loginUrl, ...extra }
}

/** Runs `fn` while sampling RSS; resolves `{ value, ms, rss: { start, peak, end } }` in MB. */
async function measured(fn) {
  const mb = () => Math.round((process.memoryUsage().rss / 1048576) * 10) / 10
  const rss = { start: mb(), peak: mb(), end: 0 }
  const timer = setInterval(() => (rss.peak = Math.max(rss.peak, mb())), 250)
  const t0 = process.hrtime.bigint()
  try {
    const value = await fn()
    return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6, rss }
  } finally {
    clearInterval(timer)
    rss.end = mb()
    rss.peak = Math.max(rss.peak, rss.end)
  }
}

/** A PostgresStore whose listConnections calls are timed. */
function timedPg(store, pages) {
  return new Proxy(store, {
    get(target, prop) {
      if (prop !== 'listConnections') {
        const v = target[prop]
        return typeof v === 'function' ? v.bind(target) : v
      }
      return async (q) => {
        const t0 = process.hrtime.bigint()
        const r = await target.listConnections(q)
        pages.push(Number(process.hrtime.bigint() - t0) / 1e6)
        return r
      }
    },
  })
}

async function benchStore(kind, sim, n, pg) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-bench-ka-'))
  let store = null
  try {
    const old = Date.now() - 25 * DAY
    process.stderr.write(`keepalive bench: ${kind}: minting and seeding ${n} connections\n`)
    const records = await mint(sim, n, old)
    const pages = []
    let extra
    if (kind === 'sqlite') {
      const file = path.join(tmp, 'forcelink.db')
      seedSqlite(file, records)
      extra = { storePath: file }
    } else {
      store = new PostgresStore({ connectionString: pg.connectionString, tablePrefix: `bench_ka_${Date.now()}`, max: 8 })
      await seedPostgres(store, records)
      extra = { store: timedPg(store, pages) }
    }
    records.length = 0
    const fl = new Forcelink(cfgFor(extra))
    try {
      // Nothing due (every record granted 25 days ago, the sweep asks for older than 30): one walk of the index.
      const idle = await measured(() => fl.keepAlive({ olderThanMs: 30 * DAY }))
      const idlePages = pages.splice(0)
      await sim.resetCounts()
      process.stderr.write(`keepalive bench: ${kind}: full sweep\n`)
      const sweep = await measured(() => fl.keepAlive())
      const counts = await sim.counts()
      const sorted = pages.slice().sort((a, b) => a - b)
      return {
        store: kind,
        connections: n,
        nothingDueMs: Math.round(idle.ms),
        nothingDuePgPageMs: idlePages.length ? Math.round(idlePages[0] * 10) / 10 : null,
        sweepS: Math.round(sweep.ms / 100) / 10,
        refreshed: sweep.value.refreshed,
        failed: sweep.value.failed.length,
        tokenRequests: counts.token.refresh_token,
        tokenRequestsPerS: Math.round(counts.token.refresh_token / (sweep.ms / 1000)),
        listPages: pages.length,
        listPageMs: sorted.length ? { p50: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] } : null,
        rssMb: sweep.rss,
      }
    } finally {
      await fl.close()
    }
  } finally {
    if (store) await store.close()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

function write(reports, meta) {
  const file = path.join(__dirname, '..', 'BENCHMARKS.md')
  const num = (v) => Number(v).toLocaleString('en-US')
  const row = (label, f) => `| ${label} | ${reports.map(f).join(' | ')} |`
  const ms = (v) => (v === null || v === undefined ? 'n/a' : `${Math.round(v * 10) / 10} ms`)
  const section = [
    '<!-- keepalive:start -->',
    '## keepAlive over stored connections (issue 20)',
    '',
    `Written by \`node benchmark/keepalive.js --write\` on ${meta.date} (commit ${meta.commit}, ${os.cpus().length} cores, Node ${process.version}, ${meta.builds}). ` +
      'The simulator mints every connection (each stored refresh token is real to it); refresh-token rotation off; default `keepAlive()` options (concurrency 4, olderThanMs 20 days). ' +
      '"Nothing due" is a sweep whose listing walks every stored connection and finds none old enough (one index walk); the full sweep refreshes every connection through the normal refresh path (lease, token request, fenced save). RSS is the benchmark process (forcelink in it).',
    '',
    `|  | ${reports.map((r) => (r.store === 'sqlite' ? 'SQLite (embedded store)' : 'PostgreSQL (forcelink/stores/postgres)')).join(' | ')} |`,
    `|---|${reports.map(() => '---').join('|')}|`,
    row('stored connections', (r) => num(r.connections)),
    row('sweep with nothing due (listing cost)', (r) => `${num(r.nothingDueMs)} ms`),
    row('listConnections page of 500, p50 / max (PostgreSQL, timed in the store)', (r) => (r.listPageMs ? `${ms(r.listPageMs.p50)} / ${ms(r.listPageMs.max)}` : 'n/a')),
    row('full sweep: refreshed / failed', (r) => `${num(r.refreshed)} / ${num(r.failed)}`),
    row('full sweep: wall time', (r) => `${r.sweepS} s`),
    row('token requests (per second)', (r) => `${num(r.tokenRequests)} (${num(r.tokenRequestsPerS)}/s)`),
    row('RSS start / peak / end', (r) => `${r.rssMb.start} / ${r.rssMb.peak} / ${r.rssMb.end} MB`),
    '<!-- keepalive:end -->',
    '',
  ].join('\n')
  const old = fs.readFileSync(file, 'utf8')
  const re = /<!-- keepalive:start -->[\s\S]*<!-- keepalive:end -->\n?/
  fs.writeFileSync(file, re.test(old) ? old.replace(re, section) : `${old.trimEnd()}\n\n${section}`)
}

async function main() {
  const n = Number(arg('connections', 100_000))
  const stores = arg('store', 'sqlite,postgres').split(',')
  const bin = simBinary()
  const sim = await spawnSim(bin, ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI])
  loginUrl = sim.loginUrl
  let pg = null
  const reports = []
  try {
    await sim.setConfig({ apiLimit: 1_000_000_000_000 })
    for (const kind of stores) {
      if (kind === 'postgres' && !pg) pg = await startPostgres()
      const r = await benchStore(kind, sim, n, pg)
      console.log(JSON.stringify(r))
      reports.push(r)
    }
  } finally {
    await sim.stop()
    if (pg) pg.stop()
  }
  if (process.argv.includes('--write')) {
    let commit = ''
    try {
      commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
    } catch (_) {
      // not a git checkout
    }
    const builds = `${bin.includes(`${path.sep}release${path.sep}`) ? 'release' : 'debug'} simulator, the binding as built`
    write(reports, { date: new Date().toISOString().slice(0, 10), commit, builds })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
