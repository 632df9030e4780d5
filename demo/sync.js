'use strict'
// The demo's "Sync" view, server side: one replica per export type kept in memory, brought up to
// date by `forcelink.sync` from the stored checkpoint, one run per request. Against the simulator
// it can also edit records (the simulator's control API makes random creates, updates, deletes
// and undeletes, some committing "late"), so the steps show upserts and deletes arriving.

const TYPES = { contacts: 'Contact', deals: 'Opportunity', notes: 'Note' }
const MAX_LOG = 50

function syncRoutes({ forcelink, express, simControlUrl }) {
  const router = express.Router()
  const replicas = new Map() // type → { records: Map, checkpoint, log }
  const replica = (type) => {
    if (!replicas.has(type)) replicas.set(type, { records: new Map(), checkpoint: undefined, log: [], running: false })
    return replicas.get(type)
  }
  const typeOf = (req, res) => {
    const type = String(req.query.type || 'contacts')
    if (!TYPES[type]) {
      res.status(400).json({ message: 'unknown type' })
      return null
    }
    return type
  }
  const summary = (type) => {
    const r = replica(type)
    return { type, records: r.records.size, synced: r.checkpoint !== undefined, log: r.log, editable: Boolean(simControlUrl) }
  }

  router.get('/', (req, res) => {
    const type = typeOf(req, res)
    if (type) res.json(summary(type))
  })

  // One run: every step applied to the replica, then the checkpoint stored (per step, as a host would).
  router.post('/run', async (req, res) => {
    const type = typeOf(req, res)
    if (!type) return
    const r = replica(type)
    if (r.running) return res.status(409).json({ message: 'a sync of this type is already running' })
    r.running = true
    const conn = { accountId: req.auth.account_id, ownerId: req.auth.uid }
    const started = Date.now()
    const steps = []
    try {
      for await (const step of forcelink.sync({ ...conn, type, checkpoint: r.checkpoint, batchSize: 500 })) {
        for (const rec of step.upserts) r.records.set(rec.Id, rec)
        for (const d of step.deletes) r.records.delete(d.Id)
        r.checkpoint = step.checkpoint
        steps.push({
          upserts: step.upserts.length,
          deletes: step.deletes.length,
          sample: step.upserts.slice(0, 3).map((x) => x.Id).concat(step.deletes.slice(0, 2).map((d) => `−${d.Id}`)),
          checkpointBytes: step.checkpoint.length,
        })
      }
      r.log.unshift({ at: new Date().toISOString(), ms: Date.now() - started, full: steps.length > 0 && r.log.length === 0, steps, records: r.records.size })
      r.log.length = Math.min(r.log.length, MAX_LOG)
      res.json(summary(type))
    } catch (err) {
      if (err.name !== 'ForcelinkError') throw err
      if (err.code === 'FULL_RESYNC_REQUIRED') {
        r.checkpoint = undefined
        r.records.clear()
      }
      res.status(err.status).json({ code: err.code, message: err.message, ...summary(type) })
    } finally {
      r.running = false
    }
  })

  // Someone edits records in "Salesforce" (simulator only).
  router.post('/edit', async (req, res) => {
    const type = typeOf(req, res)
    if (!type) return
    if (!simControlUrl) return res.status(404).json({ message: 'editing needs the simulator' })
    const r = await fetch(`${simControlUrl}/mutate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ object: TYPES[type], count: 25, lateMs: 30000 }),
    })
    res.status(r.ok ? 200 : 502).json(await r.json())
  })

  router.post('/reset', (req, res) => {
    const type = typeOf(req, res)
    if (!type) return
    replicas.delete(type)
    res.json(summary(type))
  })
  return router
}

module.exports = { syncRoutes }
