// README snippets of "Exports that know the schema" (issue 22), type-checked.
import forcelink = require('../../index.js')

const { Forcelink } = forcelink

// (The README's `attributes: false` export type, from issue 21's section, merged here.)
export const moreTypes: Record<string, forcelink.ExportTypeConfig> = {
  leads: { object: 'Lead', fields: ['Name', 'Company', 'Status'], attributes: false },
}

export async function schema(accountId: string, ownerId: string): Promise<void> {
  const fl = new Forcelink({
    clientId: 'id',
    clientSecret: 's',
    redirectUri: 'https://a.example/cb',
    stateSecret: 'x'.repeat(32),
    exportTypes: { accounts: { object: 'Account', fields: 'all' } },
  })
  const fields = await fl.describe({ accountId, ownerId, type: 'accounts' }) // an export type, or an sObject: 'Account'
  // [{ name, type, label, compoundParent, filterable, nillable, updateable, calculated, exported }, …]
  const parents: (string | null | undefined)[] = fields.map((f) => f.compoundParent)
  for await (const step of fl.sync({ accountId, ownerId, type: 'accounts', fields: 'all', verify: true, formulaRefresh: 86_400_000 })) {
    const added: string[] | undefined = step.meta?.schemaChange?.added
    const stopped = step.meta?.reason === 'api_budget'
    void [added, stopped, step.meta?.verifyMismatch?.expected]
  }
  for await (const batch of fl.exportAll({ accountId, ownerId, type: 'contacts', fields: 'all', onProgress: (p) => p.fields })) void batch
  fl.on('schemaChange', (e) => e.added.concat(e.removed))
  fl.on('verifyMismatch', (e) => e.expected - e.received)
  void parents
}
