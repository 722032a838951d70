/**
 * A real headless browser for a test file: Debian's chromium (`make test`
 * installs it with apt when it is missing), driven by playwright-core. It runs
 * in its own process group (playwright starts it detached); after the file's
 * tests it is closed, and if anything of it is left the whole group is
 * killed by its pid.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import { ROOT } from './process';

/** Where browser tests leave their screenshots (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts');

/** CHROMIUM_BIN, else Debian's chromium (the binary itself, not the /usr/bin wrapper script). */
function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`chromium is not installed (looked for ${candidates.join(', ')}): run \`make test\`, or apt-get install -y chromium`);
  return found;
}

function alive(p: number): boolean {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
}

/** Registers beforeAll/afterAll; `browser` is set before the first test runs. */
export function useBrowser(): { browser: Browser } {
  const out = {} as { browser: Browser };
  let server: BrowserServer | undefined;
  let pid: number | undefined;
  beforeAll(async () => {
    server = await chromium.launchServer({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    pid = server.process().pid;
    out.browser = await chromium.connect(server.wsEndpoint());
  }, 60_000);
  afterAll(async () => {
    await out.browser?.close().catch(() => undefined);
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
  return out;
}

/** What a page asked for: requests to another origin (aborted: the machine may be offline), failed requests, page errors, every URL. */
export interface PageRecord {
  elsewhere: string[];
  failed: string[];
  pageErrors: string[];
  urls: string[];
}

/**
 * Records `page`'s requests, letting through only those to `origin` (and data:
 * URLs). `ignoreFailure` names failed requests that are not failures (e.g. a
 * stream cut when the page closes).
 */
export async function recordRequests(page: Page, origin: string, ignoreFailure: (url: string) => boolean = () => false): Promise<PageRecord> {
  const rec: PageRecord = { elsewhere: [], failed: [], pageErrors: [], urls: [] };
  await page.route('**/*', (route) => {
    const url = route.request().url();
    rec.urls.push(url);
    if (new URL(url).origin === origin || url.startsWith('data:')) return route.continue();
    rec.elsewhere.push(url);
    return route.abort();
  });
  page.on('requestfailed', (r) => {
    if (!ignoreFailure(r.url())) rec.failed.push(`${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('pageerror', (e) => rec.pageErrors.push(e.message));
  return rec;
}
