/**
 * GET /explorer in a real headless browser (Debian's chromium driven by
 * playwright-core, as browser.test.ts): with the token typed in, a group's
 * threads and a user's chats are listed; an opened thread shows its
 * messages, a message posted over gRPC appears on the page within a second
 * (the page's live feed: fetch streaming over the SSE route), and one posted
 * with the page's form is stored. Every file the page loads comes from the
 * gateway, and the token never shows in a URL. A screenshot is saved to
 * test-artifacts/explorer.png (gitignored).
 *
 * The browser runs in its own process group; after the tests it is closed,
 * and if anything of it is left the whole group is killed by its pid.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ARTIFACTS, recordRequests, useBrowser } from '../helpers/browser';
import { TEST_TOKEN } from '../helpers/service';
import { useGatewayStack } from '../helpers/stack';

const stack = useGatewayStack();
const b = useBrowser();

/** A page that records every request to another origin (and aborts it), failed requests, page errors and URLs asked for. */
async function openExplorer(): Promise<{ page: Page; elsewhere: string[]; failed: string[]; pageErrors: string[]; urls: string[] }> {
  const page = await b.browser.newPage({ viewport: { width: 1100, height: 700 } });
  // A live feed cut when the page closes is not a failure.
  const { elsewhere, failed, pageErrors, urls } = await recordRequests(page, new URL(stack.gw.url).origin, (url) => url.endsWith('/Subscribe'));
  const res = await page.goto(`${stack.gw.url}/explorer`, { waitUntil: 'load' });
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
  await page.fill('#token', TEST_TOKEN);
  return { page, elsewhere, failed, pageErrors, urls };
}

it('lists a group\'s threads, shows one, gets a gRPC message live within a second, and posts through its form', async () => {
  const group = `explorer-${Date.now()}`;
  const { thread } = await stack.svc.threads.createThread({ groupId: group, topic: 'launch plan' });
  await stack.svc.threads.createThread({ groupId: group, topic: 'other topic' });
  await stack.svc.threads.createMessage({ threadId: thread!.id, authorId: 'ana', text: 'first message' });

  const { page, elsewhere, failed, pageErrors, urls } = await openExplorer();
  await page.fill('#group', group);
  await page.click('#groups button');
  await page.locator('#threads li', { hasText: 'launch plan' }).waitFor();
  expect(await page.locator('#threads li').count()).toBe(2);

  await page.locator('#threads li', { hasText: 'launch plan' }).click();
  await page.locator('#messages li', { hasText: 'first message' }).waitFor();
  await page.locator('#live', { hasText: 'live' }).waitFor(); // the feed is open

  // Over gRPC from here: on the page within a second.
  const sent = performance.now();
  await stack.svc.threads.createMessage({ threadId: thread!.id, authorId: 'bob', text: 'from grpc' });
  await page.locator('#messages li', { hasText: 'from grpc' }).waitFor({ timeout: 1_000 });
  expect(performance.now() - sent).toBeLessThan(1_000);

  // Through the page's form: stored, and shown once.
  await page.fill('#author', 'cat');
  await page.fill('#text', 'from the page');
  await page.click('#post button');
  await page.locator('#messages li', { hasText: 'from the page' }).waitFor();
  const listed = await stack.svc.threads.listMessages({ threadId: thread!.id, order: 'asc' });
  expect(listed.messages.map((m) => [m.authorId, m.text])).toEqual([
    ['ana', 'first message'],
    ['bob', 'from grpc'],
    ['cat', 'from the page'],
  ]);
  // Oldest first, each once (the form's answer and the feed's event are the same message).
  expect(await page.locator('#messages li .text').allTextContents()).toEqual(['first message', 'from grpc', 'from the page']);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'explorer.png'), fullPage: true });
  await page.close();

  expect(elsewhere).toEqual([]);
  expect(failed).toEqual([]);
  expect(pageErrors).toEqual([]);
  expect(urls.filter((u) => u.includes(TEST_TOKEN))).toEqual([]);
}, 60_000);

it('lists a user\'s chats and follows one live', async () => {
  const user = `explorer-ana-${Date.now()}`;
  const { chat } = await stack.svc.chats.createChat({ userIds: [user, 'explorer-bob'] });
  await stack.svc.chats.sendMessage({ chatId: chat!.id, authorId: 'explorer-bob', text: 'hello ana' });

  const { page, elsewhere, pageErrors } = await openExplorer();
  await page.fill('#user', user);
  await page.click('#users button');
  await page.locator('#chats li', { hasText: 'explorer-bob' }).click();
  await page.locator('#messages li', { hasText: 'hello ana' }).waitFor();
  await page.locator('#live', { hasText: 'live' }).waitFor();

  await stack.svc.chats.sendMessage({ chatId: chat!.id, authorId: 'explorer-bob', text: 'still there?' });
  await page.locator('#messages li', { hasText: 'still there?' }).waitFor({ timeout: 1_000 });

  await page.fill('#author', user);
  await page.fill('#text', 'yes');
  await page.click('#post button');
  await page.locator('#messages li', { hasText: 'yes' }).waitFor();
  const listed = await stack.svc.chats.listMessages({ chatId: chat!.id });
  expect(listed.messages.map((m) => m.text).sort()).toEqual(['hello ana', 'still there?', 'yes']);
  await page.close();
  expect(elsewhere).toEqual([]);
  expect(pageErrors).toEqual([]);
}, 60_000);

it('a wrong token is reported on the page; /explorer/ redirects; only the page\'s files are served under it', async () => {
  const { page } = await openExplorer();
  await page.fill('#token', 'not-a-real-token');
  await page.fill('#group', 'any');
  await page.click('#groups button');
  await page.locator('#status.error').waitFor();
  await page.close();

  const slash = await fetch(`${stack.gw.url}/explorer/`, { redirect: 'manual' });
  expect(slash.status).toBe(301);
  expect(new URL(slash.headers.get('location')!, `${stack.gw.url}/explorer/`).pathname).toBe('/explorer');
  const js = await fetch(`${stack.gw.url}/explorer/app.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toMatch(/javascript/);
  await js.text();
  const other = await fetch(`${stack.gw.url}/explorer/package.json`);
  expect(other.status).toBe(404);
  await other.text();
  const post = await fetch(`${stack.gw.url}/explorer`, { method: 'POST' });
  expect(post.status).toBe(405);
  await post.text();
}, 60_000);
