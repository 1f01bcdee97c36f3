/** The per-request logger is made on first use only, and then logs exactly like a pino child would. */
import { Writable } from 'node:stream';
import { createLogger, lazyChildLogger } from '../../src/observability/logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger('warn', stream) };
}

it('writes nothing below the level, and logs with every binding (redaction included) at or above it', async () => {
  const { lines, log } = capture();
  const child = lazyChildLogger(log, { requestId: 'r-1' }).child({ approvalId: 'a-1' });
  child.info('not written');
  child.debug({ x: 1 }, 'not written');
  expect(child.level).toBe('warn');
  expect(child.isLevelEnabled('info')).toBe(false);
  child.warn({ headers: { authorization: 'Bearer secret' } }, 'written');
  child.error(new Error('boom'));
  await new Promise((r) => setImmediate(r));
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatchObject({ requestId: 'r-1', approvalId: 'a-1', msg: 'written', headers: { authorization: '[redacted]' } });
  expect(lines[1]).toMatchObject({ requestId: 'r-1', approvalId: 'a-1', err: { message: 'boom' } });
  expect(child.bindings()).toMatchObject({ requestId: 'r-1', approvalId: 'a-1' });
});
