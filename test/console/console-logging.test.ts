/**
 * Credentials never reach the logs through request URLs: Fastify's "incoming request" line goes through the product
 * logger's request serializer, which redacts one-time sign-in link tokens and an OAuth callback's code and state.
 */
import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger, redactUrl } from '../../src/observability/logger';

it('redacts sign-in tokens and OAuth codes from logged request URLs', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const app = Fastify({ loggerInstance: createLogger('info', sink) as FastifyBaseLogger });
  app.get('/console/link/:token', async () => 'ok');
  app.get('/console/callback', async () => 'ok');
  app.get('/v1/requests', async () => 'ok');
  await app.inject({ url: '/console/link/SECRET-LINK-TOKEN-abcdefghijklmnopqrstuvwxyz012345' });
  await app.inject({ url: '/console/callback?code=SECRET-CODE&state=SECRET-STATE&iss=https%3A%2F%2Fidp' });
  await app.inject({ url: '/v1/requests?limit=2&traceId=run-1' });
  await app.close();
  const logged = lines.join('');
  expect(logged).not.toMatch(/SECRET-/);
  const urls = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'incoming request').map((l) => l.req.url);
  expect(urls).toEqual(['/console/link/[redacted]', '/console/callback?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fidp', '/v1/requests?limit=2&traceId=run-1']);
  expect(redactUrl('/x?token=a&access_token=b#f')).toBe('/x?token=[redacted]&access_token=[redacted]#f');
});
