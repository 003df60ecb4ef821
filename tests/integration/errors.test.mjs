// Client errors answered by tollgate itself, in OpenAI's error shape, without calling the upstream.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';

import {
  get, kSecret, openai_error, post_json, start_tollgate, start_upstream, stop_all, unique_prompt,
} from './support.mjs';

const kScenario = 'id=errors';

let up;
let gw;

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({
    config: {
      server: { max_body_bytes: '64KiB' },
      providers: [{ id: 'up-a', type: 'openai', base_url: up.base_url(kScenario), keys: [kSecret] }],
      models: [{ name: 'chat', deployments: [{ provider: 'up-a', model: 'gpt-y' }] }],
      routing: { strategy: 'priority', first_byte_timeout: '2s', stream_idle_timeout: '2s' },
      cache: { mode: 'off' },
    },
  });
});

after(stop_all);

async function upstream_calls() {
  return (await up.stats()).by_path[up.chat_path(kScenario)] ?? 0;
}

test('malformed JSON: 400 invalid_request_error, upstream not called', async () => {
  const r = await post_json(`${gw.url}/v1/chat/completions`, '{"model": "chat", "messages": [',
    { 'x-request-id': 'it-bad-json' });
  assert.equal(r.status, 400, r.text);
  assert.equal(openai_error(r.json).type, 'invalid_request_error');
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.headers.get('x-request-id'), 'it-bad-json');
  assert.equal(await upstream_calls(), 0);
});

test('a body that is JSON but not an object: 400', async () => {
  const r = await post_json(`${gw.url}/v1/chat/completions`, '[1, 2, 3]');
  assert.equal(r.status, 400, r.text);
  assert.equal(openai_error(r.json).type, 'invalid_request_error');
});

test('messages missing: 400 naming the param', async () => {
  const r = await post_json(`${gw.url}/v1/chat/completions`, { model: 'chat' });
  assert.equal(r.status, 400, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.param, 'messages');
});

test('model not a string: 400 naming the param', async () => {
  const r = await post_json(`${gw.url}/v1/chat/completions`,
    { model: 42, messages: [{ role: 'user', content: unique_prompt() }] });
  assert.equal(r.status, 400, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.param, 'model');
  assert.equal(await upstream_calls(), 0);
});

test('a body over max_body_bytes: 413 request_too_large', async () => {
  const r = await post_json(`${gw.url}/v1/chat/completions`,
    { model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(80 * 1024) }] });
  assert.equal(r.status, 413, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.code, 'request_too_large');
  assert.equal(await upstream_calls(), 0);
});

test('a body just under max_body_bytes is accepted', async () => {
  const prompt = `${unique_prompt()} ${'y'.repeat(60 * 1024)}`;
  const r = await post_json(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: prompt }] });
  assert.equal(r.status, 200, r.text.slice(0, 500));
  assert.equal(r.json.choices[0].message.content, prompt);
});

test('unknown model: 404 model_not_found', async () => {
  const r = await post_json(`${gw.url}/v1/chat/completions`,
    { model: 'no-such-model', messages: [{ role: 'user', content: unique_prompt() }] });
  assert.equal(r.status, 404, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.code, 'model_not_found');
});

test('unknown route: 404 in OpenAI shape', async () => {
  for (const r of [await get(`${gw.url}/v1/no-such-route`), await post_json(`${gw.url}/nope`, {})]) {
    assert.equal(r.status, 404, r.text);
    openai_error(r.json);
  }
});

/** Sends raw bytes on a fresh connection and returns everything the server answers before closing. */
function raw_exchange(url, bytes) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(bytes));
    const parts = [];
    socket.on('data', (d) => parts.push(d));
    socket.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(3000, () => socket.destroy(new Error('no answer within 3 s')));
  });
}

test('a path with bytes that are not UTF-8: 404 in OpenAI shape, and the gauge of in-flight requests returns to 0', async () => {
  for (const path of ['/v1/\xff\xfe', '/v1/models/\xff']) {
    const answer = await raw_exchange(gw.url, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'));
    assert.match(answer, /^HTTP\/1\.1 404 /, answer);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    openai_error(body);
  }
  const metrics = (await get(`${gw.url}/metrics`)).text;
  // The scrape itself is the one request in flight.
  assert.match(metrics, /^tollgate_inflight_requests 1$/m);
});

test('nothing above reached the upstream', async () => {
  // Only "just under max_body_bytes" was a valid request.
  assert.equal(await upstream_calls(), 1);
});
