'use strict'
// The demo's activity panel: what forcelink reports (refreshes, retries, API usage of the
// connected org), polled from the server; against the simulator, buttons to expire the token or
// inject an outage, then watch the next page load recover.

;(() => {
  const $ = (id) => document.getElementById(id)
  const describe = (e) => {
    switch (e.event) {
      case 'refresh':
        return `token refreshed${e.rotated ? ' (rotated)' : ''} in ${e.durationMs} ms`
      case 'retry':
        return `retry ${e.attempt} after ${e.status ? `HTTP ${e.status}` : e.reason}, waited ${e.delayMs} ms`
      case 'apiUsage':
        return `API usage ${e.used.toLocaleString()} / ${e.max.toLocaleString()}`
      case 'rateLimited':
        return 'API limit reached'
      case 'reconnectRequired':
        return 'refresh token refused: reconnect required'
      case 'bulkJob':
        return `Bulk job ${e.jobId}: ${e.state}`
      case 'storeError':
        return `token store ${e.op} failed`
      default:
        return e.event
    }
  }

  async function poll() {
    try {
      const res = await fetch('/api/activity')
      if (!res.ok) return
      const a = await res.json()
      $('activity').hidden = false
      $('activity-controls').hidden = !a.controls
      $('activity-usage').textContent = a.apiUsage ? `Org ${a.apiUsage.orgId}: ${a.apiUsage.used.toLocaleString()} of ${a.apiUsage.max.toLocaleString()} API calls used` : 'No API calls yet'
      $('activity-log').replaceChildren(
        ...a.events
          .slice()
          .reverse()
          .map((e) => {
            const li = document.createElement('li')
            li.dataset.event = e.event
            li.textContent = `${new Date(e.at).toLocaleTimeString()} · ${describe(e)}`
            return li
          }),
      )
    } catch (_) {
      /* the next poll tries again */
    }
  }

  async function control(p) {
    await fetch(`/api/activity/${p}`, { method: 'POST' })
    // Load the page again so forcelink has something to recover.
    document.getElementById('page')?.dispatchEvent(new Event('change'))
    setTimeout(poll, 300)
  }

  $('activity-expire').addEventListener('click', () => control('expire'))
  $('activity-outage').addEventListener('click', () => control('outage'))
  poll()
  setInterval(poll, 1000)
})()
