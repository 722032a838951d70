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
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import { call } from '../helpers/gateway';
import { ROOT } from '../helpers/process';
import { useGatewayStack } from '../helpers/stack';

/** CHROMIUM_BIN, else Debian's chromium (the binary itself, not the /usr/bin wrapper script). */
function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`chromium is not installed (looked for ${candidates.join(', ')}): run \`make test\`, or apt-get install -y chromium`);
  return found;
}

const ARTIFACTS = join(ROOT, 'test-artifacts');
const stack = useGatewayStack();
let server: BrowserServer | undefined;
let browser: Browser | undefined;
let pid: number | undefined;

beforeAll(async () => {
  server = await chromium.launchServer({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  pid = server.process().pid;
  browser = await chromium.connect(server.wsEndpoint());
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([server?.close(), new Promise((r) => (timer = setTimeout(r, 5_000)))]).catch(() => undefined);
  clearTimeout(timer);
  if (pid !== undefined && alive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL'); // its process group: the renderers and helpers too
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }
});

function alive(p: number): boolean {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
}

it('renders every route of /openapi.json from local assets only', async () => {
  const doc = (await call(stack.gw.url, '/openapi.json', undefined, { method: 'GET' })).body as { paths: Record<string, unknown> };
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const origin = new URL(stack.gw.url).origin;
  const elsewhere: string[] = [];
  const failed: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin || url.startsWith('data:')) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

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
