// @ts-check
'use strict'
// Express drop-in for the incumbent Salesforce controller: the same routes, status codes, redirects
// and JSON bodies (README.md has the case-by-case table). Everything else is the core's job;
// this file only reads the request and shapes the answer.

const { pipeline, Readable } = require('node:stream')

const FORMATS = {
  csv: { type: 'text/csv; charset=utf-8', ext: 'csv' },
  ndjson: { type: 'application/x-ndjson; charset=utf-8', ext: 'ndjson' },
}

// Failures of the host's own infrastructure: answered with a fixed message so a store's error text
// (which may name hosts or credentials) never reaches the client; `onError` sees the original.
const SERVER_SIDE = { INTERNAL: 'Internal error', STORE_ERROR: 'Token store unavailable', CONFIG_INVALID: 'Integration misconfigured' }

// Matched by shape rather than `instanceof` so a Forcelink from another copy of the package works too.
/**
 * A ForcelinkError, whichever copy of forcelink made it (a shape check; `instanceof` works too).
 * @param {any} e
 * @returns {e is import('./index').ForcelinkError}
 */
const isForcelinkError = (e) => Boolean(e) && e.name === 'ForcelinkError' && typeof e.code === 'string' && Number.isInteger(e.status)

const fail = (res, status, message, code, extra) =>
  res.status(status).json(code ? { success: false, errno: status, message, code, ...extra } : { success: false, errno: status, message })

// RECONNECT_REQUIRED tells the client why (the host can word its own prompt from it).
const extraOf = (err) => (err.code === 'RECONNECT_REQUIRED' && err.reason ? { reason: err.reason } : undefined)

/** A query parameter that must be one string: `undefined` when absent, `null` when repeated or nested. */
function single(req, name) {
  const v = req.query[name]
  if (v === undefined || typeof v === 'string') return v
  return null
}

/** One cookie's value from the raw `Cookie` header (no cookie-parser needed); the first wins. */
function readCookie(req, name) {
  const header = req.headers && req.headers.cookie
  if (typeof header !== 'string') return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i < 0 || part.slice(0, i).trim() !== name) continue
    let v = part.slice(i + 1).trim()
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1)
    try {
      return decodeURIComponent(v)
    } catch (_) {
      return v
    }
  }
  return undefined
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function badParam(res, name) {
  return fail(res, 400, `invalid input: ${name}: must be a single value`, 'INVALID_INPUT')
}

function createSalesforceController(forcelink, options = {}) {
  if (!forcelink || typeof forcelink.beginLogin !== 'function') {
    throw new TypeError('createSalesforceController: the first argument must be a Forcelink instance')
  }
  const getAuth = options.getAuth || ((req) => req.auth)
  const forwardParam = options.forwardUrlParam || 'forward_url'
  const onError = typeof options.onError === 'function' ? options.onError : null
  // Browser binding (login CSRF): on unless the host opts out, which README explains is unsafe.
  const bindBrowser = options.bindBrowser !== false
  // Over https the default cookie is `__Host-forcelink_oauth` (Secure, Path=/, no Domain), so a
  // sibling subdomain cannot plant one; plain http (local development) keeps `forcelink_oauth`.
  const customName = options.cookieName !== undefined
  const cookieName = customName ? options.cookieName : 'forcelink_oauth'
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    throw new TypeError('createSalesforceController: cookieName must be a cookie name token')
  }
  const forceSecure = options.cookieSecure === true
  const csvFormulaGuard = options.csvFormulaGuard
  const maxPageRecords = options.maxPageRecords === undefined || options.maxPageRecords === null ? null : options.maxPageRecords
  if (maxPageRecords !== null && !(Number.isInteger(maxPageRecords) && maxPageRecords >= 1)) {
    throw new TypeError('maxPageRecords must be a positive whole number')
  }
  if (csvFormulaGuard !== undefined && typeof csvFormulaGuard !== 'boolean') {
    throw new TypeError('createSalesforceController: csvFormulaGuard must be a boolean')
  }
  // The callback route the cookie is scoped to: `<mount>/auth/callback` unless the host, wiring
  // the handlers itself, names it.
  if (options.cookiePath !== undefined && (typeof options.cookiePath !== 'string' || !options.cookiePath.startsWith('/'))) {
    throw new TypeError('createSalesforceController: cookiePath must be a path starting with /')
  }
  // A mount path with parameters comes from the request: anything that could end the attribute
  // (`;`, `,`, spaces, controls) is percent-encoded so it cannot add attributes of its own.
  const callbackPath = (req) =>
    (options.cookiePath || `${req.baseUrl || ''}/auth/callback`).replace(/[^A-Za-z0-9\-._~/%!$&'()*+=:@]/g, (c) => encodeURIComponent(c))
  const ttl = Number.isInteger(forcelink.stateTtlSeconds) ? forcelink.stateTtlSeconds : 3600

  const secureReq = (req) => forceSecure || req.secure === true
  const nameFor = (req) => (customName || !secureReq(req) ? cookieName : '__Host-forcelink_oauth')

  function setBinding(req, res, value, maxAge) {
    const name = nameFor(req)
    // A `__Host-` cookie must be Secure with Path=/ (browsers refuse it otherwise).
    const path = secureReq(req) && name.startsWith('__Host-') ? '/' : callbackPath(req)
    const attrs = [`${name}=${value}`, `Path=${path}`, `Max-Age=${maxAge}`, 'HttpOnly', 'SameSite=Lax']
    if (maxAge === 0) attrs.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT')
    if (secureReq(req)) attrs.push('Secure')
    res.append('Set-Cookie', attrs.join('; '))
  }

  /** `{ accountId, ownerId }` from the host's auth, or null (the incumbent's "Unauthorized User"). */
  function connection(req) {
    const a = getAuth(req)
    if (!a || a.account_id === undefined || a.account_id === null || a.uid === undefined || a.uid === null) return null
    return { accountId: String(a.account_id), ownerId: String(a.uid) }
  }

  /** Answers a ForcelinkError as JSON; anything else is the host's error middleware's business. */
  function answer(err, req, res, next, overrides = {}) {
    if (!isForcelinkError(err)) return next(err)
    if (onError) onError(err, req)
    const o = overrides[err.code]
    if (o) return fail(res, o.status || err.status, o.message || err.message, err.code, extraOf(err))
    return fail(res, err.status, SERVER_SIDE[err.code] || err.message, err.code, extraOf(err))
  }

  // Unhandled rejections must reach `next` in Express 4 too.
  const wrap = (fn) => (req, res, next) => Promise.resolve(fn(req, res, next)).catch(next)

  const getLogin = wrap(async (req, res, next) => {
    const forwardUrl = single(req, forwardParam)
    if (forwardUrl === null) return badParam(res, forwardParam)
    // The incumbent checks forward_url before auth.
    if (forwardUrl === undefined || forwardUrl.trim() === '') return fail(res, 400, 'Please provide forward_url', 'FORWARD_URL_REQUIRED')
    const conn = connection(req)
    if (!conn) return fail(res, 400, 'Unauthorized User')
    try {
      const { redirectUrl, binding } = await forcelink.beginLogin({ ...conn, forwardUrl, bindBrowser })
      if (binding) setBinding(req, res, binding, ttl)
      // The redirect carries the state: no cache may keep it.
      res.set('Cache-Control', 'no-store')
      return res.redirect(302, redirectUrl)
    } catch (err) {
      return answer(err, req, res, next)
    }
  })

  const callback = wrap(async (req, res, next) => {
    // The binding is single-use whatever happens next.
    if (bindBrowser) {
      setBinding(req, res, '', 0)
      res.set('Cache-Control', 'no-store')
    }
    const p = {}
    for (const [key, name] of [['code', 'code'], ['state', 'state'], ['error', 'error'], ['errorDescription', 'error_description']]) {
      const v = single(req, name)
      if (v === null) return badParam(res, name)
      p[key] = v
    }
    if (bindBrowser) p.binding = readCookie(req, nameFor(req))
    // A host that knows its user on the callback too: the flow must be that user's.
    let who
    try {
      who = connection(req)
    } catch (_) {
      who = null
    }
    if (who) Object.assign(p, who)
    try {
      const { redirectUrl } = await forcelink.handleCallback(p)
      return res.redirect(302, redirectUrl)
    } catch (err) {
      // The incumbent's relative redirect when the flow never started.
      if (isForcelinkError(err) && err.code === 'AUTH_NOT_INITIATED') {
        return res.redirect(302, '?status=error&integration=salesforce&reason=Authentication%20not%20initiated')
      }
      return answer(err, req, res, next, { INVALID_STATE: { message: 'Invalid State' } })
    }
  })

  const deleteAccessToken = wrap(async (req, res, next) => {
    const conn = connection(req)
    if (!conn) return fail(res, 400, 'Unauthorized User')
    try {
      const { revoked } = await forcelink.disconnect(conn)
      return res.status(200).json({ success: true, message: 'SUCCESS', revoked })
    } catch (err) {
      return answer(err, req, res, next)
    }
  })

  // The incumbent answers "no stored token" on export with errno 400 and its own wording.
  const exportOverrides = { TOKEN_NOT_FOUND: { status: 400, message: 'Api Token Not Found' } }

  const exportData = wrap(async (req, res, next) => {
    const conn = connection(req)
    if (!conn) return fail(res, 401, 'Unauthorized User')
    const type = req.params.type
    const q = { page: single(req, 'page'), limit: single(req, 'limit'), download: single(req, 'download') }
    for (const k of Object.keys(q)) if (q[k] === null) return badParam(res, k)
    if (q.download !== undefined) return download(req, res, next, conn, type, q.download)
    // The incumbent's parseInt reading: no limit (absent, 0, negative, not a number) means "all".
    const lim = q.limit === undefined ? NaN : parseInt(String(q.limit), 10)
    const noLimit = !(lim >= 1)
    if (maxPageRecords !== null && !noLimit && lim > maxPageRecords) return pageTooLarge(res, lim)
    const pageNo = q.page === undefined ? NaN : parseInt(String(q.page), 10)
    // Only page 1 of a no-limit page holds records: it is streamed, not built whole.
    if (noLimit && !(pageNo > 1) && typeof forcelink.exportStream === 'function') return streamPage(req, res, next, conn, type, q)
    try {
      const args = { ...conn, type, page: q.page, limit: q.limit }
      if (typeof forcelink.exportPageJson !== 'function') {
        const { data, pagination } = await forcelink.exportPage(args)
        return res.status(200).json({ success: true, message: 'SUCCESS', data, pagination })
      }
      // The page arrives as JSON text and is sent as is: the records never become objects here.
      const body = await forcelink.exportPageJson(args)
      return res.status(200).type('application/json').send(`{"success":true,"message":"SUCCESS",${body.slice(1)}`)
    } catch (err) {
      return answer(err, req, res, next, exportOverrides)
    }
  })

  function pageTooLarge(res, n) {
    return fail(res, 400, `A page may hold at most ${maxPageRecords} records (this one: ${n}); pass a smaller limit`, 'PAGE_TOO_LARGE')
  }

  /** The no-limit page (every record), written as batches arrive so memory does not grow with the
   *  org. The records come as one JSON array in bytes (`exportStream` format `json`), never as JS
   *  strings, and the body is a byte stream, so the next batch is asked for only when the socket
   *  has taken the previous one (backpressure reaches the export's read-ahead). The envelope opens
   *  once the first batch is in (its query reports the total, from which the pagination is
   *  computed) and closes with the pagination. An error before the first byte is a JSON answer;
   *  after it, the connection is cut as downloads do. */
  async function streamPage(req, res, next, conn, type, q) {
    let total = null
    let batches
    let first
    try {
      const stream = forcelink.exportStream({ ...conn, type, format: 'json', onProgress: (p) => (total = p.total) })
      batches = stream[Symbol.asyncIterator]()
      first = await batches.next() // an iterator error destroys the stream (and its cursor) itself
    } catch (err) {
      return answer(err, req, res, next, exportOverrides)
    }
    total = Number(total ?? 0)
    if (maxPageRecords !== null && total > maxPageRecords) {
      if (!first.done) await batches.return()
      return pageTooLarge(res, total)
    }
    const pagination = require('./index.js').paginate(total, q.page, q.limit)
    res.status(200).type('application/json')
    const rest = { [Symbol.asyncIterator]: () => batches }
    // `yield*` forwards return(): a client that goes away closes the cursor, so no further requests.
    const body = Readable.from((async function* () {
      yield '{"success":true,"message":"SUCCESS","data":'
      if (!first.done) {
        yield first.value
        yield* rest
      } else {
        yield '[]'
      }
      // Past the last page, the incumbent answers an empty list.
      yield `,"pagination":${JSON.stringify(pagination)}}`
    })(), { objectMode: false })
    pipeline(body, res, (err) => {
      if (err && onError && isForcelinkError(err)) onError(err, req)
    })
  }

  /** `?download=csv|ndjson`: every record, streamed. Headers wait for the first batch so an error
   *  before any data is still a JSON answer, and so `X-Total-Count` can carry the org's total. */
  async function download(req, res, next, conn, type, format) {
    const fmt = Object.prototype.hasOwnProperty.call(FORMATS, format) ? FORMATS[format] : null
    if (!fmt) return fail(res, 400, 'invalid input: download: must be "csv" or "ndjson"', 'INVALID_INPUT')
    // HEAD (a link checker, a download manager probing): the headers a GET would send, without
    // running the export (which would cost Salesforce API calls or a Bulk job).
    if (req.method === 'HEAD') {
      res.status(200).set({
        'Content-Type': fmt.type,
        'Content-Disposition': `attachment; filename="${String(type).replace(/[^\w.-]/g, '_')}.${fmt.ext}"`,
        'Cache-Control': 'no-store',
      })
      res.append('Access-Control-Expose-Headers', 'X-Total-Count, Content-Disposition')
      return res.end()
    }
    let total = null
    let batches
    let first
    try {
      const opts = { ...conn, type, format, onProgress: (p) => (total = p.total) }
      if (csvFormulaGuard !== undefined) opts.csvFormulaGuard = csvFormulaGuard
      const stream = forcelink.exportStream(opts)
      batches = stream[Symbol.asyncIterator]()
      first = await batches.next() // an iterator error destroys the stream (and its cursor) itself
    } catch (err) {
      return answer(err, req, res, next, exportOverrides)
    }
    res.status(200)
    res.set({
      'Content-Type': fmt.type,
      'Content-Disposition': `attachment; filename="${String(type).replace(/[^\w.-]/g, '_')}.${fmt.ext}"`,
      'Cache-Control': 'no-store',
      'X-Total-Count': String(total ?? 0),
    })
    // Appended, not set: a host's CORS middleware may already expose headers of its own.
    res.append('Access-Control-Expose-Headers', 'X-Total-Count, Content-Disposition')
    if (first.done) return res.end()
    const rest = { [Symbol.asyncIterator]: () => batches }
    // `yield*` forwards return(): a client that goes away closes the cursor, so no further requests.
    const body = Readable.from((async function* () {
      yield first.value
      yield* rest
    })())
    // A failure after the headers cannot change the status: the connection is cut instead, so the
    // client sees a failed download rather than a truncated file that looks whole.
    pipeline(body, res, (err) => {
      if (err && onError && isForcelinkError(err)) onError(err, req)
    })
  }

  return { getLogin, callback, deleteAccessToken, exportData }
}

function salesforceRouter(forcelink, options = {}) {
  // Lazily, so Express stays an optional peer and the host can hand in its own copy (4 or 5).
  const express = options.express || require('express')
  const c = createSalesforceController(forcelink, options)
  const router = express.Router()
  router.get('/auth/login', c.getLogin)
  router.get('/auth/callback', c.callback)
  router.delete('/auth', c.deleteAccessToken) // non-strict routing: `/auth/` matches too
  router.get('/export/:type', c.exportData)
  return router
}

module.exports = { createSalesforceController, salesforceRouter }
