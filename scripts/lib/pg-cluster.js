'use strict'
// A throwaway PostgreSQL server for tests and the chaos run: Debian's `postgresql` package binaries,
// a cluster in a temp directory, listening on 127.0.0.1 only, trust auth, removed on stop.
const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

/** The directory holding initdb/pg_ctl, or null when PostgreSQL is not installed. */
function pgBinDir() {
  const root = '/usr/lib/postgresql'
  if (fs.existsSync(root)) {
    const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    versions.sort((a, b) => Number(b) - Number(a))
    if (versions.length) return path.join(root, versions[0], 'bin')
  }
  return null
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function run(cmd, args, asUser) {
  // initdb and postgres refuse to run as root: drop to the package's `postgres` user.
  if (asUser) return execFileSync('runuser', ['-u', asUser, '--', cmd, ...args], { stdio: 'pipe' })
  return execFileSync(cmd, args, { stdio: 'pipe' })
}

/** Starts a cluster; resolves `{ connectionString, stop() }`. */
async function startPostgres() {
  const bin = pgBinDir()
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)')
  const asUser = process.getuid && process.getuid() === 0 ? 'postgres' : null
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-pg-'))
  if (asUser) execFileSync('chown', ['-R', asUser, dir])
  const data = path.join(dir, 'data')
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], asUser)
  const port = await freePort()
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
  run(path.join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start'], asUser)
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    try {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], asUser)
    } catch (_) {
      /* already gone */
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stop)
  return { connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, port, stop }
}

module.exports = { startPostgres, pgBinDir }
