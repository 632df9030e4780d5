'use strict'
// `npm run demo`: builds what is missing, starts the simulator seeded like a real org, and serves the
// demo app on http://localhost:3000 (PORT overrides). With SALESFORCE_CLIENT_ID,
// SALESFORCE_CLIENT_SECRET and SALESFORCE_REDIRECT_URI set it talks to real Salesforce instead.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const readline = require('node:readline')
const { ensureNative, ensureSim, simBinary } = require('./lib/paths')

const PORT = Number(process.env.PORT) || 3000
const REDIRECT_URI = `http://localhost:${PORT}/v1/integrations/salesforce/auth/callback`
const env = process.env
const real = Boolean(env.SALESFORCE_CLIENT_ID && env.SALESFORCE_CLIENT_SECRET && env.SALESFORCE_REDIRECT_URI)

/** Spawns the simulator and resolves its URLs (the one JSON line it prints). */
function startSimulator(args) {
  const child = spawn(simBinary(), args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        resolve(JSON.parse(line))
      } catch (e) {
        reject(new Error(`unexpected simulator output: ${line}`))
      }
    })
    child.once('exit', (code) => reject(new Error(`simulator exited (${code})`)))
    child.once('error', reject)
  })
  return { child, ready }
}

let sim = null
let demo = null
// The simulator (and the throwaway token store) never outlive the demo, however it ends.
process.once('exit', () => {
  if (sim && sim.child.exitCode === null) sim.child.kill('SIGTERM')
  if (demo) fs.rmSync(demo.dataDir, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(0))

// Against a real org: the External Client App settings forcelink relies on (README "External Client Apps").
const EXTERNAL_CLIENT_APP_CHECKLIST = [
  'External Client App settings for forcelink (Setup > External Client App Manager):',
  `  - Callback URL: exactly SALESFORCE_REDIRECT_URI (${env.SALESFORCE_REDIRECT_URI || 'unset'})`,
  '  - OAuth scopes: api, id, refresh_token (and web with the default scopes)',
  '  - Require PKCE: on; Require secret for Web Server Flow: on',
  '  - Refresh token rotation: on (each refresh stores the new token)',
  '  - Refresh token policy: expire if not used for 30 days -> run fl.keepAlive() daily (olderThanMs 20 days)',
  '  - JWT-based access tokens: optional (forcelink refreshes refreshAheadMs, 60 s, before exp)',
  '  - IP relaxation / login hours: refusals come back as RECONNECT_REQUIRED with reason policy_blocked',
  '  - JWT bearer (server-to-server only): upload the certificate of jwtBearer.privateKeyPem',
]

async function main() {
  ensureNative()
  let forcelinkConfig
  if (real) {
    process.stderr.write(`${EXTERNAL_CLIENT_APP_CHECKLIST.join('\n')}\n`)
    forcelinkConfig = {
      clientId: env.SALESFORCE_CLIENT_ID,
      clientSecret: env.SALESFORCE_CLIENT_SECRET,
      redirectUri: env.SALESFORCE_REDIRECT_URI,
      ...(env.SALESFORCE_LOGIN_URL ? { loginUrl: env.SALESFORCE_LOGIN_URL } : {}),
    }
  } else {
    ensureSim()
    // Per-run credentials: the simulator and the app only need to agree with each other.
    const clientId = `demo-${crypto.randomBytes(6).toString('hex')}`
    const clientSecret = crypto.randomBytes(24).toString('hex')
    sim = startSimulator([
      '--consent', '--contacts', '25000', '--deals', '5000', '--notes', '2000',
      '--client-id', clientId, '--client-secret', clientSecret, '--redirect-uri', REDIRECT_URI,
    ])
    const urls = await sim.ready
    forcelinkConfig = { clientId, clientSecret, redirectUri: REDIRECT_URI, loginUrl: urls.loginUrl }
  }

  const { startDemo } = require('../demo/server')
  const simControlUrl = real ? undefined : `${forcelinkConfig.loginUrl}/__sim`
  demo = await startDemo({ port: PORT, host: 'localhost', forcelinkConfig, mode: real ? 'salesforce' : 'simulator', simControlUrl })
  console.log('')
  console.log(`  forcelink demo: ${demo.url}/`)
  console.log(real ? `  talking to Salesforce (${forcelinkConfig.loginUrl || 'https://login.salesforce.com'})` : '  talking to the local Salesforce simulator (25,000 contacts, 5,000 deals, 2,000 notes)')
  console.log('  Press Ctrl+C to stop')
  console.log('')
}

main().catch((err) => {
  console.error(`demo: ${err.code === 'EADDRINUSE' ? `port ${PORT} is in use (set PORT to use another)` : err.message}`)
  process.exit(1)
})
