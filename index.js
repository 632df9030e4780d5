// @ts-check
'use strict'
// The public JS surface: a thin layer over the native binding that turns arguments into JSON,
// results back into objects, and native failures into `ForcelinkError`s with `.code`/`.status`.

const { EventEmitter } = require('node:events')
const { Readable } = require('node:stream')
const native = loadNative()

// The platform package npm should have installed beside this one (napi-rs naming).
function platformPackage() {
  const { platform, arch } = process
  let abi = ''
  if (platform === 'linux') {
    /** @type {any} */
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    abi = report && report.header && report.header.glibcVersionRuntime ? '-gnu' : '-musl'
  } else if (platform === 'win32') {
    abi = '-msvc'
  }
  return `forcelink-${platform}-${arch}${abi}`
}

function loadNative() {
  try {
    return require('./binding.js')
  } catch (cause) {
    const pkg = platformPackage()
    const err = Object.assign(new Error(
      `forcelink: no native binary for this platform (${process.platform}-${process.arch}, Node ${process.version}). ` +
        `It looked for the optional package "${pkg}" (and a local forcelink.*.node file). ` +
        `If that platform is published, reinstall without --omit=optional / --no-optional (a lockfile made ` +
        `on another platform may need a fresh "npm install"); otherwise build from source: ` +
        `install Rust (https://rustup.rs), then run "npm run build" in the forcelink package folder.`,
      ),
      { code: 'FORCELINK_BINARY_MISSING', cause },
    )
    throw err
  }
}

// Brands a ForcelinkError, so `instanceof` holds across two installed copies of the package.
const kForcelinkError = Symbol.for('forcelink.error')

class ForcelinkError extends Error {
  /**
   * @param {import('./index').ForcelinkErrorInit | string} [init]
   * @param {{ cause?: unknown }} [options]
   */
  constructor(init, options) {
    // `new ForcelinkError('message')` is not the typed form, but must not yield an error with no code.
    /** @type {Partial<import('./index').ForcelinkErrorInit>} */
    const info = init !== null && typeof init === 'object' ? init : { message: init === undefined ? '' : String(init) }
    super(info.message, options !== null && typeof options === 'object' && 'cause' in options ? { cause: options.cause } : undefined)
    this.name = 'ForcelinkError'
    /** @type {import('./index').ErrorCode} */
    this.code = info.code || 'INTERNAL'
    this.status = Number.isInteger(info.status) ? info.status : 500
    if (info.salesforceCode) this.salesforceCode = info.salesforceCode
    if (info.fields) this.fields = info.fields
    if (info.field) this.field = info.field
    // RECONNECT_REQUIRED: why, and ms since the last grant (null when unknown).
    if (this.code === 'RECONNECT_REQUIRED') {
      this.reason = info.reason || 'other'
      this.idleMs = Number.isFinite(info.idleMs) ? info.idleMs : null
    }
    // UNSUPPORTED: the store method missing.
    if (info.method) this.method = info.method
  }

  get [kForcelinkError]() {
    return true
  }

  /** @param {unknown} value */
  static [Symbol.hasInstance](value) {
    return value !== null && (typeof value === 'object' || typeof value === 'function') && /** @type {any} */ (value)[kForcelinkError] === true
  }
}

// The host store's own errors, by message (bounded), so a STORE_ERROR can carry the original
// (its stack intact) as `cause`.
const recentStoreErrors = new Map()
const MAX_RECENT_STORE_ERRORS = 64

function rememberStoreError(message, err) {
  recentStoreErrors.delete(message)
  recentStoreErrors.set(message, err)
  if (recentStoreErrors.size > MAX_RECENT_STORE_ERRORS) recentStoreErrors.delete(recentStoreErrors.keys().next().value)
}

function storeCause(message) {
  let found
  for (const [m, err] of recentStoreErrors) if (m && message.includes(m)) found = err
  return found
}

// A core error arrives as data: a native Error with `code`, `status` and, when they apply,
// `field`, `salesforceCode` and `fields` as properties. Anything else from native code is a
// contained panic or a binding failure.
function convert(e) {
  if (e instanceof ForcelinkError) return e
  if (e !== null && typeof e === 'object' && typeof e.code === 'string' && Number.isInteger(e.status)) {
    const info = { code: e.code, status: e.status, message: e.message, field: e.field, salesforceCode: e.salesforceCode, fields: e.fields, reason: e.reason, idleMs: e.idleMs, method: e.method }
    const cause = info.code === 'STORE_ERROR' ? storeCause(e.message) : undefined
    return new ForcelinkError(info, cause === undefined ? undefined : { cause })
  }
  const msg = e && typeof e.message === 'string' ? e.message : String(e)
  return new ForcelinkError({ code: 'INTERNAL', status: 500, message: `internal error: ${msg}` }, { cause: e })
}

function configError(field, reason) {
  return new ForcelinkError({ code: 'CONFIG_INVALID', status: 500, field, message: `invalid configuration: ${field}: ${reason}` })
}

function closedError() {
  return new ForcelinkError({ code: 'CLOSED', status: 503, message: 'this Forcelink was closed' })
}

function cancelledError(signal) {
  return new ForcelinkError({ code: 'CANCELLED', status: 499, message: 'the call was cancelled' }, { cause: signal.reason })
}

function checkSignal(signal) {
  if (signal === undefined || signal === null) return undefined
  if (typeof signal !== 'object' || typeof signal.addEventListener !== 'function' || typeof signal.aborted !== 'boolean') {
    throw inputError('signal', 'must be an AbortSignal')
  }
  return signal
}

// A CANCELLED from an aborted export carries the signal's reason.
function withReason(err, signal) {
  if (err && err.code === 'CANCELLED' && signal && signal.aborted && err.cause === undefined) return new ForcelinkError(err, { cause: signal.reason })
  return err
}

function inputError(field, reason) {
  return new ForcelinkError({ code: 'INVALID_INPUT', status: 400, field, message: `invalid input: ${field}: ${reason}` })
}

const REQUIRED_STORE_METHODS = ['find', 'save', 'delete']
const OPTIONAL_STORE_METHODS = ['acquireLease', 'renewLease', 'releaseLease', 'consumeNonce', 'listConnections']
const UNSUPPORTED = '{"ok":true,"unsupported":true}'

// Wraps a host TokenStore as one function native code calls: it never rejects, so a store that
// throws, rejects or returns junk becomes a STORE_ERROR instead of an uncaught exception.
function bridgeStore(store) {
  for (const m of REQUIRED_STORE_METHODS) {
    if (typeof store[m] !== 'function') throw configError('store', `store.${m} must be a function`)
  }
  return async (/** @type {string} */ op, /** @type {unknown[]} */ args) => {
    // Which optional methods exist (asked once by native code).
    if (op === '__methods') return JSON.stringify({ ok: true, value: OPTIONAL_STORE_METHODS.filter((m) => typeof store[m] === 'function') })
    const fn = store[op]
    if (typeof fn !== 'function') {
      if (OPTIONAL_STORE_METHODS.includes(op)) return UNSUPPORTED
      return JSON.stringify({ ok: false, message: `store.${op} is not a function` })
    }
    try {
      let value = await fn.apply(store, args)
      if (value && typeof value.toObject === 'function') value = value.toObject() // mongoose documents
      return JSON.stringify({ ok: true, value: value === undefined ? null : value })
    } catch (/** @type {any} */ err) {
      const message = err && err.message ? err.message : String(err)
      rememberStoreError(message, err)
      return JSON.stringify({ ok: false, message })
    }
  }
}

// An AbortSignal cancels the export, even while a call is in flight (a Bulk job being polled).
function watchSignal(signal, cursor) {
  if (!signal) return () => {}
  if (typeof signal.addEventListener !== 'function') throw inputError('signal', 'must be an AbortSignal')
  const onAbort = () => cursor.close()
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  return () => signal.removeEventListener('abort', onAbort)
}

const kindOf = (v) => (Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : `a ${typeof v}`)

/**
 * A native result as a plain object with only the keys that have a value (as JSON gave them).
 * @template T
 * @param {T} v
 * @returns {T}
 */
function plain(v) {
  if (v === null || v === undefined) return /** @type {T} */ (null)
  /** @type {any} */
  const out = {}
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = x
  return out
}

/**
 * `{ fetched, total, engine, jobId? }`, `total` null until known.
 * @param {import('./binding').ExportProgress} p
 */
/** A call's `fields`: `'all'` or an array of names (anything else is INVALID_INPUT naming `fields`). */
function fieldsOption(f) {
  if (f === undefined || f === null) return undefined
  if (f === 'all') return 'all'
  if (Array.isArray(f) && f.length > 0 && f.every((x) => typeof x === 'string')) return f
  throw inputError('fields', "must be 'all' or a non-empty array of field names")
}

function progressOf(p) {
  /** @type {{ fetched: number, total: number | null, engine: import('./binding').ExportEngine, jobId?: string, fields?: string[] }} */
  const out = { fetched: p.fetched, total: p.total ?? null, engine: p.engine }
  if (p.jobId !== undefined && p.jobId !== null) out.jobId = p.jobId
  if (p.fields !== undefined && p.fields !== null) out.fields = p.fields
  return out
}

/**
 * A number option as JSON carried it: absent when not a finite number (JSON writes NaN as null).
 * @param {unknown} v
 */
const num = (v) => {
  if (v === undefined || v === null) return undefined
  const n = Number(v)
  return Number.isFinite(n) ? n : undefined
}

const str = (v) => (v === undefined || v === null ? undefined : String(v))

/**
 * The connection a call names, as given (Rust's `ConnKey` checks it: a user's accountId + ownerId
 * or a server flow's connectionId).
 * @param {any} opts
 * @returns {import('./binding').ConnArgs}
 */
function conn(opts) {
  if (!opts || typeof opts !== 'object') throw inputError('options', 'must be an object')
  return { accountId: str(opts.accountId), ownerId: str(opts.ownerId), connectionId: str(opts.connectionId) }
}

/**
 * Awaits a native call, turning its failure into a ForcelinkError.
 * @template T
 * @param {() => Promise<T>} promiseFn
 * @returns {Promise<T>}
 */
async function call(promiseFn) {
  try {
    return await promiseFn()
  } catch (e) {
    throw convert(e)
  }
}

// Options travel to Rust as JSON: a value JSON would drop or mangle (a function, a Date, NaN, a
// Map, …) is a mistake the host should hear about, not a silent default.
function checkJson(v, field) {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw configError(field, 'must be a finite number')
    return
  }
  if (v === undefined) return
  if (typeof v !== 'object') throw configError(field, `must be JSON data, not ${kindOf(v)}`)
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (x === undefined) throw configError(`${field}[${i}]`, 'must not be undefined')
      checkJson(x, `${field}[${i}]`)
    })
    return
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) throw configError(field, `must be a plain object, not ${v.constructor ? v.constructor.name : 'an object'}`)
  for (const [k, x] of Object.entries(v)) checkJson(x, field ? `${field}.${k}` : k)
}

const LOG_METHODS = ['debug', 'info', 'warn', 'error']
const EVENT_NAMES = ['refresh', 'reconnectRequired', 'retry', 'rateLimited', 'apiUsage', 'storeError', 'bulkJob', 'schemaChange', 'verifyMismatch', 'changeStream']

function who(e) {
  const c = e.connection
  if (!c) return ''
  return c.connectionId !== undefined ? ` connection ${c.connectionId}` : ` account ${c.accountId} owner ${c.ownerId}`
}

// One structured line per event: [level, message]. Events carry no token, code or secret.
function logLine(name, e) {
  const org = e.orgId ? ` org ${e.orgId}` : ''
  switch (name) {
    case 'refresh':
      return ['info', `forcelink: access token refreshed${e.rotated ? ' (refresh token rotated)' : ''}${who(e)}${org} in ${e.durationMs} ms`]
    case 'reconnectRequired':
      return ['warn', `forcelink: refresh token refused (${e.reason}${e.idleMs === null || e.idleMs === undefined ? '' : `, idle ${Math.round(e.idleMs / 86_400_000)} days`}), reconnect required${who(e)}${org}`]
    case 'retry':
      return ['warn', `forcelink: retrying after ${e.status ? `HTTP ${e.status}` : e.reason} (attempt ${e.attempt}, in ${e.delayMs} ms)${who(e)}${org}`]
    case 'rateLimited':
      return ['warn', `forcelink: Salesforce API limit reached (REQUEST_LIMIT_EXCEEDED)${who(e)}${org}`]
    case 'apiUsage':
      return ['debug', `forcelink: API usage ${e.used}/${e.max}${who(e)}${org}`]
    case 'storeError':
      return ['error', `forcelink: token store ${e.op} ${e.timedOut ? 'timed out' : 'failed'}`]
    case 'bulkJob':
      return ['info', `forcelink: Bulk job ${e.jobId} ${e.state}${who(e)}${org}`]
    case 'verifyMismatch':
      return ['warn', `forcelink: ${e.type} window ${e.from}..${e.to} counts ${e.expected} records, ${e.received} read after a re-read${who(e)}${org}`]
    case 'changeStream':
      return [e.kind === 'subscribed' ? 'info' : 'warn', `forcelink: ${e.type} change stream ${e.kind}${e.reason ? ` (${e.reason})` : ''}${e.recordIds ? ` (${e.recordIds.length} records re-read)` : ''}${who(e)}${org}`]
    case 'schemaChange':
      return ['info', `forcelink: ${e.type} fields changed (added ${(e.added || []).join(', ') || 'none'}; removed ${(e.removed || []).join(', ') || 'none'})${who(e)}${org}`]
    default:
      return ['debug', `forcelink: ${name}`]
  }
}

class Forcelink extends EventEmitter {
  #n
  #csvFormulaGuard = true
  #stateTtlSeconds = 3600
  /** @type {any} */
  #logger = null
  #closed = false
  /** @type {Promise<void> | null} */
  #closing = null
  /** @type {ReturnType<typeof setInterval> | null} */
  #keepAlive = null
  #inflight = new Set()
  #cursors = new Set()
  #sweeps = new Set()

  constructor(config) {
    super()
    if (!config || typeof config !== 'object') throw configError('config', 'must be an object')
    const { store, csvFormulaGuard, logger, ...rest } = config
    if (logger !== undefined && logger !== null) {
      if (typeof logger !== 'object' && typeof logger !== 'function') throw configError('logger', `must be an object with ${LOG_METHODS.join('/')} methods`)
      for (const m of LOG_METHODS) if (typeof logger[m] !== 'function') throw configError('logger', `logger.${m} must be a function`)
      this.#logger = logger
    }
    checkJson(rest, '')
    if (csvFormulaGuard !== undefined && csvFormulaGuard !== null) {
      if (typeof csvFormulaGuard !== 'boolean') throw configError('csvFormulaGuard', `must be a boolean, not ${kindOf(csvFormulaGuard)}`)
      this.#csvFormulaGuard = csvFormulaGuard
    }
    if (Number.isInteger(rest.stateTtlSeconds)) this.#stateTtlSeconds = rest.stateTtlSeconds
    if (store !== undefined && store !== null && typeof store !== 'object') throw configError('store', 'must be an object')
    try {
      this.#n = new native.NativeForcelink(JSON.stringify(rest), store ? bridgeStore(store) : undefined, (e) => this.#onEvent(e))
    } catch (e) {
      throw convert(e)
    }
  }

  // Called by native code (through a threadsafe function) for every event: logs it, then hands
  // it to each listener. Nothing here may throw back into native code or break a call.
  #onEvent(/** @type {Record<string, any>} */ e) {
    if (e === null || typeof e !== 'object') return
    const name = e.event
    delete e.event
    if (this.#logger) {
      try {
        const [level, msg] = logLine(name, e)
        this.#logger[level]({ ...e, event: name, msg })
      } catch (_) {
        /* a broken logger never breaks a call */
      }
    }
    for (const l of this.rawListeners(name)) {
      try {
        l.call(this, e)
      } catch (_) {
        /* a throwing listener never breaks a call */
      }
    }
  }

  // Every async method runs through here: refused once closed, tracked until settled (so
  // close() can wait for it), and cancelled by `opts.signal`.
  #guard(opts, fn) {
    if (this.#closed) return Promise.reject(closedError())
    let signal
    try {
      signal = checkSignal(opts && typeof opts === 'object' ? opts.signal : undefined)
    } catch (e) {
      return Promise.reject(e)
    }
    if (signal && signal.aborted) return Promise.reject(cancelledError(signal))
    const inner = Promise.resolve().then(fn)
    this.#inflight.add(inner)
    const done = () => {
      this.#inflight.delete(inner)
      this.#holdWhileBusy()
    }
    inner.then(done, done)
    if (!signal) return inner
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(cancelledError(signal))
      signal.addEventListener('abort', onAbort, { once: true })
      inner.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  static {
    for (const m of ['beginLogin', 'handleCallback', 'disconnect', 'getAccessToken', 'query', 'queryMore', 'exportPage', 'exportPageJson', 'createRecord', 'updateRecord', 'describe']) {
      const orig = this.prototype[m]
      Object.defineProperty(this.prototype, m, {
        value: function (opts) {
          return this.#guard(opts, () => orig.call(this, opts))
        },
        writable: true,
        configurable: true,
      })
    }
  }

  /**
   * Reads a native cursor to its end as an async generator: tracked for close() and stopped by
   * `signal` from now on, closed however the reading ends.
   */
  #drain(cursor, signal, read) {
    const untrack = this.#track(cursor)
    const stop = watchSignal(signal, cursor)
    return (async function* () {
      try {
        for (;;) {
          let item
          try {
            item = await read(cursor)
          } catch (e) {
            throw withReason(convert(e), signal)
          }
          if (item === null) return
          yield item
        }
      } finally {
        stop()
        untrack()
        cursor.close()
      }
    })()
  }

  #track(cursor) {
    if (this.#closed) {
      cursor.close()
      throw closedError()
    }
    this.#cursors.add(cursor)
    return () => {
      this.#cursors.delete(cursor)
      this.#holdWhileBusy()
    }
  }

  // A refresh can outlive the call that started it, and a rotated token may wait for its save:
  // Node must not exit under them (a lost rotated token loses the connection). A referenced
  // timer keeps the process alive while the core reports either.
  #holdWhileBusy() {
    if (this.#keepAlive) return
    let busy = false
    try {
      busy = this.#n.busy()
    } catch (_) {
      /* never breaks a call */
    }
    if (!busy) return
    this.#keepAlive = setInterval(() => {
      let still = false
      try {
        still = this.#n.busy()
      } catch (_) {
        /* stop holding */
      }
      if (!still) this.#releaseKeepAlive()
    }, 50)
  }

  #releaseKeepAlive() {
    if (this.#keepAlive) clearInterval(this.#keepAlive)
    this.#keepAlive = null
  }

  /**
   * Refuses later calls with `CLOSED`, cancels running exports and syncs, waits for the calls in
   * flight, then (bounded by `closeTimeoutMs`) for every refresh in flight, including those
   * started by export and sync cursors, and for the saves of rotated tokens not saved yet; only
   * then closes the embedded store. Rejects with STORE_ERROR naming the connections whose rotated
   * token could not be saved (each also reported as a `storeError` event). Idempotent.
   */
  close() {
    if (!this.#closing) {
      this.#closed = true
      this.#closing = this.#shutdown()
    }
    return this.#closing
  }

  async #shutdown() {
    for (const c of this.#cursors) c.close()
    // A keepAlive sweep starts no further refresh; the ones under way finish (awaited below).
    for (const s of this.#sweeps) s.cancel()
    await Promise.allSettled([...this.#inflight])
    /** @type {Array<Record<string, string>>} */
    let unsaved = []
    try {
      unsaved = await this.#n.drain()
    } catch (_) {
      /* draining never fails */
    }
    try {
      this.#n.close()
    } catch (_) {
      /* closing never fails */
    }
    // Then the embedded store's SQLite connection (a host's store is the host's to close).
    await this.#n.closeStore()
    this.#releaseKeepAlive()
    if (unsaved.length > 0) {
      const names = unsaved.map((c) => (c.connectionId ? `connection ${c.connectionId}` : `account ${c.accountId} / owner ${c.ownerId}`))
      const err = new ForcelinkError({
        code: 'STORE_ERROR',
        status: 500,
        message: `close(): the refreshed token of ${names.join(', ')} could not be saved within closeTimeoutMs; ${unsaved.length === 1 ? 'that connection' : 'those connections'} may need to be connected again`,
      })
      Object.defineProperty(err, 'connections', { value: unsaved, enumerable: true })
      throw err
    }
  }

  /** `await using fl = new Forcelink(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose || Symbol.for('nodejs.asyncDispose')]() {
    return this.close()
  }

  /** Whether `close()` was called. */
  get closed() {
    return this.#closed
  }

  /** How long a login state (and its browser binding) lives, in seconds. */
  get stateTtlSeconds() {
    return this.#stateTtlSeconds
  }

  /**
   * Starts the connect flow: `{ redirectUrl, alreadyConnected, binding? }`. Give `binding` to the
   * browser that starts the flow (the Express router sets it as a cookie) and pass it back to
   * `handleCallback`. `bindBrowser: false` issues no binding (unsafe: login CSRF, see README).
   */
  async beginLogin(opts) {
    /** @type {import('./binding').LoginArgs} */
    const args = { conn: conn(opts), forwardUrl: str(opts.forwardUrl) }
    if (opts.bindBrowser !== undefined) {
      if (typeof opts.bindBrowser !== 'boolean') throw inputError('bindBrowser', 'must be a boolean')
      args.bindBrowser = opts.bindBrowser
    }
    return plain(await call(() => this.#n.beginLogin(args)))
  }

  /**
   * Finishes the flow: `{ redirectUrl }`. `binding`: the value `beginLogin` returned, as the
   * browser sent it back; `accountId`/`ownerId`: the host's user on this request, when known.
   */
  async handleCallback(opts) {
    if (!opts || typeof opts !== 'object') throw inputError('options', 'must be an object')
    /** @type {import('./binding').CallbackArgs} */
    const args = {
      code: str(opts.code),
      state: str(opts.state),
      error: str(opts.error),
      errorDescription: str(opts.errorDescription),
      binding: str(opts.binding),
      // The host's user on the callback request: Rust uses it when both ids are given.
      accountId: str(opts.accountId),
      ownerId: str(opts.ownerId),
    }
    return plain(await call(() => this.#n.handleCallback(args)))
  }

  /** Revokes at Salesforce and deletes the stored connection: `{ revoked }`. */
  async disconnect(opts) {
    const args = conn(opts)
    return plain(await call(() => this.#n.disconnect(args)))
  }

  /** `{ accessToken, instanceUrl }` for the host's own Salesforce calls. */
  async getAccessToken(opts) {
    const args = { conn: conn(opts), forceRefresh: Boolean(opts.forceRefresh) }
    return plain(await call(() => this.#n.getAccessToken(args)))
  }

  /**
   * The connected user's fields of an export type's object (or of an sObject named by `type`), as
   * forcelink reads them: `{ name, type, label, compoundParent, filterable, nillable, updateable,
   * calculated, exported }`. Cached per org (10 minutes).
   */
  async describe(opts) {
    const args = { conn: conn(opts), type: str(opts && opts.type) ?? '' }
    return call(() => this.#n.describe(args))
  }

  /** One page of a SOQL query (`{ totalSize, done, nextRecordsUrl?, records }`); `all: true` follows every page. */
  async query(opts) {
    const args = { conn: conn(opts), soql: str(opts.soql) ?? '' }
    const first = JSON.parse(await call(() => this.#n.query(args)))
    if (!opts.all) return first
    let page = first
    const records = first.records
    while (!page.done && page.nextRecordsUrl) {
      const next = { conn: args.conn, nextRecordsUrl: String(page.nextRecordsUrl), fromSalesforce: true }
      page = JSON.parse(await call(() => this.#n.queryMore(next)))
      for (const r of page.records) records.push(r)
    }
    return { totalSize: first.totalSize, done: true, records }
  }

  /** The page after `nextRecordsUrl`. */
  async queryMore(opts) {
    const args = { conn: conn(opts), nextRecordsUrl: str(opts.nextRecordsUrl) ?? '', fromSalesforce: false }
    return JSON.parse(await call(() => this.#n.queryMore(args)))
  }

  /** `{ data, pagination }`, the incumbent's export response, every page reachable. */
  async exportPage(opts) {
    const r = await this.#exportPageText(opts)
    const out = JSON.parse(r.body)
    Object.defineProperty(out, 'apiCalls', { value: r.apiCalls, enumerable: false })
    return out
  }

  /**
   * `exportPage` as JSON text (`{"data":[…],"pagination":{…}}`), for handlers that send it on
   * without turning the records into objects and back.
   */
  async exportPageJson(opts) {
    return (await this.#exportPageText(opts)).body
  }

  async #exportPageText(opts) {
    const args = { conn: conn(opts), type: str(opts.type) ?? '', page: str(opts.page), limit: str(opts.limit) }
    return call(() => this.#n.exportPage(args))
  }

  #cursor(opts) {
    /** @type {import('./binding').ExportArgs} */
    const args = {
      conn: conn(opts),
      type: str(opts.type) ?? '',
      batchSize: num(opts.batchSize),
      since: opts.since instanceof Date ? String(opts.since.getTime()) : str(opts.since),
      engine: /** @type {any} */ (str(opts.engine)),
      jobId: str(opts.jobId),
      parallelism: opts.parallelism === undefined || opts.parallelism === null ? undefined : Number(opts.parallelism),
      ordered: opts.ordered === undefined || opts.ordered === null ? undefined : opts.ordered,
      attributes: opts.attributes === undefined || opts.attributes === null ? undefined : opts.attributes,
      fields: fieldsOption(opts.fields),
    }
    if (args.ordered !== undefined && typeof args.ordered !== 'boolean') throw inputError('ordered', 'must be a boolean')
    if (args.attributes !== undefined && typeof args.attributes !== 'boolean') throw inputError('attributes', 'must be a boolean')
    if (args.parallelism !== undefined && !Number.isFinite(args.parallelism)) throw inputError('parallelism', 'must be a whole number from 1 to 10')
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw inputError('onProgress', 'must be a function')
    try {
      return this.#n.exportCursor(args)
    } catch (e) {
      throw convert(e)
    }
  }

  /**
   * `exportAll` as JSON text: each batch is `{ records, progress }` with `records` the JSON array
   * text as Salesforce sent it (never turned into objects), for handlers that send it on.
   */
  async *exportAllJson(opts) {
    if (this.#closed) throw closedError()
    opts = opts || {}
    const signal = checkSignal(opts.signal)
    for await (const text of this.#drain(this.#cursor(opts), signal, (c) => c.nextJson())) {
      const progress = progressOf(text.progress)
      if (opts.onProgress) opts.onProgress(progress)
      yield { records: text.records, progress }
    }
  }

  /**
   * Every record of a type, as an async iterable of batches. Breaking out stops the requests (and
   * aborts an unfinished Bulk job). `engine`: 'rest' (default), 'bulk' or 'auto'; `jobId` resumes a
   * Bulk job; `onProgress({ fetched, total, engine, jobId? })` fires per batch.
   */
  async *exportAll(opts) {
    if (this.#closed) throw closedError()
    opts = opts || {}
    const signal = checkSignal(opts.signal)
    for await (const text of this.#drain(this.#cursor(opts), signal, (c) => c.nextJson())) {
      if (opts.onProgress) opts.onProgress(progressOf(text.progress))
      yield JSON.parse(text.records)
    }
  }

  /**
   * Every record of a type as CSV or NDJSON bytes (a Node Readable), written natively.
   * `csvFormulaGuard` (default: the config's, itself default true) prefixes CSV text cells that
   * a spreadsheet would run as a formula with `'`.
   */
  exportStream(opts) {
    opts = opts || {}
    // Any other value, whatever its type, is INVALID_INPUT naming `format` (Rust checks it).
    const format = /** @type {import('./binding').ExportFormat} */ (opts.format === undefined ? 'ndjson' : String(opts.format))
    let guard = this.#csvFormulaGuard
    if (opts.csvFormulaGuard !== undefined && opts.csvFormulaGuard !== null) {
      if (typeof opts.csvFormulaGuard !== 'boolean') throw inputError('csvFormulaGuard', 'must be a boolean')
      guard = opts.csvFormulaGuard
    }
    if (this.#closed) throw closedError()
    const signal = checkSignal(opts.signal)
    const cursor = this.#cursor(opts)
    const drained = this.#drain(cursor, signal, (c) => c.nextBytes(format, guard))
    async function* chunks() {
      for await (const buf of drained) {
        if (opts.onProgress) opts.onProgress(progressOf(cursor.progress()))
        yield buf
      }
    }
    const stream = Readable.from(chunks(), { objectMode: false })
    // destroy() closes the native cursor now (aborting a running Bulk job), rather than after the
    // batch in flight settles.
    const destroy = stream._destroy
    stream._destroy = function (err, cb) {
      cursor.close()
      return destroy.call(this, err, cb)
    }
    return stream
  }

  /**
   * Incremental sync: an async iterable of `{ upserts, deletes, checkpoint }` steps. Store each
   * step's `checkpoint` after applying it and pass it back to resume; without one, a full initial
   * sync. `signal` (AbortSignal) stops it between requests; breaking out stops it too.
   */
  async *sync(opts) {
    if (!opts || typeof opts !== 'object') throw inputError('options', 'must be an object')
    if (opts.checkpoint !== undefined && opts.checkpoint !== null && typeof opts.checkpoint !== 'string') {
      throw inputError('checkpoint', 'must be a checkpoint string from an earlier sync step')
    }
    /** @type {import('./binding').SyncArgs} */
    const args = {
      conn: conn(opts),
      type: str(opts.type) ?? '',
      checkpoint: opts.checkpoint ?? undefined,
      engine: /** @type {any} */ (str(opts.engine)),
      batchSize: num(opts.batchSize),
      lookbackMs: num(opts.lookbackMs),
      fields: fieldsOption(opts.fields),
      verify: opts.verify === undefined || opts.verify === null ? undefined : opts.verify,
      formulaRefresh: num(opts.formulaRefresh),
      live: opts.live === undefined || opts.live === null ? undefined : opts.live,
      liveStallMs: num(opts.liveStallMs),
    }
    if (args.live !== undefined && typeof args.live !== 'boolean') throw inputError('live', 'must be a boolean')
    if (opts.liveStallMs !== undefined && opts.liveStallMs !== null && args.liveStallMs === undefined) throw inputError('liveStallMs', 'must be a whole number of milliseconds from 100 to 3,600,000')
    if (opts.formulaRefresh !== undefined && opts.formulaRefresh !== null && args.formulaRefresh === undefined) throw inputError('formulaRefresh', 'must be a duration in milliseconds, from 0 to a year')
    if (args.verify !== undefined && typeof args.verify !== 'boolean') throw inputError('verify', 'must be a boolean')
    if (this.#closed) throw closedError()
    const signal = checkSignal(opts.signal)
    let cursor
    try {
      cursor = this.#n.syncCursor(args)
    } catch (e) {
      throw convert(e)
    }
    if (args.live !== true) {
      for await (const text of this.#drain(cursor, signal, (c) => c.nextJson())) yield JSON.parse(text)
      return
    }
    // A live sync has no end of its own: aborting `signal` or close() ends it cleanly (the
    // stream is cancelled with the native cursor), as breaking out of the loop does.
    try {
      for await (const text of this.#drain(cursor, signal, (c) => c.nextJson())) yield JSON.parse(text)
    } catch (e) {
      if (/** @type {any} */ (e)?.code === 'CANCELLED' && ((signal && signal.aborted) || this.#closed)) return
      throw e
    }
  }

  /** Creates a record: `{ id }`. Not retried once the request may have reached Salesforce. */
  async createRecord(opts) {
    const args = { conn: conn(opts), object: str(opts.object) ?? '', fieldsJson: JSON.stringify(opts.fields) }
    return plain(await call(() => this.#n.createRecord(args)))
  }

  /** Updates a record's fields: `{ id }`. */
  async updateRecord(opts) {
    const args = { conn: conn(opts), object: str(opts.object) ?? '', id: str(opts.id) ?? '', fieldsJson: JSON.stringify(opts.fields) }
    return plain(await call(() => this.#n.updateRecord(args)))
  }

  /**
   * Refreshes every stored connection whose last token grant is older than `olderThanMs` (default
   * 20 days), so Salesforce's refresh-token idle lifetime never ends it: `{ refreshed, skipped,
   * failed: [{ connection, code, reason, message }] }`. At most `concurrency` (default 4) token
   * requests at once, at most `limit` connections; `signal` stops it (CANCELLED). Needs the
   * store's `listConnections` (UNSUPPORTED otherwise).
   */
  keepAlive(opts) {
    opts = opts === undefined || opts === null ? {} : opts
    if (typeof opts !== 'object') return Promise.reject(inputError('options', 'must be an object'))
    return this.#guard(opts, async () => {
      const numOpt = (k) => {
        const v = opts[k]
        if (v === undefined || v === null) return undefined
        if (typeof v !== 'number') throw inputError(k, `must be a number, not ${kindOf(v)}`)
        return v
      }
      const args = { olderThanMs: numOpt('olderThanMs'), concurrency: numOpt('concurrency'), limit: numOpt('limit') }
      let sweep
      try {
        sweep = this.#n.keepAlive(args)
      } catch (e) {
        throw convert(e)
      }
      const signal = opts.signal
      const onAbort = () => sweep.cancel()
      if (signal) signal.addEventListener('abort', onAbort, { once: true })
      this.#sweeps.add(sweep)
      try {
        return JSON.parse(await call(() => sweep.run()))
      } catch (e) {
        throw withReason(e, signal)
      } finally {
        this.#sweeps.delete(sweep)
        if (signal) signal.removeEventListener('abort', onAbort)
      }
    })
  }

  /**
   * The latest `Sforce-Limit-Info` of a connection's org (`{ orgId, used, max }`), or null before
   * any response. Without an argument: the last org seen by this instance (`{ used, max }`).
   */
  limitInfo(opts) {
    try {
      if (opts === undefined) return plain(this.#n.limitInfo())
      return plain(this.#n.limitInfoFor(conn(opts)))
    } catch (e) {
      throw convert(e)
    }
  }
}

/** The incumbent paginator, with NaN-free answers for the inputs its formula leaves undefined. */
function paginate(total, page, perPage) {
  const t = Number(total)
  return native.paginate(Number.isFinite(t) ? t : 0, str(page), str(perPage))
}

// Test builds only (cargo feature `test-hooks`): the published binary has no panic hook, so
// neither has the published API (nor the committed binding.d.ts).
const testHooks = /** @type {any} */ (native)
if (typeof testHooks.panicForTest === 'function') {
  Object.defineProperty(Forcelink.prototype, '__panicForTest', {
    value(message, async = false) {
      if (async) return testHooks.panicForTestAsync(String(message)).catch((/** @type {unknown} */ e) => Promise.reject(convert(e)))
      try {
        return testHooks.panicForTest(String(message))
      } catch (e) {
        throw convert(e)
      }
    },
  })
}

module.exports = { Forcelink, ForcelinkError, paginate, EVENT_NAMES }
