// The console end to end, in headless Chromium (Debian's, driven by playwright-core) against the real release
// binary on the embedded default: a fresh data folder, `autoshop seed-demo`, then the server on a free port.
// AUTOSHOP_BIN names the binary (default ../target/release/autoshop); CHROMIUM the browser (/usr/bin/chromium);
// SCREENSHOTS=1 writes a picture of each screen to console/screenshots/ for the README.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.env.AUTOSHOP_BIN ?? join(here, '..', '..', 'target', 'release', 'autoshop'));
const shots = join(here, '..', 'screenshots');
const dataDir = mkdtempSync(join(tmpdir(), 'autoshop-e2e-'));

let server;
let browser;
let base;
let password;

function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

before(async () => {
  const [port, storePort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AUTOSHOP_DATA_DIR: dataDir,
    AUTOSHOP_LISTEN: `127.0.0.1:${port}`,
    AUTOSHOP_PUBLIC_URL: base,
    AUTOSHOP_S3_EMBEDDED_LISTEN: `127.0.0.1:${storePort}`,
    AUTOSHOP_SEARCH_RELAY_MS: '200',
    RUST_LOG: 'warn',
    // Every test signs in afresh from one address: more than a person would in a minute.
    AUTOSHOP_SIGN_IN_RATE_LIMIT_BURST: '100',
  };
  const seeded = execFileSync(bin, ['seed-demo'], { env, encoding: 'utf8' });
  password = /password: (\S+)/.exec(seeded)?.[1];
  assert.ok(password, `seed-demo printed no password:\n${seeded}`);
  server = spawn(bin, [], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {}
    assert.ok(i < 600, 'the server did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  if (process.env.SCREENSHOTS) mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

async function shot(page, name) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** A page of a fresh browser context (its own cookies), signed in as `email`. */
async function signedIn(email) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
  await page.goto(`${base}/`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
  return page;
}

const ADVISOR = 'staff0@demo.autoshop.test';
const MECHANIC = 'staff2@demo.autoshop.test';
const OWNER = 'owner@demo.autoshop.test';

test('a wrong password is told in words, and the right one opens the board', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await shot(page, 'sign-in');
  await page.fill('input[name=email]', ADVISOR);
  await page.fill('input[name=password]', 'not-the-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /e-mail or password is not right/);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('.wo');
  assert.ok((await page.locator('.wo').count()) > 0, 'the board shows orders');
  const cookies = await context.cookies();
  assert.ok(cookies.some((c) => c.name === '__Host-autoshop-access' && c.httpOnly && c.secure), 'httpOnly __Host- cookie');
  await context.close();
});

test('an order moved in one page moves in another through the subscription', async () => {
  const a = await signedIn(ADVISOR);
  const b = await a.context().newPage();
  await b.goto(`${base}/#/board`);
  await a.waitForSelector('[data-column=DRAFT] .wo .move');
  const card = a.locator('[data-column=DRAFT] .wo').first();
  const number = await card.getAttribute('data-number');
  await b.waitForSelector(`[data-column=DRAFT] .wo[data-number="${number}"]`);
  await shot(a, 'board');
  await card.locator('.move').click();
  await b.waitForSelector(`[data-column=ESTIMATE] .wo[data-number="${number}"]`, { timeout: 5000 });
  assert.equal(await b.locator(`[data-column=DRAFT] .wo[data-number="${number}"]`).count(), 0);
  await a.context().close();
});

// A 1×1 PNG, made here so the test needs no file on disk.
function png() {
  const crc = (buf) => {
    let c = ~0;
    for (const byte of buf) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 200, 30, 30]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a photo goes straight to the object store and opens from its download link', async () => {
  const page = await signedIn(ADVISOR);
  await page.goto(`${base}/#/customers`);
  await page.waitForSelector('tbody a');
  await page.locator('tbody a').first().click();
  await page.waitForSelector('.files');
  const before = await page.locator('a.download').count();
  await page.setInputFiles('[data-testid=file-input]', { name: 'bumper.png', mimeType: 'image/png', buffer: png() });
  await page.waitForSelector('a.download:has-text("bumper.png")', { timeout: 10000 });
  assert.equal(await page.locator('a.download').count(), before + 1);
  await shot(page, 'customer-card');
  const href = await page.locator('a.download:has-text("bumper.png")').getAttribute('href');
  const download = await page.context().request.get(href);
  assert.equal(download.status(), 200);
  assert.equal(download.headers()['content-type'], 'image/png');
  assert.deepEqual(Buffer.from(await download.body()), png());
  await page.context().close();
});

test('a misspelled name finds the customer, with the match marked', async () => {
  const page = await signedIn(ADVISOR);
  await page.goto(`${base}/#/customers`);
  await page.waitForSelector('tbody a');
  const name = (await page.locator('tbody a').first().textContent()).trim();
  const [first, last] = name.split(' ');
  // Two letters of the last name swapped: "Garcia" → "Gracia".
  const typo = `${first} ${last[0]}${last[2]}${last[1]}${last.slice(3)}`;
  await page.fill('header input[name=q]', typo);
  await page.press('header input[name=q]', 'Enter');
  await page.waitForSelector('.hit', { timeout: 10000 });
  const titles = await page.locator('.hit a').allTextContents();
  assert.ok(titles.some((t) => t.includes(name)), `${typo} found ${titles.join(' | ')}`);
  assert.ok((await page.locator('.hit mark').count()) > 0, 'the matched parts are marked');
  await shot(page, 'search');
  await page.context().close();
});

test('a work order shows its lines and totals, and its invoice with payments', async () => {
  const page = await signedIn(ADVISOR);
  await page.goto(`${base}/#/customers`);
  await page.waitForSelector('tbody a');
  await page.locator('tbody a').first().click();
  await page.waitForSelector('.card a[href^="#/work-orders/"]');
  await page.locator('.card a[href^="#/work-orders/"]').first().click();
  await page.waitForSelector('table.lines');
  assert.match(await page.textContent('[data-testid=wo-total]'), /\d/);
  await shot(page, 'work-order');
  await page.context().close();
});

test('the owner takes a right from the mechanics and a mechanic loses the button at once', async () => {
  const mechanic = await signedIn(MECHANIC);
  await mechanic.waitForSelector('.wo .move', { timeout: 10000 });
  const label = (await mechanic.locator('.wo .move').first().textContent()).trim();
  const to = label.includes('Ready') ? 'ready' : 'in_progress';
  const buttons = () => mechanic.locator(`.wo .move:has-text("${label.replace('→ ', '')}")`).count();
  assert.ok((await buttons()) > 0);

  const owner = await signedIn(OWNER);
  await owner.goto(`${base}/#/roles`);
  await owner.waitForSelector('select[aria-label=Role]');
  await owner.selectOption('select[aria-label=Role]', 'mechanic');
  const box = owner.locator(`input[data-permission="work_order:transition:${to}"]`);
  assert.ok(await box.isChecked());
  await box.uncheck();
  await owner.click('button:has-text("Save Mechanic")');
  await owner.waitForSelector('.flash.info');
  // The server ends the mechanic's live connection as their access changes; the page connects again at once and
  // is told what it may do now (myAccessChanged), without polling: gone within three seconds.
  await mechanic.waitForFunction(
    (text) => ![...document.querySelectorAll('.wo .move')].some((b) => b.textContent.includes(text)),
    label.replace('→ ', ''),
    { timeout: 3000 },
  );

  // Why can't the mechanic do it now? The owner asks, and sees the role they hold where.
  const mechanicOption = owner.locator('select[aria-label=User] option', { hasText: MECHANIC });
  await owner.selectOption('select[aria-label=User]', await mechanicOption.getAttribute('value'));
  await owner.waitForSelector('text=Mechanic at Downtown');
  await owner.selectOption('select[aria-label=Permission]', `work_order:transition:${to}`);
  await owner.click('button:has-text("Explain")');
  await owner.waitForSelector('[data-testid=explanation]');
  assert.match(await owner.textContent('[data-testid=explanation]'), /^\s*Not allowed/);
  await shot(owner, 'roles');

  await owner.context().close();
  await mechanic.context().close();
});

test("a mechanic's console never shows another branch's data", async () => {
  const mechanic = await signedIn(MECHANIC);
  await mechanic.waitForSelector('.wo');
  const own = await mechanic.locator('.board-head select').inputValue();

  const owner = await signedIn(OWNER);
  await owner.waitForSelector('.board-head select');
  const branches = await owner
    .locator('.board-head select option')
    .evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  const other = branches.find(([id]) => id !== own);
  await owner.selectOption('.board-head select', other[0]);
  await owner.waitForSelector('.wo');
  const foreign = await owner.locator('.wo a').first().getAttribute('href');
  await owner.context().close();

  await mechanic.selectOption('.board-head select', other[0]);
  await mechanic.waitForFunction(() => /^\d+ open orders$/.test(document.querySelector('.board-head .muted')?.textContent ?? ''));
  assert.equal(await mechanic.locator('.wo').count(), 0, `${other[1]}'s board is empty for this mechanic`);
  await mechanic.goto(`${base}/${foreign}`);
  await mechanic.waitForSelector('main p:not(.muted)');
  assert.match(await mechanic.textContent('main'), /does not exist or is not at your branch/);
  await mechanic.context().close();
});

test('the API explorer loads from the binary alone, with nothing from the internet', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const elsewhere = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) elsewhere.push(r.url());
  });
  page.on('pageerror', (e) => assert.fail(`the explorer threw: ${e.message}`));
  await page.goto(`${base}/graphql`);
  await page.waitForSelector('.graphiql-container', { timeout: 15000 });
  // The schema is there without introspection: the documentation explorer lists the root types.
  await page.click('[aria-label$="Documentation Explorer"]');
  await page.getByText('QueryRoot').first().waitFor({ timeout: 5000 });
  assert.ok(!(await page.textContent('body')).includes('nested too deep'));
  assert.deepEqual(elsewhere, []);
  await shot(page, 'explorer');
  await context.close();
});
