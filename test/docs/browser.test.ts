/**
 * GET /docs in a real headless browser: Debian's chromium (`make test`
 * installs it with apt when it is missing), driven by playwright-core. The
 * page must render the document of /openapi.json, listing every route, with
 * every file it loads coming from the gateway itself (the machine may be
 * offline; a request to any other host is recorded and fails the test).
 * A screenshot is saved to test-artifacts/docs.png (gitignored).
 *
 * The browser runs in its own process group (playwright starts it detached);
 * after the tests it is closed, and if anything of it is left the whole group
 * is killed by its pid.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, recordRequests, useBrowser } from '../helpers/browser';
import { call } from '../helpers/gateway';
import { useGatewayStack } from '../helpers/stack';

const stack = useGatewayStack();
const b = useBrowser();

it('renders every route of /openapi.json from local assets only', async () => {
  const doc = (await call(stack.gw.url, '/openapi.json', undefined, { method: 'GET' })).body as { paths: Record<string, unknown> };
  const page = await b.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const { elsewhere, failed, pageErrors } = await recordRequests(page, new URL(stack.gw.url).origin);

  const res = await page.goto(`${stack.gw.url}/docs`, { waitUntil: 'load' });
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-security-policy']).toMatch(/default-src 'self'/);
  await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
  await page.getByText('/threads/Threads/CreateThread', { exact: true }).first().waitFor();

  const shown = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path') ?? e.textContent ?? ''));
  expect(new Set(shown)).toEqual(new Set(Object.keys(doc.paths)));
  expect(await page.textContent('body')).toContain('parley JSON API');

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: true });
  await page.close();

  expect(elsewhere).toEqual([]);
  expect(failed).toEqual([]);
  expect(pageErrors).toEqual([]);
}, 60_000);

it('/docs/ and the assets are served by the gateway; an unknown file under /docs is 404', async () => {
  const js = await call(stack.gw.url, '/docs/swagger-ui-bundle.js', undefined, { method: 'GET' });
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toMatch(/javascript/);
  const slash = await fetch(`${stack.gw.url}/docs/`, { redirect: 'manual' });
  expect(slash.status).toBe(301);
  expect(new URL(slash.headers.get('location')!, `${stack.gw.url}/docs/`).pathname).toBe('/docs');
  const other = await call(stack.gw.url, '/docs/package.json', undefined, { method: 'GET' });
  expect(other.status).toBe(404);
  expect(other.body).toMatchObject({ id: 'NOT_FOUND' });
});
