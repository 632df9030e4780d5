'use strict'
// Issue 15: errors cross from Rust as data (no JSON hidden in a message), ForcelinkError keeps its
// cause the standard way, and `instanceof ForcelinkError` holds across two copies of the package.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Forcelink, ForcelinkError } = require('..')

const good = {
  clientId: 'cid',
  clientSecret: 'super-secret-client-value',
  redirectUri: 'https://app.example.com/cb',
  stateSecret: 'x'.repeat(32),
}

const caught = async (fn) => {
  try {
    await fn()
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

test('a core error arrives as properties: code, status, field; the message carries no marker or JSON', async () => {
  const fl = new Forcelink(good)
  const e = await caught(() => fl.exportAll({ accountId: 'a', ownerId: 'o', type: 'contacts', parallelism: 0 }).next())
  expect(e).toBeInstanceOf(ForcelinkError)
  expect(e).toMatchObject({ name: 'ForcelinkError', code: 'INVALID_INPUT', status: 400, field: 'parallelism' })
  expect(e.message).toBe('invalid input: parallelism: must be a whole number from 1 to 10')
  expect(e.message).not.toContain('\u0001')
  expect(e.message).not.toContain('{')
  const c = await caught(() => new Forcelink({ ...good, clientSecrett: 'typo' }))
  expect(c).toMatchObject({ code: 'CONFIG_INVALID', status: 500, field: 'clientSecrett' })
  expect(c.message).toBe('invalid configuration: clientSecrett: is not a forcelink option')
  await fl.close()
})

test('ForcelinkError takes its cause as Error does ({ cause } to super)', () => {
  const cause = new Error('db down')
  const e = new ForcelinkError({ code: 'STORE_ERROR', status: 500, message: 'store failed' }, { cause })
  expect(e.cause).toBe(cause)
  expect(Object.getOwnPropertyDescriptor(e, 'cause')).toMatchObject({ value: cause, enumerable: false })
  expect(new ForcelinkError({ code: 'INTERNAL', status: 500, message: 'x' })).not.toHaveProperty('cause')
})

test('a look-alike object is not a ForcelinkError', () => {
  expect({ code: 'INVALID_INPUT', status: 400, message: 'x', name: 'ForcelinkError' } instanceof ForcelinkError).toBe(false)
  expect(new Error('x') instanceof ForcelinkError).toBe(false)
  expect(null instanceof ForcelinkError).toBe(false)
})

test('instanceof ForcelinkError holds across two loaded copies of the module', () => {
  let other
  jest.isolateModules(() => {
    other = require('..')
  })
  expect(other.ForcelinkError).not.toBe(ForcelinkError)
  const mine = new ForcelinkError({ code: 'TOKEN_NOT_FOUND', status: 404, message: 'Access Token Not Found' })
  const theirs = new other.ForcelinkError({ code: 'TOKEN_NOT_FOUND', status: 404, message: 'Access Token Not Found' })
  expect(theirs instanceof ForcelinkError).toBe(true)
  expect(mine instanceof other.ForcelinkError).toBe(true)
  expect(theirs instanceof Error).toBe(true)
})

test('instanceof ForcelinkError holds across two installed copies (the JS at another path)', () => {
  // A second copy of the package's JS at another path, as a duplicate install would have it.
  const root = path.join(__dirname, '..')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-copy-'))
  try {
    fs.copyFileSync(path.join(root, 'index.js'), path.join(dir, 'index.js'))
    // The copy loads the same native binding.
    fs.writeFileSync(path.join(dir, 'binding.js'), `module.exports = require(${JSON.stringify(path.join(root, 'binding.js'))})\n`)
    const copy = require(path.join(dir, 'index.js'))
    expect(copy.ForcelinkError).not.toBe(ForcelinkError)
    const e = new copy.ForcelinkError({ code: 'CLOSED', status: 503, message: 'this Forcelink was closed' })
    expect(e instanceof ForcelinkError).toBe(true)
    expect(new ForcelinkError({ code: 'CLOSED', status: 503, message: 'x' }) instanceof copy.ForcelinkError).toBe(true)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('exportStream: a format of any other type is INVALID_INPUT naming format, its value not echoed', async () => {
  const fl = new Forcelink(good)
  for (const format of [5, null, {}, 'xml']) {
    const stream = fl.exportStream({ accountId: 'a', ownerId: 'o', type: 'contacts', format })
    const e = await new Promise((resolve) => stream.on('error', resolve).resume())
    expect(e).toMatchObject({ code: 'INVALID_INPUT', status: 400, field: 'format', message: 'invalid input: format: must be "csv", "ndjson" or "json"' })
  }
  await fl.close()
})

describe('the panic hook', () => {
  const { spawnSync } = require('node:child_process')
  const script = `
    const { Forcelink } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const fl = new Forcelink(${JSON.stringify({ ...good, storePath: require('./helpers').tmpDb('panic-hook') })})
    try { fl.__panicForTest('boom-for-the-hook') } catch (e) { console.log(e.code) }
  `
  const run = (backtrace) => {
    const env = { ...process.env }
    delete env.RUST_BACKTRACE
    if (backtrace !== undefined) env.RUST_BACKTRACE = backtrace
    return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env })
  }

  test('writes nothing to stderr by default: the panic is an INTERNAL error', () => {
    for (const r of [run(undefined), run('0')]) {
      expect(r.stdout.trim()).toBe('INTERNAL')
      expect(r.stderr).toBe('')
    }
  })

  test('chains to the previous (default) hook when RUST_BACKTRACE is set', () => {
    const r = run('1')
    expect(r.stdout.trim()).toBe('INTERNAL')
    expect(r.stderr).toContain('boom-for-the-hook')
    expect(r.stderr).toMatch(/panicked at/)
  })
})
