/**
 * The README's Node client example ("The Node client"), run as printed
 * against the built service process and the built package (client/dist,
 * what `@parley/client` resolves to): only the target is changed to the
 * test service's, and the body wrapped in an async function (the example
 * uses top-level await; the file runs as CommonJS).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { ROOT } from '../helpers/process';
import { restartableService, type RestartableService } from '../helpers/restartable';
import { startRedis, type TestRedis } from '../helpers/redis';
import { TEST_TOKEN } from '../helpers/service';

let redis: TestRedis | undefined;
let svc: RestartableService | undefined;
const dir = mkdtempSync(join(tmpdir(), 'parley-client-example-'));

afterAll(async () => {
  await svc?.stopAll();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function example(): string {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.trim() === '<!-- client-example -->');
  expect(at).toBeGreaterThan(0);
  expect(lines[at + 1]).toBe('```ts');
  const end = lines.indexOf('```', at + 2);
  return lines.slice(at + 2, end).join('\n');
}

it('the README example creates a thread, sends, and reads the message back from the live feed', async () => {
  redis = await startRedis();
  svc = await restartableService(redis);
  const code = example();
  expect(code).toContain("from '@parley/client'");
  expect(code.split('\n').length).toBeLessThanOrEqual(12);
  const body = code
    .replace(/^import \{ createClient \} from '@parley\/client';$/m, '')
    .replace("'localhost:50051'", JSON.stringify(svc.target));
  const js = ts.transpileModule(`(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });`, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS },
  }).outputText;
  // The package as a caller gets it: client/package.json's main (client/dist), built by `make build`.
  const file = join(dir, 'example.js');
  writeFileSync(file, `const { createClient } = require(${JSON.stringify(join(ROOT, 'client'))});\n${js}`);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { env: { PATH: process.env.PATH, TOKEN: TEST_TOKEN }, timeout: 20_000 });
  expect(stdout).toBe('ana ship it\n');
});
