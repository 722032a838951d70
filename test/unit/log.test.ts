import { Writable } from 'node:stream';
import { createLogger } from '../../src/log';

it('redacts authorization wherever it appears in a logged object', () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) });
  const log = createLogger('info', 'test', sink);
  log.info({ authorization: 'Bearer s3cret-1' }, 'top');
  log.info({ metadata: { authorization: 'Bearer s3cret-2' } }, 'nested');
  log.info({ req: { headers: { authorization: 'Bearer s3cret-3' } } }, 'deeper');
  const out = lines.join('');
  expect(out).not.toMatch(/s3cret/);
  expect(out.match(/\[redacted\]/g)).toHaveLength(3);
});
