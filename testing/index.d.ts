import type { Forcelink, ForcelinkError, ErrorCode, ListConnectionsPage, ListConnectionsQuery, TokenRecord, TokenStore } from '..'

export interface SimulatorOptions {
  /** Generated records (defaults 50, 20, 10), or exactly these records (their fields, e.g. `{ LastName: 'Lovelace' }`). */
  contacts?: number | Record<string, unknown>[]
  deals?: number | Record<string, unknown>[]
  notes?: number | Record<string, unknown>[]
  /** Data seed (default 42). */
  seed?: number
  /** Refresh-token rotation. */
  rotation?: boolean
  /** Show the "Allow Access?" page instead of auto-approving (`connectForTest` answers it). */
  consent?: boolean
  /** Delay before every REST call. */
  latencyMs?: number
  /** A refresh token unused this long dies (Salesforce's idle lifetime, on the simulator's clock). */
  refreshTokenIdleTtlMs?: number
  /** Access tokens die this long after issue (on the simulator's clock). */
  accessTokenTtlMs?: number
  /** Access tokens are RS256 JWTs with `exp` (key at the login host's `/id/keys`). */
  jwtAccessTokens?: boolean
  clientId?: string
  clientSecret?: string
  /** The registered callback (default `http://localhost:3000/forcelink/callback`). */
  redirectUri?: string
  /** Serve the Pub/Sub API over TLS under a throwaway CA (`pubsubCaPath`); default plaintext HTTP/2. */
  pubsubTls?: boolean
}

export interface FailOptions {
  /** 503 (default), 403/429 or errorCode `REQUEST_LIMIT_EXCEEDED`, 401, 500. */
  status?: number
  errorCode?: string
  /** A TCP reset instead of a response. */
  reset?: boolean
  /** How many requests fail (default 1). */
  count?: number
  /** `rest` (default: every /services/data call), `query`, `write`, `bulk`, `token`, `revoke`, `any`. */
  target?: 'rest' | 'query' | 'write' | 'bulk' | 'token' | 'revoke' | 'any'
}

export interface SimulatorCounts {
  token: { authorization_code: number; refresh_token: number; jwt_bearer: number; client_credentials: number; total: number }
  revoke: number
  query: number
  queryMore: number
  rest: number
  authorize: number
  create: number
  update: number
  bulk: number
  /** REST calls answered 401 INVALID_SESSION_ID. */
  invalidSession: number
  [k: string]: unknown
}

export interface SimulatorControl {
  expireTokens(): Promise<{ expired: number }>
  revokeRefreshTokens(): Promise<{ revoked: number }>
  fail(options?: FailOptions): Promise<unknown>
  clearFailures(): Promise<unknown>
  setLatency(ms: number): Promise<unknown>
  /** Any `/__sim/config` field (see the simulator's README). */
  setConfig(config: Record<string, unknown>): Promise<unknown>
  /** Token requests by grant, REST calls, 401s (`invalidSession`), … */
  counts(): Promise<SimulatorCounts>
  resetCounts(): Promise<unknown>
  /** Moves the simulated org's clock forward: access TTL, refresh-token idle lifetime and JWT `exp` follow it. */
  advanceClock(ms: number): Promise<{ nowMs: number; offsetMs: number }>
  clock(): Promise<{ nowMs: number; offsetMs: number }>
  /** Refuses every refresh grant as Salesforce does for that reason; null clears it. */
  refuseRefresh(reason: 'user_inactive' | 'org_inactive' | 'ip_restricted' | 'login_hours' | 'app_blocked' | null): Promise<unknown>
  /** Access tokens become RS256 JWTs with `exp` (true) or opaque again (false). */
  useJwtAccessTokens(on?: boolean): Promise<unknown>
  /** Creates records of an export type or sObject over the REST API (counted): their Ids. */
  insert(type: string, records: Record<string, unknown>[]): Promise<string[]>
  /** Every live record of an export type (`contacts`, `deals`, `notes`) or sObject, all fields. */
  records(type: string): Promise<Record<string, unknown>[]>
}

export interface Simulator {
  loginUrl: string
  instanceUrl: string
  myDomainUrl: string
  /** The Pub/Sub API (gRPC, Change Data Capture): `http://127.0.0.1:N`, or `https://localhost:N` with `pubsubTls`. */
  pubsubUrl: string
  /** With `pubsubTls`: the PEM file of the throwaway CA that signed the listener's certificate. */
  pubsubCaPath?: string
  clientId: string
  clientSecret: string
  redirectUris: string[]
  /** A Forcelink config for this simulator: its client, a random stateSecret, `storePath: ':memory:'`. */
  forcelinkConfig<T extends object = {}>(extra?: T): {
    clientId: string
    clientSecret: string
    redirectUri: string
    loginUrl: string
    stateSecret: string
    storePath: string
  } & T
  control: SimulatorControl
  close(): Promise<void>
}

export declare function startSimulator(options?: SimulatorOptions): Promise<Simulator>

export declare function connectForTest(
  forcelink: Forcelink,
  who: { accountId: string; ownerId: string; forwardUrl?: string },
): Promise<{ redirectUrl: string }>

export declare function forcelinkError(
  code: ErrorCode,
  overrides?: { message?: string; status?: number; salesforceCode?: string; fields?: string[]; field?: string; cause?: unknown },
): ForcelinkError

export declare class MemoryStore implements TokenStore {
  find(accountId: string, ownerId: string): Promise<TokenRecord | null>
  save(record: TokenRecord, options?: { expectedVersion?: number }): Promise<boolean>
  delete(accountId: string, ownerId: string): Promise<boolean>
  acquireLease(accountId: string, ownerId: string, ttlMs: number): Promise<string | null>
  renewLease(accountId: string, ownerId: string, leaseToken: string, ttlMs: number): Promise<boolean>
  releaseLease(accountId: string, ownerId: string, leaseToken: string): Promise<void>
  consumeNonce(nonce: string, expiresAtMs: number): Promise<boolean>
  listConnections(query: ListConnectionsQuery): Promise<ListConnectionsPage>
  readonly size: number
  records(): TokenRecord[]
}

export declare function simulatorBinary(): string
