// Browser helpers of the end-to-end tests (issue 4): headless Debian chromium through
// playwright-core, a fresh context per test, and a local HTTP server on 127.0.0.1 that plays the
// relying party's redirect URI (http://127.0.0.1:PORT/api/auth/callback/logto) and post-logout
// URI, so that the browser really follows latchd's redirects to the application.
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.LATCH_TEST_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches Debian's chromium (one per test file; close it in after()). */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60000 });
}

/**
 * A fresh context (no cookies) and a page in it. locale sets navigator.language and the
 * Accept-Language header. The page records the main-frame document requests it makes (every
 * redirect hop included) in `navigations`, and every request URL in `requests`.
 */
export async function newPage(browser, { locale = 'en-US', ...opts } = {}) {
  const context = await browser.newContext({ locale, ...opts });
  context.setDefaultTimeout(20000);
  context.setDefaultNavigationTimeout(30000);
  const page = await context.newPage();
  const navigations = [];
  const requests = [];
  page.on('request', (r) => {
    requests.push(r.url());
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) navigations.push(r.url());
  });
  return { context, page, navigations, requests, close: () => context.close() };
}

/**
 * A local relying party: answers every request with a small HTML page and records it.
 * Resolves {origin, port, hits: [{method, url (absolute), headers}], hitsFor(prefix), close()}.
 */
export async function startCallbackServer() {
  const hits = [];
  const srv = http.createServer((req, res) => {
    const url = `http://127.0.0.1:${srv.address().port}${req.url}`;
    hits.push({ method: req.method, url, headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html><head><title>Relying party</title></head><body>ok</body></html>');
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  srv.unref();
  const { port } = srv.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    hits,
    hitsFor: (prefix) => hits.filter((h) => h.url.startsWith(prefix)),
    close: () => new Promise((resolve) => {
      srv.closeAllConnections?.();
      srv.close(() => resolve());
    }),
  };
}

/** Resolves once the page's URL starts with prefix (a redirect URI); returns that URL. */
export async function waitForUrlPrefix(page, prefix, { timeout = 30000 } = {}) {
  await page.waitForURL((u) => u.href.startsWith(prefix), { timeout, waitUntil: 'commit' });
  return page.url();
}

/**
 * Fills the hosted sign-in (or register) page and clicks submit: input#identifier,
 * input#password, button#submit. Counts the changes of div#error from then on, so that
 * expectErrorShown() waits for the answer to this very submission, not an earlier message.
 */
export async function fillAndSubmit(page, identifier, password) {
  await page.locator('input#identifier').fill(identifier);
  await page.locator('input#password').fill(password);
  await page.evaluate(() => {
    window.__latchErrorChanges = 0;
    const el = document.getElementById('error');
    if (el && !window.__latchErrorObserver) {
      window.__latchErrorObserver = new MutationObserver(() => {
        window.__latchErrorChanges += 1;
      });
      window.__latchErrorObserver.observe(el,
        { childList: true, characterData: true, subtree: true, attributes: true });
    }
  });
  await page.locator('button#submit').click();
}

/**
 * On the sign-in page: signs in and resolves the URL the browser lands on at the redirect URI
 * (?code&state&iss).
 */
export async function signInOnPage(page, { username, password, redirectUri }) {
  await page.locator('input#identifier').waitFor({ state: 'visible' });
  await fillAndSubmit(page, username, password);
  return waitForUrlPrefix(page, redirectUri);
}

/**
 * Waits until div#error[role=alert] shows a non-empty message that changed since the last
 * fillAndSubmit(); resolves its text.
 */
export async function expectErrorShown(page, what) {
  try {
    await page.waitForFunction(() => {
      const el = document.getElementById('error');
      if (!el || el.hidden || el.getClientRects().length === 0) return false;
      const changed = window.__latchErrorChanges === undefined || window.__latchErrorChanges > 0;
      return changed && el.textContent.trim().length > 0;
    }, null, { timeout: 20000, polling: 50 });
  } catch (err) {
    const now = await page.locator('div#error').textContent().catch(() => null);
    throw new Error(`${what}: no new message in #error within 20 s (it shows ${JSON.stringify(now)}; ` +
      `page ${page.url()})`, { cause: err });
  }
  const el = page.locator('div#error');
  const text = (await el.innerText()).trim();
  assert.ok(text.length > 0, `${what}: #error shows a message`);
  assert.equal(await el.getAttribute('role'), 'alert', `${what}: #error has role=alert`);
  return text;
}

/**
 * Asserts every visible form control of the page has an accessible name: a <label>, aria-label
 * or aria-labelledby for inputs, text or aria-label for buttons.
 */
export async function assertLabelled(page, what) {
  const unlabelled = await page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea, button')) {
      if (el.type === 'hidden' || el.offsetParent === null) continue;
      const named = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') ||
        el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim());
      if (!named) bad.push(el.outerHTML.slice(0, 120));
    }
    return bad;
  });
  assert.deepEqual(unlabelled, [], `${what}: controls without an accessible name`);
}
