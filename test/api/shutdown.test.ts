/** Graceful shutdown answers open long-polls with the current state and closes their connections at once. */
import { baseRequest, startTestApp } from '../support/start-app';

it('answers open long-polls and stops at once, not after the keep-alive timeout', async () => {
  const t = await startTestApp();
  const { body } = await t.submit(baseRequest({ action: 'service.restart' }));
  const waits = Array.from({ length: 5 }, () => t.call('GET', `/v1/requests/${body.id}?wait=60`, { key: t.keys.agent }));
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  await t.close();
  const answers = await Promise.all(waits);
  expect(answers.map((a) => [a.status, a.body.status])).toEqual(Array.from({ length: 5 }, () => [200, 'pending']));
  expect(answers.every((a) => a.headers.get('connection') === 'close')).toBe(true);
  // Without closing them, the keep-alive sockets held the server open for its 72 s keep-alive timeout.
  expect(Date.now() - started).toBeLessThan(5_000);
});
