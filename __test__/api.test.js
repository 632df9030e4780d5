'use strict'
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Forcelink, ForcelinkError, paginate } = require('..')
const { tmpDb } = require('./helpers')

const good = {
  clientId: 'cid',
  clientSecret: 'super-secret-client-value',
  redirectUri: 'https://app.example.com/cb',
  stateSecret: 'x'.repeat(32),
}

function configError(cfg) {
  try {
    new Forcelink(cfg)
  } catch (e) {
    return e
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('configuration', () => {
  test.each([
    ['clientId', { clientId: undefined }],
    ['clientSecret', { clientSecret: '' }],
    ['redirectUri', { redirectUri: 'not a url' }],
    ['stateSecret', { stateSecret: 'too-short' }],
    ['loginUrl', { loginUrl: 'http://login.salesforce.com' }],
    ['loginUrl', { loginUrl: 'ftp://x' }],
    ['apiVersion', { apiVersion: '62' }],
    ['scopes', { scopes: [] }],
    ['stateTtlSeconds', { stateTtlSeconds: 'soon' }],
    ['httpTimeoutMs', { httpTimeoutMs: 0 }],
    ['allowedForwardOrigins', { allowedForwardOrigins: ['not an origin'] }],
    ['encryptionKey', { encryptionKey: 'short' }],
    ['exportTypes.bad', { exportTypes: { bad: { object: 'Contact; DROP', fields: ['Name'] } } }],
    ['exportTypes.leads', { exportTypes: { leads: { object: 'Lead', fields: ['Name FROM User'] } } }],
    ['clientSecrett', { clientSecrett: 'typo' }],
  ])('%s is named when invalid', (field, patch) => {
    const e = configError({ ...good, ...patch })
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field })
    expect(e.message).toContain(field)
    expect(e.message).not.toContain('super-secret-client-value')
    expect(Object.prototype.toString.call(e)).toBe('[object Error]')
    expect(e).toBeInstanceOf(Error)
    expect(e).toBeInstanceOf(ForcelinkError)
  })

  test('a non-object config', () => {
    expect(configError(null)).toMatchObject({ code: 'CONFIG_INVALID' })
  })

  test('defaults and accepted login hosts', () => {
    for (const loginUrl of ['https://test.salesforce.com', 'https://acme.my.salesforce.com', 'http://127.0.0.1:1234', undefined]) {
      expect(() => new Forcelink({ ...good, loginUrl, storePath: tmpDb('cfg') })).not.toThrow()
    }
  })

  test('a 32-byte encryption key in hex or base64', () => {
    expect(() => new Forcelink({ ...good, storePath: tmpDb('k'), encryptionKey: 'ab'.repeat(32) })).not.toThrow()
    expect(() => new Forcelink({ ...good, storePath: tmpDb('k'), encryptionKey: Buffer.alloc(32, 7).toString('base64') })).not.toThrow()
  })
})

test('a Rust panic becomes an INTERNAL error and never aborts node', async () => {
  const fl = new Forcelink({ ...good, storePath: tmpDb('panic') })
  expect(() => fl.__panicForTest('sync boom')).toThrow(expect.objectContaining({ code: 'INTERNAL', status: 500 }))
  await expect(fl.__panicForTest('async boom', true)).rejects.toMatchObject({ code: 'INTERNAL' })
  // Still alive and working.
  await expect(fl.beginLogin({ accountId: 'a', ownerId: 'b', forwardUrl: '/x' })).resolves.toHaveProperty('redirectUrl')
})

test('paginate is the incumbent formula with NaN-free edges', () => {
  expect(paginate(1500, 1, 100)).toEqual({ page: 1, per_page: 100, total: 1500, total_pages: 15, next_page: 2, prev_page: null, offsetValue: 0 })
  expect(paginate(0, 1)).toEqual({ page: 1, per_page: 0, total: 0, total_pages: 0, next_page: null, prev_page: null, offsetValue: 0 })
  expect(paginate(10, 'abc', 'xyz').per_page).toBe(10)
  expect(paginate(10, -5, 3).page).toBe(1)
  expect(paginate(NaN, 2, 3).total).toBe(0)
})

test('ESM import and TypeScript types resolve', () => {
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "import { Forcelink, paginate } from 'forcelink'; import d from 'forcelink'; console.log(typeof Forcelink, typeof paginate, typeof d.Forcelink)"],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8' },
  )
  expect(out.trim()).toBe('function function function')
})
