// Ops endpoints: /v1/models, /health, /health/ready and /metrics (checked with promtool).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  get, kSecret, metric_sum, parse_metrics, post_json, post_stream, promtool_check, read_sse, start_tollgate,
  start_upstream, stop_all, unique_prompt,
} from './support.mjs';

const kMetricNames = [
  'tollgate_requests_total',
  'tollgate_request_duration_seconds',
  'tollgate_gateway_overhead_seconds',
  'tollgate_upstream_requests_total',
  'tollgate_upstream_duration_seconds',
  'tollgate_time_to_first_token_seconds',
  'tollgate_inflight_requests',
];

let up;
let gw;

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({
    config: {
      providers: [
        { id: 'up-a', type: 'openai', base_url: up.base_url('id=ops-a'), keys: [kSecret] },
        { id: 'up-b', type: 'openai', base_url: up.base_url('id=ops-b') },
      ],
      models: [
        { name: 'chat', deployments: [{ provider: 'up-a', model: 'gpt-y' }] },
        { name: 'other', deployments: [{ provider: 'up-b', model: 'gpt-x' }] },
      ],
      routing: { strategy: 'priority', first_byte_timeout: '2s', stream_idle_timeout: '2s' },
      cache: { mode: 'off' },
    },
  });
});

after(stop_all);

test('GET /v1/models lists the configured model names', async () => {
  const r = await get(`${gw.url}/v1/models`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'list');
  assert.deepEqual(r.json.data.map((m) => m.id).sort(), ['chat', 'other']);
  for (const m of r.json.data) assert.equal(m.object, 'model');
});

test('GET /health is ok with a version', async () => {
  const r = await get(`${gw.url}/health`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'ok');
  assert.match(String(r.json.version), /^\d+\.\d+\.\d+/);
  assert.equal(typeof r.json.uptime_s, 'number');
});

test('GET /health/ready is 200 once the store is open and a deployment is usable', async () => {
  const r = await get(`${gw.url}/health/ready`);
  assert.equal(r.status, 200, r.text);
});

test('GET /metrics passes promtool and its counters move with traffic', async () => {
  const before_text = (await get(`${gw.url}/metrics`)).text;
  const before_samples = parse_metrics(before_text);

  const prompt = unique_prompt('metrics');
  const r = await post_json(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [{ role: 'user', content: prompt }] });
  assert.equal(r.status, 200, r.text);
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
    { model: 'chat', stream: true, messages: [{ role: 'user', content: unique_prompt('metrics stream') }] });
  assert.equal((await read_sse(res)).done, true);

  // A request is counted just after its last byte is written, so a client can scrape before the
  // bookkeeping of the request it has just seen end: scrape until the two requests are in.
  let m;
  for (let i = 0; i < 50; ++i) {
    m = await get(`${gw.url}/metrics`);
    const settled = parse_metrics(m.text);
    if (metric_sum(settled, 'tollgate_requests_total') - metric_sum(before_samples, 'tollgate_requests_total') >= 3 &&
        metric_sum(settled, 'tollgate_inflight_requests') <= 1) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
  const check = promtool_check(m.text);
  assert.equal(check.status, 0, `promtool check metrics:\n${check.output}\n--- metrics ---\n${m.text}`);

  const samples = parse_metrics(m.text);
  for (const name of kMetricNames) {
    const present = samples.some((s) => s.name === name || s.name === `${name}_count`) ||
      new RegExp(`^# TYPE ${name} `, 'm').test(m.text);
    assert.ok(present, `${name} missing from /metrics:\n${m.text}`);
  }
  const moved = (name, labels = {}) => metric_sum(samples, name, labels) - metric_sum(before_samples, name, labels);
  assert.ok(moved('tollgate_requests_total') >= 2, 'tollgate_requests_total did not count 2 chat requests');
  assert.ok(moved('tollgate_upstream_requests_total', { provider: 'up-a' }) >= 2,
    'tollgate_upstream_requests_total{provider="up-a"} did not move by 2');
  assert.ok(moved('tollgate_request_duration_seconds_count') >= 2);
  assert.ok(moved('tollgate_upstream_duration_seconds_count') >= 2);
  assert.ok(moved('tollgate_time_to_first_token_seconds_count') >= 1);
  // Finished requests left the gauge; only this scrape itself may still be counted.
  assert.ok(metric_sum(samples, 'tollgate_inflight_requests') <= 1);
  assert.ok(!m.text.includes(kSecret), 'the provider key appears in /metrics');
});
