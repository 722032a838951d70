/**
 * `GET /explorer`: a small page to look around a namespace in a browser, open
 * without a token like /docs (the page holds no data; every call it makes
 * carries the token typed into it). Enter a token, list a group's threads
 * (ListThreads) or a user's chats (ListChats), open one: its messages
 * (ListMessages, oldest first), new ones live over the SSE route of Subscribe
 * (fetch streaming, so the token goes in the authorization header and never
 * in a URL; resumed from the ListMessages feed_cursor, then with
 * Last-Event-ID when the stream ends), and a form to post one (CreateMessage /
 * SendMessage).
 *
 * No framework, no CDN: the page, its script and its stylesheet are the
 * strings below, served from this origin, and the Content-Security-Policy
 * allows nothing else. The token lives in a variable of the script only: not
 * in the URL, not in storage, not in a form that could be submitted.
 */
import { Router, type Request, type Response } from 'express';
import { httpError, writeError } from './errors';

export const EXPLORER_PATH = '/explorer';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Relative URLs: the page works under any prefix a proxy puts in front of the gateway.
const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>parley explorer</title>
<link rel="stylesheet" href="explorer/style.css">
<script src="explorer/app.js" defer></script>
</head>
<body>
<header>
  <h1>parley explorer</h1>
  <label>Token <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="API token"></label>
  <span id="status" role="status"></span>
</header>
<main>
  <nav>
    <form id="groups"><label>Group id <input id="group" autocomplete="off"></label> <button>Threads</button></form>
    <ul id="threads"></ul>
    <form id="users"><label>User id <input id="user" autocomplete="off"></label> <button>Chats</button></form>
    <ul id="chats"></ul>
  </nav>
  <section>
    <h2 id="title">Open a thread or a chat</h2>
    <p id="live"></p>
    <ol id="messages"></ol>
    <form id="post" hidden>
      <input id="author" placeholder="author id" autocomplete="off" required>
      <input id="text" placeholder="message" autocomplete="off" required>
      <button>Send</button>
    </form>
  </section>
</main>
</body>
</html>
`;

const STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #f3f3f3; border-bottom: 1px solid #ddd; }
h1 { font-size: 1.1em; margin: 0; }
main { display: grid; grid-template-columns: 18em 1fr; gap: 1em; padding: 1em; }
nav ul { list-style: none; padding: 0; margin: .5em 0 1.5em; }
nav li { cursor: pointer; padding: .2em .4em; border-radius: 3px; }
nav li:hover, nav li.open { background: #e6eefc; }
h2 { font-size: 1em; margin: 0 0 .3em; }
#live { color: #777; margin: 0 0 .5em; }
#messages { padding-left: 1.5em; }
#messages .author { font-weight: 600; margin-right: .5em; }
#messages time { color: #888; font-size: .85em; margin-left: .5em; }
#status.error { color: #b00; }
#post { display: flex; gap: .5em; }
#post #text { flex: 1; }
`;

const SCRIPT = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let token = ''; // page memory only
  $('token').addEventListener('input', (e) => { token = e.target.value.trim(); });
  // The open thread or chat: { kind, id, feed: AbortController, seen: Set of message ids }.
  let open = null;

  function status(text, error) {
    $('status').textContent = text;
    $('status').className = error ? 'error' : '';
  }

  function headers(extra) {
    return Object.assign({ 'content-type': 'application/json', authorization: 'Bearer ' + token }, extra);
  }

  async function call(path, body) {
    const res = await fetch(path, { method: 'POST', headers: headers(), body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.detail || json.id || 'HTTP ' + res.status);
    return json;
  }

  function item(list, label, onOpen) {
    const li = document.createElement('li');
    li.textContent = label;
    li.addEventListener('click', () => {
      document.querySelectorAll('nav li.open').forEach((x) => x.classList.remove('open'));
      li.classList.add('open');
      onOpen();
    });
    list.append(li);
  }

  function when(v) {
    if (!v || v === '0') return '';
    const d = /^[0-9]+$/.test(v) ? new Date(Number(BigInt(v) / 1000000n)) : new Date(v);
    return isNaN(d) ? '' : d.toLocaleString();
  }

  function show(m) {
    if (!open || open.seen.has(m.id)) return;
    open.seen.add(m.id);
    const li = document.createElement('li');
    li.dataset.id = m.id;
    const who = document.createElement('span');
    who.className = 'author';
    who.textContent = m.author_id;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    const t = document.createElement('time');
    t.textContent = when(m.sent_at);
    li.append(who, text, t);
    $('messages').append(li);
  }

  const KINDS = {
    thread: { svc: 'threads/Threads', key: 'thread_id', ids: 'thread_ids', send: 'CreateMessage' },
    chat: { svc: 'chats/Chats', key: 'chat_id', ids: 'chat_ids', send: 'SendMessage' },
  };

  $('groups').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const { threads } = await call('threads/Threads/ListThreads', { group_id: $('group').value.trim(), limit: 100 });
      $('threads').replaceChildren();
      for (const t of threads) item($('threads'), t.topic || t.id, () => openOne('thread', t.id, 'Thread ' + (t.topic || t.id)));
      status(threads.length + ' thread(s)');
    } catch (err) { status(err.message, true); }
  });

  $('users').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('user').value.trim();
    try {
      const { chats } = await call('chats/Chats/ListChats', { user_id: user, limit: 100 });
      $('chats').replaceChildren();
      for (const c of chats) {
        const label = c.user_ids.filter((u) => u !== user).join(', ') + (Number(c.unread_count) ? ' (' + c.unread_count + ')' : '');
        item($('chats'), label || c.id, () => openOne('chat', c.id, 'Chat with ' + (label || c.id)));
      }
      status(chats.length + ' chat(s)');
    } catch (err) { status(err.message, true); }
  });

  async function openOne(kind, id, title) {
    if (open) open.feed.abort();
    open = { kind, id, feed: new AbortController(), seen: new Set() };
    const mine = open;
    $('title').textContent = title;
    $('messages').replaceChildren();
    $('live').textContent = '';
    $('post').hidden = false;
    const k = KINDS[kind];
    try {
      // The newest page, shown oldest first; its feed_cursor is where the live feed starts.
      const page = await call(k.svc + '/ListMessages', { [k.key]: id, limit: 100 });
      if (open !== mine) return;
      page.messages.slice().reverse().forEach(show);
      status('');
      follow(mine, page.feed_cursor);
    } catch (err) { status(err.message, true); }
  }

  // The live feed: POST .../Subscribe answered as text/event-stream, read with fetch streaming.
  async function follow(mine, cursor) {
    const k = KINDS[mine.kind];
    let lastId = '';
    while (open === mine) {
      try {
        const res = await fetch(k.svc + '/Subscribe', {
          method: 'POST',
          headers: headers(lastId ? { 'last-event-id': lastId } : {}),
          body: JSON.stringify({ [k.ids]: [mine.id], after: cursor ? [cursor] : [] }),
          signal: mine.feed.signal,
        });
        if (!res.ok) {
          const json = await res.json().catch(() => ({}));
          throw new Error(json.detail || 'HTTP ' + res.status);
        }
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\\r\\n?/g, '\\n');
          let end;
          while ((end = buf.indexOf('\\n\\n')) >= 0) {
            const frame = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let type = 'message', data = '';
            for (const line of frame.split('\\n')) {
              const at = line.indexOf(':');
              if (at <= 0) continue; // a comment (": keep-alive") or nothing
              const field = line.slice(0, at), val = line.slice(at + 1).replace(/^ /, '');
              if (field === 'event') type = val;
              else if (field === 'id') lastId = val;
              else if (field === 'data') data += (data ? '\\n' : '') + val;
            }
            if (open !== mine) return;
            const ev = data ? JSON.parse(data) : {};
            if (type === 'created' && ev.message) show(ev.message);
            else if (type === 'live') $('live').textContent = 'live';
            else if (type === 'error') throw new Error(ev.detail || ev.id || 'feed error');
            else if (type === 'resync_required') return openOne(mine.kind, mine.id, $('title').textContent);
          }
        }
      } catch (err) {
        if (open !== mine || mine.feed.signal.aborted) return;
        status('live feed: ' + err.message, true);
      }
      if (open !== mine) return;
      $('live').textContent = 'reconnecting…';
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  $('post').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!open) return;
    const k = KINDS[open.kind];
    try {
      const { message } = await call(k.svc + '/' + k.send, { [k.key]: open.id, author_id: $('author').value.trim(), text: $('text').value });
      show(message);
      $('text').value = '';
      status('sent');
    } catch (err) { status(err.message, true); }
  });
})();
`;

const FILES: Readonly<Record<string, [type: string, body: string]>> = {
  'app.js': ['text/javascript; charset=utf-8', SCRIPT],
  'style.css': ['text/css; charset=utf-8', STYLE],
};

/** Express router for /explorer and its two files (GET and HEAD; another method is 405). */
export function explorer(): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.all(EXPLORER_PATH, (req: Request, res: Response, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    writeError(res, httpError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${EXPLORER_PATH}; use GET`, { allow: 'GET, HEAD' }));
  });
  router.get(EXPLORER_PATH, (_req, res) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('cache-control', 'no-cache');
    res.type('text/html; charset=utf-8').send(PAGE);
  });
  // Relative asset URLs need the page at /explorer exactly.
  router.get(`${EXPLORER_PATH}/`, (_req, res) => res.redirect(301, '../explorer'));
  router.get(`${EXPLORER_PATH}/:file`, (req, res, next) => {
    const file = Object.hasOwn(FILES, String(req.params.file)) ? FILES[String(req.params.file)] : undefined;
    if (!file) return next();
    res.setHeader('content-security-policy', CSP);
    res.setHeader('cache-control', 'no-cache');
    res.type(file[0]).send(file[1]);
  });
  return router;
}
