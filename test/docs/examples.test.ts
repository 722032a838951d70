/**
 * The shell examples of README.md, gateway/README.md and docs/*.md run as
 * printed, so they cannot drift.
 *
 * Which blocks: a fenced `sh` block right after an `<!-- example -->` line.
 * Other blocks (make, docker, settings) are prose and are not run.
 *
 * How: the built service runs as `make start` runs it (node dist/src/main.js,
 * its own embedded redis-server, API_KEYS unset, so it writes data/api-key
 * on its first start) in a fresh folder that is the working directory of the
 * examples, with node_modules linked in (for `npx buf`). Each file is one
 * terminal session: its blocks run in order with bash (`set -eo pipefail`),
 * each block seeing the variables and functions the blocks before it set, as
 * a reader pasting them one after another would. Each block must exit 0.
 *
 * The one rewrite: the service listens on free ports, so `localhost:50051`
 * and `localhost:8080` in a block become `localhost:<its gRPC port>` and
 * `localhost:<its HTTP port>`. Nothing else is substituted: the token is read
 * from data/api-key and ids are taken from earlier answers, as the text shows.
 *
 * What it prints: the lines of a block that start with `#   ` (a hash and
 * three spaces) are the output the text promises, in order; each must match
 * a line of the block's output, in that order (others may come between).
 * Printed JSON is compared compactly (buf curl's indented JSON becomes one
 * line). In a promised line `…` stands for any text, together with the
 * letters and digits right before it (`8c3e…` is an abbreviated id), and a
 * time stands for any time of the same form: an RFC 3339 time with the same
 * number of fraction digits, or a quoted 19-digit nanosecond count.
 *
 * Blocks that call grpcurl run only where grpcurl is installed (it is not a
 * project dependency, unlike buf); elsewhere the test says so on stdout.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startProcess, type ServiceProcess } from '../helpers/process';

interface Block {
  file: string;
  /** 1-based line of the block's first command. */
  line: number;
  code: string;
  /** The promised output lines (without the `#   `). */
  expected: string[];
}

const FILES = ['README.md', 'gateway/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

export function blocksOf(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '<!-- example -->') continue;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') j++;
    if (!/^```(sh|bash)\s*$/.test(lines[j] ?? '')) throw new Error(`${file}:${i + 1}: <!-- example --> is not followed by a sh block`);
    const start = j + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(start, end);
    blocks.push({
      file,
      line: start + 1,
      code: body.join('\n'),
      expected: body.filter((l) => l.startsWith('#   ')).map((l) => l.slice(4)),
    });
    i = end;
  }
  return blocks;
}

/** Output lines, with every JSON value (one line or indented over many) as one compact line. */
export function outputLines(out: string): string[] {
  const raw = out.split('\n').map((l) => l.replace(/\r$/, ''));
  const result: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const line = raw[i];
    if (/^\s*[{[]/.test(line)) {
      let acc = '';
      let parsed: unknown;
      let j = i;
      for (; j < raw.length; j++) {
        acc += raw[j] + '\n';
        try {
          parsed = JSON.parse(acc);
          break;
        } catch {
          // not complete yet
        }
      }
      if (j < raw.length) {
        result.push(JSON.stringify(parsed));
        i = j;
        continue;
      }
    }
    if (line.trim() !== '') result.push(line.trim());
  }
  return result;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A promised line as a regular expression (see the header). */
export function patternOf(expected: string): RegExp {
  const special = /([A-Za-z0-9_+/=-]*…)|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d+))?Z)|("\d{19}")/g;
  let re = '';
  let last = 0;
  for (const m of expected.matchAll(special)) {
    re += escape(expected.slice(last, m.index));
    if (m[1]) re += '.*?';
    else if (m[2]) re += `\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d${m[3] ? `\\.\\d{${m[3].length}}` : ''}Z`;
    else re += '"\\d{19}"';
    last = m.index + m[0].length;
  }
  re += escape(expected.slice(last));
  return new RegExp(`^${re}$`);
}

/** The promised lines that no output line matches, in order. */
export function unmatched(expected: string[], lines: string[]): string[] {
  let at = 0;
  const missing: string[] = [];
  for (const e of expected) {
    const re = patternOf(e);
    const found = lines.findIndex((l, k) => k >= at && re.test(l));
    if (found < 0) missing.push(e);
    else at = found + 1;
  }
  return missing;
}

const HAVE_GRPCURL = (() => {
  try {
    execFileSync('bash', ['-c', 'command -v grpcurl'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let svc: ServiceProcess | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-ex-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  svc = await startProcess('dist/src/main.js', { HOST: '127.0.0.1', GRPC_PORT: '0', HTTP_PORT: '0', DATA_DIR: join(dir, 'data') }, 'gRPC server listening', 30_000, {
    detached: true,
  });
}, 60_000);

afterAll(async () => {
  if (svc?.child.pid) {
    await Promise.race([svc.stop(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    try {
      process.kill(-svc.child.pid, 'SIGKILL'); // its group: the embedded redis-server too
    } catch {
      // already gone
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs one block in the file's session; resolves with its exit code and output. */
function run(block: Block, state: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const code = block.code.replaceAll('localhost:50051', `localhost:${svc!.port}`).replaceAll('localhost:8080', `localhost:${svc!.httpPort}`);
  const script = [
    'set -eo pipefail',
    'shopt -s expand_aliases',
    `[ -f ${state}.base ] || compgen -v > ${state}.base`,
    `[ -f ${state} ] && source ${state}`,
    code,
    // Everything the block defined, for the next one.
    `{ for v in $(compgen -v); do grep -qxF "$v" ${state}.base || declare -p "$v"; done; declare -f; alias -p; } > ${state}.next 2>/dev/null`,
    `mv ${state}.next ${state}`,
  ].join('\n');
  const file = join(dir, `block-${block.line}.sh`);
  writeFileSync(file, script);
  return new Promise((resolve) => {
    execFile('bash', ['--noprofile', '--norc', file], { cwd: dir, timeout: 60_000, maxBuffer: 16 << 20, env: { PATH: process.env.PATH ?? '', HOME: dir } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

it('finds runnable examples in the README, the gateway README and docs/', () => {
  const counts = Object.fromEntries(FILES.map((f) => [f, blocksOf(f, readFileSync(join(ROOT, f), 'utf8')).length]));
  expect(counts['README.md']).toBeGreaterThan(2);
  expect(counts['gateway/README.md']).toBeGreaterThan(3);
  expect(Object.entries(counts).filter(([f]) => f.startsWith('docs/')).reduce((n, [, c]) => n + c, 0)).toBeGreaterThan(0);
});

it('the output matcher: … and times are wildcards, everything else is literal', () => {
  const lines = outputLines('{\n  "thread": {\n    "id": "ab12",\n    "createdAt": "2027-01-02T03:04:05.123456789Z"\n  }\n}\nHTTP/1.1 200 OK\r\n');
  expect(lines).toEqual(['{"thread":{"id":"ab12","createdAt":"2027-01-02T03:04:05.123456789Z"}}', 'HTTP/1.1 200 OK']);
  expect(unmatched(['{"thread":{"id":"8c3e…","createdAt":"2026-11-23T16:40:01.123456000Z"}}', 'HTTP/1.1 200 OK'], lines)).toEqual([]);
  expect(unmatched(['{"thread":{"id":"8c3e…","createdAt":"2026-11-23T16:40:01Z"}}'], lines)).toHaveLength(1);
  expect(unmatched(['HTTP/1.1 200 OK', '{"thread":{"id":"…"…}}'], lines)).toHaveLength(1); // order matters
  expect(unmatched(['{"code":400}'], ['{"code":404}'])).toHaveLength(1);
});

describe.each(FILES)('%s', (file) => {
  it('runs every example block in order, each exiting 0 and printing what the text says', async () => {
    const blocks = blocksOf(file, readFileSync(join(ROOT, file), 'utf8'));
    const state = join(dir, `state-${file.replaceAll('/', '-')}`);
    const skipped: number[] = [];
    for (const block of blocks) {
      if (/(^|[\s;|(])grpcurl\s/m.test(block.code) && !HAVE_GRPCURL) {
        skipped.push(block.line);
        continue;
      }
      const r = await run(block, state);
      const where = `${file}:${block.line}`;
      const report = `${where}\n--- block\n${block.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      expect({ where, exit: r.code, report: r.code === 0 ? '' : report }).toEqual({ where, exit: 0, report: '' });
      const missing = unmatched(block.expected, outputLines(r.stdout));
      expect({ where, missing, stdout: missing.length ? r.stdout : '' }).toEqual({ where, missing: [], stdout: '' });
    }
    if (skipped.length) console.log(`${file}: grpcurl is not installed, so the grpcurl blocks at lines ${skipped.join(', ')} did not run (the buf curl blocks did)`);
  }, 120_000);
});
