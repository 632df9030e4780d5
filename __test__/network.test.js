'use strict'
// Corporate networks: a TLS endpoint signed by a throwaway CA that only NODE_EXTRA_CA_CERTS names,
// and an HTTPS_PROXY (CONNECT) in front of it, with NO_PROXY honoured. Each case runs in its own
// process so that its environment is what the native client reads.
const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const tls = require('node:tls')
const http = require('node:http')
const path = require('node:path')
const { execFile, execFileSync } = require('node:child_process')
const { startSim, tmpDb, baseConfig } = require('./helpers')

let sim, dir, tlsServer, proxy, tlsPort, proxyUrl
const connects = []

function openssl(args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))

beforeAll(async () => {
  sim = await startSim()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-tls-'))
  // A throwaway CA and a server certificate for localhost/127.0.0.1 it signs.
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=forcelink test CA'])
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n')
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'])

  // TLS in front of the simulator's login host.
  const simPort = Number(new URL(sim.loginUrl).port)
  tlsServer = tls.createServer({ key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) }, (s) => {
    const up = net.connect(simPort, '127.0.0.1')
    s.pipe(up).pipe(s)
    s.on('error', () => up.destroy())
    up.on('error', () => s.destroy())
  })
  tlsPort = await listen(tlsServer)

  // A CONNECT proxy that records each tunnel it opens.
  proxy = http.createServer((req, res) => res.writeHead(405).end())
  proxy.on('connect', (req, client, head) => {
    connects.push(req.url)
    const [host, port] = req.url.split(':')
    const up = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      up.write(head)
      up.pipe(client).pipe(up)
    })
    up.on('error', () => client.destroy())
    client.on('error', () => up.destroy())
  })
  proxyUrl = `http://127.0.0.1:${await listen(proxy)}`
})

afterAll(async () => {
  await new Promise((r) => tlsServer.close(r))
  await new Promise((r) => proxy.close(r))
  await sim.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

// Runs the connect journey in a child process with exactly `env` added (proxy variables cleared).
function connectWith(env) {
  const cfg = baseConfig(sim, { loginUrl: `https://localhost:${tlsPort}`, storePath: tmpDb('tls'), allowedForwardOrigins: [] })
  const clean = { ...process.env }
  for (const k of ['NODE_EXTRA_CA_CERTS', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']) delete clean[k]
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(__dirname, 'fixtures', 'connect-worker.js'), JSON.stringify({ cfg, authorizeVia: sim.loginUrl })], { env: { ...clean, ...env }, timeout: 60_000 }, (err, stdout) =>
      resolve(JSON.parse(stdout || `{"error":${JSON.stringify(String(err))}}`)),
    )
  })
}

test('TLS trusts a CA given only through NODE_EXTRA_CA_CERTS', async () => {
  const r = await connectWith({ NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') })
  expect(r.error).toBeUndefined()
  expect(r.redirectUrl).toMatch(/status=success/)
  expect(r.instanceUrl).toBe(sim.instanceUrl)
})

test('without it, the same endpoint is refused (its CA is in no other store)', async () => {
  const r = await connectWith({})
  // The code exchange cannot reach Salesforce: an error, or the error redirect, never a success.
  expect(JSON.stringify(r)).not.toMatch(/status=success/)
  expect(r.instanceUrl).toBeUndefined()
})

test('HTTPS_PROXY tunnels through CONNECT; NO_PROXY bypasses it', async () => {
  connects.length = 0
  const r = await connectWith({ NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'), HTTPS_PROXY: proxyUrl })
  expect(r.error).toBeUndefined()
  expect(r.redirectUrl).toMatch(/status=success/)
  expect(connects).toContain(`localhost:${tlsPort}`)

  connects.length = 0
  const lower = await connectWith({ NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'), https_proxy: proxyUrl, no_proxy: 'localhost' })
  expect(lower.error).toBeUndefined()
  expect(connects).toEqual([])
})
