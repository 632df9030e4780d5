'use strict'
// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, top N.
// usage: node benchmark/tools/cpuprofile-top.js FILE.cpuprofile [N]
const fs = require('node:fs')

const prof = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const n = Number(process.argv[3] || 25)
const byId = new Map(prof.nodes.map((x) => [x.id, x]))
const self = new Map()
const dt = prof.timeDeltas
let total = 0
for (let i = 0; i < prof.samples.length; i++) {
  const node = byId.get(prof.samples[i])
  const d = (dt[i] || 0) / 1000
  total += d
  const cf = node.callFrame
  const key = `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^.*\/(node_modules\/)?/, '') : ''}:${cf.lineNumber + 1}`
  self.set(key, (self.get(key) || 0) + d)
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
console.log(`total sampled ${total.toFixed(1)} ms`)
for (const [k, v] of rows) console.log(`${v.toFixed(1).padStart(9)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
