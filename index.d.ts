import type { Readable } from 'node:stream'
import { EventEmitter } from 'node:events'
// The native binding's generated declarations (Rust doc comments included): the public types
// below build on them, so a change to the binding shows here too.
import type * as binding from './binding'

/** How an export reads Salesforce: `'rest'`, `'bulk'` or `'auto'`. */
export type ExportEngine = binding.ExportEngine
/** What `exportStream` writes: `'csv'`, `'ndjson'` or `'json'` (one JSON array). */
export type ExportFormat = binding.ExportFormat

/** The stored connection: the host's existing document shape (MongoDB collection compatible). */
export interface TokenRecord {
  account_id: string
  owner: string
  token: {
    access_token: string
    refresh_token?: string
    /** Milliseconds since the epoch, as Salesforce sends it. */
    issued_at?: string
    /** Absent on records written by the incumbent controller; a refresh fills it in. */
    instance_url?: string
    id?: string
    scope?: string
    [extra: string]: unknown
  }
  token_invalidated?: boolean
  /** Why the connection was invalidated, beside `token_invalidated`. */
  invalidated_reason?: ReconnectReason
  /** Ms since the epoch of the last successful token grant; absent on older records (unknown). */
  refreshed_at?: number
  /**
   * Grows on every write (fencing for conditional saves); absent or null on incumbent records
   * (= 0). A finite non-negative integer; a string of digits (`pg` bigint) is accepted.
   */
  version?: number | string | null
  [extra: string]: unknown
}

/** A value, a Promise, or any thenable (a mongoose Query, a Knex builder, …): all are awaited. */
export type MaybePromise<T> = T | PromiseLike<T>

/**
 * A record as a database driver hands it back (e.g. a mongoose `lean()` document, whose fields are
 * typed optional). Its shape is checked at run time: a wrong one is a `STORE_ERROR`.
 */
export interface StoredTokenRecord {
  account_id?: unknown
  owner?: unknown
  token?: unknown
  token_invalidated?: unknown
  invalidated_reason?: unknown
  refreshed_at?: unknown
  version?: unknown
}

/** `listConnections` arguments. */
export interface ListConnectionsQuery {
  /** Ms since the epoch: only records whose `refreshed_at` is older (a missing one counts as old). */
  refreshedBefore: number
  /** The previous page's `next` (absent on the first page): the store's own cursor, opaque to forcelink. */
  after?: unknown
  limit: number
}

/** One page of `listConnections`, in `(account_id, owner)` order; `next` is null on the last page. */
export interface ListConnectionsPage {
  connections: { accountId: string; ownerId: string }[]
  next: unknown
}

/** Why a connection needs its user to connect again. */
export type ReconnectReason =
  | 'expired_or_revoked'
  | 'user_inactive'
  | 'org_inactive'
  | 'policy_blocked'
  | 'app_blocked'
  | 'no_refresh_token'
  | 'other'

/** What a save answers: a boolean, or a driver result read as "written" when its count is > 0. */
export type SaveResult =
  | boolean
  | { matchedCount: number | string }
  | { modifiedCount: number | string }
  | { rowCount: number | string | null }
  | { affectedRows: number | string }
  | { changes: number | string }
  | void

/** Where the host keeps connections (TokenStore contract v2). Each method may return a value, a Promise or a thenable. */
export interface TokenStore {
  find(accountId: string, ownerId: string): MaybePromise<TokenRecord | StoredTokenRecord | null | undefined>
  /**
   * Upsert keyed by `account_id` + `owner`. With `expectedVersion`, write only if the stored
   * record exists and its `version` (0 when absent or null) equals it, and resolve whether it
   * wrote: `true`/`false`, or a driver result forcelink reads (`{ matchedCount }`,
   * `{ modifiedCount }`, `{ rowCount }`, `{ affectedRows }`, `{ changes }`: written when > 0).
   * Any other answer to a conditional save is a `STORE_ERROR`. Without options the answer is ignored.
   */
  save(record: TokenRecord, options?: { expectedVersion: number }): MaybePromise<SaveResult>
  delete(accountId: string, ownerId: string): MaybePromise<boolean>
  /** Cross-process refresh lease (works with no record): a lease token, or null while another holds it. */
  acquireLease?(accountId: string, ownerId: string, ttlMs: number): MaybePromise<string | null>
  /** Extends a held lease: false if it expired meanwhile. Without it leases last a whole refresh. */
  renewLease?(accountId: string, ownerId: string, leaseToken: string, ttlMs: number): MaybePromise<boolean>
  /** Releases that lease only. What it resolves to is ignored. */
  releaseLease?(accountId: string, ownerId: string, leaseToken: string): MaybePromise<unknown>
  /** Single use of OAuth state across processes: true the first time only. */
  consumeNonce?(nonce: string, expiresAtMs: number): MaybePromise<boolean>
  /**
   * For `keepAlive`: connections not invalidated, holding a refresh token, last granted before
   * `refreshedBefore`, keyset-paged on `(account_id, owner)`.
   */
  listConnections?(query: ListConnectionsQuery): MaybePromise<ListConnectionsPage>
}

export interface ExportTypeConfig {
  /** sObject API name, e.g. `Contact` or `ns__Invoice__c`. */
  object: string
  /**
   * Field or relationship paths, e.g. `Name`, `Account.Name`, `Custom_Field__c`; or `'all'`: every
   * field the connected user can read, from describe (compound and base64 fields left out).
   */
  fields: string[] | 'all'
  /**
   * `false`: this type's records come without Salesforce's `attributes` objects (`type`, `url`),
   * on the record and its parents, from every engine and from `exportPage`. Default `true`.
   */
  attributes?: boolean
}

/**
 * The required fields may be `undefined` in the type (`process.env.X` is `string | undefined`): the
 * constructor checks them and throws `CONFIG_INVALID` naming the missing one.
 */
export interface ForcelinkConfig {
  clientId: string | undefined
  clientSecret: string | undefined
  redirectUri: string | undefined
  /** At least 32 bytes. Signs OAuth state and derives PKCE verifiers. */
  stateSecret: string | undefined
  /** Default `https://login.salesforce.com`. */
  loginUrl?: string
  /**
   * The Pub/Sub API (gRPC) origin for `sync({ live: true })`. Default
   * `https://api.pubsub.salesforce.com:7443`; `http://` only for loopback hosts. TLS trusts the
   * OS roots plus `NODE_EXTRA_CA_CERTS`.
   */
  pubsubUrl?: string
  /** Default `"62.0"`. */
  apiVersion?: string
  /** Default `["api", "id", "web", "refresh_token"]`. */
  scopes?: string[]
  /** Default 3600. */
  stateTtlSeconds?: number
  /** Per-request timeout, default 30000. */
  httpTimeoutMs?: number
  /** Origins `forwardUrl` may point to; relative paths are always allowed. */
  allowedForwardOrigins?: string[]
  /** A host TokenStore; omitted → the embedded SQLite store. */
  store?: TokenStore
  /** Embedded store file, default `./forcelink.db`. */
  storePath?: string
  /** 32 bytes (64 hex chars or base64): seals stored tokens with AES-256-GCM. */
  encryptionKey?: string
  /** Adds export types or replaces a default type's fields. */
  exportTypes?: Record<string, ExportTypeConfig>
  /** Retries for transient failures (default 3). */
  maxRetries?: number
  /** How long to wait for another process's refresh lease (default: lease TTL 5 s + httpTimeoutMs + storeTimeoutMs). A holder whose token request is in flight keeps its lease for the longest a refresh can take. */
  leaseWaitMs?: number
  /** Every TokenStore call must settle within this (default 10000) or the call fails with STORE_ERROR. */
  storeTimeoutMs?: number
  /**
   * How long `close()` waits for refreshes in flight (including those started by export and sync
   * cursors) and for saving rotated tokens not saved yet (default 10000).
   */
  closeTimeoutMs?: number
  /**
   * Refuse callbacks whose state was issued without a browser binding (`bindBrowser: false`),
   * so no flow can skip the login-CSRF check (default false).
   */
  requireBrowserBinding?: boolean
  /** The in-memory token cache keeps at most this many connections, least recently used go first (default 10000). */
  maxCachedConnections?: number
  /** Cached connections are re-read from the store at least this often (default 60000). */
  tokenCacheTtlMs?: number
  /** Server-to-server: the JWT bearer flow for `connectionId` connections. */
  jwtBearer?: { username: string; privateKeyPem: string; audience?: string }
  /** Server-to-server: the client credentials flow (needs the My Domain `loginUrl`). */
  clientCredentials?: boolean
  /** CSV exports prefix text cells that start a formula (`=`, `+`, `-`, `@`, tab, CR) with `'` (default true). */
  csvFormulaGuard?: boolean
  /** Receives one structured object per event (`{ event, msg, ... }`); pino, winston and console fit. Default: silent. */
  logger?: Logger
  /** `engine: 'auto'` uses Bulk above this many records (default 50000). */
  bulkThreshold?: number
  /** How long a user's describe is cached per org before it is read again (ms, 0–86400000, default 600000). */
  describeTtlMs?: number
  /** A Bulk job not complete after this long is aborted (default 3600000). */
  bulkDeadlineMs?: number
  /** Requests in flight to one org at once, across every call of the process: 1–100, default 10. */
  maxConcurrentRequestsPerOrg?: number
  /**
   * A fraction (0.8 = 80%): new exports are refused with `RATE_LIMITED` while the org's last
   * `api-usage` is at or above it. Default off.
   */
  apiUsageCeiling?: number
  /** A JWT-based access token is refreshed this long before its `exp` (default 60000). */
  refreshAheadMs?: number
}

/** `keepAlive` options. */
export interface KeepAliveOptions extends WithSignal {
  /** Refresh connections last granted longer ago than this (default 20 days). */
  olderThanMs?: number
  /** Token requests at once, 1–64 (default 4). */
  concurrency?: number
  /** At most this many connections per sweep. */
  limit?: number
}

/** What a `keepAlive` sweep did. */
export interface KeepAliveResult {
  refreshed: number
  skipped: number
  failed: { connection: EventConnection; code: ErrorCode; reason: ReconnectReason | null; message: string }[]
}

type Id = string | number | { toString(): string }

/** A user's connection. */
export type UserConnection = { accountId: Id; ownerId: Id }

/** A user's connection (`accountId` + `ownerId`) or a server flow's (`connectionId`). */
export type Connection = { accountId: Id; ownerId: Id; connectionId?: never } | { connectionId: Id; accountId?: never; ownerId?: never }

/** The incumbent's pagination block (snake_case keys, as its responses had them). */
export type Pagination = binding.Pagination

/** A record as Salesforce returns it (`attributes`, nested parents, `null` for absent parents). */
export interface SalesforceRecord {
  attributes: { type: string; url: string }
  [field: string]: unknown
}

export interface QueryResult<R = SalesforceRecord> {
  totalSize: number
  done: boolean
  nextRecordsUrl?: string
  records: R[]
}

/**
 * `exportAll`/`exportStream` options: a connection plus these fields. A type alias, not an
 * interface, because `Connection` is a union (an interface cannot extend one).
 */
export type ExportAllOptions = Connection & ExportAllFields

export interface ExportAllFields {
  type: string
  /** 200–2000 (Salesforce's range), default 2000. */
  batchSize?: number
  /** Only records with SystemModstamp at or after this time. */
  since?: Date | string | number
  /** `'rest'` (default): query + queryMore; `'bulk'`: Bulk API 2.0; `'auto'`: Bulk above `bulkThreshold` records. */
  engine?: ExportEngine
  /** Resume a Bulk job created earlier (its id is in `onProgress`). */
  jobId?: string
  /**
   * REST engine: Id ranges read at once, whole number 1–10, default 4. `1` walks one
   * `nextRecordsUrl` chain. API calls stay within the serial walk's + 2 × parallelism.
   */
  parallelism?: number
  /** REST engine: batches in Id order (default `true`); `false` hands them out as they arrive. */
  ordered?: boolean
  /**
   * `false`: records without Salesforce's `attributes` objects (dropped in Rust before the batch
   * reaches JS; REST and Bulk give the same records). Default: the export type's, itself `true`.
   */
  attributes?: boolean
  /** This call's fields: `'all'` (from the connected user's describe) or a list, in place of the type's. */
  fields?: 'all' | string[]
  onProgress?: (progress: ExportProgress) => void
  /** Cancels the export, even mid-call; an unfinished Bulk job is aborted. */
  signal?: AbortSignal
}

/** One batch of `exportAllJson`: the records as JSON array text, and the progress after it. */
export interface ExportBatchJson {
  records: string
  progress: ExportProgress
}

/** How far an export is (`total`: null until Salesforce reports it). */
export interface ExportProgress extends Omit<binding.ExportProgress, 'total'> {
  total: number | null
}

export type SyncOptions = Connection & {
  type: string
  /** From an earlier step; absent = full initial sync. Tampered or foreign: `INVALID_INPUT`. */
  checkpoint?: string
  /** Initial sync engine: `'auto'` (default, Bulk above `bulkThreshold`), `'rest'` or `'bulk'`. */
  engine?: ExportEngine
  /** Records per step, 1–2000 (default 2000). */
  batchSize?: number
  /** How far before the checkpoint changes are re-read (late commits), default 300000 (5 min). */
  lookbackMs?: number
  /**
   * After each window, `SELECT COUNT()` over it must equal the records read for it; a mismatch
   * re-reads the window once, then reports `verifyMismatch` (event and step `meta`). Default false.
   */
  verify?: boolean
  /**
   * Formula fields change without `SystemModstamp` moving: with a period in ms (e.g. `86_400_000`),
   * every live record is re-read (REST, in Id order) once per period when the fields include a
   * formula, and comes out as an upsert. Default off.
   */
  formulaRefresh?: number
  /** This sync's fields: `'all'` follows the org's schema (see `schemaChange`), or a list. */
  fields?: 'all' | string[]
  /**
   * After the polling catch-up, follow the object's Change Data Capture channel
   * (`/data/<Object>ChangeEvent`) over the Pub/Sub API and yield its changes until `signal`
   * aborts or the loop breaks. Stream steps' UPDATE records are patches: apply upserts as a
   * merge (`{ ...old, ...patch }`). Default false.
   */
  live?: boolean
  /**
   * Live: a stream silent this long (ms) is resubscribed. Salesforce sends a keepalive at least
   * every 270 s; default 300000.
   */
  liveStallMs?: number
  signal?: AbortSignal
}

export interface SyncStep<R = SalesforceRecord> {
  /** Created or changed records (the type's fields plus `Id` and `SystemModstamp`). */
  upserts: R[]
  deletes: { Id: string; deletedAt: string }[]
  /** Store after applying the step; pass back as `checkpoint` to resume. */
  checkpoint: string
  /** `fields: 'all'`: the fields read; `schemaChange` on the run's first step when they changed. */
  meta?: {
    fields?: string[]
    schemaChange?: { type: string; orgId: string | null; added: string[]; removed: string[] }
    /** The API budget ended the run: resume from `checkpoint` later. */
    done?: false
    reason?: 'api_budget'
    /** `verify`: a window re-read after its count disagreed, and one that still disagrees. */
    reread?: VerifyWindow
    verifyMismatch?: VerifyWindow
    /** `live`: where the step comes from (the polling catch-up, or the change stream). */
    source?: 'poll' | 'stream'
    /** Stream steps: ms from the newest event's commit to the step being handed out. */
    lagMs?: number
    /** Stream steps: the change types in the step (`CREATE`, `UPDATE`, `DELETE`, `UNDELETE`, `GAP_*`). */
    changeTypes?: string[]
    /** Stream steps holding UPDATE patches (only changed and nulled fields, plus `Id`/`SystemModstamp`). */
    partial?: true
    /** A keepalive advanced the checkpoint; no records. */
    keepalive?: true
  }
}

/** A sync window checked by `verify`: its bounds, `COUNT()` and the records read. */
export interface VerifyWindow {
  from: string
  to: string
  expected: number
  received: number
}

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'INVALID_INPUT'
  | 'FORWARD_URL_REQUIRED'
  | 'FORWARD_URL_NOT_ALLOWED'
  | 'AUTH_NOT_INITIATED'
  | 'INVALID_STATE'
  | 'TOKEN_NOT_FOUND'
  | 'RECONNECT_REQUIRED'
  | 'STORE_ERROR'
  | 'INVALID_TYPE'
  | 'OAUTH_ERROR'
  | 'SALESFORCE_ERROR'
  | 'RATE_LIMITED'
  | 'SALESFORCE_UNAVAILABLE'
  | 'CANCELLED'
  | 'CLOSED'
  | 'FULL_RESYNC_REQUIRED'
  | 'UNSUPPORTED'
  | 'INTERNAL'

/** What `new ForcelinkError(…)` takes (hosts rarely build one; a test double might). */
export interface ForcelinkErrorInit {
  code: ErrorCode
  status: number
  message: string
  salesforceCode?: string
  fields?: string[]
  field?: string
  reason?: ReconnectReason
  idleMs?: number | null
  method?: string
}

/**
 * Every failure forcelink reports. `instanceof ForcelinkError` holds across duplicate installs of
 * the package (the class is branded with `Symbol.for('forcelink.error')`).
 */
export declare class ForcelinkError extends Error {
  constructor(info: ForcelinkErrorInit, options?: { cause?: unknown })
  name: 'ForcelinkError'
  code: ErrorCode
  /** The HTTP status a handler should answer with. */
  status: number
  /** Salesforce's own error code (`INVALID_FIELD`, `invalid_grant`, ...). */
  salesforceCode?: string
  /** Fields Salesforce named in the error. */
  fields?: string[]
  /** The config or input field at fault. */
  field?: string
  /** RECONNECT_REQUIRED: why the user must connect again. */
  reason?: ReconnectReason
  /** RECONNECT_REQUIRED: ms since the connection's last token grant; null when unknown. */
  idleMs?: number | null
  /** UNSUPPORTED: the TokenStore method that is missing. */
  method?: string
  /** On a rejected `close()`: the connections whose rotated token could not be saved. */
  connections?: EventConnection[]
}

export interface Logger {
  debug(obj: object, ...rest: unknown[]): unknown
  info(obj: object, ...rest: unknown[]): unknown
  warn(obj: object, ...rest: unknown[]): unknown
  error(obj: object, ...rest: unknown[]): unknown
}

/** Which connection an event is about: a user's or a server flow's. */
export type EventConnection = { accountId: string; ownerId: string } | { connectionId: string }

export interface ForcelinkEvents {
  refresh: { connection: EventConnection; orgId: string | null; rotated: boolean; durationMs: number }
  reconnectRequired: { connection: EventConnection; orgId: string | null; reason: ReconnectReason; idleMs: number | null }
  retry: { connection: EventConnection; orgId: string | null; status: number | null; attempt: number; delayMs: number; reason: string }
  rateLimited: { connection: EventConnection; orgId: string | null }
  apiUsage: { connection: EventConnection; orgId: string | null; used: number; max: number }
  /** `connection` is set for a rotated token `close()` could not save (`op: 'close'`). */
  storeError: { op: string; message: string; timedOut: boolean; connection?: EventConnection }
  bulkJob: { connection: EventConnection; orgId: string | null; jobId: string; state: string }
  /** A `fields: 'all'` sync found fields added, or removed/hidden, since its checkpoint. */
  schemaChange: { connection: EventConnection; orgId: string | null; type: string; added: string[]; removed: string[] }
  /** `sync({ verify: true })`: a window's count still disagreed after one re-read. */
  verifyMismatch: { connection: EventConnection; orgId: string | null; type: string; from: string; to: string; expected: number; received: number }
  /** `sync({ live: true })`: the change stream (re)subscribed, or recovered from a gap, an overflow or an expired replay id. */
  changeStream: {
    connection: EventConnection
    orgId: string | null
    type: string
    kind: 'subscribed' | 'resubscribed' | 'gap' | 'overflow' | 'replayExpired'
    /** `resubscribed`: why. */
    reason?: 'auth' | 'unavailable' | 'internal' | 'stall' | 'reset'
    /** `gap`: the records re-read over REST. */
    recordIds?: string[]
    /** `subscribed` / `resubscribed`: `LATEST`, or `CUSTOM` (after the last replay id). */
    replayFrom?: 'LATEST' | 'CUSTOM'
  }
}

/** Every async method accepts `signal`: aborting it rejects the call with `CANCELLED` (`cause`: `signal.reason`). */
export interface WithSignal {
  signal?: AbortSignal
}

export declare class Forcelink extends EventEmitter {
  on<K extends keyof ForcelinkEvents>(event: K, listener: (e: ForcelinkEvents[K]) => void): this
  once<K extends keyof ForcelinkEvents>(event: K, listener: (e: ForcelinkEvents[K]) => void): this
  off<K extends keyof ForcelinkEvents>(event: K, listener: (e: ForcelinkEvents[K]) => void): this
  /** Validates synchronously; throws `CONFIG_INVALID` naming the field. */
  constructor(config: ForcelinkConfig)
  /** How long a login state (and its browser binding) lives, in seconds. */
  readonly stateTtlSeconds: number
  /**
   * Refuses later calls with `CLOSED`, cancels running exports and syncs, waits for the calls in
   * flight, then (bounded by `closeTimeoutMs`) for every refresh in flight and for saving rotated
   * tokens not saved yet, and only then closes the embedded SQLite store. Rejects with
   * `STORE_ERROR` naming the connections whose rotated token could not be saved (each also gets a
   * `storeError` event). Idempotent.
   */
  close(): Promise<void>
  /** `await using fl = new Forcelink(...)`. */
  [Symbol.asyncDispose](): Promise<void>
  /** Whether `close()` was called. */
  readonly closed: boolean
  /**
   * `binding` (absent when already connected or with `bindBrowser: false`): give it to the browser
   * that starts the flow only, and pass it back to `handleCallback`.
   */
  beginLogin(
    opts: UserConnection & { forwardUrl: string; bindBrowser?: boolean } & WithSignal,
  ): Promise<binding.LoginStart>
  /**
   * A state issued with a binding needs the same `binding`; `accountId`/`ownerId` (the user signed
   * in on the callback request, when known) must be the state's. Otherwise `INVALID_STATE`.
   */
  handleCallback(opts: {
    code?: string
    state?: string
    error?: string
    errorDescription?: string
    binding?: string
    accountId?: string | number | { toString(): string }
    ownerId?: string | number | { toString(): string }
    signal?: AbortSignal
  }): Promise<binding.CallbackResult>
  disconnect(opts: Connection & WithSignal): Promise<binding.DisconnectResult>
  getAccessToken(opts: Connection & { forceRefresh?: boolean } & WithSignal): Promise<binding.AccessToken>
  /** The connected user's fields of a type (or sObject) as forcelink reads them; cached per org. */
  describe(opts: Connection & { type: string } & WithSignal): Promise<binding.DescribedField[]>
  query<R = SalesforceRecord>(opts: Connection & { soql: string; all?: boolean } & WithSignal): Promise<QueryResult<R>>
  queryMore<R = SalesforceRecord>(opts: Connection & { nextRecordsUrl: string } & WithSignal): Promise<QueryResult<R>>
  exportPage(
    opts: Connection & { type: string; page?: number | string; limit?: number | string } & WithSignal,
  ): Promise<{ data: SalesforceRecord[]; pagination: Pagination }>
  /** `exportPage` as JSON text (`{"data":[…],"pagination":{…}}`), to send on without parsing. */
  exportPageJson(opts: Connection & { type: string; page?: number | string; limit?: number | string } & WithSignal): Promise<string>
  exportAll(opts: ExportAllOptions): AsyncGenerator<SalesforceRecord[], void, undefined>
  /** `exportAll` as JSON text per batch (records never become objects), for handlers that send it on. */
  exportAllJson(opts: ExportAllOptions): AsyncGenerator<ExportBatchJson, void, undefined>
  /** CSV (header + rows, relationship paths flattened), NDJSON, or one JSON array's bytes, written natively. */
  exportStream(opts: ExportAllOptions & { format?: ExportFormat; csvFormulaGuard?: boolean }): Readable
  /** Incremental sync: steps of upserts and deletes, each with a checkpoint to resume from. */
  sync<R = SalesforceRecord>(opts: SyncOptions): AsyncGenerator<SyncStep<R>, void, undefined>
  /** Creates a record; not retried once the request may have reached Salesforce. */
  createRecord(opts: Connection & { object: string; fields: Record<string, unknown> } & WithSignal): Promise<binding.RecordId>
  /** Updates a record's fields. */
  updateRecord(opts: Connection & { object: string; id: string; fields: Record<string, unknown> } & WithSignal): Promise<binding.RecordId>
  /**
   * Refreshes connections idle longer than `olderThanMs` through the normal refresh path, so
   * Salesforce's refresh-token idle lifetime never ends them. Needs the store's `listConnections`.
   */
  keepAlive(opts?: KeepAliveOptions): Promise<KeepAliveResult>
  /** This connection's org's latest `Sforce-Limit-Info`, or null before any response. */
  limitInfo(conn: { accountId: string; ownerId: string } | { connectionId: string }): binding.OrgLimitInfo | null
  /** The last org seen by this instance. */
  limitInfo(): binding.LimitInfo | null
}

/** The incumbent's paginator, NaN-free for inputs its formula leaves undefined. */
export declare function paginate(total: number, page?: number | string | null, perPage?: number | string | null): Pagination
