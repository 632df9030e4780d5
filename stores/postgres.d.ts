import type { ListConnectionsPage, ListConnectionsQuery, TokenRecord, TokenStore } from '../index'

export interface PostgresStoreOptions {
  /** A `pg` Pool (or anything with `query(text, params)`); without it one is created. */
  pool?: { query(text: string, params?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }> }
  connectionString?: string
  /** Tables `<prefix>_tokens`, `<prefix>_leases`, `<prefix>_nonces`; default `forcelink`. */
  tablePrefix?: string
  max?: number
  connectionTimeoutMillis?: number
  statementTimeoutMs?: number
}

/** TokenStore contract v2 over PostgreSQL: single-statement leases, fenced saves and nonces. */
export declare class PostgresStore implements TokenStore {
  constructor(options?: PostgresStoreOptions)
  /** The CREATE TABLE (and keepAlive index) statements run on first use. */
  schema(): string[]
  find(accountId: string, ownerId: string): Promise<TokenRecord | null>
  save(record: TokenRecord, options?: { expectedVersion: number }): Promise<boolean>
  delete(accountId: string, ownerId: string): Promise<boolean>
  acquireLease(accountId: string, ownerId: string, ttlMs: number): Promise<string | null>
  renewLease(accountId: string, ownerId: string, leaseToken: string, ttlMs: number): Promise<boolean>
  releaseLease(accountId: string, ownerId: string, leaseToken: string): Promise<void>
  consumeNonce(nonce: string, expiresAtMs: number): Promise<boolean>
  /** keepAlive's listing: one indexed statement per page (`next`: the last key of the page). */
  listConnections(query: ListConnectionsQuery): Promise<ListConnectionsPage>
  close(): Promise<void>
}
