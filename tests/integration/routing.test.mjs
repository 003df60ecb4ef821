// Routing and resilience through the real binary: failover, key pools, circuit breakers, fallbacks, objectives, strategies and limits.
//
// The setup of issue 5: provider A (keys kA1, kA2) and provider B (key kB1), both openai-type on
// the fake upstream, each test with scenario paths of its own (distinct `id=`), so upstream counters,
// fail_first counts, breakers and cooldowns never leak from one test into another. Every test starts
// a tollgate of its own with the config it needs.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import {
  eventually, get, joined_content, metric_sum, openai_error, parse_metrics, post_json, post_stream, read_sse,
  start_tollgate, start_upstream, stop_all, unique_prompt,
} from './support.mjs';

const kMaster = 'master-key-routing-tests-7c6b5a4d3e2f1a09';
const master = { authorization: `Bearer ${kMaster}` };
const kA1 = 'sk-routing-a1-0123456789abcdefKA01';
const kA2 = 'sk-routing-a2-0123456789abcdefKA02';
const kB1 = 'sk-routing-b1-0123456789abcdefKB01';

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, Math.max(0, ms)); });
const fingerprint = (key) => `sk-…${key.slice(-4)}`;

/// Starts tollgate with provider A on scenario `a` (keys kA1, kA2), provider B on scenario `b`
/// (key kB1), any `more` providers ({id, scenario}, no keys), `models`, and `routing` over priority
/// order with a short backoff. Cache and dedup are off: every request reaches the router.
async function start_gateway({ a, b, more = [], models, routing = {} }) {
  const gw = await start_tollgate({
    config: {
      providers: [
        { id: 'A', type: 'openai', base_url: up.base_url(a), keys: [kA1, kA2] },
        { id: 'B', type: 'openai', base_url: up.base_url(b), keys: [kB1] },
        ...more.map(({ id, scenario }) => ({ id, type: 'openai', base_url: up.base_url(scenario) })),
      ],
      models,
      routing: { strategy: 'priority', max_attempts: 4, backoff: { base: '10ms', max: '50ms' }, ...routing },
      cache: { mode: 'off' },
      dedup: { enabled: false },
    },
    env: { TOLLGATE_MASTER_KEY: kMaster },
  });
  return {
    ...gw,
    /// A non-stream chat request for `model` with a unique prompt: {prompt, status, headers, text, json}.
    chat: async (model, headers = {}) => {
      const prompt = unique_prompt(`routing ${model}`);
      const r = await post_json(`${gw.url}/v1/chat/completions`,
        { model, messages: [{ role: 'user', content: prompt }] }, { ...master, ...headers });
      return { prompt, ...r };
    },
    /// The same, streamed: {prompt, res} with the body not read yet.
    stream: async (model) => {
      const prompt = unique_prompt(`routing stream ${model}`);
      const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
        { model, messages: [{ role: 'user', content: prompt }], stream: true }, master);
      return { prompt, res };
    },
    sdk: () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: kMaster, maxRetries: 0, timeout: 10_000 }),
    providers: async () => {
      const r = await get(`${gw.url}/api/v1/providers`, master);
      assert.equal(r.status, 200, r.text);
      return r.json;
    },
    metrics: async () => parse_metrics((await get(`${gw.url}/metrics`)).text),
    /// The audit entry (kind request) of one request id, once the ledger has it.
    audit_of: (request_id) => eventually(async () => {
      const r = await get(`${gw.url}/api/v1/audit?limit=1000`, master);
      return r.json?.data?.find((e) => e.kind === 'request' && e.target === request_id);
    }),
  };
}

/// Chat calls the fake upstream received on `scenario`.
async function calls(scenario) {
  return (await up.stats()).by_path[up.chat_path(scenario)] ?? 0;
}

/// The upstream requests on `scenario` still in the fake upstream's log (its last 50), oldest first.
async function logged(scenario) {
  return (await up.stats()).last_requests.filter((r) => r.path === up.chat_path(scenario));
}

const deployment = (providers, label) => {
  const d = providers.data.find((x) => x.deployment === label);
  assert.ok(d, `no deployment ${label} in ${JSON.stringify(providers.data.map((x) => x.deployment))}`);
  return d;
};

const key_entry = (providers, provider_id, key) => {
  const p = providers.providers.find((x) => x.id === provider_id);
  assert.ok(p, `no provider ${provider_id}`);
  const k = p.keys.find((x) => x.fingerprint === fingerprint(key));
  assert.ok(k, `no key ${fingerprint(key)} under ${provider_id}: ${JSON.stringify(p.keys)}`);
  return k;
};

// ---------------------------------------------------------------------------------------------
// 1. Failover on 5xx

test('a deployment answering 500 fails over: the caller gets 200 from B after 2 attempts', async () => {
  const a = 'status=500,id=r1-a';
  const b = 'id=r1-b';
  const gw = await start_gateway({
    a, b, models: [{ name: 'm', deployments: [{ provider: 'A', model: 'a-model' }, { provider: 'B', model: 'b-model' }] }],
  });
  const prompt = unique_prompt('routing failover sdk');
  const { data, response } = await gw.sdk().chat.completions
    .create({ model: 'm', messages: [{ role: 'user', content: prompt }] }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(response.headers.get('x-tollgate-attempts'), '2');
  assert.equal(response.headers.get('x-tollgate-provider'), 'B');
  assert.equal(response.headers.get('x-tollgate-model'), 'b-model');
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 1);

  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_upstream_requests_total', { provider: 'A', status: '500' }), 1);
  assert.equal(metric_sum(m, 'tollgate_upstream_requests_total', { provider: 'B', status: '200' }), 1);
  assert.equal(metric_sum(m, 'tollgate_failovers_total', { reason: '500' }), 1);
  assert.equal(metric_sum(m, 'tollgate_retries_total'), 1);
  const audit = await gw.audit_of(response.headers.get('x-request-id'));
  assert.equal(audit.status, 200);
  assert.equal(audit.detail.attempts, 2);
  assert.equal(audit.detail.provider, 'B');
  assert.match(audit.detail.routing_reason, /failover: attempt 2 on B\/b-model/);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 2. 429 with Retry-After on one key

test('a key answering 429 with Retry-After: 2 rests; traffic moves to the other key until the rest is over', async () => {
  const a = `status=429,retry_after=2,only_key=${kA1},id=r2-a`;
  const gw = await start_gateway({
    a, b: 'id=r2-b', models: [{ name: 'm', deployments: [{ provider: 'A', model: 'rest-model' }] }],
  });
  for (let i = 0; i < 6; ++i) {
    const r = await gw.chat('m');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-provider'), 'A');
  }
  let log = await logged(a);
  const with_key = (entries, key) => entries.filter((r) => r.headers.authorization === `Bearer ${key}`);
  // Round-robin over the pool reaches kA1 within two requests; after its 429 it rests.
  assert.equal(with_key(log, kA1).length, 1, log.map((r) => r.headers.authorization).join(' '));
  assert.equal(with_key(log, kA2).length, 6);
  const first_use = with_key(log, kA1)[0].at;

  const p = await gw.providers();
  const resting = key_entry(p, 'A', kA1);
  assert.equal(resting.state, 'cooling_down', JSON.stringify(resting));
  const until = Date.parse(resting.cooling_until);
  assert.ok(until > Date.now() && until <= first_use + 2100, `cooling_until ${resting.cooling_until}`);
  assert.equal(key_entry(p, 'A', kA2).state, 'active');
  assert.equal(deployment(p, 'A/rest-model').health, 'degraded');
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_upstream_key_state', { provider: 'A', key: resting.id }), 1);

  // Still resting: a request now goes to kA2 again.
  assert.equal((await gw.chat('m')).status, 200);
  assert.equal(with_key(await logged(a), kA1).length, 1);

  await sleep(until - Date.now() + 150);
  for (let i = 0; i < 4; ++i) assert.equal((await gw.chat('m')).status, 200);
  log = await logged(a);
  const uses = with_key(log, kA1);
  assert.equal(uses.length, 2, 'kA1 is used again once its rest is over (and rests again after its 429)');
  assert.ok(uses[1].at - uses[0].at >= 1900, `kA1 was used again after ${uses[1].at - uses[0].at} ms`);
  assert.equal(with_key(log, kA2).length, 11);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 3. 401 disables a key

test('a key answered 401 is disabled with the reason and never sent again', async () => {
  const a = `require_key=${kA2},id=r3-a`;
  const gw = await start_gateway({
    a, b: 'id=r3-b', models: [{ name: 'm', deployments: [{ provider: 'A', model: 'auth-model' }] }],
  });
  for (let i = 0; i < 4; ++i) {
    const r = await gw.chat('m');
    assert.equal(r.status, 200, r.text);
  }
  const with_key = (entries, key) => entries.filter((r) => r.headers.authorization === `Bearer ${key}`);
  let log = await logged(a);
  assert.equal(with_key(log, kA1).length, 1, log.map((r) => r.headers.authorization).join(' '));
  assert.equal(with_key(log, kA2).length, 4);

  const p = await gw.providers();
  const disabled = key_entry(p, 'A', kA1);
  assert.equal(disabled.state, 'disabled', JSON.stringify(disabled));
  assert.match(disabled.state_reason, /401/);
  assert.equal(key_entry(p, 'A', kA2).state, 'active');
  assert.equal(deployment(p, 'A/auth-model').health, 'degraded');
  // A refused key says nothing about the deployment: its circuit counted no failure.
  assert.equal(deployment(p, 'A/auth-model').circuit.failures, 0);
  assert.ok(!JSON.stringify(p).includes(kA1), 'the key material never appears in /api/v1/providers');

  for (let i = 0; i < 6; ++i) {
    const r = await gw.chat('m');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-attempts'), '1');
  }
  log = await logged(a);
  assert.equal(with_key(log, kA1).length, 1, 'kA1 is never sent again');
  assert.equal(with_key(log, kA2).length, 10);
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_upstream_key_state', { provider: 'A', key: disabled.id }), 2);
  await gw.stop();
  assert.ok(!gw.output().includes(kA1) && !gw.output().includes(kA2), 'no key material in the log');
});

// ---------------------------------------------------------------------------------------------
// 4. Circuit breaker

test('circuit breaker: opens after min_requests failures, passes A over, probes after cool_off and closes', async () => {
  const a = 'fail_first=4,id=r4-a';
  const b = 'id=r4-b';
  const gw = await start_gateway({
    a, b,
    models: [{ name: 'm', deployments: [{ provider: 'A', model: 'model' }, { provider: 'B', model: 'model' }] }],
    routing: { circuit_breaker: { min_requests: 4, failure_rate: 0.5, window: '30s', cool_off: '1s' } },
  });
  for (let i = 0; i < 4; ++i) {
    const r = await gw.chat('m');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-provider'), 'B');
    assert.equal(r.headers.get('x-tollgate-attempts'), '2');
  }
  assert.equal(await calls(a), 4);

  let p = await gw.providers();
  let d = deployment(p, 'A/model');
  assert.equal(d.circuit.state, 'open', JSON.stringify(d));
  assert.equal(d.health, 'unhealthy');
  assert.equal(d.circuit.failures, 4);
  assert.ok(d.circuit.reopens_at, JSON.stringify(d.circuit));
  assert.equal(deployment(p, 'B/model').circuit.state, 'closed');
  let m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_circuit_state', { deployment: 'A/model' }), 2);
  assert.equal(metric_sum(m, 'tollgate_circuit_state', { deployment: 'B/model' }), 0);

  // Open: A is passed over without a call.
  for (let i = 0; i < 3; ++i) {
    const r = await gw.chat('m');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-provider'), 'B');
    assert.equal(r.headers.get('x-tollgate-attempts'), '1');
  }
  assert.equal(await calls(a), 4);
  assert.equal(await calls(b), 7);
  m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_failovers_total', { reason: 'circuit_open' }), 3);

  // After the cool-off one probe reaches A; fail_first is used up, so it answers and the circuit closes.
  await sleep(Date.parse(d.circuit.reopens_at) - Date.now() + 100);
  const probe = await gw.chat('m');
  assert.equal(probe.status, 200, probe.text);
  assert.equal(probe.headers.get('x-tollgate-provider'), 'A');
  assert.equal(probe.headers.get('x-tollgate-attempts'), '1');
  assert.equal(await calls(a), 5);
  p = await gw.providers();
  d = deployment(p, 'A/model');
  assert.equal(d.circuit.state, 'closed', JSON.stringify(d));
  assert.notEqual(d.health, 'unhealthy');
  m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_circuit_state', { deployment: 'A/model' }), 0);
  // Closed: A takes the traffic again.
  assert.equal((await gw.chat('m')).headers.get('x-tollgate-provider'), 'A');
  assert.equal(await calls(a), 6);
  assert.equal(await calls(b), 7);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 5. 400 is never retried

test('an upstream 400 goes back as is: A called once, B never', async () => {
  const a = 'status=400,id=r5-a';
  const b = 'id=r5-b';
  const gw = await start_gateway({
    a, b, models: [{ name: 'm', deployments: [{ provider: 'A', model: 'a-model' }, { provider: 'B', model: 'b-model' }] }],
  });
  const r = await gw.chat('m');
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.json, {
    error: { message: 'fake_upstream: scripted status 400', type: 'invalid_request_error', param: null, code: null },
  });
  assert.equal(r.headers.get('x-tollgate-attempts'), '1');
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 0);

  // What the official client sees: a BadRequestError carrying the upstream's message.
  await assert.rejects(
    gw.sdk().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: unique_prompt('sdk 400') }] }),
    (e) => e.status === 400 && e.error?.message === 'fake_upstream: scripted status 400');
  assert.equal(await calls(a), 2);
  assert.equal(await calls(b), 0);
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_retries_total'), 0);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 6. Fallback model

test('fallback model: main (A and B answering 503) falls back to backup on a third healthy upstream', async () => {
  const a = 'status=503,id=r6-a';
  const b = 'status=503,id=r6-b';
  const c = 'id=r6-c';
  const gw = await start_gateway({
    a, b, more: [{ id: 'C', scenario: c }],
    models: [
      { name: 'main', deployments: [{ provider: 'A', model: 'main-a' }, { provider: 'B', model: 'main-b' }], fallbacks: ['backup'] },
      { name: 'backup', deployments: [{ provider: 'C', model: 'backup-model' }] },
    ],
  });
  const prompt = unique_prompt('routing fallback');
  const { data, response } = await gw.sdk().chat.completions
    .create({ model: 'main', messages: [{ role: 'user', content: prompt }] }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(data.model, 'backup-model');
  assert.equal(response.headers.get('x-tollgate-model'), 'backup-model');
  assert.equal(response.headers.get('x-tollgate-provider'), 'C');
  assert.equal(response.headers.get('x-tollgate-attempts'), '3');
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 1);
  assert.equal(await calls(c), 1);
  const last = (await logged(c)).at(-1);
  assert.equal(last.body.model, 'backup-model');
  assert.equal(last.headers.authorization, undefined, 'a provider with no keys is called without credentials');
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 7. Everything down

async function assert_fast_503(gw, scenarios) {
  const before = await Promise.all(scenarios.map(calls));
  const started = performance.now();
  const r = await gw.chat('m');
  const elapsed = performance.now() - started;
  assert.equal(r.status, 503, r.text);
  assert.ok(elapsed < 200, `503 took ${elapsed.toFixed(1)} ms`);
  const error = openai_error(r.json);
  assert.equal(error.code, 'no_healthy_deployment');
  assert.equal(error.type, 'service_unavailable');
  const retry_after = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry_after) && retry_after >= 1 && retry_after <= 30, `Retry-After ${r.headers.get('retry-after')}`);
  assert.deepEqual(await Promise.all(scenarios.map(calls)), before, 'no upstream call for a 503');
  const ready = await get(`${gw.url}/health/ready`);
  assert.equal(ready.status, 503, ready.text);
  return retry_after;
}

test('every circuit open: 503 no_healthy_deployment at once with Retry-After, and /health/ready is 503', async () => {
  const a = 'status=500,id=r7-a';
  const b = 'status=503,id=r7-b';
  const gw = await start_gateway({
    a, b,
    models: [{ name: 'm', deployments: [{ provider: 'A', model: 'a-model' }, { provider: 'B', model: 'b-model' }] }],
    routing: { circuit_breaker: { min_requests: 2, failure_rate: 0.5, cool_off: '30s' } },
  });
  assert.equal((await get(`${gw.url}/health/ready`)).status, 200);
  // Two passes over A and B (4 attempts): both circuits open.
  const first = await gw.chat('m');
  assert.equal(first.status, 502, first.text);
  assert.equal(first.headers.get('x-tollgate-attempts'), '4');
  assert.equal(await calls(a), 2);
  assert.equal(await calls(b), 2);
  const p = await gw.providers();
  for (const label of ['A/a-model', 'B/b-model']) {
    assert.equal(deployment(p, label).circuit.state, 'open');
    assert.equal(deployment(p, label).health, 'unhealthy');
  }
  const retry_after = await assert_fast_503(gw, [a, b]);
  assert.ok(retry_after >= 29, `Retry-After ${retry_after} should be the ~30 s cool-off`);
  await gw.stop();
});

test('every key resting after a 429 with retry-after 30: 503 no_healthy_deployment at once', async () => {
  const a = 'status=429,retry_after=30,id=r7k-a';
  const b = 'status=429,retry_after=30,id=r7k-b';
  const gw = await start_gateway({
    a, b, models: [{ name: 'm', deployments: [{ provider: 'A', model: 'a-model' }, { provider: 'B', model: 'b-model' }] }],
  });
  // kA1, kA2 and kB1 each answer 429 once and rest: the request that met them already says when to
  // come back (503 with the rest as Retry-After, its attempts listed), not a bare 502.
  const first = await gw.chat('m');
  assert.equal(first.status, 503, first.text);
  assert.equal(openai_error(first.json).code, 'no_healthy_deployment');
  assert.ok(Number(first.headers.get('retry-after')) >= 29, first.headers.get('retry-after'));
  assert.match(openai_error(first.json).message, /Attempts made: \[1\]/);
  assert.equal(first.headers.get('x-tollgate-attempts'), '3');
  assert.equal(await calls(a), 2);
  assert.equal(await calls(b), 1);
  const p = await gw.providers();
  for (const [provider, key] of [['A', kA1], ['A', kA2], ['B', kB1]])
    assert.equal(key_entry(p, provider, key).state, 'cooling_down');
  const retry_after = await assert_fast_503(gw, [a, b]);
  assert.ok(retry_after >= 29, `Retry-After ${retry_after} should be the keys' 30 s rest`);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 8 and 9. Streams

test('a stream broken after 2 chunks: 2 chunks, an SSE error event, no [DONE]; the ledger notes the error', async () => {
  const a = 'break_after=2,id=r8-a';
  const b = 'id=r8-b';
  const gw = await start_gateway({
    a, b, models: [{ name: 'm', deployments: [{ provider: 'A', model: 'a-model' }, { provider: 'B', model: 'b-model' }] }],
  });
  const { prompt, res } = await gw.stream('m');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-tollgate-provider'), 'A');
  const s = await read_sse(res);
  const dump = s.events.map((e) => e.data).join('\n');
  assert.equal(s.done, false, `no [DONE] after a broken stream:\n${dump}`);
  assert.ok(!s.events.some((e) => e.data === '[DONE]'), dump);
  assert.equal(s.chunks.length, 2, dump);
  assert.equal(joined_content(s.chunks), prompt.split(' ')[0]);
  const last = s.events.at(-1);
  assert.ok(last.json?.error, `the last event must be an error event:\n${dump}`);
  openai_error(last.json);
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 0);

  const entry = await gw.audit_of(res.headers.get('x-request-id'));
  assert.equal(entry.status, 200, JSON.stringify(entry));
  assert.equal(entry.detail.error, 'stream_error', JSON.stringify(entry));
  assert.equal(entry.detail.provider, 'A');
  assert.equal(entry.detail.attempts, 1);
  await gw.stop();
});

test('a stream failing before its first chunk fails over invisibly: complete, [DONE], 2 attempts', async () => {
  const a = 'break_after=0,id=r9-a';
  const b = 'id=r9-b';
  const gw = await start_gateway({
    a, b, models: [{ name: 'm', deployments: [{ provider: 'A', model: 'a-model' }, { provider: 'B', model: 'b-model' }] }],
  });
  const { prompt, res } = await gw.stream('m');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-tollgate-attempts'), '2');
  assert.equal(res.headers.get('x-tollgate-provider'), 'B');
  const s = await read_sse(res);
  assert.equal(s.error, null);
  assert.equal(s.done, true);
  assert.equal(joined_content(s.chunks), prompt);
  assert.ok(s.events.every((e) => e.json?.error === undefined), 'no error event on an invisible failover');
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 1);

  // The official client, stream: true: the whole reply, no error.
  const sdk_prompt = unique_prompt('routing sdk stream');
  const { data: stream, response } = await gw.sdk().chat.completions
    .create({ model: 'm', messages: [{ role: 'user', content: sdk_prompt }], stream: true }).withResponse();
  assert.equal(response.headers.get('x-tollgate-attempts'), '2');
  let content = '';
  for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(content, sdk_prompt);
  assert.equal(await calls(a), 2);
  assert.equal(await calls(b), 2);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 10. Retries with backoff

test('one deployment failing twice is retried with backoff: 200 after 3 attempts, retries_total 2', async () => {
  const a = 'fail_first=2,id=r10-a';
  const gw = await start_gateway({
    a, b: 'id=r10-b',
    models: [{ name: 'm', deployments: [{ provider: 'A', model: 'only-model' }] }],
    routing: { max_attempts: 4, backoff: { base: '10ms', max: '50ms' } },
  });
  const started = performance.now();
  const r = await gw.chat('m');
  const elapsed = performance.now() - started;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, r.prompt);
  assert.equal(r.headers.get('x-tollgate-attempts'), '3');
  assert.equal(await calls(a), 3);
  // Full jitter under a 50 ms cap: two backoffs cost at most 100 ms.
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_retries_total'), 2);
  assert.equal(metric_sum(m, 'tollgate_failovers_total', { reason: '500' }), 2);
  assert.equal(metric_sum(m, 'tollgate_upstream_requests_total', { provider: 'A', status: '500' }), 2);
  assert.equal(metric_sum(m, 'tollgate_upstream_requests_total', { provider: 'A', status: '200' }), 1);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 11. Objectives

test('x-tollgate-objective: cost picks the cheap deployment, quality the premium one; a bad value is a 400', async () => {
  const a = 'id=r11-a';
  const b = 'id=r11-b';
  const gw = await start_gateway({
    a, b,
    models: [{
      name: 'm',
      // Premium first in config order, so "cost" has to reorder.
      deployments: [
        { provider: 'B', model: 'premium-model', tier: 'premium', price: { input: 5, output: 20 } },
        { provider: 'A', model: 'cheap-model', tier: 'standard', price: { input: 0.1, output: 0.4 } },
      ],
    }],
  });
  const cost = await gw.chat('m', { 'x-tollgate-objective': 'cost' });
  assert.equal(cost.status, 200, cost.text);
  assert.equal(cost.headers.get('x-tollgate-model'), 'cheap-model');
  const quality = await gw.chat('m', { 'x-tollgate-objective': 'quality' });
  assert.equal(quality.status, 200, quality.text);
  assert.equal(quality.headers.get('x-tollgate-model'), 'premium-model');
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 1);

  const bad = await gw.chat('m', { 'x-tollgate-objective': 'fastest' });
  assert.equal(bad.status, 400, bad.text);
  const error = openai_error(bad.json);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.param, 'x-tollgate-objective');
  assert.match(error.message, /x-tollgate-objective/);
  assert.equal(await calls(a) + await calls(b), 2, 'a bad objective reaches no upstream');

  const cost_row = await gw.audit_of(cost.headers.get('x-request-id'));
  assert.match(cost_row.detail.routing_reason, /^objective cost: score/);
  assert.equal(cost_row.detail.deployment, 'cheap-model');
  const quality_row = await gw.audit_of(quality.headers.get('x-request-id'));
  assert.match(quality_row.detail.routing_reason, /^objective quality: score/);
  assert.equal(quality_row.detail.deployment, 'premium-model');

  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_routing_decisions_total', { strategy: 'objective', deployment: 'A/cheap-model' }), 1);
  assert.equal(metric_sum(m, 'tollgate_routing_decisions_total', { strategy: 'objective', deployment: 'B/premium-model' }), 1);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 12. Weighted strategy

test('weighted 3:1 over 200 requests: shares within 10 points of 75/25', async () => {
  const a = 'id=r12-a';
  const b = 'id=r12-b';
  const gw = await start_gateway({
    a, b,
    models: [{
      name: 'm', strategy: 'weighted',
      deployments: [{ provider: 'A', model: 'heavy', weight: 3 }, { provider: 'B', model: 'light', weight: 1 }],
    }],
  });
  const kTotal = 200;
  const kParallel = 8;
  const served = { A: 0, B: 0 };
  let next = 0;
  const worker = async () => {
    while (next < kTotal) {
      next += 1;
      const r = await gw.chat('m');
      assert.equal(r.status, 200, r.text);
      served[r.headers.get('x-tollgate-provider')] += 1;
    }
  };
  await Promise.all(Array.from({ length: kParallel }, worker));
  const on_a = await calls(a);
  const on_b = await calls(b);
  assert.equal(on_a + on_b, kTotal);
  assert.deepEqual(served, { A: on_a, B: on_b });
  const share = on_a / kTotal;
  assert.ok(share >= 0.65 && share <= 0.85, `A took ${on_a} of ${kTotal}`);
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_routing_decisions_total', { strategy: 'weighted', deployment: 'A/heavy' }), on_a);
  assert.equal(metric_sum(m, 'tollgate_routing_decisions_total', { strategy: 'weighted', deployment: 'B/light' }), on_b);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 13. max_concurrency

test('max_concurrency 2: 6 concurrent requests queue and all succeed, never more than 2 in flight', async () => {
  const a = 'latency=300ms,id=r13-a';
  const gw = await start_gateway({
    a, b: 'id=r13-b',
    models: [{ name: 'm', deployments: [{ provider: 'A', model: 'slow', max_concurrency: 2 }] }],
  });
  let running = true;
  let max_in_flight = 0;
  let max_queued = 0;
  const watch = (async () => {
    while (running) {
      const d = deployment(await gw.providers(), 'A/slow');
      max_in_flight = Math.max(max_in_flight, d.in_flight);
      max_queued = Math.max(max_queued, d.queued);
      await sleep(20);
    }
  })();
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 6 }, () => gw.chat('m')));
  const elapsed = performance.now() - started;
  running = false;
  await watch;
  for (const r of results) assert.equal(r.status, 200, r.text);
  assert.ok(elapsed >= 3 * 300 - 10, `6 requests through 2 slots of 300 ms took ${elapsed.toFixed(0)} ms`);
  assert.equal(max_in_flight, 2, `in_flight peaked at ${max_in_flight}`);
  assert.ok(max_queued >= 1, `queued peaked at ${max_queued}`);
  assert.equal(await calls(a), 6);
  // The upstream saw them in waves of two: the 3rd arrived only after the 1st was answered.
  const arrivals = (await logged(a)).map((r) => r.at).sort((x, y) => x - y);
  for (let i = 0; i + 2 < arrivals.length; ++i)
    assert.ok(arrivals[i + 2] - arrivals[i] >= 290, `arrivals ${arrivals.map((t) => t - arrivals[0]).join(', ')} ms`);
  assert.equal(deployment(await gw.providers(), 'A/slow').max_concurrency, 2);
  await gw.stop();
});

test('max_concurrency with queue_timeout 100ms: the excess goes to the second deployment', async () => {
  const a = 'latency=300ms,id=r13q-a';
  const b = 'id=r13q-b';
  const gw = await start_gateway({
    a, b,
    models: [{ name: 'm', deployments: [{ provider: 'A', model: 'slow', max_concurrency: 2 }, { provider: 'B', model: 'fast' }] }],
    routing: { queue_timeout: '100ms' },
  });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 6 }, () => gw.chat('m')));
  const elapsed = performance.now() - started;
  const served = { A: 0, B: 0 };
  for (const r of results) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-attempts'), '1');
    served[r.headers.get('x-tollgate-provider')] += 1;
  }
  assert.deepEqual(served, { A: 2, B: 4 });
  assert.equal(await calls(a), 2);
  assert.equal(await calls(b), 4);
  assert.ok(elapsed < 800, `took ${elapsed.toFixed(0)} ms: the excess did not wait for A's slots`);
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_failovers_total', { reason: 'queue_timeout' }), 4);
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 14. rpm

test('a deployment with rpm 3: the 4th request within the minute goes to the second deployment', async () => {
  const a = 'id=r14-a';
  const b = 'id=r14-b';
  const gw = await start_gateway({
    a, b,
    models: [{ name: 'm', deployments: [{ provider: 'A', model: 'limited', rpm: 3 }, { provider: 'B', model: 'spare' }] }],
  });
  const providers_seen = [];
  for (let i = 0; i < 4; ++i) {
    const r = await gw.chat('m');
    assert.equal(r.status, 200, r.text);
    providers_seen.push(r.headers.get('x-tollgate-provider'));
  }
  assert.deepEqual(providers_seen, ['A', 'A', 'A', 'B']);
  assert.equal(await calls(a), 3);
  assert.equal(await calls(b), 1);
  const d = deployment(await gw.providers(), 'A/limited');
  assert.equal(d.rpm, 3);
  assert.ok(d.limited_until, JSON.stringify(d));
  const until = Date.parse(d.limited_until);
  assert.ok(until > Date.now() && until <= Date.now() + 60_000, d.limited_until);
  assert.equal(d.health, 'degraded');
  await gw.stop();
});

// ---------------------------------------------------------------------------------------------
// 15. context_window_fallbacks

test('a context_length_exceeded 400 switches to the context_window_fallbacks model', async () => {
  const a = 'status=400,code=context_length_exceeded,id=r15-a';
  const b = 'id=r15-b';
  const plain = 'status=400,code=context_length_exceeded,id=r15-plain';
  const gw = await start_gateway({
    a, b, more: [{ id: 'P', scenario: plain }],
    models: [
      { name: 'small', deployments: [{ provider: 'A', model: 'small-model' }], context_window_fallbacks: ['large'] },
      { name: 'large', deployments: [{ provider: 'B', model: 'large-model' }] },
      { name: 'tiny', deployments: [{ provider: 'P', model: 'tiny-model' }] },
    ],
  });
  const r = await gw.chat('small');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, r.prompt);
  assert.equal(r.headers.get('x-tollgate-model'), 'large-model');
  assert.equal(r.headers.get('x-tollgate-provider'), 'B');
  assert.equal(r.headers.get('x-tollgate-attempts'), '2');
  assert.equal(await calls(a), 1);
  assert.equal(await calls(b), 1);
  const row = await gw.audit_of(r.headers.get('x-request-id'));
  assert.match(row.detail.routing_reason, /context window exceeded on A\/small-model, context_window_fallbacks/);
  const m = await gw.metrics();
  assert.equal(metric_sum(m, 'tollgate_failovers_total', { reason: 'context_window' }), 1);

  // Without context_window_fallbacks the upstream's 400 goes back as is.
  const refused = await gw.chat('tiny');
  assert.equal(refused.status, 400, refused.text);
  assert.deepEqual(refused.json, {
    error: { message: 'fake_upstream: scripted status 400', type: 'invalid_request_error', param: null, code: 'context_length_exceeded' },
  });
  assert.equal(await calls(plain), 1);
  await gw.stop();
});
