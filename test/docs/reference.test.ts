/**
 * docs/ cannot drift from the code: docs/reference.md is what
 * scripts/gen-reference.mjs writes from the protos today (`make docs`
 * rewrites it), names every method and field of the descriptor set, and the
 * hand-written docs/api.md names every error id of the error table and every
 * limit with its default value.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ERROR_IDS } from '../../src/core/errors';
import { defaultLimits } from '../../src/core/limits';
import { DESCRIPTORS_PATH } from '../../src/descriptors';
import { ROOT } from '../helpers/process';

const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

it('docs/reference.md is what scripts/gen-reference.mjs writes from the protos now', async () => {
  const r = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [join(ROOT, 'scripts', 'gen-reference.mjs'), '--check'], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr }),
    ),
  );
  expect(r).toEqual({ code: 0, out: 'docs/reference.md is up to date\n' });
});

it('docs/reference.md names every method of the three services and every field of their requests and responses', () => {
  const md = read('docs/reference.md');
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS_PATH));
  const messages = new Map<string, { field: { name: string; number: number }[] }>(set.file.flatMap((f) => f.messageType.map((m) => [`.${f.package}.${m.name}`, m] as const)));
  let methods = 0;
  for (const f of set.file) {
    for (const s of f.service) {
      for (const m of s.method) {
        methods++;
        expect(md).toContain(`\`${f.package}.${s.name}/${m.name}\``);
        expect(md).toContain(`POST /${f.package}/${s.name}/${m.name}\``);
        for (const type of [m.inputType, m.outputType]) {
          const section = md.slice(md.indexOf(`\`${type.slice(1)}\`:`));
          for (const field of messages.get(type)!.field) expect(section).toMatch(new RegExp(`^\\| \`${field.name}\` \\|.*\\| ${field.number} \\|`, 'm'));
        }
      }
    }
  }
  expect(methods).toBe(52); // 19 of m3o, DeleteChat, three Subscribe, 3 × 5 of the message lifecycle, 3 MarkRead, 3 GetUnread, ListChats, ReadChat, 6 of a richer thread
});

it('docs/api.md names every error id and every limit with its default', () => {
  const md = read('docs/api.md');
  expect(ERROR_IDS.filter((id) => !md.includes(`\`${id}\``))).toEqual([]);
  for (const [name, value] of Object.entries(defaultLimits)) expect(md).toMatch(new RegExp(`\`${name}\` ${value}\\b`));
});

it('the README links docs/', () => {
  expect(read('README.md')).toContain('(docs/README.md)');
});
