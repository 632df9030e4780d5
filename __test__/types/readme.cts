// CommonJS from TypeScript (`import x = require()`), as a CJS TypeScript host writes it.
import forcelink = require('forcelink')
import forcelinkExpress = require('forcelink/express')
import express = require('express')
import { Readable } from 'node:stream'

const { Forcelink, ForcelinkError, paginate } = forcelink

declare const accountId: string, ownerId: number

export async function main(): Promise<void> {
  const fl = new Forcelink({ clientId: 'id', clientSecret: 's', redirectUri: 'https://a.example/cb', stateSecret: 'x'.repeat(32) })
  const page = await fl.exportPage({ accountId, ownerId, type: 'contacts', page: '2', limit: 50 })
  const next: number | null = page.pagination.next_page
  const s: Readable = fl.exportStream({ connectionId: 'nightly', type: 'deals', format: 'ndjson', since: new Date() })
  const ctl = new AbortController()
  for await (const batch of fl.exportAll({ connectionId: 'nightly', type: 'deals', engine: 'bulk', signal: ctl.signal, onProgress: (p) => p.jobId })) {
    batch.map((r) => r.attributes.url)
  }
  const q = await fl.query<{ Id: string }>({ accountId, ownerId, soql: 'SELECT Id FROM Contact', all: true })
  q.records[0]?.Id.toUpperCase()
  const app = express()
  app.use('/sf', forcelinkExpress.salesforceRouter(fl, { express, onError: (err) => console.error(err.code) }))
  const ctrl = forcelinkExpress.createSalesforceController(fl)
  app.get('/export/:type', ctrl.exportData)
  const err = new ForcelinkError({ code: 'INVALID_INPUT', status: 400, message: 'bad', field: 'page' })
  const code: forcelink.ErrorCode = err.code
  void [next, s, paginate(10, 1, 5), code]
}
