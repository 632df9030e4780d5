'use strict'
// The demo's "Sync" view: runs `forcelink.sync` on the server for the selected tab's type and
// shows each run's steps; against the simulator, "Edit" changes records so the next run has
// upserts and deletes to bring.

;(() => {
  const $ = (id) => document.getElementById(id)
  const typeNow = () => document.querySelector('.tabs [aria-selected="true"]')?.dataset.type || 'contacts'
  let timer = null
  let busy = false

  function render(s) {
    $('sync').hidden = false
    $('sync-edit').hidden = !s.editable
    $('sync-state').textContent = `${s.type}: ${s.records.toLocaleString()} records in the replica${s.synced ? '' : ' (not synced yet)'}`
    const body = $('sync-log').tBodies[0]
    body.replaceChildren(
      ...s.log.map((run) => {
        const tr = document.createElement('tr')
        const ups = run.steps.reduce((n, x) => n + x.upserts, 0)
        const dels = run.steps.reduce((n, x) => n + x.deletes, 0)
        const cells = [
          `${new Date(run.at).toLocaleTimeString()} · ${run.ms} ms`,
          `${run.steps.length} steps: ${run.steps.map((x) => `${x.upserts}/${x.deletes}`).join(', ')} (total ${ups}/${dels})`,
          run.steps.flatMap((x) => x.sample).slice(0, 4).join(' '),
          run.records.toLocaleString(),
        ]
        for (const c of cells) {
          const td = document.createElement('td')
          td.textContent = c
          tr.append(td)
        }
        return tr
      }),
    )
  }

  async function call(path, method = 'GET') {
    const res = await fetch(`/api/sync${path}${path.includes('?') ? '&' : '?'}type=${typeNow()}`, { method })
    const body = await res.json()
    if (!res.ok) $('sync-state').textContent = `${body.code || res.status}: ${body.message}`
    return { ok: res.ok, body }
  }

  async function refresh() {
    const { ok, body } = await call('')
    if (ok) render(body)
  }

  async function run() {
    if (busy) return
    busy = true
    $('sync-run').disabled = true
    try {
      const { body } = await call('/run', 'POST')
      if (body && body.log) render(body)
    } finally {
      busy = false
      $('sync-run').disabled = false
    }
  }

  function init() {
    $('sync-run').addEventListener('click', run)
    $('sync-edit').addEventListener('click', async () => {
      const { ok, body } = await call('/edit', 'POST')
      if (ok) $('sync-state').textContent = `Edited in Salesforce: ${body.created} created, ${body.updated} updated, ${body.deleted} deleted, ${body.undeleted} restored`
    })
    $('sync-reset').addEventListener('click', async () => render((await call('/reset', 'POST')).body))
    $('sync-auto').addEventListener('change', (e) => {
      clearInterval(timer)
      timer = e.target.checked ? setInterval(run, 5000) : null
    })
    for (const tab of document.querySelectorAll('.tabs [data-type]')) tab.addEventListener('click', () => setTimeout(refresh, 0))
    // Shown with the data card, once connected.
    new MutationObserver(() => {
      if (!$('data').hidden && $('sync').hidden) refresh()
      if ($('data').hidden) $('sync').hidden = true
    }).observe($('data'), { attributes: true, attributeFilter: ['hidden'] })
    if (!$('data').hidden) refresh()
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
  else init()
})()
