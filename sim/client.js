'use strict'
// Driving the simulator from Node, shared by the tests, the demo tooling and the benchmarks: start
// its process on 127.0.0.1, call its control endpoints, and walk the browser side of the OAuth flow.
const { spawn } = require('node:child_process')
const readline = require('node:readline')

/** Control calls for a running simulator (`urls` as it printed them). */
function controlClient(urls) {
  const control = async (p, body, method) => {
    const res = await fetch(`${urls.loginUrl}/__sim/${p}`, {
      method: method || (body === undefined ? 'GET' : 'POST'),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`control ${p}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : null
  }
  return {
    control,
    counts: () => control('counts'),
    resetCounts: () => control('counts/reset', {}),
    expireAccessTokens: () => control('expire-access-tokens', {}),
    revokeRefreshTokens: () => control('revoke-refresh-tokens', {}),
    setConfig: (c) => control('config', c),
    fault: (f) => control('faults', f),
    clearFaults: () => control('faults', undefined, 'DELETE'),
    seed: (s) => control('seed', s),
    connections: () => control('connections'),
    /** The next `times` (default 1) query pages with records each lose their first one (disagreeing with COUNT()). */
    dropNextRecord: (times) => control('fields/drop-next-record', { times: times === undefined ? 1 : times }),
    /** An admin adds a text custom field (`Name__c`) to `type`: null on every record until written. */
    addField: (type, field) => control('fields/add', { type, field }),
    /** Field-level security hides `field` from user `opts.user` (a `userId` of `connections()`), or from everyone. */
    hideField: (type, field, opts) => control('fields/hide', { type, field, user: opts && opts.user !== undefined ? opts.user : null }),
  }
}

/** Starts `binary` with `args`; resolves once it printed its URLs. */
async function spawnSim(binary, args) {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const first = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout })
    rl.once('line', (l) => resolve(l))
    child.once('exit', (code) => reject(new Error(`simulator exited early (${code})`)))
    child.once('error', reject)
  })
  const urls = JSON.parse(first)
  return {
    urls,
    ...urls,
    child,
    ...controlClient(urls),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/** Follows the authorize URL like a browser with auto-approve: returns the callback's query. */
async function authorize(redirectUrl, extra = '') {
  const res = await fetch(redirectUrl + extra, { redirect: 'manual' })
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`)
  const loc = new URL(res.headers.get('location'))
  return Object.fromEntries(loc.searchParams)
}

module.exports = { controlClient, spawnSim, authorize }
