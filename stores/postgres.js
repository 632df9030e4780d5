'use strict'
// forcelink/stores/postgres: a TokenStore (contract v2) over PostgreSQL through `pg`. Every
// operation is one statement (no advisory locks, nothing to deadlock): leases are rows taken with
// INSERT … ON CONFLICT … WHERE expired, saves are fenced on the record's version, nonces are
// single-use rows. Tables are created on first use.

const crypto = require('node:crypto')

const NAME = /^[a-z_][a-z0-9_]{0,40}$/
// unique_violation, duplicate_table, duplicate_object
const DUPLICATE = new Set(['23505', '42P07', '42710'])

function loadPg() {
  try {
    return require('pg')
  } catch (e) {
    const err = new Error('forcelink/stores/postgres needs the "pg" package: npm install pg')
    err.cause = e
    throw err
  }
}

// A record keepAlive may refresh (the same text in the partial index and the query, so the planner
// matches them), and its last grant time (null when unknown: counts as old).
const LIVE = `(record->>'token_invalidated') IS DISTINCT FROM 'true' AND (record->'token'->>'refresh_token') IS NOT NULL`
const REFRESHED_AT = `COALESCE(CASE WHEN jsonb_typeof(record->'refreshed_at') = 'number' THEN (record->>'refreshed_at')::numeric END, 0)`

class PostgresStore {
  /**
   * @param {object} [opts]
   * @param {import('pg').Pool} [opts.pool] a pg Pool (or anything with `query`); else one is created
   * @param {string} [opts.connectionString] for the pool created here
   * @param {string} [opts.tablePrefix] default `forcelink` (tables `<prefix>_tokens`, `_leases`, `_nonces`)
   */
  constructor(opts = {}) {
    const prefix = opts.tablePrefix === undefined ? 'forcelink' : opts.tablePrefix
    if (typeof prefix !== 'string' || !NAME.test(prefix)) throw new TypeError('tablePrefix must be a lowercase SQL identifier')
    this.t = { tokens: `${prefix}_tokens`, leases: `${prefix}_leases`, nonces: `${prefix}_nonces` }
    if (opts.pool) {
      this.pool = opts.pool
      this.ownPool = false
    } else {
      const { Pool } = loadPg()
      this.pool = new Pool({
        connectionString: opts.connectionString,
        max: opts.max || 10,
        connectionTimeoutMillis: opts.connectionTimeoutMillis || 10_000,
        statement_timeout: opts.statementTimeoutMs || 10_000,
      })
      // An idle client's connection error must not crash the host process.
      this.pool.on('error', () => {})
      this.ownPool = true
    }
    this.ready = null
    this.nonceCalls = 0
  }

  /** The DDL, for hosts that create tables through their own migrations. */
  schema() {
    const { tokens, leases, nonces } = this.t
    return [
      `CREATE TABLE IF NOT EXISTS ${tokens} (
         account_id text NOT NULL, owner text NOT NULL, record jsonb NOT NULL,
         version bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (account_id, owner))`,
      `CREATE TABLE IF NOT EXISTS ${leases} (
         account_id text NOT NULL, owner text NOT NULL, lease_token text NOT NULL,
         expires_at timestamptz NOT NULL, PRIMARY KEY (account_id, owner))`,
      `CREATE TABLE IF NOT EXISTS ${nonces} (nonce text PRIMARY KEY, expires_at timestamptz NOT NULL)`,
      // keepAlive's listConnections: live connections in key order, the grant time in the index.
      `CREATE INDEX IF NOT EXISTS ${tokens}_keepalive ON ${tokens} (account_id, owner, (${REFRESHED_AT})) WHERE ${LIVE}`,
    ]
  }

  async #q(text, params) {
    if (!this.ready) {
      this.ready = this.#createTables().catch((e) => {
        this.ready = null
        throw e
      })
    }
    await this.ready
    return this.pool.query(text, params)
  }

  async #createTables() {
    for (const ddl of this.schema()) {
      // Two processes creating the same table at once: the loser sees a duplicate (table, type or
      // catalog row) while the winner commits; IF NOT EXISTS then succeeds on a retry.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.pool.query(ddl)
          break
        } catch (e) {
          if (!DUPLICATE.has(e.code) || attempt >= 5) throw e
          await new Promise((r) => setTimeout(r, 20 * attempt))
        }
      }
    }
  }

  async find(accountId, ownerId) {
    const r = await this.#q(`SELECT record, version FROM ${this.t.tokens} WHERE account_id = $1 AND owner = $2`, [accountId, ownerId])
    if (r.rows.length === 0) return null
    return { ...r.rows[0].record, version: Number(r.rows[0].version) }
  }

  async save(record, options) {
    const version = Number.isSafeInteger(record.version) ? record.version : 0
    const args = [record.account_id, record.owner, JSON.stringify(record), version]
    if (!options || options.expectedVersion === undefined) {
      await this.#q(
        `INSERT INTO ${this.t.tokens} (account_id, owner, record, version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, owner) DO UPDATE SET record = EXCLUDED.record, version = EXCLUDED.version, updated_at = now()`,
        args,
      )
      return true
    }
    // Fenced: only over the version the writer read; false when another writer got there first.
    const r = await this.#q(
      `UPDATE ${this.t.tokens} SET record = $3, version = $4, updated_at = now()
       WHERE account_id = $1 AND owner = $2 AND version = $5`,
      [...args, options.expectedVersion],
    )
    return r.rowCount === 1
  }

  async delete(accountId, ownerId) {
    const r = await this.#q(`DELETE FROM ${this.t.tokens} WHERE account_id = $1 AND owner = $2`, [accountId, ownerId])
    return r.rowCount > 0
  }

  /**
   * Connections last granted before `refreshedBefore` (ms since the epoch), in key order after
   * `after` (the previous page's `next`): one indexed statement per page.
   */
  async listConnections({ refreshedBefore, after, limit }) {
    const [a, o] = Array.isArray(after) && after.length === 2 ? after.map(String) : ['', '']
    const n = Math.max(1, Math.min(Number(limit) || 500, 10_000))
    const r = await this.#q(
      `SELECT account_id, owner FROM ${this.t.tokens}
       WHERE ${LIVE} AND (account_id, owner) > ($1, $2) AND ${REFRESHED_AT} < $3
       ORDER BY account_id, owner LIMIT $4`,
      [a, o, Number(refreshedBefore), n + 1],
    )
    const rows = r.rows.slice(0, n)
    const last = rows[rows.length - 1]
    return {
      connections: rows.map((x) => ({ accountId: x.account_id, ownerId: x.owner })),
      next: r.rows.length > n && last ? [last.account_id, last.owner] : null,
    }
  }

  async acquireLease(accountId, ownerId, ttlMs) {
    const token = crypto.randomUUID()
    const r = await this.#q(
      `INSERT INTO ${this.t.leases} AS l (account_id, owner, lease_token, expires_at)
       VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond')
       ON CONFLICT (account_id, owner) DO UPDATE SET lease_token = EXCLUDED.lease_token, expires_at = EXCLUDED.expires_at
       WHERE l.expires_at <= clock_timestamp()
       RETURNING lease_token`,
      [accountId, ownerId, token, ttlMs],
    )
    return r.rows.length === 1 ? r.rows[0].lease_token : null
  }

  async renewLease(accountId, ownerId, leaseToken, ttlMs) {
    const r = await this.#q(
      `UPDATE ${this.t.leases} SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
       WHERE account_id = $1 AND owner = $2 AND lease_token = $3 AND expires_at > clock_timestamp()`,
      [accountId, ownerId, leaseToken, ttlMs],
    )
    return r.rowCount === 1
  }

  async releaseLease(accountId, ownerId, leaseToken) {
    await this.#q(`DELETE FROM ${this.t.leases} WHERE account_id = $1 AND owner = $2 AND lease_token = $3`, [accountId, ownerId, leaseToken])
  }

  async consumeNonce(nonce, expiresAtMs) {
    if (++this.nonceCalls % 256 === 0) {
      await this.#q(`DELETE FROM ${this.t.nonces} WHERE expires_at < now()`, [])
    }
    // An expired row may be taken again: its state would be refused as expired anyway.
    const r = await this.#q(
      `INSERT INTO ${this.t.nonces} AS n (nonce, expires_at) VALUES ($1, to_timestamp($2 / 1000.0))
       ON CONFLICT (nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE n.expires_at < now()
       RETURNING 1`,
      [nonce, expiresAtMs],
    )
    return r.rows.length === 1
  }

  /** Ends the pool this store created (a pool passed in is left to its owner). */
  async close() {
    if (this.ownPool) await this.pool.end()
  }
}

module.exports = { PostgresStore }
