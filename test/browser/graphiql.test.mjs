// The offline GraphiQL playground in headless Chromium, with the network to the
// outside blocked: the page must load (from the server only), show the organization
// header in the headers pane, run a holders query and show the seeded holder.
//
// Run by browser_test.go (go test -run TestBrowser), which starts the server, seeds a
// holder and sets:
//   BASE_URL        the server, e.g. http://127.0.0.1:40123
//   EXPECTED_NAME   the seeded holder's name
//   ORGANIZATION_ID the organization pre-filled in the headers pane
//   CHROMIUM        the browser (default /usr/bin/chromium; never a downloaded one)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = process.env.BASE_URL;
const EXPECTED_NAME = process.env.EXPECTED_NAME;
const ORGANIZATION_ID = process.env.ORGANIZATION_ID || '00000000-0000-0000-0000-000000000001';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const skip = !BASE_URL || !EXPECTED_NAME ? 'BASE_URL and EXPECTED_NAME not set: run through `go test -run TestBrowser .`' : false;

test('GraphiQL works offline and runs a holders query', { skip, timeout: 120_000 }, async () => {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const blocked = [];
  const failed = [];
  const pageErrors = [];
  const consoleErrors = [];
  let page;
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    // Anything not served by the server under test would need the internet: refuse it
    // and fail the test (GraphiQL from a CDN, fonts, telemetry…).
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if ((url.protocol === 'http:' || url.protocol === 'https:') && LOCAL_HOSTS.has(url.hostname)) {
        return route.continue();
      }
      blocked.push(url.href);
      return route.abort('internetdisconnected');
    });
    // Content-Security-Policy violations, recorded before any page script runs.
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
    page.on('requestfailed', (req) => failed.push(`${req.url()} ${req.failure()?.errorText}`));
    page.on('response', (res) => { if (res.status() >= 400) failed.push(`${res.url()} ${res.status()}`); });

    const res = await page.goto(`${BASE_URL}/graphiql`, { waitUntil: 'load' });
    assert.equal(res.status(), 200, 'GET /graphiql');
    // 'load' waited for every script and stylesheet: none may have come from elsewhere.
    assert.deepEqual(blocked, [], 'the page needs requests to other hosts: it would break in an air-gapped install');
    assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self'/, 'the page has a strict CSP');

    // The editors are up.
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ state: 'visible', timeout: 30_000 });

    // The headers pane is open and pre-filled with the organization.
    const headersPane = page.locator('section.graphiql-editor-tool[aria-label="Headers"]');
    await headersPane.waitFor({ state: 'visible', timeout: 10_000 });
    const visibleHeaders = () => {
      // The headers and variables editors share the section; the inactive one is .hidden.
      const el = document.querySelector('section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) > .CodeMirror');
      return el ? el.CodeMirror.getValue() : null;
    };
    // The editor gets its value just after it mounts.
    await page.waitForFunction(visibleHeaders, null, { timeout: 10_000 }).catch(() => {});
    const headers = await page.evaluate(visibleHeaders);
    assert.ok(headers, 'a visible headers editor');
    assert.equal(JSON.parse(headers)['X-Organization-Id'], ORGANIZATION_ID, `headers pane: ${headers}`);

    // The default query is a holders query.
    const defaultQuery = await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
    assert.match(defaultQuery, /holders\s*\(/, 'default query');
    // Type our own query over it (insertText: no key events, so no auto-closed brackets).
    const query = 'query BrowserTest {\n  holders(first: 50) {\n    totalCount\n    edges { node { id name } }\n  }\n}\n';
    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText(query);
    // GraphiQL reads the operation name 100 ms after the last edit; a person is slower.
    await page.waitForFunction(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.operationName === 'BrowserTest',
      null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()), query);

    await page.locator('button.graphiql-execute-button').click();
    const resultText = async () => page.evaluate(() => {
      const el = document.querySelector('.result-window .CodeMirror');
      return el ? el.CodeMirror.getValue() : '';
    });
    await page.waitForFunction((name) => {
      const el = document.querySelector('.result-window .CodeMirror');
      return el && el.CodeMirror.getValue().includes(name);
    }, EXPECTED_NAME, { timeout: 30_000 }).catch(async (err) => {
      throw new Error(`result pane never showed ${JSON.stringify(EXPECTED_NAME)}: ${await resultText()}`, { cause: err });
    });
    const result = JSON.parse(await resultText());
    assert.equal(result.errors, undefined, `errors in the result: ${JSON.stringify(result.errors)}`);
    const names = result.data.holders.edges.map((e) => e.node.name);
    assert.ok(names.includes(EXPECTED_NAME), `holders: ${names.join(', ')}`);

    // A dialog (settings) opens and closes: it injects a <style> the CSP must allow.
    await page.locator('button[aria-label="Open settings dialog"]').click();
    await page.locator('.graphiql-dialog').waitFor({ state: 'visible', timeout: 10_000 });
    await page.keyboard.press('Escape');
    await page.locator('.graphiql-dialog').waitFor({ state: 'detached', timeout: 10_000 });

    // Nothing came from or went to another host, and the CSP blocked nothing.
    assert.deepEqual(blocked, [], 'requests to hosts other than the server');
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'CSP violations');
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
    assert.deepEqual(failed, [], 'failed requests');
    assert.deepEqual(consoleErrors, [], 'console errors');
  } catch (err) {
    if (page) {
      const shot = join(tmpdir(), `graphiql-failure-${Date.now()}.png`);
      await page.screenshot({ path: shot, fullPage: true }).then(
        () => console.error(`screenshot of the failing page: ${shot}`),
        (e) => console.error(`no screenshot: ${e}`));
    }
    console.error(JSON.stringify({ blocked, failed, pageErrors, consoleErrors }, null, 2));
    throw err;
  } finally {
    await browser.close();
  }
});
