// Failover through tollgate with strategy priority: retryable upstream failures move on, others pass as is.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  joined_content, kSecret, openai_error, post_json, post_stream, read_sse, start_tollgate, start_upstream,
  stop_all, unique_prompt,
} from './support.mjs';

// Each test has providers of its own (distinct scenario paths), so counters, circuit breakers and
// cooldowns of one test cannot leak into another.
const kScenarios = {
  'p-500': 'status=500,id=p500',
  'ok-500': 'id=ok500',
  'p-429': 'status=429,retry_after=1,id=p429',
  'ok-429': 'id=ok429',
  'p-400': 'status=400,id=p400',
  'ok-400': 'id=ok400',
  'p-reset': 'reset,id=preset',
  'ok-reset': 'id=okreset',
  'p-brk0': 'break_after=0,id=pbrk0',
  'ok-brk0': 'id=okbrk0',
  'p-brk2': 'break_after=2,id=pbrk2',
  'ok-brk2': 'id=okbrk2',
  'p-hang': 'hang,id=phang',
  'ok-hang': 'id=okhang',
  'p-hang-last': 'hang,id=phanglast',
  'dead-1': 'status=500,id=dead1',
  'dead-2': 'status=503,id=dead2',
};

// model name → provider ids in failover order
const kModels = {
  'm-500': ['p-500', 'ok-500'],
  'm-429': ['p-429', 'ok-429'],
  'm-400': ['p-400', 'ok-400'],
  'm-reset': ['p-reset', 'ok-reset'],
  'm-brk0': ['p-brk0', 'ok-brk0'],
  'm-brk2': ['p-brk2', 'ok-brk2'],
  'm-hang': ['p-hang', 'ok-hang'],
  'm-hang-last': ['p-hang-last'],
  'm-dead': ['dead-1', 'dead-2'],
};

const kFirstByteTimeoutMs = 1000;

let up;
let gw;

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({
    config: {
      providers: Object.entries(kScenarios).map(([id, scenario]) => (
        { id, type: 'openai', base_url: up.base_url(scenario), keys: [kSecret] })),
      models: Object.entries(kModels).map(([name, providers]) => (
        { name, deployments: providers.map((provider) => ({ provider, model: `${provider}-model` })) })),
      routing: {
        strategy: 'priority',
        max_attempts: 4,
        backoff: { base: '10ms', max: '50ms' },
        first_byte_timeout: `${kFirstByteTimeoutMs}ms`,
        stream_idle_timeout: '2s',
      },
      cache: { mode: 'off' },
      dedup: { enabled: false },
    },
  });
});

after(stop_all);

async function count(provider) {
  const stats = await up.stats();
  return stats.by_path[up.chat_path(kScenarios[provider])] ?? 0;
}

function chat(model, extra = {}) {
  const prompt = unique_prompt(`failover ${model}`);
  return { prompt, body: { model, messages: [{ role: 'user', content: prompt }], ...extra } };
}

test('a deployment answering 500 fails over to the next', async () => {
  const { prompt, body } = chat('m-500');
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, prompt);
  assert.equal(r.headers.get('x-tollgate-attempts'), '2');
  assert.equal(r.headers.get('x-tollgate-provider'), 'ok-500');
  assert.equal(r.headers.get('x-tollgate-model'), 'ok-500-model');
  assert.equal(await count('p-500'), 1);
  assert.equal(await count('ok-500'), 1);
});

test('a 429 with retry-after fails over to the next deployment', async () => {
  const { prompt, body } = chat('m-429');
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, prompt);
  assert.equal(r.headers.get('x-tollgate-attempts'), '2');
  assert.equal(r.headers.get('x-tollgate-provider'), 'ok-429');
  assert.equal(await count('p-429'), 1);
  assert.equal(await count('ok-429'), 1);
});

test('a connection reset fails over to the next deployment', async () => {
  const { prompt, body } = chat('m-reset');
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, prompt);
  assert.equal(r.headers.get('x-tollgate-provider'), 'ok-reset');
  assert.equal(r.headers.get('x-tollgate-attempts'), '2');
});

test('an upstream 400 is returned as is, with no retry', async () => {
  const { body } = chat('m-400');
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.json, {
    error: { message: 'fake_upstream: scripted status 400', type: 'invalid_request_error', param: null, code: null },
  });
  assert.equal(await count('p-400'), 1);
  assert.equal(await count('ok-400'), 0);
});

test('a stream breaking before its first chunk fails over invisibly', async () => {
  const { prompt, body } = chat('m-brk0', { stream: true });
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`, body);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-tollgate-provider'), 'ok-brk0');
  assert.equal(res.headers.get('x-tollgate-attempts'), '2');
  const s = await read_sse(res);
  assert.equal(s.done, true);
  assert.equal(joined_content(s.chunks), prompt);
  assert.ok(s.events.every((e) => e.json?.error === undefined), 'no error event on an invisible failover');
  assert.equal(await count('p-brk0'), 1);
  assert.equal(await count('ok-brk0'), 1);
});

test('a stream breaking after 2 chunks: the client gets them, then an SSE error event and no [DONE]', async () => {
  const { prompt, body } = chat('m-brk2', { stream: true });
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`, body);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-tollgate-provider'), 'p-brk2');
  const s = await read_sse(res);
  const dump = s.events.map((e) => e.data).join('\n');
  assert.equal(s.done, false, `no [DONE] after a broken stream:\n${dump}`);
  assert.equal(s.chunks.length, 2, dump);
  assert.equal(s.chunks[0].json.choices[0].delta.role, 'assistant');
  assert.equal(joined_content(s.chunks), prompt.split(' ')[0]);
  const last = s.events[s.events.length - 1];
  assert.ok(last.json?.error, `the last event must be an error event:\n${dump}`);
  openai_error(last.json);
  // Chunks were already sent: no failover to the next deployment.
  assert.equal(await count('p-brk2'), 1);
  assert.equal(await count('ok-brk2'), 0);
});

test('a hung deployment fails over after first_byte_timeout', async () => {
  const { prompt, body } = chat('m-hang');
  const started = performance.now();
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  const elapsed = performance.now() - started;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, prompt);
  assert.equal(r.headers.get('x-tollgate-provider'), 'ok-hang');
  assert.ok(elapsed >= kFirstByteTimeoutMs * 0.9 && elapsed < kFirstByteTimeoutMs + 3000, `took ${elapsed} ms`);
});

test('a hung last deployment answers 504 after first_byte_timeout', async () => {
  const { body } = chat('m-hang-last');
  const started = performance.now();
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  const elapsed = performance.now() - started;
  assert.equal(r.status, 504, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'timeout');
  // At most max_attempts (4) tries of 1 s each, and at least one.
  assert.ok(elapsed >= kFirstByteTimeoutMs * 0.9 && elapsed < 4 * kFirstByteTimeoutMs + 2000, `took ${elapsed} ms`);
});

test('every deployment failing answers 502 upstream_error listing the attempts', async () => {
  const { body } = chat('m-dead');
  const r = await post_json(`${gw.url}/v1/chat/completions`, body);
  assert.equal(r.status, 502, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'upstream_error');
  assert.match(error.message, /dead-1/);
  assert.match(error.message, /dead-2/);
  assert.ok(await count('dead-1') >= 1);
  assert.ok(await count('dead-2') >= 1);
});

test('the configured key never appears in tollgate output', async () => {
  await gw.stop();
  assert.ok(!gw.output().includes(kSecret), `the secret appears in tollgate's output:\n${gw.output()}`);
});
