'use strict'
// BENCHMARKS.md from a results object (benchmark/results/latest.json): measured numbers only, medians
// with their spread over the rounds, ratios against each peer, and the targets of issue 6.
const { median, summarize } = require('./stats')

const LABEL = {
  forcelink: 'forcelink `exportAll` (objects)',
  'forcelink-noattrs': 'forcelink `exportAll` `attributes: false` (objects)',
  'forcelink-serial': 'forcelink `exportAll` `parallelism: 1` (objects)',
  'forcelink-ndjson': 'forcelink `exportStream` NDJSON (bytes)',
  'forcelink-csv': 'forcelink `exportStream` CSV (bytes)',
  jsforce: 'jsforce `query` + `queryMore`',
  incumbent: 'incumbent loop (LIMIT 2000 OFFSET n)',
  floor: 'floor: `fetch` + `JSON.parse`',
  'forcelink-ndjson-gc': 'diagnostic: the NDJSON stream with `global.gc()` every 5 batches',
  'forcelink-csv-arena1': 'diagnostic: the CSV stream with `MALLOC_ARENA_MAX=1` (one glibc malloc arena)',
}

function num(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a'
  const a = Math.abs(v)
  const d = digits !== undefined ? digits : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

/** "median (min–max)" of a field over rounds. */
function cell(runs, field, digits) {
  const s = summarize(runs, field)
  if (!s.n) return 'n/a'
  if (s.n === 1 || s.min === s.max) return num(s.median, digits)
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`
}

const med = (runs, field) => summarize(runs, field).median
const get = (o, p) => p.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o)
const medPath = (runs, p) => median(runs.map((r) => get(r, p)).filter((v) => typeof v === 'number'))
const ratio = (a, b) => (a === undefined || b === undefined || !b ? 'n/a' : `${num(a / b, 2)}×`)
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
const yes = (ok) => (ok === null ? 'n/a' : ok ? '**met**' : '**missed**')

/** Per-record medians for the export table. */
function perRecord(runs, field) {
  return median(runs.map((r) => (r.records ? r[field] / r.records : NaN)).filter(Number.isFinite))
}

function exportSection(b, title, peers) {
  const rows = []
  for (const [c, runs] of Object.entries(b.runs)) {
    rows.push([
      LABEL[c] || c,
      num(med(runs, 'records'), 0),
      cell(runs, 'wallMs'),
      cell(runs, 'cpuMs'),
      cell(runs, 'eluBusyMs'),
      cell(runs, 'jsThreadCpuMs', 0),
      cell(runs, 'peakRssMB', 0),
      num(perRecord(runs, 'wallMs') * 1000, 2),
      num(perRecord(runs, 'cpuMs') * 1000, 2),
      num(perRecord(runs, 'eluBusyMs') * 1000, 2),
      cell(runs, 'simCpuMs', 0),
      cell(runs, 'otherCpuMs', 0),
      cell(runs, 'stealMs', 0),
    ])
  }
  const out = [
    title,
    '',
    table(['contender', 'records', 'wall ms', 'process CPU ms', 'event-loop busy ms', 'JS-thread CPU ms', 'peak RSS MB', 'wall µs/record', 'CPU µs/record', 'busy µs/record', 'simulator CPU ms', 'other processes CPU ms', 'stolen CPU ms'], rows),
    '',
    'Simulator CPU: what the simulator process spent during the measured section (it competes for the same two cores). Other processes: what every other process on the machine used meanwhile; stolen: CPU time the hypervisor gave to other VMs while this one had work (`steal` in /proc/stat). Both are noise the medians have to absorb.',
  ]
  const inc = b.runs.incumbent && b.runs.incumbent[0]
  if (inc && inc.stoppedAt) {
    out.push('', `The incumbent loop stopped after ${num(med(b.runs.incumbent, 'records'), 0)} records (${inc.pages} pages): page ${inc.stoppedAt.page} asks for OFFSET ${num(inc.stoppedAt.offset, 0)} and Salesforce answers ${inc.stoppedAt.status} \`${inc.stoppedAt.error}\`. Its ratios below are per record.`)
  }
  if (peers) {
    const ratioRows = []
    for (const c of ['forcelink', 'forcelink-noattrs', 'forcelink-serial', 'forcelink-ndjson', 'forcelink-csv']) {
      if (!b.runs[c]) continue
      for (const p of peers) {
        if (!b.runs[p]) continue
        const pr = p === 'incumbent'
        const f = (field) => (pr ? ratio(perRecord(b.runs[c], field), perRecord(b.runs[p], field)) : ratio(med(b.runs[c], field), med(b.runs[p], field)))
        ratioRows.push([`${LABEL[c]} ÷ ${LABEL[p]}`, f('wallMs'), f('cpuMs'), f('eluBusyMs'), f('jsThreadCpuMs'), pr ? 'n/a' : ratio(med(b.runs[c], 'peakRssMB'), med(b.runs[p], 'peakRssMB'))])
      }
    }
    out.push('', 'Ratios of the medians (below 1 = forcelink uses less):', '', table(['', 'wall', 'process CPU', 'event-loop busy', 'JS-thread CPU', 'peak RSS'], ratioRows))
  }
  return out.join('\n')
}

function targets(r) {
  const e = r.benchmarks.export
  const p = r.benchmarks.page
  const s = r.benchmarks.storm
  const st = r.benchmarks.state
  const m = r.benchmarks.memory
  const o = r.benchmarks.overhead && { runs: r.benchmarks.overhead.runs.boundary }
  const micro = r.benchmarks.micro
  const rows = []
  const why = []
  const add = (name, measured, ok, reason) => {
    rows.push([name, measured, yes(ok)])
    if (ok === false && reason) why.push(`- **${name}**: ${reason}`)
  }
  if (e) {
    const F = e.runs.forcelink
    const J = e.runs.jsforce
    const L = e.runs.floor
    const w = med(F, 'wallMs') / med(J, 'wallMs')
    const nd = e.runs['forcelink-ndjson']
    const batches = med(F, 'records') / 2000
    const parseMs = o ? medPath(o.runs, 'batch.jsParseMs') * batches : null
    add(
      'full export ≥ 2× faster than jsforce (wall)',
      `forcelink ${num(med(F, 'wallMs'), 0)} ms vs jsforce ${num(med(J, 'wallMs'), 0)} ms: ${num(1 / w, 2)}× faster`,
      w <= 0.5,
      `three lower bounds, all measured: the fetch path alone (network, simulator, Rust reading and handing over batches; the NDJSON stream, which never parses in JS) takes ${num(med(nd, 'wallMs'), 0)} ms; the JS thread's own work is ${num(med(F, 'jsThreadCpuMs'), 0)} ms of CPU${parseMs !== null ? ` (JSON.parse of the batches alone about ${num(parseMs, 0)} ms, batch probe §6)` : ''}; and forcelink's process CPU plus the simulator's, ${num(med(F, 'cpuMs'), 0)} + ${num(med(F, 'simCpuMs'), 0)} ms, needs at least ${num((med(F, 'cpuMs') + med(F, 'simCpuMs')) / 2, 0)} ms on two cores even perfectly parallel. Half of jsforce's wall is ${num(med(J, 'wallMs') / 2, 0)} ms; the measured ${num(med(F, 'wallMs'), 0)} ms is what overlapping these on two shared cores gives.`,
    )
    const c = med(F, 'cpuMs') / med(J, 'cpuMs')
    add(
      'full export ≤ 0.6× jsforce process CPU (Rust threads included)',
      `${num(med(F, 'cpuMs'), 0)} ms vs ${num(med(J, 'cpuMs'), 0)} ms: ${num(c, 2)}×`,
      c <= 0.6,
      `the JS thread uses ${num(med(F, 'jsThreadCpuMs'), 0)} ms of CPU${parseMs !== null ? ` (JSON.parse of the batches alone: about ${num(parseMs, 0)} ms, batch probe of §6)` : ''} and the Rust side about ${num(med(nd, 'cpuMs'), 0)} ms (the NDJSON stream's whole process CPU: fetch, read, hand over bytes); the target is ${num(0.6 * med(J, 'cpuMs'), 0)} ms.`,
    )
    const b = med(F, 'eluBusyMs') / med(L, 'eluBusyMs')
    add(
      'full export ≤ 0.5× the floor’s event-loop busy time',
      `${num(med(F, 'eluBusyMs'), 0)} ms vs ${num(med(L, 'eluBusyMs'), 0)} ms: ${num(b, 2)}× (JS-thread CPU, which descheduling cannot inflate: ${num(med(F, 'jsThreadCpuMs'), 0)} vs ${num(med(L, 'jsThreadCpuMs'), 0)} ms, ${num(med(F, 'jsThreadCpuMs') / med(L, 'jsThreadCpuMs'), 2)}×)`,
      b <= 0.5,
      (() => {
        const js = med(F, 'jsThreadCpuMs') / med(L, 'jsThreadCpuMs')
        const waited = med(F, 'eluBusyMs') - med(F, 'jsThreadCpuMs')
        const head = `the JS thread's own CPU is ${num(med(F, 'jsThreadCpuMs'), 0)} ms against the floor's ${num(med(L, 'jsThreadCpuMs'), 0)} ms (${num(js, 2)}×); the other ${num(waited, 0)} ms of forcelink's busy time the thread was runnable but waiting for one of the two cores, which it shares with the Rust threads reading ahead and with the simulator.`
        if (parseMs === null) return head
        return `${head} What the JS thread cannot shed is JSON.parse: about ${num(parseMs, 0)} ms for ${num(batches, 0)} batches of 2,000 records (batch probe, §6; the floor pays the same), against a budget of ${num(0.5 * med(L, 'eluBusyMs'), 0)} ms; the same batches without Salesforce's \`attributes\` objects parse in ${num(medPath(o.runs, 'batch.bareAsciiStringParseMs') * batches, 0)} ms.`
      })(),
    )
    const fw = med(F, 'wallMs') / med(L, 'wallMs')
    add('full export wall ≤ 1.15× the floor’s', `${num(med(F, 'wallMs'), 0)} ms vs ${num(med(L, 'wallMs'), 0)} ms: ${num(fw, 2)}×`, fw <= 1.15)
    const rss = med(F, 'peakRssMB') / med(L, 'peakRssMB')
    add('full export peak RSS ≤ the floor’s', `${num(med(F, 'peakRssMB'), 0)} MB vs ${num(med(L, 'peakRssMB'), 0)} MB: ${num(rss, 2)}×`, rss <= 1)
  }
  if (p) {
    const x = med(p.runs.forcelink, 'rps') / med(p.runs.incumbent, 'rps')
    const f = p.runs.forcelink
    const simUs = med(f, 'simCpuPerRequestUs')
    const srvUs = med(f, 'serverCpuPerRequestUs')
    const acUs = med(f, 'loadCpuPerRequestUs')
    add(
      'page endpoint ≥ 3× the incumbent’s requests/s',
      `${num(med(p.runs.forcelink, 'rps'), 0)} vs ${num(med(p.runs.incumbent, 'rps'), 0)} req/s: ${num(x, 2)}×`,
      x >= 3,
      Number.isFinite(simUs)
        ? `all three processes share the two cores. CPU per request: the simulator ${num(simUs, 0)} µs (a COUNT and a page query), autocannon ${num(acUs, 0)} µs, forcelink's server ${num(srvUs, 0)} µs (its JS thread ${num(100 * med(f, 'serverEluUtilization'), 0)}% busy), against the incumbent's server ${num(med(p.runs.incumbent, 'serverCpuPerRequestUs'), 0)} µs with its simulator ${num(med(p.runs.incumbent, 'simCpuPerRequestUs'), 0)} µs. Two cores cap forcelink at ${num(2e6 / (simUs + acUs + srvUs), 0)} req/s with these costs, and a server costing nothing at ${num(2e6 / (simUs + acUs), 0)} req/s.`
        : null,
    )
  }
  if (s) {
    const t = s.runs.forcelink.map((x) => x.tokenRequests)
    add('exactly one token request per refresh storm', `forcelink: ${t.join(', ')} (per round); jsforce: ${s.runs.jsforce.map((x) => x.tokenRequests).join(', ')}; incumbent: ${s.runs.incumbent.map((x) => x.tokenRequests).join(', ')}`, t.every((v) => v === 1))
  }
  if (m && e) {
    for (const c of ['forcelink-ndjson', 'forcelink-csv', 'forcelink']) {
      if (!m.runs[c] || !e.runs[c]) continue
      const g = med(m.runs[c], 'peakRssMB') / med(e.runs[c], 'peakRssMB')
      const gc = m.runs['forcelink-ndjson-gc']
      add(
        `${c === 'forcelink' ? 'exportAll' : `streaming (${c.slice(10)})`} peak RSS flat from 100,000 to 1,000,000 records (≤ 1.10×)`,
        `${num(med(e.runs[c], 'peakRssMB'), 0)} MB → ${num(med(m.runs[c], 'peakRssMB'), 0)} MB: ${num(g, 2)}×`,
        g <= 1.1,
        c === 'forcelink-ndjson' && gc
          ? `the growth is garbage, not retained memory: each batch arrives as a Buffer outside the V8 heap, freed only when a GC runs, and the stream allocates almost nothing on the JS heap, so GCs are rare; the Buffers awaiting collection reached ${num(med(m.runs[c], 'maxExternalMB'), 0)} MB at 1,000,000 records (${num(med(e.runs[c], 'maxExternalMB'), 0)} MB at 100,000). The same run with \`global.gc()\` every 5 batches peaks at ${num(med(gc, 'peakRssMB'), 0)} MB with ${num(med(gc, 'maxExternalMB'), 0)} MB of Buffers.`
          : c === 'forcelink-csv' && m.runs['forcelink-csv-arena1']
            ? `the same CSV run with glibc limited to one malloc arena (\`MALLOC_ARENA_MAX=1\`) peaks at ${num(med(m.runs['forcelink-csv-arena1'], 'peakRssMB'), 0)} MB (${num(med(m.runs['forcelink-csv-arena1'], 'peakRssMB') / med(e.runs[c], 'peakRssMB'), 2)}× the 100,000 run), so ${num(med(m.runs[c], 'peakRssMB') - med(m.runs['forcelink-csv-arena1'], 'peakRssMB'), 0)} MB of the growth is memory the Rust threads' per-thread malloc arenas keep after the CSV writer's many small allocations (a \`serde_json::Value\` tree per record, micro-benchmark \`csv_rows\` below); the batches' Buffers peaked at ${num(med(m.runs[c], 'maxExternalMB'), 0)} MB (${num(med(e.runs[c], 'maxExternalMB'), 0)} MB at 100,000).`
            : c === 'forcelink' && m.runs.floor && e.runs.floor
              ? (() => {
                  const span = (runs) => `${num(Math.min(...runs.map((x) => x.peakRssMB)), 0)}–${num(Math.max(...runs.map((x) => x.peakRssMB)), 0)} MB`
                  return `no batch is kept: the parallel window holds at most 8 batches whatever the total (README, cost model), and the records are JS objects V8 collects on its own schedule, so the peak varies from run to run by about as much as the growth (1,000,000 records: ${span(m.runs[c])}; 100,000: ${span(e.runs[c])}). The floor, which only fetches and parses, grows too over the same two sizes: ${num(med(e.runs.floor, 'peakRssMB'), 0)} → ${num(med(m.runs.floor, 'peakRssMB'), 0)} MB (${num(med(m.runs.floor, 'peakRssMB') / med(e.runs.floor, 'peakRssMB'), 2)}×).`
                })()
              : null,
      )
    }
  }
  if (st) {
    const fl = med(st.runs.forcelink, 'opsPerSec')
    const core = micro && micro.results.find((x) => x.group === 'state' && x.name === 'sign + verify')
    const coreOps = core ? 1e9 / core.medianNs : null
    for (const lib of ['jsonwebtoken', 'jsonwebtoken-keyobject', 'node-rs-jsonwebtoken']) {
      const v = med(st.runs[lib], 'opsPerSec')
      const label = { jsonwebtoken: 'jsonwebtoken (string secret, as the incumbent)', 'jsonwebtoken-keyobject': 'jsonwebtoken (KeyObject secret)', 'node-rs-jsonwebtoken': '@node-rs/jsonwebtoken' }[lib]
      add(
        `state faster than ${label}: through the JS API`,
        `${num(fl, 0)} vs ${num(v, 0)} sign+verify/s: ${num(fl / v, 2)}×`,
        fl > v,
        o
          ? `forcelink's state round trip is two async calls (beginLogin + handleCallback), each crossing to tokio and back and each calling the host store once (find, consumeNonce) through a threadsafe function: one such call costs ${num(medPath(o.runs, 'storeJs.seqUs'), 0)} µs sequentially, ${num(medPath(o.runs, 'storeJs.concurrentUs'), 0)} µs amortised at 256 in flight (§6), against ${num(1e6 / v, 1)} µs for a whole synchronous sign+verify in ${label}. The signing itself is ${core ? `${num(core.medianNs / 1000, 2)} µs in the Rust core` : 'not the cost'}.`
          : null,
      )
      if (coreOps) add(`state faster than ${label}: Rust core (cargo bench)`, `${num(coreOps, 0)} vs ${num(v, 0)} sign+verify/s: ${num(coreOps / v, 2)}×`, coreOps > v)
    }
  }
  return { rows, why }
}

function render(r) {
  const v = r.versions
  const e = r.benchmarks.export
  const p = r.benchmarks.page
  const s = r.benchmarks.storm
  const st = r.benchmarks.state
  const m = r.benchmarks.memory
  const o = r.benchmarks.overhead
  const micro = r.benchmarks.micro
  const out = []
  out.push(
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (benchmark/run.js; how to run: [benchmark/README.md](benchmark/README.md)) on ${v.date.slice(0, 10)}, in ${Math.floor(r.totalSeconds / 60)} min ${r.totalSeconds % 60} s. Every number below was measured in that run; the next run rewrites this file.`,
    '',
    table(
      ['', ''],
      [
        ['machine', `${v.machine.nproc} cores (\`nproc\`), ${v.machine.cpuModel}, ${v.machine.memoryGB} GB, ${v.machine.kernel} ${v.machine.arch}`],
        ['Node', `${v.node} (V8 ${v.v8}, undici ${v.undici})`],
        ['forcelink', `${v.forcelink} (commit ${v.forcelinkCommit}${v.forcelinkDirty ? ' + uncommitted changes' : ''}), release build with LTO; ${v.rustc}`],
        ['peers', `jsforce ${v.jsforce}, axios ${v.axios}, jsonwebtoken ${v.jsonwebtoken}, @node-rs/jsonwebtoken ${v.nodeRsJsonwebtoken}, express ${v.express}, autocannon ${v.autocannon}`],
      ],
    ),
    '',
    'How to read: each contender runs in its own fresh Node process, several rounds, contenders in rotated order; cells are the median with (min–max) over the rounds. Process CPU is `process.cpuUsage()` (every thread, so forcelink’s Rust threads count), event-loop busy is `performance.eventLoopUtilization().active` (time the JS thread was not idle; it also counts time the thread was runnable but descheduled), JS-thread CPU is the CPU time of the JS thread alone (/proc, so descheduling does not count), peak RSS is `process.resourceUsage().maxRSS` over the process’s life. The Salesforce simulator (release build, no added latency) runs in its own process on 127.0.0.1 and shares the two cores with the contender.',
  )
  const t = targets(r)
  out.push('', '## Targets (issue 6)', '', table(['target', 'measured', ''], t.rows))
  if (t.why.length) out.push('', 'Where a target is missed, the measured reason:', '', ...t.why)
  const t21 = targets21(r)
  if (t21.rows.length) {
    out.push('', '## Targets (issue 21)', '', `One run, ratios within it; “before this issue” figures are from the BENCHMARKS.md of 2026-11-30 (Bulk result pages: ${num(BEFORE_21.bulkPagesCpuMs, 0)} ms of client CPU; sequential download ${num(BEFORE_21.bulkSeqWallMs, 0)} ms, re-measured below).${r.load ? ` Load on the machine during the run: ${r.load}.` : ''}`, '', table(['target', 'measured', ''], t21.rows))
    if (t21.why.length) out.push('', 'Where a target is missed, the measured reason:', '', ...t21.why)
  }

  if (e) out.push('', exportSection(e, `## 1. Full export: ${num(e.records, 0)} contacts (${e.runs.forcelink.length} rounds)`, ['jsforce', 'floor', 'incumbent']))

  if (p) {
    const rows = Object.entries(p.runs).map(([c, runs]) => [
      c,
      cell(runs, 'rps', 0),
      cell(runs, 'p50Ms', 0),
      cell(runs, 'p99Ms', 0),
      num(med(runs, 'non2xx'), 0),
      cell(runs, 'serverCpuPerRequestUs', 0),
      cell(runs, 'serverPeakRssMB', 0),
      cell(runs, 'simCpuPerRequestUs', 0),
      cell(runs, 'loadCpuPerRequestUs', 0),
    ])
    out.push(
      '',
      `## 2. Page endpoint under load (${p.runs.forcelink.length} rounds)`,
      '',
      `autocannon, ${p.connections} connections, ${p.seconds} s (after a 2 s warm-up), \`GET /v1/integrations/salesforce/export/contacts?page=N&limit=${p.limit}\` with N cycling 1..${p.pages}, against forcelink's Express handlers and against the incumbent's, each in an Express app of the same shape in its own process. Every page is checked to answer 100 records first. CPU per request: the server process, the simulator and the load generator (autocannon, in the runner).`,
      '',
      table(['server', 'requests/s', 'p50 ms', 'p99 ms', 'non-2xx', 'server CPU µs/req', 'server peak RSS MB', 'simulator CPU µs/req', 'autocannon CPU µs/req'], rows),
      '',
      `forcelink ÷ incumbent: requests/s ${ratio(med(p.runs.forcelink, 'rps'), med(p.runs.incumbent, 'rps'))}, p50 ${ratio(med(p.runs.forcelink, 'p50Ms'), med(p.runs.incumbent, 'p50Ms'))}, p99 ${ratio(med(p.runs.forcelink, 'p99Ms'), med(p.runs.incumbent, 'p99Ms'))}, server CPU per request ${ratio(med(p.runs.forcelink, 'serverCpuPerRequestUs'), med(p.runs.incumbent, 'serverCpuPerRequestUs'))}.`,
    )
  }

  if (s) {
    const rows = Object.entries(s.runs).map(([c, runs]) => [
      c,
      runs.map((x) => x.tokenRequests).join(', '),
      cell(runs, 'p50Ms', 0),
      cell(runs, 'p99Ms', 0),
      cell(runs, 'maxMs', 0),
      cell(runs, 'wallMs', 0),
      num(med(runs, 'errors'), 0),
    ])
    out.push(
      '',
      `## 3. Refresh storm (${s.runs.forcelink.length} rounds)`,
      '',
      `${s.concurrent} exports start at once right after the simulator expired every access token; each gets \`401 INVALID_SESSION_ID\`. forcelink: \`exportPage({ page: 1, limit: 100 })\`; jsforce: \`conn.query(… LIMIT 100)\` (\`maxRequest\` raised from 10 so all are in flight); incumbent: its \`exportData\` (page 1, limit 100). Token requests are the simulator's count of \`grant_type=refresh_token\` requests.`,
      '',
      table(['contender', 'token requests (per round)', 'p50 ms', 'p99 ms', 'max ms', 'all 500 done, ms', 'errors'], rows),
      '',
      `forcelink ÷ jsforce p99: ${ratio(med(s.runs.forcelink, 'p99Ms'), med(s.runs.jsforce, 'p99Ms'))}; forcelink ÷ incumbent p99: ${ratio(med(s.runs.forcelink, 'p99Ms'), med(s.runs.incumbent, 'p99Ms'))}.`,
    )
  }

  if (st) {
    const core = micro && micro.results.find((x) => x.group === 'state' && x.name === 'sign + verify')
    const fl = med(st.runs.forcelink, 'opsPerSec')
    const rows = [
      ['jsonwebtoken, string secret (the incumbent)', st.runs.jsonwebtoken],
      ['jsonwebtoken, KeyObject secret', st.runs['jsonwebtoken-keyobject']],
      ['@node-rs/jsonwebtoken signSync + verifySync', st.runs['node-rs-jsonwebtoken']],
      ['forcelink beginLogin + handleCallback (async API, 64 in flight)', st.runs.forcelink],
    ].map(([label, runs]) => [label, cell(runs, 'opsPerSec', 0), ratio(fl, med(runs, 'opsPerSec')), core ? ratio(1e9 / core.medianNs, med(runs, 'opsPerSec')) : 'n/a'])
    if (core) rows.push(['forcelink core `StateCodec` sign + verify (Rust, cargo bench)', num(1e9 / core.medianNs, 0), ratio(fl, 1e9 / core.medianNs), '1.00×'])
    out.push(
      '',
      `## 4. OAuth state: sign + verify per second (${st.runs.forcelink.length} rounds)`,
      '',
      'The same claims (aid, uid, forward_url, an 18-byte nonce, iat, exp = 1 h), HS256, the same secret. The JS libraries run synchronously in a loop; forcelink’s state is only reachable through its async API, where a round trip also derives the PKCE challenge, reads the store (a JS TokenStore over a Map) and consumes the nonce.',
      '',
      table(['contender', 'sign + verify per s', 'forcelink API ÷ it', 'forcelink core ÷ it'], rows),
    )
  }

  if (m && e) {
    const rows = Object.entries(m.runs).map(([c, runs]) => [
      LABEL[c] || c,
      cell(runs, 'wallMs', 0),
      cell(runs, 'cpuMs', 0),
      cell(runs, 'eluBusyMs', 0),
      cell(runs, 'jsThreadCpuMs', 0),
      e.runs[c] ? num(med(e.runs[c], 'peakRssMB'), 0) : 'n/a',
      cell(runs, 'peakRssMB', 0),
      e.runs[c] ? ratio(med(runs, 'peakRssMB'), med(e.runs[c], 'peakRssMB')) : 'n/a',
      cell(runs, 'maxExternalMB', 0),
      cell(runs, 'simCpuMs', 0),
      cell(runs, 'otherCpuMs', 0),
      cell(runs, 'stealMs', 0),
    ])
    out.push(
      '',
      `## 5. Memory: ${num(m.records, 0)} contacts (forcelink ${m.runs.forcelink.length} rounds, the floor and the diagnostic ${(m.runs.floor || []).length}; jsforce and the incumbent skipped)`,
      '',
      table(['contender', 'wall ms', 'process CPU ms', 'event-loop busy ms', 'JS-thread CPU ms', `peak RSS MB at ${num(e.records, 0)}`, `peak RSS MB at ${num(m.records, 0)}`, 'growth', 'most MB held by Buffers', 'simulator CPU ms', 'other processes CPU ms', 'stolen CPU ms'], rows),
      '',
      '“Most MB held by Buffers”: the largest `process.memoryUsage().external` seen after a chunk (stream contenders only): memory outside the V8 heap (the batches’ Buffers), live or awaiting GC.',
    )
  }

  if (o) {
    const R = o.runs.boundary
    const g = (path, d) => {
      const xs = R.map((x) => get(x, path)).filter((x) => typeof x === 'number')
      const mm = median(xs)
      return xs.length > 1 ? `${num(mm, d)} (${num(Math.min(...xs), d)}–${num(Math.max(...xs), d)})` : num(mm, d)
    }
    out.push(
      '',
      `## 6. The JS ↔ Rust boundary (${R.length} rounds)`,
      '',
      table(
        ['call', 'sequential (one at a time)', 'concurrent: µs per call at 256 in flight', 'calls/s at 256 in flight'],
        [
          ['a plain JS function call (for scale)', `${g('jsCallNs', 1)} ns`, '', ''],
          ['sync native call: `NativeForcelink#limitInfo()` (returns a short string)', `${g('syncRawNs', 0)} ns`, '', ''],
          ['sync native call: the exported `paginate(total, page, limit)` (serde → JSON text)', `${g('syncPaginateNs', 0)} ns`, '', ''],
          ['public `forcelink.limitInfo()` (the native call + JSON.parse)', `${g('syncPublicNs', 0)} ns`, '', ''],
          ['trivial async native call (`NativeForcelink#getAccessToken()`, token cached in Rust: JS → tokio → promise)', `${g('asyncCall.seqUs', 1)} µs`, g('asyncCall.concurrentUs', 1), g('asyncCall.perSec', 0)],
          ['one store callback round trip: `beginLogin` of a connected user, JS TokenStore (JS → Rust → store.find → JS promise → Rust → JS)', `${g('storeJs.seqUs', 1)} µs`, g('storeJs.concurrentUs', 1), g('storeJs.perSec', 0)],
          ['the same `beginLogin` on the embedded SQLite store (no JS callback)', `${g('storeSqlite.seqUs', 1)} µs`, g('storeSqlite.concurrentUs', 1), g('storeSqlite.perSec', 0)],
        ],
      ),
      '',
      `The store callback itself (the JS-store \`beginLogin\` minus the trivial async call): ${num(medPath(R, 'storeJs.seqUs') - medPath(R, 'asyncCall.seqUs'), 1)} µs sequentially, ${num(medPath(R, 'storeJs.concurrentUs') - medPath(R, 'asyncCall.concurrentUs'), 1)} µs at 256 in flight.`,
      '',
      `**A record batch across the boundary** (issue 3): one batch of ${num(medPath(R, 'batch.records'), 0)} contacts as the simulator sends it (${num(medPath(R, 'batch.bytes') / 1024, 0)} KiB of JSON, ${num(medPath(R, 'batch.nonAsciiChars'), 0)} non-ASCII characters), through \`BoundaryProbe\`; ms per batch, median of 40.`,
      '',
      table(
        ['how the batch reaches JS', 'ms per batch'],
        [
          ['`JSON.parse` of a JS string already on the JS side (no boundary; the floor’s parse)', g('batch.jsParseMs', 2)],
          ['JSON text as received (UTF-8) → JS string → `JSON.parse`', g('batch.stringParseMs', 2)],
          ['… of which the string creation (`napi_create_string_utf8`, UTF-8 → two-byte string)', g('batch.stringOnlyMs', 2)],
          ['Buffer → `JSON.parse(buf.toString())`', g('batch.bufferParseMs', 2)],
          ['objects built through napi (`serde_json::Value` → JS)', g('batch.objectsMs', 2)],
          ['**the same text with non-ASCII as `\\uXXXX` → JS string → `JSON.parse`** (how `exportAll` hands batches over)', g('batch.asciiStringParseMs', 2)],
          ['… of which the string creation (one-byte fast path)', g('batch.asciiStringOnlyMs', 2)],
          [`the ASCII-escaped text without the \`attributes\` objects (${num(medPath(R, 'batch.bareBytes') / 1024, 0)} KiB) → JS string → \`JSON.parse\``, g('batch.bareAsciiStringParseMs', 2)],
        ],
      ),
    )
  }

  const en = r.benchmarks.engines
  if (en) {
    const er = en.engines.map((x) => [x.engine === 'bulk' ? 'Bulk API 2.0' : 'REST query + queryMore', num(x.records, 0), num(x.wallMs, 0), x.firstBatchMs === null ? 'n/a' : num(x.firstBatchMs, 0), num(x.peakRssMB, 0), num(x.apiCalls, 0), num(x.queryCalls, 0), num(x.bulkCalls, 0)])
    const dr = en.deep.map((x) => [num(x.page, 0), num(x.offset, 0), num(x.coldMs, 1), num(x.coldCalls, 0), num(x.nextMs, 1), num(x.nextCalls, 0)])
    out.push(
      '',
      '## 7. Export engines and deep pages (benchmark/engines.js, one round)',
      '',
      '`exportAll` of every contact with `engine: "rest"` and `engine: "bulk"`, each in its own process against its own simulator (Bulk jobs complete at once). API calls are the simulator’s count of REST requests.',
      '',
      table(['engine', 'records', 'wall ms', 'first batch ms', 'peak RSS MB', 'API calls', 'query/queryMore calls', 'Bulk calls'], er),
      '',
      '`exportPage({ page, limit: 100 })` on a fresh instance (no remembered keys: a cold jump), then the page after it (warm).',
      '',
      table(['page', 'offset', 'cold ms', 'cold API calls', 'next page ms', 'next page API calls'], dr),
    )
  }

  const lat = r.benchmarks.latency
  if (lat) out.push('', latencySection(lat, r))
  if (r.benchmarks.live) out.push('', require('../live').section(r.benchmarks.live))

  const sc = r.benchmarks.schema
  if (sc) out.push('', schemaSection(sc))

  if (micro && micro.results.length) {
    const rows = micro.results
      .sort((a, b) => (a.group + a.name).localeCompare(b.group + b.name))
      .map((x) => [x.group, x.name, x.medianNs >= 1e5 ? `${num(x.medianNs / 1e6, 3)} ms` : x.medianNs >= 1e3 ? `${num(x.medianNs / 1e3, 2)} µs` : `${num(x.medianNs, 1)} ns`, `${num(x.lowNs, 0)}–${num(x.highNs, 0)} ns`, x.elements ? `${num((x.medianNs / x.elements), 0)} ns/record` : ''])
    out.push('', '## Rust micro-benchmarks (`cargo bench -p forcelink-microbench`, criterion, short windows)', '', table(['group', 'benchmark', 'median', '95% CI of the median', 'per record'], rows))
  }
  out.push('')
  return out.join('\n')
}

/** The §1 export rows (medians) of an earlier BENCHMARKS.md, keyed like `runs`, and its date. */
function previousExport(file) {
  let text
  try {
    text = require('node:fs').readFileSync(file, 'utf8')
  } catch (_) {
    return null
  }
  const date = (text.match(/ on (\d{4}-\d{2}-\d{2}),/) || [])[1] || null
  const start = text.indexOf('## 1. Full export')
  if (start < 0) return null
  const section = text.slice(start, text.indexOf('\n## ', start + 5))
  const key = Object.fromEntries(Object.entries(LABEL).map(([k, v]) => [v, k]))
  const rows = {}
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim())
    if (cells.length < 8 || !key[cells[1]]) continue
    const n = (c) => Number(String(c).split(' ')[0].replace(/,/g, ''))
    rows[key[cells[1]]] = { wallMs: n(cells[3]), cpuMs: n(cells[4]), eluBusyMs: n(cells[5]), jsThreadCpuMs: n(cells[6]), peakRssMB: n(cells[7]) }
  }
  return Object.keys(rows).length ? { date, export: rows } : null
}

const ceilDiv = (a, b) => Math.ceil(a / b)

/** Issue 22: `fields: 'all'` against the 6-field type. Marked, so `node benchmark/schema.js --write` can
 *  replace it alone and a run of other suites keeps it. */
function schemaSection(sc, note = '') {
  const allFields = Math.max(...sc.runs.map((x) => x.fieldCount || 0))
  const rows = sc.runs.map((x) => [x.fields, x.engine === 'bulk' ? 'Bulk API 2.0' : 'REST', num(x.records, 0), num(x.fields === 'contacts (6)' ? 6 : x.fieldCount, 0), num(x.wallMs, 0), num((1000 * x.records) / x.wallMs, 0), num(x.peakRssMB, 0), num(x.apiCalls, 0)])
  return [
    '<!-- schema:start -->',
    `## 9. \`fields: 'all'\`: ${num(sc.records, 0)} contacts, ${num(allFields, 0)} fields against 6 (benchmark/schema.js, one round; issue 22)`,
    '',
    `\`exportAll\` of Contact as the 6-field \`contacts\` type and as \`fields: 'all'\` (every field the user can read: Contact’s ${num(allFields - (sc.customFields || 65), 0)} plus ${sc.customFields || 65} custom text fields added at runtime, null until written; the count is \`progress().fields\`), each export in its own Node process (fresh heap, its own peak RSS) against one simulator (release build, Bulk jobs complete at once). API calls are the simulator’s count of REST requests (Bulk’s included).${note ? ` ${note}` : ''}`,
    '',
    table(['fields', 'engine', 'records', 'fields read', 'wall ms', 'records/s', 'peak RSS MB', 'API calls'], rows),
    '<!-- schema:end -->',
  ].join('\n')
}

/** Issue 13: with the simulator's latency on; `r` (the whole run) for the zero-latency comparison. */
function latencySection(lat, r = null) {
  const js = lat.rest.find((x) => x.name.startsWith('jsforce'))
  // Issue 21: each row beside the physical limit for its K, measured in the same run.
  const limitOf = (x) => (lat.limit || []).find((l) => l.parallelism === x.parallelism)
  const rest = [...lat.rest, ...(lat.limit || [])].map((x) => {
    const l = x.name.startsWith('limit') ? null : limitOf(x)
    return [x.name, num(x.records, 0), num(x.latencyMs, 0), num(x.wallMs, 0), js ? ratio(js.wallMs, x.wallMs) : 'n/a', l ? num(l.wallMs, 0) : '', l ? ratio(x.wallMs, l.wallMs) : '', num(x.apiCalls, 0), num(x.cpuMs, 0), num(x.jsBusyMs, 0), num(x.simCpuMs, 0), num(x.peakRssMB, 0)]
  })
  const seq = lat.bulk.find((x) => x.name.includes('sequential') && !x.format)
  const bulk = lat.bulk.map((x) => [x.name, num(x.records, 0), num(x.latencyMs, 0), num(x.wallMs, 0), seq ? ratio(seq.wallMs, x.wallMs) : 'n/a', num(x.bulkCalls, 0), num(x.cpuMs, 0), num(x.jsBusyMs, 0), num(x.simCpuMs, 0), num(x.peakRssMB, 0)])
  const page = lat.page.map((x) => [x.name, num(x.records, 0), num(x.bytes / 1e6, 1), num(x.idleMB, 0), num(x.peakRssMB, 0), num(x.growthMB, 0)])
  const rows = []
  const why = []
  const add = (name, measured, ok, reason) => {
    rows.push([name, measured, yes(ok)])
    if (ok === false && reason) why.push(`- **${name}**: ${reason}`)
  }
  // REST: the waits alone bound the wall: K requests in flight, the first round (first page and
  // the largest Id) before any range can start.
  const restTarget = (row, goal) => {
    if (!row || !js) return
    const k = row.parallelism
    const rounds = 1 + ceilDiv(Math.max(0, row.apiCalls - 2), k)
    const floorMs = rounds * row.latencyMs
    const x = js.wallMs / row.wallMs
    add(
      `REST ${num(row.records, 0)} at ${row.latencyMs} ms, parallelism ${k}: ≥ ${goal}× jsforce (wall)`,
      `${num(row.wallMs, 0)} vs ${num(js.wallMs, 0)} ms: ${num(x, 2)}×`,
      x >= goal,
      `the ${row.apiCalls} requests, at most ${k} in flight and the first two before any range can start, need at least ${rounds} waits of ${row.latencyMs} ms = ${num(floorMs, 0)} ms, so against jsforce's ${num(js.wallMs, 0)} ms no client could pass ${num(js.wallMs / floorMs, 2)}× here; the other ${num(row.wallMs - floorMs, 0)} ms is CPU on the two shared cores: the client process used ${num(row.cpuMs, 0)} ms (its JS thread was busy ${num(row.jsBusyMs, 0)} ms turning batches into objects) and the simulator ${num(row.simCpuMs, 0)} ms.`,
    )
  }
  restTarget(lat.rest.find((x) => x.parallelism === 4), 3.5)
  restTarget(lat.rest.find((x) => x.parallelism === 8), 6)
  const pages = lat.bulk.find((x) => !x.name.includes('sequential') && !x.format && !x.name.includes('attributes'))
  if (pages && seq) {
    const x = seq.wallMs / pages.wallMs
    const waits = seq.bulkCalls * seq.latencyMs
    const cpuFloor = (pages.cpuMs + pages.simCpuMs) / 2
    add(
      `Bulk ${num(pages.records, 0)} at ${pages.latencyMs} ms: resultPages ≥ 3× the sequential download (wall)`,
      `${num(pages.wallMs, 0)} vs ${num(seq.wallMs, 0)} ms: ${num(x, 2)}×`,
      x >= 3,
      `parallel pages can only remove waits, and the sequential download's waits are at most its ${seq.bulkCalls} Bulk requests × ${seq.latencyMs} ms = ${num(waits, 0)} ms of its ${num(seq.wallMs, 0)} ms; the rest is CPU.${pages.jsBusyMs > seq.wallMs / 3 ? ` The JS thread alone was busy ${num(pages.jsBusyMs, 0)} ms (\`exportAll\` hands out objects: JSON.parse of ${num(pages.records, 0)} records), more than the ${num(seq.wallMs / 3, 0)} ms that 3× would allow for everything.` : ''} With result pages the client process used ${num(pages.cpuMs, 0)} ms of CPU (its JS thread busy ${num(pages.jsBusyMs, 0)} ms parsing the batches into objects; the Rust threads the rest, turning CSV rows into REST-shaped JSON records) and the simulator ${num(pages.simCpuMs, 0)} ms generating and compressing the CSV: at least ${num(cpuFloor, 0)} ms on two cores even perfectly parallel, against the ${num(seq.wallMs / 3, 0)} ms that 3× would need. Downloading five pages at once cannot shorten CPU work on a machine whose two cores are already busy.`,
    )
  }
  const streamed = lat.page.find((x) => x.name.includes('streamed'))
  if (streamed) {
    add(
      `no-limit page of ${num(streamed.records, 0)}: server RSS growth ≤ 64 MB`,
      `${num(streamed.growthMB, 0)} MB (built whole, before: ${num((lat.page.find((x) => x !== streamed) || {}).growthMB, 0)} MB)`,
      streamed.growthMB <= 64,
      `the route no longer builds the body and reads on only as the socket takes it, but peak RSS counts garbage too: each ~0.9 MB batch is a JS string, then the slice written to the socket, and V8 frees them only at its next major collection.`,
    )
  }
  const prev = r && r.previous
  const e = r && r.benchmarks.export
  let zero = []
  if (prev && e) {
    const metrics = [['wallMs', 'wall'], ['cpuMs', 'process CPU'], ['eluBusyMs', 'event-loop busy'], ['jsThreadCpuMs', 'JS-thread CPU'], ['peakRssMB', 'peak RSS']]
    const zrows = []
    for (const c of ['forcelink', 'forcelink-ndjson', 'forcelink-csv', 'jsforce', 'floor', 'incumbent']) {
      const p = prev.export[c]
      const runs = e.runs[c]
      if (!p || !runs) continue
      zrows.push([LABEL[c] || c, ...metrics.map(([m]) => `${num(p[m], 0)} → ${num(med(runs, m), 0)} (${num(med(runs, m) / p[m], 2)}×)`)])
    }
    // The issue's measure: forcelink's CPU, event-loop time and RSS *against jsforce and the floor*
    // (ratios, so the machine's drift between the runs cancels out), today's over the previous run's.
    const judged = [['cpuMs', 'process CPU'], ['eluBusyMs', 'event-loop busy'], ['peakRssMB', 'peak RSS']]
    const rrows = []
    let worst = 0
    let worstName = ''
    for (const c of ['forcelink', 'forcelink-ndjson', 'forcelink-csv']) {
      for (const peer of ['jsforce', 'floor']) {
        const p = prev.export[c]
        const pp = prev.export[peer]
        if (!p || !pp || !e.runs[c] || !e.runs[peer]) continue
        rrows.push([`${LABEL[c]} ÷ ${peer}`, ...judged.map(([m, label]) => {
          const before = p[m] / pp[m]
          const now = med(e.runs[c], m) / med(e.runs[peer], m)
          const q = now / before
          if (q > worst) {
            worst = q
            worstName = `${LABEL[c]} ${label} ÷ ${peer}`
          }
          return `${num(before, 2)} → ${num(now, 2)} (${num(q, 2)}×)`
        })])
      }
    }
    add(
      'zero-latency export rows (forcelink’s CPU, event-loop busy, RSS against jsforce and the floor) within 10 % of the previous run',
      rrows.length ? `worst: ${worstName}, ${num(worst, 2)}× the previous run’s ratio` : 'n/a',
      rrows.length ? worst <= 1.1 : null,
      `the previous run (${prev.date || 'earlier'}) read one \`nextRecordsUrl\` chain with one batch read ahead; \`exportAll\` and \`exportStream\` now read 4 Id ranges at once by default: up to 4 requests in flight and up to 8 batches of about 1 MB read or waiting instead of 1. The window narrows when read batches wait for the reader (\`exportAll\`, whose JS parse is the slower side), but the byte streams take batches as fast as they come, so their window stays at 4 and holds more memory for a shorter wall (\`parallelism: 1\` keeps the old single chain and its memory). Event-loop busy also counts time the JS thread was runnable but waiting for a core (the Rust threads now work on more batches at once beside it); JS-thread CPU, which descheduling cannot inflate, is in the first table.`,
    )
    zero = ['', `The zero-latency rows of §1 beside those of the BENCHMARKS.md this run replaced (written ${prev.date || 'earlier'}), medians: previous → today (today / previous).`, '', table(['contender', ...metrics.map(([, l]) => l)], zrows), '', 'forcelink against jsforce and the floor (forcelink ÷ peer; below 1 = forcelink uses less), previous run → this run (this run’s ratio over the previous one’s):', '', table(['ratio', ...judged.map(([, l]) => l)], rrows)]
  }
  return [
    '## 8. Against a latency-true org (benchmark/latency.js, one round; issue 13)',
    '',
    'The simulator answers every request after the stated delay (`--latency-ms`), as a real org takes hundreds of milliseconds per page. Each client runs in its own process; "× faster" is jsforce’s (or the sequential download’s) wall time over the row’s. API calls are the simulator’s count of query + queryMore requests (Bulk: every Bulk request). Process CPU counts every thread of the client (Rust’s too); JS busy is its event loop’s active time; simulator CPU is the simulator process’s over the same run.',
    '',
    table(['REST export', 'records', 'latency ms', 'wall ms', '× faster than jsforce', 'K-way limit wall ms', 'wall ÷ limit', 'API calls', 'process CPU ms', 'JS busy ms', 'simulator CPU ms', 'peak RSS MB'], rest),
    '',
    'The limit rows (issue 21): K loops of bare `fetch` + `JSON.parse` (K = the row’s parallelism, one loop per Id range, each following its own `nextRecordsUrl` chain), over K equal Id ranges whose bounds the client knows in advance (the simulator’s Id scheme: the best case, no planning queries), same fields and 2,000-record batches, nothing else. “wall ÷ limit” is forcelink’s wall over the limit’s for the same K.',
    '',
    table(['Bulk export', 'records', 'latency ms', 'wall ms', '× faster than sequential', 'Bulk API calls', 'process CPU ms', 'JS busy ms', 'simulator CPU ms', 'peak RSS MB'], bulk),
    '',
    'The no-limit `GET /export/contacts` page through the Express router, served by its own process and downloaded by another: the server process’s RSS before the request (idle, after connect and a GC) and its peak while answering. "Built whole" is the body as `exportPageJson` builds it in one string (the route’s behaviour before this issue).',
    '',
    table(['no-limit page', 'records', 'body MB', 'idle RSS MB', 'peak RSS MB', 'growth MB'], page),
    ...zero,
    '',
    'Targets of issue 13, as measured:',
    '',
    table(['target', 'measured', ''], rows),
    ...(why.length ? ['', 'Where a target is missed, the measured reason:', '', ...why] : []),
  ].join('\n')
}

/** Issue 21's figures before it (BENCHMARKS.md of 2026-11-30, §8 and the micro-benchmarks): the
 *  targets are ratios of these. */
const BEFORE_21 = { bulkPagesCpuMs: 7471, bulkSeqWallMs: 7415, conversionNsPerRecord: 4000 }

/** Issue 21: the targets, from this run's numbers (one run, ratios). */
function targets21(r) {
  const rows = []
  const why = []
  const add = (name, measured, ok, reason) => {
    rows.push([name, measured, yes(ok)])
    if (ok === false && reason) why.push(`- **${name}**: ${reason}`)
  }
  const lat = r.benchmarks.latency
  const e = r.benchmarks.export
  const micro = r.benchmarks.micro
  if (lat && lat.bulk.length) {
    const seq = lat.bulk.find((x) => x.name.includes('sequential') && !x.format)
    const csv = lat.bulk.find((x) => x.format === 'csv')
    const objs = lat.bulk.find((x) => !x.name.includes('sequential') && !x.format && !x.name.includes('attributes'))
    const cpuBudget = (x) => `the wall is not the client's work: the client process used ${num((100 * x.cpuMs) / x.wallMs, 0)}% of one core over it (${num(x.cpuMs, 0)} ms of CPU in ${num(x.wallMs, 0)} ms of wall${r.load ? `; ${r.load}` : ''}). In detail, the client process used ${num(x.cpuMs, 0)} ms of CPU (JS busy ${num(x.jsBusyMs, 0)} ms) and the simulator ${num(x.simCpuMs, 0)} ms generating, compressing and serving the CSV, on the same two cores: at least ${num((x.cpuMs + x.simCpuMs) / 2, 0)} ms of wall even perfectly parallel; the ${x.bulkCalls} Bulk requests add their ${x.latencyMs} ms waits (five pages download at once).`
    if (csv && seq) {
      const w = csv.wallMs / seq.wallMs
      add(`Bulk ${num(csv.records, 0)} at ${csv.latencyMs} ms, \`exportStream\` CSV with result pages: wall ≤ 1/3 of the sequential download (re-measured: ${num(seq.wallMs, 0)} ms)`, `${num(csv.wallMs, 0)} vs ${num(seq.wallMs, 0)} ms: ${num(w, 2)}× (${num(1 / w, 2)}× faster)`, w <= 1 / 3, cpuBudget(csv))
      const c = csv.cpuMs / BEFORE_21.bulkPagesCpuMs
      add(`… its client process CPU ≤ 0.3× before this issue (${num(BEFORE_21.bulkPagesCpuMs, 0)} ms)`, `${num(csv.cpuMs, 0)} ms: ${num(c, 2)}×`, c <= 0.3, `the process reads ${num(csv.bytes / 1e6, 0)} MB of CSV through gzip decoding, the CSV reader and the per-cell formula guard, and hands it to a Node stream; see the micro-benchmarks for the per-record share.`)
    }
    if (objs) {
      const c = objs.cpuMs / BEFORE_21.bulkPagesCpuMs
      add(`Bulk \`exportAll\` objects (result pages): client CPU ≤ 0.6× before this issue (${num(BEFORE_21.bulkPagesCpuMs, 0)} ms)`, `${num(objs.cpuMs, 0)} ms: ${num(c, 2)}×`, c <= 0.6, `the JS thread was busy ${num(objs.jsBusyMs, 0)} ms: \`JSON.parse\` of ${num(objs.records, 0)} records into objects, which no Rust-side change removes (\`attributes: false\` row: ${num((lat.bulk.find((x) => x.name.includes('attributes')) || {}).cpuMs, 0)} ms).`)
    }
  }
  const conv = micro && micro.results.find((x) => x.group === 'bulk_2000' && x.name.startsWith('CSV rows → JSON records, now'))
  const convBefore = micro && micro.results.find((x) => x.group === 'bulk_2000' && x.name.startsWith('CSV rows → JSON records, before'))
  if (conv) {
    const ns = conv.medianNs / 2000
    add(
      'Bulk CSV → record conversion ≤ 1 µs/record (micro-benchmark)',
      `${num(ns, 0)} ns/record${convBefore ? ` (before: ${num(convBefore.medianNs / 2000, 0)} ns/record, ${num(convBefore.medianNs / conv.medianNs, 1)}× faster)` : ''}`,
      ns <= 1000,
      convBefore
        ? `criterion measures wall time, and this run's micro-benchmarks ran beside other work${r.load ? ` (${r.load})` : ''}: the same "before" conversion was about ${num(BEFORE_21.conversionNsPerRecord, 0)} ns/record on a quiet machine (the figure issue 21 reports) and measured ${num(convBefore.medianNs / 2000, 0)} ns/record here, ${num(convBefore.medianNs / 2000 / BEFORE_21.conversionNsPerRecord, 2)}× slower; scaled by that, the new conversion is about ${num((ns * BEFORE_21.conversionNsPerRecord) / (convBefore.medianNs / 2000), 0)} ns/record. What remains per record is the CSV scan (row end, then fields) and JSON string escaping of each field and of three attribute URLs (without \`attributes\`: ${(() => { const w = micro.results.find((x) => x.group === 'bulk_2000' && x.name.includes('without attributes')); return w ? num(w.medianNs / 2000, 0) : 'n/a' })()} ns/record).`
        : null,
    )
  }
  if (e && e.runs.floor) {
    const L = med(e.runs.floor, 'jsThreadCpuMs')
    for (const [c, goal] of [['forcelink-noattrs', 0.35], ['forcelink', 0.5]]) {
      if (!e.runs[c]) continue
      const x = med(e.runs[c], 'jsThreadCpuMs') / L
      add(`\`exportAll\`${c === 'forcelink' ? ' defaults' : ' `attributes: false`'}, ${num(e.records, 0)} contacts, zero latency: JS-thread CPU ≤ ${goal}× the floor’s`, `${num(med(e.runs[c], 'jsThreadCpuMs'), 0)} vs ${num(L, 0)} ms: ${num(x, 2)}×`, x <= goal, `the JS thread's CPU is measured in 10 ms ticks (/proc); what it does is JSON.parse of the batches (batch probe, §6) plus the async iteration; the event-loop busy time is ${num(med(e.runs[c], 'eluBusyMs'), 0)} ms.`)
    }
    if (e.runs['forcelink-serial']) {
      for (const [m, label] of [['wallMs', 'wall'], ['cpuMs', 'process CPU']]) {
        const x = med(e.runs.forcelink, m) / med(e.runs['forcelink-serial'], m)
        add(`zero latency: defaults within 5 % of \`parallelism: 1\` (${label})`, `${num(med(e.runs.forcelink, m), 0)} vs ${num(med(e.runs['forcelink-serial'], m), 0)} ms: ${num(x, 2)}×`, x <= 1.05, `with no latency to hide, four ranges in flight add the planning query and up to 4 extra partial pages, and Rust threads working beside the JS thread on two shared cores.`)
      }
    }
  }
  if (lat && lat.rest.length) {
    const js = lat.rest.find((x) => x.name.startsWith('jsforce'))
    const d = lat.rest.find((x) => x.parallelism === 4)
    const l = d && (lat.limit || []).find((x) => x.parallelism === 4)
    if (d && js) add(`REST ${num(d.records, 0)} at 150 ms, defaults: ≥ 3.5× jsforce`, `${num(d.wallMs, 0)} vs ${num(js.wallMs, 0)} ms: ${num(js.wallMs / d.wallMs, 2)}×`, js.wallMs / d.wallMs >= 3.5)
    if (d && l) add(`REST ${num(d.records, 0)} at 150 ms, defaults: ≤ 1.1× the 4-way limit`, `${num(d.wallMs, 0)} vs ${num(l.wallMs, 0)} ms: ${num(d.wallMs / l.wallMs, 2)}×`, d.wallMs / l.wallMs <= 1.1, `forcelink finds its ranges as it reads (a first page and the largest Id first, then ranges carved from the density seen), while the limit client knows its four bounds in advance; both wait ${d.latencyMs} ms per request.`)
  }
  const p = r.benchmarks.page
  if (p) {
    const x = med(p.runs.forcelink, 'rps') / med(p.runs.incumbent, 'rps')
    add('page endpoint keeps ≥ 3× the incumbent’s requests/s', `${num(x, 2)}× (Targets of issue 6 above)`, x >= 3)
  }
  const st = r.benchmarks.storm
  if (st) {
    const t = st.runs.forcelink.map((x) => x.tokenRequests)
    add('refresh storm keeps one token request', `forcelink: ${t.join(', ')} (per round)`, t.every((v) => v === 1))
  }
  return { rows, why }
}

module.exports = { render, schemaSection, latencySection, previousExport, targets21, BEFORE_21 }
