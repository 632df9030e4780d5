'use strict'
// The demo, clicked through in headless Chromium: connect → consent → table → next page →
// export all (CSV, every row) → disconnect. Screenshots go to test-artifacts/browser/.
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { startSim, CLIENT_ID, CLIENT_SECRET } = require('./helpers')
const { startDemo } = require('../demo/server')

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts', 'browser')
const CONTACTS = 2500
const haveChromium = fs.existsSync(CHROMIUM)

if (!haveChromium && !process.env.CI) {
  console.warn(`browser.test.js skipped: ${CHROMIUM} not found (apt-get install chromium; .ci/run installs it)`)
}

/** A free port, so the simulator can be told the demo's exact redirect URI before the demo starts. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** RFC 4180 record count (quoted cells may hold line breaks). */
function csvRecords(text) {
  let rows = 0
  let quoted = false
  for (const c of text) {
    if (c === '"') quoted = !quoted
    else if (c === '\n' && !quoted) rows++
  }
  return rows
}

const suite = haveChromium || process.env.CI ? describe : describe.skip

suite('demo in a real browser', () => {
  let sim
  let demo
  let browser
  let page
  let context
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does this)`)
    fs.mkdirSync(ARTIFACTS, { recursive: true })
    const port = await freePort()
    const redirectUri = `http://127.0.0.1:${port}/v1/integrations/salesforce/auth/callback`
    sim = await startSim(['--consent', '--contacts', String(CONTACTS), '--deals', '300', '--notes', '120', '--redirect-uri', redirectUri])
    demo = await startDemo({
      port,
      host: '127.0.0.1',
      forcelinkConfig: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri, loginUrl: sim.loginUrl },
      simControlUrl: `${sim.loginUrl}/__sim`,
    })
    const { chromium } = require('playwright-core')
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    page.setDefaultTimeout(30000)
  })

  afterAll(async () => {
    if (browser) await browser.close()
    if (demo) await demo.close()
    if (sim) await sim.stop()
  })

  test('connect → consent → table → next page → export all → disconnect', async () => {
    await page.goto(`${demo.url}/`)
    await page.locator('#status[data-state="disconnected"]').waitFor()
    await page.locator('#connect').waitFor({ state: 'visible' })
    await shot('01-not-connected')

    // Connect: the simulator's consent page, then back to the demo.
    await page.click('#connect')
    await page.waitForURL((u) => u.href.startsWith(sim.loginUrl))
    await page.getByRole('heading', { name: 'Allow Access?' }).waitFor()
    // The login set the browser binding: HttpOnly, SameSite=Lax, scoped to the callback route.
    const callbackUrl = `${demo.url}/v1/integrations/salesforce/auth/callback`
    const [binding] = (await context.cookies(callbackUrl)).filter((c) => c.name === 'forcelink_oauth')
    expect(binding).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/v1/integrations/salesforce/auth/callback', secure: false })
    expect(binding.value).toMatch(/^[A-Za-z0-9_-]{43,}$/)
    expect((await context.cookies(`${demo.url}/`)).some((c) => c.name === 'forcelink_oauth')).toBe(false)
    await shot('02-consent')
    await page.getByRole('button', { name: 'Allow' }).click()
    await page.waitForURL(`${demo.url}/`)
    await page.locator('#status[data-state="connected"]').waitFor()
    await expect(page.locator('#flash').textContent()).resolves.toMatch(/connected/i)
    // The callback cleared it: single use.
    expect((await context.cookies(callbackUrl)).some((c) => c.name === 'forcelink_oauth')).toBe(false)

    // The table: 25 contacts a page out of 2,500.
    const rows = page.locator('#records tbody tr')
    await page.waitForFunction(() => document.querySelectorAll('#records tbody tr').length === 25)
    await expect(page.locator('#total').textContent()).resolves.toBe(`${CONTACTS.toLocaleString('en-US')} records`)
    await expect(page.locator('#pages').textContent()).resolves.toBe('100')
    const headers = await page.locator('#records thead th').allTextContents()
    expect(headers).toEqual(expect.arrayContaining(['Name', 'Account.Name', 'Email']))
    const firstOnPage1 = await rows.first().textContent()
    await shot('03-table')

    await page.click('#next')
    await page.waitForFunction(
      (before) => document.getElementById('page').value === '2' && document.querySelector('#records tbody tr').textContent !== before,
      firstOnPage1,
    )
    expect(await rows.count()).toBe(25)
    await shot('04-page-2')

    // The activity panel: expire the token, then inject an outage; the page reloads each time
    // and the panel shows forcelink's refresh and retries, and the org's API usage.
    await page.locator('#activity-controls').waitFor({ state: 'visible' })
    await page.click('#activity-expire')
    await page.locator('#activity-log li[data-event="refresh"]').first().waitFor()
    await page.click('#activity-outage')
    await page.locator('#activity-log li[data-event="retry"]').first().waitFor()
    await expect(page.locator('#activity-usage').textContent()).resolves.toMatch(/^Org 00D\w+: [\d,]+ of [\d,]+ API calls used$/)
    await page.waitForFunction(() => document.querySelectorAll('#records tbody tr').length === 25)
    await shot('04b-activity')

    // Another type, then back.
    await page.click('.tabs button[data-type="deals"]')
    await page.waitForFunction(() => document.getElementById('total').textContent === '300 records')
    expect(await page.locator('#records thead th').allTextContents()).toEqual(expect.arrayContaining(['Amount', 'StageName']))
    await page.click('.tabs button[data-type="contacts"]')
    await page.waitForFunction(() => document.getElementById('total').textContent === '2,500 records')
    await page.click('#next')
    await page.waitForFunction(() => document.getElementById('page').value === '2')

    // Export all as CSV: streamed with progress, saved by the browser.
    await page.selectOption('#export-format', 'csv')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')])
    expect(download.suggestedFilename()).toBe('contacts.csv')
    const file = path.join(ARTIFACTS, 'contacts.csv')
    await download.saveAs(file)
    const csv = fs.readFileSync(file, 'utf8')
    expect(csv.split('\n', 1)[0]).toBe('Name,Account.Name,Title,Phone,Email,Owner.Alias')
    expect(csvRecords(csv) - 1).toBe(CONTACTS)
    await expect(page.locator('#progress-text').textContent()).resolves.toBe(`Done: 2,500 of 2,500 rows`)
    await expect(page.locator('#progress-bar').evaluate((el) => el.style.width)).resolves.toBe('100%')
    await shot('05-exported')

    // Disconnect: revoked at the simulator, and the page goes back to "Not connected".
    await sim.resetCounts()
    await page.click('#disconnect')
    await page.locator('#status[data-state="disconnected"]').waitFor()
    await page.locator('#connect').waitFor({ state: 'visible' })
    expect(await page.locator('#data').isHidden()).toBe(true)
    expect((await sim.counts()).revoke).toBe(1)
    await shot('06-disconnected')
  })
})
