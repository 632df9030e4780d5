'use strict'
// The demo's activity panel, server side: the last events forcelink emitted (refreshes, retries,
// API usage, …) for the page to show, and, against the simulator, buttons that use its control
// API (expire the access tokens, inject an outage) so a visitor can watch forcelink recover.

const EVENTS = ['refresh', 'reconnectRequired', 'retry', 'rateLimited', 'apiUsage', 'storeError', 'bulkJob']
const MAX_EVENTS = 40

function activityRoutes({ forcelink, express, simControlUrl, conn }) {
  const router = express.Router()
  const events = []
  let seq = 0
  for (const name of EVENTS) {
    forcelink.on(name, (e) => {
      // apiUsage arrives on every response: keep only the latest one in the list.
      if (name === 'apiUsage' && events.length && events[events.length - 1].event === 'apiUsage') events.pop()
      events.push({ seq: ++seq, at: Date.now(), event: name, ...e })
      if (events.length > MAX_EVENTS) events.shift()
    })
  }
  const control = async (p, body) => {
    const res = await fetch(`${simControlUrl}/${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    })
    if (!res.ok) throw new Error(`simulator control ${p}: ${res.status}`)
  }

  router.get('/', (req, res) => {
    res.json({ events, apiUsage: forcelink.limitInfo(conn(req)), controls: Boolean(simControlUrl) })
  })
  const action = (p, body) => async (req, res) => {
    if (!simControlUrl) return res.status(404).json({ message: 'no simulator' })
    try {
      await control(p, body)
      res.json({ ok: true })
    } catch (err) {
      res.status(502).json({ message: err.message })
    }
  }
  router.post('/expire', action('expire-access-tokens', {}))
  // Two 503s: forcelink retries through them, so the next page still loads.
  router.post('/outage', action('faults', { target: 'query', kind: '503', count: 2 }))
  return router
}

module.exports = { activityRoutes }
