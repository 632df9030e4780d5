'use strict'
// The public JS surface: a thin layer over the native binding that turns arguments into JSON,
// results back into objects, and native failures into `ForcelinkError`s with `.code`/`.status`.

const { Readable } = require('node:stream')
const native = loadNative()

// The platform package npm should have installed beside this one (napi-rs naming).
function platformPackage() {
  const { platform, arch } = process
  let abi = ''
  if (platform === 'linux') {
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
    const err = new Error(
      `forcelink: no native binary for this platform (${process.platform}-${process.arch}, Node ${process.version}). ` +
        `It looked for the optional package "${pkg}" (and a local forcelink.*.node file). ` +
        `If that platform is published, reinstall without --omit=optional / --no-optional (a lockfile made ` +
        `on another platform may need a fresh "npm install"); otherwise build from source: ` +
        `install Rust (https://rustup.rs), then run "npm run build" in the forcelink package folder.`,
    )
    err.code = 'FORCELINK_BINARY_MISSING'
    err.cause = cause
    throw err
  }
}

const MARK = '\u0001forcelink:'

class ForcelinkError extends Error {
  constructor(init) {
    // `new ForcelinkError('message')` is not the typed form, but must not yield an error with no code.
    const info = init !== null && typeof init === 'object' ? init : { message: init === undefined ? '' : String(init) }
    super(info.message)
    this.name = 'ForcelinkError'
    this.code = info.code || 'INTERNAL'
    this.status = Number.isInteger(info.status) ? info.status : 500
    if (info.salesforceCode) this.salesforceCode = info.salesforceCode
    if (info.fields) this.fields = info.fields
    if (info.field) this.field = info.field
  }
}

function convert(e) {
  if (e instanceof ForcelinkError) return e
  const msg = e && typeof e.message === 'string' ? e.message : String(e)
  if (msg.startsWith(MARK)) {
    try {
      return new ForcelinkError(JSON.parse(msg.slice(MARK.length)))
    } catch (_) {
      /* fall through */
    }
  }
  // Anything else from native code is a contained panic or a binding failure.
  const err = new ForcelinkError({ code: 'INTERNAL', status: 500, message: `internal error: ${msg}` })
  err.cause = e
  return err
}

function configError(field, reason) {
  return new ForcelinkError({ code: 'CONFIG_INVALID', status: 500, field, message: `invalid configuration: ${field}: ${reason}` })
}

function inputError(field, reason) {
  return new ForcelinkError({ code: 'INVALID_INPUT', status: 400, field, message: `invalid input: ${field}: ${reason}` })
}

const REQUIRED_STORE_METHODS = ['find', 'save', 'delete']
const OPTIONAL_STORE_METHODS = ['acquireLease', 'renewLease', 'releaseLease', 'consumeNonce']
const UNSUPPORTED = '{"ok":true,"unsupported":true}'

// Wraps a host TokenStore as one function native code calls: it never rejects, so a store that
// throws, rejects or returns junk becomes a STORE_ERROR instead of an uncaught exception.
function bridgeStore(store) {
  for (const m of REQUIRED_STORE_METHODS) {
    if (typeof store[m] !== 'function') throw configError('store', `store.${m} must be a function`)
  }
  return async (op, argsJson) => {
    // Which optional methods exist (asked once by native code).
    if (op === '__methods') return JSON.stringify({ ok: true, value: OPTIONAL_STORE_METHODS.filter((m) => typeof store[m] === 'function') })
    const fn = store[op]
    if (typeof fn !== 'function') {
      if (OPTIONAL_STORE_METHODS.includes(op)) return UNSUPPORTED
      return JSON.stringify({ ok: false, message: `store.${op} is not a function` })
    }
    try {
      let value = await fn.apply(store, JSON.parse(argsJson))
      if (value && typeof value.toObject === 'function') value = value.toObject() // mongoose documents
      return JSON.stringify({ ok: true, value: value === undefined ? null : value })
    } catch (err) {
      const message = err && err.message ? err.message : String(err)
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

const str = (v) => (v === undefined || v === null ? undefined : String(v))

// A user's connection (accountId + ownerId) or a server flow's (connectionId).
function conn(opts) {
  if (!opts || typeof opts !== 'object') throw inputError('options', 'must be an object')
  if (opts.connectionId !== undefined && opts.connectionId !== null) {
    return { connectionId: str(opts.connectionId), accountId: str(opts.accountId), ownerId: str(opts.ownerId) }
  }
  return { accountId: str(opts.accountId) ?? '', ownerId: str(opts.ownerId) ?? '' }
}

async function call(promiseFn) {
  try {
    return JSON.parse(await promiseFn())
  } catch (e) {
    throw convert(e)
  }
}

class Forcelink {
  #n
  #csvFormulaGuard = true
  #stateTtlSeconds = 3600

  constructor(config) {
    if (!config || typeof config !== 'object') throw configError('config', 'must be an object')
    const { store, csvFormulaGuard, ...rest } = config
    if (csvFormulaGuard !== undefined && csvFormulaGuard !== null) {
      if (typeof csvFormulaGuard !== 'boolean') throw configError('csvFormulaGuard', `must be a boolean, not ${kindOf(csvFormulaGuard)}`)
      this.#csvFormulaGuard = csvFormulaGuard
    }
    if (Number.isInteger(rest.stateTtlSeconds)) this.#stateTtlSeconds = rest.stateTtlSeconds
    if (store !== undefined && store !== null && typeof store !== 'object') throw configError('store', 'must be an object')
    try {
      this.#n = new native.NativeForcelink(JSON.stringify(rest), store ? bridgeStore(store) : undefined)
    } catch (e) {
      throw convert(e)
    }
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
    const args = { ...conn(opts), forwardUrl: str(opts.forwardUrl) }
    if (opts.bindBrowser !== undefined) {
      if (typeof opts.bindBrowser !== 'boolean') throw inputError('bindBrowser', 'must be a boolean')
      args.bindBrowser = opts.bindBrowser
    }
    return call(() => this.#n.beginLogin(JSON.stringify(args)))
  }

  /**
   * Finishes the flow: `{ redirectUrl }`. `binding`: the value `beginLogin` returned, as the
   * browser sent it back; `accountId`/`ownerId`: the host's user on this request, when known.
   */
  async handleCallback(opts) {
    if (!opts || typeof opts !== 'object') throw inputError('options', 'must be an object')
    const args = {
      code: str(opts.code),
      state: str(opts.state),
      error: str(opts.error),
      errorDescription: str(opts.errorDescription),
      binding: str(opts.binding),
    }
    if (opts.accountId !== undefined && opts.accountId !== null && opts.ownerId !== undefined && opts.ownerId !== null) {
      args.accountId = String(opts.accountId)
      args.ownerId = String(opts.ownerId)
    }
    return call(() => this.#n.handleCallback(JSON.stringify(args)))
  }

  /** Revokes at Salesforce and deletes the stored connection: `{ revoked }`. */
  async disconnect(opts) {
    const args = conn(opts)
    return call(() => this.#n.disconnect(JSON.stringify(args)))
  }

  /** `{ accessToken, instanceUrl }` for the host's own Salesforce calls. */
  async getAccessToken(opts) {
    const args = { ...conn(opts), forceRefresh: Boolean(opts.forceRefresh) }
    return call(() => this.#n.getAccessToken(JSON.stringify(args)))
  }

  /** One page of a SOQL query (`{ totalSize, done, nextRecordsUrl?, records }`); `all: true` follows every page. */
  async query(opts) {
    const args = { ...conn(opts), soql: str(opts.soql) ?? '' }
    const first = await call(() => this.#n.query(JSON.stringify(args)))
    if (!opts.all) return first
    let page = first
    const records = first.records
    while (!page.done && page.nextRecordsUrl) {
      const next = { ...args, nextRecordsUrl: String(page.nextRecordsUrl), fromSalesforce: true }
      page = await call(() => this.#n.queryMore(JSON.stringify(next)))
      for (const r of page.records) records.push(r)
    }
    return { totalSize: first.totalSize, done: true, records }
  }

  /** The page after `nextRecordsUrl`. */
  async queryMore(opts) {
    const args = { ...conn(opts), nextRecordsUrl: str(opts.nextRecordsUrl) ?? '' }
    return call(() => this.#n.queryMore(JSON.stringify(args)))
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
    const args = { ...conn(opts), type: str(opts.type) ?? '', page: str(opts.page), limit: str(opts.limit) }
    try {
      return await this.#n.exportPage(JSON.stringify(args))
    } catch (e) {
      throw convert(e)
    }
  }

  #cursor(opts) {
    const args = {
      ...conn(opts),
      type: str(opts.type) ?? '',
      batchSize: opts.batchSize === undefined || opts.batchSize === null ? undefined : Number(opts.batchSize),
      since: opts.since instanceof Date ? String(opts.since.getTime()) : str(opts.since),
      engine: str(opts.engine),
      jobId: str(opts.jobId),
      parallelism: opts.parallelism === undefined || opts.parallelism === null ? undefined : Number(opts.parallelism),
      ordered: opts.ordered === undefined || opts.ordered === null ? undefined : opts.ordered,
    }
    if (args.ordered !== undefined && typeof args.ordered !== 'boolean') throw inputError('ordered', 'must be a boolean')
    if (args.parallelism !== undefined && !Number.isFinite(args.parallelism)) throw inputError('parallelism', 'must be a whole number from 1 to 10')
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw inputError('onProgress', 'must be a function')
    try {
      return this.#n.exportCursor(JSON.stringify(args))
    } catch (e) {
      throw convert(e)
    }
  }

  /**
   * `exportAll` as JSON text: each batch is `{ records, progress }` with `records` the JSON array
   * text as Salesforce sent it (never turned into objects), for handlers that send it on.
   */
  async *exportAllJson(opts) {
    opts = opts || {}
    const cursor = this.#cursor(opts)
    const stop = watchSignal(opts.signal, cursor)
    try {
      for (;;) {
        let text
        try {
          text = await cursor.nextJson()
        } catch (e) {
          throw convert(e)
        }
        if (text === null) return
        const progress = JSON.parse(text.progress)
        if (opts.onProgress) opts.onProgress(progress)
        yield { records: text.records, progress }
      }
    } finally {
      stop()
      cursor.close()
    }
  }

  /**
   * Every record of a type, as an async iterable of batches. Breaking out stops the requests (and
   * aborts an unfinished Bulk job). `engine`: 'rest' (default), 'bulk' or 'auto'; `jobId` resumes a
   * Bulk job; `onProgress({ fetched, total, engine, jobId? })` fires per batch.
   */
  async *exportAll(opts) {
    const cursor = this.#cursor(opts || {})
    const stop = watchSignal(opts.signal, cursor)
    try {
      for (;;) {
        let text
        try {
          text = await cursor.nextJson()
        } catch (e) {
          throw convert(e)
        }
        if (text === null) return
        if (opts.onProgress) opts.onProgress(JSON.parse(text.progress))
        yield JSON.parse(text.records)
      }
    } finally {
      stop()
      cursor.close()
    }
  }

  /**
   * Every record of a type as CSV or NDJSON bytes (a Node Readable), written natively.
   * `csvFormulaGuard` (default: the config's, itself default true) prefixes CSV text cells that
   * a spreadsheet would run as a formula with `'`.
   */
  exportStream(opts) {
    opts = opts || {}
    const format = opts.format === undefined ? 'ndjson' : opts.format
    let guard = this.#csvFormulaGuard
    if (opts.csvFormulaGuard !== undefined && opts.csvFormulaGuard !== null) {
      if (typeof opts.csvFormulaGuard !== 'boolean') throw inputError('csvFormulaGuard', 'must be a boolean')
      guard = opts.csvFormulaGuard
    }
    const cursor = this.#cursor(opts)
    const stop = watchSignal(opts.signal, cursor)
    async function* chunks() {
      try {
        for (;;) {
          let buf
          try {
            buf = await cursor.nextBytes(format, guard)
          } catch (e) {
            throw convert(e)
          }
          if (buf === null) return
          if (opts.onProgress) opts.onProgress(JSON.parse(cursor.progress()))
          yield buf
        }
      } finally {
        stop()
        cursor.close()
      }
    }
    return Readable.from(chunks(), { objectMode: false })
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
    const num = (v) => (v === undefined || v === null ? undefined : Number(v))
    const args = {
      ...conn(opts),
      type: str(opts.type) ?? '',
      checkpoint: opts.checkpoint ?? undefined,
      engine: str(opts.engine),
      batchSize: num(opts.batchSize),
      lookbackMs: num(opts.lookbackMs),
    }
    let cursor
    try {
      cursor = this.#n.syncCursor(JSON.stringify(args))
    } catch (e) {
      throw convert(e)
    }
    const stop = watchSignal(opts.signal, cursor)
    try {
      for (;;) {
        let text
        try {
          text = await cursor.nextJson()
        } catch (e) {
          throw convert(e)
        }
        if (text === null) return
        yield JSON.parse(text)
      }
    } finally {
      stop()
      cursor.close()
    }
  }

  /** Creates a record: `{ id }`. Not retried once the request may have reached Salesforce. */
  async createRecord(opts) {
    const args = { ...conn(opts), object: str(opts.object) ?? '', fields: opts.fields }
    return call(() => this.#n.createRecord(JSON.stringify(args)))
  }

  /** Updates a record's fields: `{ id }`. */
  async updateRecord(opts) {
    const args = { ...conn(opts), object: str(opts.object) ?? '', id: str(opts.id) ?? '', fields: opts.fields }
    return call(() => this.#n.updateRecord(JSON.stringify(args)))
  }

  /** The latest `Sforce-Limit-Info` API usage seen (`{ used, max }`), or null. */
  limitInfo() {
    return JSON.parse(this.#n.limitInfo())
  }
}

/** The incumbent paginator, with NaN-free answers for the inputs its formula leaves undefined. */
function paginate(total, page, perPage) {
  const t = Number(total)
  return JSON.parse(native.paginate(Number.isFinite(t) ? t : 0, str(page), str(perPage)))
}

// Test builds only (cargo feature `test-hooks`): the published binary has no panic hook, so
// neither has the published API.
if (typeof native.panicForTest === 'function') {
  Object.defineProperty(Forcelink.prototype, '__panicForTest', {
    value(message, async = false) {
      if (async) return native.panicForTestAsync(String(message)).catch((e) => Promise.reject(convert(e)))
      try {
        return native.panicForTest(String(message))
      } catch (e) {
        throw convert(e)
      }
    },
  })
}

module.exports = { Forcelink, ForcelinkError, paginate }
