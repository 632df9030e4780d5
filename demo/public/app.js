'use strict'
// The demo page: connection status, a paged table per export type, "Export all" with progress,
// and disconnect. It only talks to the demo app; tokens never reach the browser.

const API = '/v1/integrations/salesforce'
const $ = (id) => document.getElementById(id)

const view = { type: 'contacts', page: 1, limit: 25, pages: null, loadSeq: 0, exporting: null }

function flash(text, kind = 'info') {
  const el = $('flash')
  el.textContent = text
  el.dataset.kind = kind
  el.hidden = !text
}

/** The error body the router sends (`{ success:false, errno, message, code }`), or a generic one. */
async function errorOf(res) {
  try {
    const body = await res.json()
    return { message: body.message || `HTTP ${res.status}`, code: body.code }
  } catch {
    return { message: `HTTP ${res.status}` }
  }
}

// ---- connection --------------------------------------------------------------------------

/** The forward_url round trip lands here with `?status=…&integration=salesforce[&reason=…]`. */
function readReturnParams() {
  const q = new URLSearchParams(location.search)
  if (q.get('integration') !== 'salesforce') return
  if (q.get('status') === 'success') flash('Salesforce connected.', 'success')
  else flash(`Salesforce connection failed: ${q.get('reason') || 'unknown reason'}`, 'error')
  history.replaceState(null, '', location.pathname)
}

async function refreshStatus() {
  let s
  try {
    const res = await fetch('/api/status')
    s = await res.json()
  } catch {
    s = { connected: false, message: 'The demo server is not reachable.' }
  }
  const pill = $('status')
  pill.dataset.state = s.connected ? 'connected' : 'disconnected'
  pill.textContent = s.connected ? `Connected${s.instanceUrl ? ` · ${new URL(s.instanceUrl).host}` : ''}` : 'Not connected'
  $('connect').hidden = s.connected
  $('connect').textContent = s.code === 'RECONNECT_REQUIRED' ? 'Reconnect Salesforce' : 'Connect Salesforce'
  $('disconnect').hidden = !s.connected
  $('intro').hidden = s.connected
  $('mode').textContent =
    s.mode === 'salesforce' ? 'This demo talks to real Salesforce.' : 'This demo talks to the local Salesforce simulator: its consent page stands in for Salesforce login.'
  $('data').hidden = !s.connected
  if (!s.connected && s.code === 'RECONNECT_REQUIRED') flash('Salesforce no longer accepts this connection. Connect again.', 'error')
  else if (!s.connected && s.message) flash(s.message, 'error')
  if (s.connected) await loadPage()
}

async function disconnect() {
  $('disconnect').disabled = true
  try {
    const res = await fetch(`${API}/auth`, { method: 'DELETE' })
    if (res.ok) {
      const { revoked } = await res.json()
      flash(revoked ? 'Disconnected: the token was revoked at Salesforce and deleted.' : 'Disconnected: the token was deleted (Salesforce did not confirm the revoke).', 'success')
    }
    else flash(`Disconnect failed: ${(await errorOf(res)).message}`, 'error')
  } finally {
    $('disconnect').disabled = false
  }
  await refreshStatus()
}

// ---- table ------------------------------------------------------------------------------

/** `{ Name, Account: { Name } }` → `{ Name, 'Account.Name' }`, without Salesforce's `attributes`. */
function flatten(rec, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'attributes') continue
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out)
    else out[prefix + k] = v
  }
  return out
}

/** Column order of first appearance; a parent that is null in some records (`Account: null`) and
 *  an object in others shows only its fields, in the parent's place. */
function columns(rows) {
  const seen = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const top = (k) => k.split('.')[0]
  const order = [...new Set(seen.map(top))]
  return seen
    .filter((c) => !seen.some((k) => k.startsWith(`${c}.`)))
    .sort((a, b) => order.indexOf(top(a)) - order.indexOf(top(b)))
}

function renderTable(records) {
  const rows = records.map((r) => flatten(r))
  const cols = columns(rows)
  const head = document.createElement('tr')
  for (const c of cols) head.appendChild(Object.assign(document.createElement('th'), { textContent: c }))
  const body = document.createDocumentFragment()
  for (const r of rows) {
    const tr = document.createElement('tr')
    for (const c of cols) {
      const v = r[c]
      const text = v === null || v === undefined ? '' : String(v)
      tr.appendChild(Object.assign(document.createElement('td'), { textContent: text, title: text }))
    }
    body.appendChild(tr)
  }
  $('records').tHead.replaceChildren(head)
  $('records').tBodies[0].replaceChildren(body)
  $('empty').hidden = rows.length > 0
}

function renderPager(p) {
  view.pages = Math.max(p.total_pages, 1)
  $('page').value = String(p.page)
  $('page').max = String(view.pages)
  $('pages').textContent = view.pages.toLocaleString()
  $('prev').disabled = !p.prev_page
  $('next').disabled = !p.next_page
  $('total').textContent = `${p.total.toLocaleString()} records`
}

async function loadPage() {
  const seq = ++view.loadSeq
  $('records').classList.add('loading')
  try {
    const res = await fetch(`${API}/export/${view.type}?page=${view.page}&limit=${view.limit}`)
    if (seq !== view.loadSeq) return // a later click won
    if (!res.ok) {
      const e = await errorOf(res)
      if (e.code === 'RECONNECT_REQUIRED' || e.code === 'TOKEN_NOT_FOUND') return refreshStatus()
      return flash(`Could not load ${view.type}: ${e.message}`, 'error')
    }
    const body = await res.json()
    renderTable(body.data)
    renderPager(body.pagination)
  } catch (err) {
    if (seq === view.loadSeq) flash(`Could not load ${view.type}: ${err.message}`, 'error')
  } finally {
    if (seq === view.loadSeq) $('records').classList.remove('loading')
  }
}

function goTo(page) {
  const max = view.pages || Infinity
  view.page = Math.min(Math.max(1, Math.floor(Number(page)) || 1), max)
  loadPage()
}

function selectType(type) {
  view.type = type
  view.page = 1
  view.pages = null
  for (const b of document.querySelectorAll('.tabs button')) b.setAttribute('aria-selected', String(b.dataset.type === type))
  loadPage()
}

// ---- export all -------------------------------------------------------------------------

function showProgress(rows, total, done) {
  $('progress').hidden = false
  const pct = total > 0 ? Math.min(100, (rows / total) * 100) : done ? 100 : 0
  $('progress-bar').style.width = `${pct.toFixed(1)}%`
  const counted = total > 0 ? `${Math.min(rows, total).toLocaleString()} of ${total.toLocaleString()} rows` : `${rows.toLocaleString()} rows`
  $('progress-text').textContent = done ? `Done: ${counted}` : counted
}

function saveBlob(blob, filename) {
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: filename })
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
}

/** Streams `?download=` with fetch so progress can be shown: rows are counted as newlines arrive
 *  (an estimate for CSV cells holding line breaks), against the server's `X-Total-Count`. */
async function exportAll() {
  const format = $('export-format').value
  const type = view.type
  const ctrl = new AbortController()
  view.exporting = ctrl
  $('export').disabled = true
  $('export-cancel').hidden = false
  flash('')
  try {
    const res = await fetch(`${API}/export/${type}?download=${format}`, { signal: ctrl.signal })
    if (!res.ok) return flash(`Export failed: ${(await errorOf(res)).message}`, 'error')
    const total = Number(res.headers.get('X-Total-Count')) || 0
    const header = format === 'csv' ? 1 : 0
    const reader = res.body.getReader()
    const chunks = []
    let lines = 0
    showProgress(0, total, false)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++
      showProgress(Math.max(0, lines - header), total, false)
    }
    const rows = Math.max(0, lines - header)
    showProgress(rows, total, true)
    saveBlob(new Blob(chunks, { type: res.headers.get('Content-Type') || 'application/octet-stream' }), `${type}.${format}`)
    flash(`Exported ${rows.toLocaleString()} ${type} as ${type}.${format}.`, 'success')
  } catch (err) {
    if (err.name === 'AbortError') {
      flash('Export cancelled.')
      $('progress').hidden = true
    } else {
      flash(`Export failed before it finished (${err.message}); nothing was saved.`, 'error')
    }
  } finally {
    view.exporting = null
    $('export').disabled = false
    $('export-cancel').hidden = true
  }
}

// ---- wiring -----------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => selectType(b.dataset.type))
  $('prev').addEventListener('click', () => goTo(view.page - 1))
  $('next').addEventListener('click', () => goTo(view.page + 1))
  $('page').addEventListener('change', (e) => goTo(e.target.value))
  $('page-size').addEventListener('change', (e) => {
    view.limit = Number(e.target.value)
    view.page = 1
    loadPage()
  })
  $('export').addEventListener('click', exportAll)
  $('export-cancel').addEventListener('click', () => view.exporting && view.exporting.abort())
  $('disconnect').addEventListener('click', disconnect)
  readReturnParams()
  refreshStatus()
})
