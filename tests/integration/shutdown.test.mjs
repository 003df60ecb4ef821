// Graceful shutdown: SIGTERM lets an in-flight stream finish, refuses new connections, exits 0.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  joined_content, kSecret, post_stream, sse_events, start_tollgate, start_upstream, stop_all, try_connect,
  unique_prompt,
} from './support.mjs';

let up;
let gw;

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({
    config: {
      providers: [{ id: 'up-slow', type: 'openai', base_url: up.base_url('chunk_delay=250ms'), keys: [kSecret] }],
      models: [{ name: 'slow', deployments: [{ provider: 'up-slow', model: 'gpt-x' }] }],
      routing: { strategy: 'priority', first_byte_timeout: '2s', stream_idle_timeout: '2s' },
      cache: { mode: 'off' },
    },
  });
});

after(stop_all);

test('SIGTERM during a slow stream: the stream finishes with [DONE], new connections are refused, exit 0', async () => {
  // 6 words: 8 chunks 250 ms apart, about 2 s in all.
  const prompt = unique_prompt('one two three four five');
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
    { model: 'slow', stream: true, messages: [{ role: 'user', content: prompt }] });
  assert.equal(res.status, 200);

  const events = [];
  const iterator = sse_events(res);
  const first = await iterator.next();
  assert.equal(first.done, false);
  events.push(first.value);

  gw.child.kill('SIGTERM');
  // Keep reading while probing, so the stream is not held back by this test.
  const rest = (async () => {
    for await (const event of iterator) events.push(event);
  })();

  let refused = null;
  for (let i = 0; i < 30 && refused === null; ++i) {
    const outcome = await try_connect(gw.port);
    if (outcome === 'ECONNREFUSED') refused = performance.now();
    else await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
  assert.notEqual(refused, null, 'a new connection was still accepted 1.5 s after SIGTERM');
  const data_before_refusal = events.filter((e) => e.at <= refused).length;
  assert.ok(data_before_refusal < 8, 'the stream had already finished when connections were refused');

  await rest;
  const chunks = events.filter((e) => e.json !== undefined);
  assert.equal(events[events.length - 1].data, '[DONE]', events.map((e) => e.data).join('\n'));
  assert.equal(joined_content(chunks), prompt);

  const { code, signal, timed_out } = await gw.child.wait_exit(10_000);
  assert.equal(timed_out, undefined, `tollgate did not exit within 10 s of SIGTERM; output:\n${gw.output()}`);
  assert.equal(signal, null);
  assert.equal(code, 0, gw.output());
  assert.ok(!gw.output().includes(kSecret));
});
