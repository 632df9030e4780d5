'use strict'
// The README's MongoDB TokenStore example type-checks against forcelink's TokenStore v2 types
// (with a minimal mongoose declaration; no MongoDB server runs here).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')

const MONGOOSE_STUB = `
declare module 'mongoose-stub' {}
interface Query<R> extends PromiseLike<R> { lean(): Promise<R> }
interface UpdateResult { matchedCount: number; modifiedCount: number }
interface Model<T> {
  findOne(filter: object): Query<T | null>
  findOneAndUpdate(filter: object, update: object, options?: object): Query<T | null>
  updateOne(filter: object, update: object, options?: object): Promise<UpdateResult>
  deleteOne(filter: object): Promise<{ deletedCount: number }>
  create(doc: Partial<T>): Promise<T>
}
declare const mongoose: {
  Schema: new (definition: object, options?: object) => object
  model<T>(name: string, schema: object): Model<T>
}
declare module 'node:crypto' { export function randomUUID(): string }
`

test('the README MongoDB example type-checks against TokenStore v2', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const m = readme.match(/<!-- mongo-example -->\s*```ts\n([\s\S]*?)```/)
  expect(m).not.toBeNull()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-ts-'))
  fs.writeFileSync(path.join(dir, 'stub.d.ts'), MONGOOSE_STUB)
  fs.writeFileSync(path.join(dir, 'example.ts'), m[1])
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'commonjs',
        moduleResolution: 'node10',
        skipLibCheck: true,
        types: [],
        baseUrl: '.',
        paths: { forcelink: [path.join(root, 'index.d.ts')] },
        ignoreDeprecations: '6.0',
      },
      files: ['stub.d.ts', 'example.ts'],
    }),
  )
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { stdio: 'pipe' })
  } catch (e) {
    throw new Error(`tsc: ${e.stdout}${e.stderr}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
