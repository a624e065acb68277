// What the admin console's end-to-end tests share (console.test.mjs, console-events.test.mjs):
// axe-core checks with optional screenshots for docs/console.md, page diagnostics, and an
// administrator's way in (latchctl admin create → one-time link → password → sign-in).
import assert from 'node:assert/strict';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { ctlEnv, latchctl } from './harness.mjs';
import { fillAndSubmit, newPage } from './browser.mjs';

/**
 * Runs axe-core on the page; fails on any serious or critical violation. With
 * LATCH_CONSOLE_SCREENSHOTS=<dir>, also saves a screenshot of the page there (docs/console.md's).
 */
export async function axe(page, what) {
  if (process.env.LATCH_CONSOLE_SCREENSHOTS) {
    await page.screenshot({ path: path.join(process.env.LATCH_CONSOLE_SCREENSHOTS, `${what.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}.png`), fullPage: true });
  }
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [],
    `${what}: axe-core violations`);
}

/** Reports the page's script errors and failed requests (what a failing wait does not say). */
export function watch(page) {
  page.on('pageerror', (e) => console.log(`pageerror on ${page.url()}: ${e.message}`));
  page.on('requestfailed', (r) => console.log(`requestfailed ${r.url()}: ${r.failure()?.errorText}`));
  page.on('console', (m) => { if (m.type() === 'error') console.log(`console error on ${page.url()}: ${m.text()}`); });
}

/** latchctl admin create; resolves the link it printed. */
export async function adminLink(srv, tenant, who) {
  const r = await latchctl(['admin', 'create', '--tenant', tenant, ...who], ctlEnv(srv));
  assert.equal(r.code, 0, `latchctl admin create: ${r.stderr}`);
  const link = r.stdout.match(/https?:\/\/\S+\/console\/set-password#token=[A-Za-z0-9_-]+/)?.[0];
  assert.ok(link, `a link in ${r.stdout}`);
  return link;
}

/** Sets the password through the link on page; ends on the "password set" notice. */
export async function setPasswordThroughLink(page, link, password) {
  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).waitFor({ timeout: 5000 }).catch(async () => {
    console.log(`DEBUG ${page.url()}: ${await page.content()}`);
  });
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again').fill(password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByText('Your password is set').waitFor();
}

/** Signs in on the hosted page the console sent the browser to; waits for the console. */
export async function signInToConsole(page, username, password) {
  await page.locator('input#identifier').waitFor({ state: 'visible' });
  await fillAndSubmit(page, username, password);
}

/**
 * A new page on browser with a new administrator of tenantId (admin: {username, password}):
 * latchctl's link, the password set through it, then signed in; resolves the page on the dashboard.
 */
export async function consoleAsNewAdmin(srv, browser, tenantId, admin) {
  const link = await adminLink(srv, tenantId, ['--username', admin.username]);
  const { page } = await newPage(browser);
  watch(page);
  await setPasswordThroughLink(page, link, admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await signInToConsole(page, admin.username, admin.password);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  return page;
}
