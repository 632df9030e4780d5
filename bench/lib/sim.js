'use strict'
// The simulator for the benchmarks: started as its own process (release build) on 127.0.0.1, driven
// through its control endpoints. Adapted from __test__/helpers.js (copied, so no jest is loaded).
const { spawn } = require('node:child_process')
const readline = require('node:readline')
const path = require('node:path')

/** Always the release build (scripts/lib/paths.js would pick a newer debug build). */
const SIM = path.join(__dirname, '..', '..', 'target', 'release', `forcelink-sim${process.platform === 'win32' ? '.exe' : ''}`)

const CLIENT_ID = 'bench-client-id'
const CLIENT_SECRET = 'bench-client-secret-value-0123456789'
const STATE_SECRET = 'bench-state-secret-0123456789abcdef-XYZ'
const REDIRECT_URI = 'http://localhost:3999/v1/integrations/salesforce/auth/callback'

/** A control client for a simulator already running (children get the URLs from the runner). */
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
    setConfig: (c) => control('config', c),
    seed: (s) => control('seed', s),
  }
}

async function startSim(args = []) {
  const child = spawn(
    SIM,
    ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
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
async function authorize(redirectUrl) {
  const res = await fetch(redirectUrl, { redirect: 'manual' })
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`)
  const loc = new URL(res.headers.get('location'))
  return Object.fromEntries(loc.searchParams)
}

module.exports = { startSim, controlClient, authorize, CLIENT_ID, CLIENT_SECRET, STATE_SECRET, REDIRECT_URI }
