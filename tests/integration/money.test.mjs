// Money through the real binary: cost header and ledger from the price file, streams (final usage
// chunk and estimated when cut), hard and soft budgets, reservations under 200 concurrent requests,
// threshold webhooks, usage grouping, and spend that survives a restart.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import {
  eventually, get, metric_sum, openai_error, parse_metrics, post_stream, read_sse, request, start_tollgate,
  start_upstream, stop_all,
} from './support.mjs';

const kMaster = 'master-key-money-tests-0f1e2d3c4b5a69788796';
const master = { authorization: `Bearer ${kMaster}` };
const bearer = (key) => ({ authorization: `Bearer ${key}` });

// Prices in USD per 1M tokens, i.e. nano-dollars per token × 1000: input 2 → 2000 nanos per token.
const kPrice = { input: 2, output: 8 };
const kBigPrice = { input: 10, output: 40 };

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

function gateway_config(name, extra = {}) {
  return {
    providers: [
      { id: 'up', type: 'openai', base_url: up.base_url(`id=${name}`) },
      { id: 'cut', type: 'openai', base_url: up.base_url(`break_after=3,no_usage,id=${name}-cut`) },
      { id: 'quiet', type: 'openai', base_url: up.base_url(`no_usage,id=${name}-quiet`) },
      { id: 'slow', type: 'openai', base_url: up.base_url(`latency=150ms,id=${name}-slow`) },
    ],
    models: [
      { name: 'm', deployments: [{ provider: 'up', model: 'up-model', price: kPrice }] },
      { name: 'big', deployments: [{ provider: 'up', model: 'big-model', price: kBigPrice }] },
      { name: 'small', deployments: [{ provider: 'up', model: 'small-model', price: kPrice }] },
      { name: 'cut', deployments: [{ provider: 'cut', model: 'cut-model', price: kPrice }] },
      { name: 'quiet', deployments: [{ provider: 'quiet', model: 'quiet-model', price: kPrice }] },
      { name: 'slow', deployments: [{ provider: 'slow', model: 'slow-model', price: kPrice }] },
      { name: 'free', deployments: [{ provider: 'up', model: 'no-such-priced-model' }] },
    ],
    routing: { strategy: 'priority', max_attempts: 1, first_byte_timeout: '5s', stream_idle_timeout: '5s' },
    cache: { mode: 'off' },
    dedup: { enabled: false },
    ...extra,
  };
}

async function start(name, extra = {}, options = {}) {
  return start_tollgate({ config: gateway_config(name, extra), env: { TOLLGATE_MASTER_KEY: kMaster }, ...options });
}

/// nano-dollars → the decimal string tollgate prints.
function usd(nanos) {
  const n = BigInt(nanos);
  const whole = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

const nanos_of = (usage, price = kPrice) =>
  usage.prompt_tokens * price.input * 1000 + usage.completion_tokens * price.output * 1000;

async function issue_key(gw, body = {}) {
  const r = await request('POST', `${gw.url}/api/v1/virtual-keys`, { name: 'money', ...body }, master);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

function chat(gw, key, model, content = 'one two three', extra = {}, headers = {}) {
  return request('POST', `${gw.url}/v1/chat/completions`,
    { model, messages: [{ role: 'user', content }], ...extra }, { ...bearer(key), ...headers });
}

async function audit_entry(gw, request_id) {
  return eventually(async () => {
    const r = await get(`${gw.url}/api/v1/audit?limit=1000`, master);
    return r.json.data.find((e) => e.kind === 'request' && e.target === request_id);
  }, { timeout_ms: 10_000 });
}

async function usage(gw, query = '') {
  const r = await get(`${gw.url}/api/v1/usage${query}`, master);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('a buffered reply is priced from the price map: the header and the ledger row agree', async () => {
  const gw = await start('priced');
  const { key } = await issue_key(gw);
  const r = await chat(gw, key, 'm', 'one two three', {}, { 'x-request-id': 'money-buffered-1' });
  assert.equal(r.status, 200, r.text);
  const expected = nanos_of(r.json.usage);
  assert.equal(r.json.usage.prompt_tokens, 4);
  assert.equal(r.json.usage.completion_tokens, 3);
  assert.equal(expected, 4 * 2000 + 3 * 8000);
  assert.equal(r.headers.get('x-tollgate-cost-usd'), usd(expected));

  const entry = await audit_entry(gw, 'money-buffered-1');
  assert.equal(entry.status, 200);
  assert.equal(entry.detail.cost_usd, usd(expected));
  assert.equal(entry.detail.usage_source, 'provider');
  assert.equal(entry.detail.prompt_tokens, 4);
  assert.equal(entry.detail.completion_tokens, 3);
  assert.equal(entry.detail.deployment, 'up-model');

  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_tokens_total', { model: 'up-model', type: 'prompt', source: 'provider' }), 4);
  assert.ok(Math.abs(metric_sum(metrics, 'tollgate_cost_usd_total', { model: 'up-model' }) - expected / 1e9) < 1e-12);
  await gw.stop();
});

test('a stream is priced from its final usage chunk, which carries the tollgate object', async () => {
  const gw = await start('stream');
  const { key } = await issue_key(gw);
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
    { model: 'm', messages: [{ role: 'user', content: 'alpha beta gamma delta' }], stream: true,
      stream_options: { include_usage: true } },
    { ...bearer(key), 'x-request-id': 'money-stream-1' });
  assert.equal(res.status, 200);
  const { chunks, done } = await read_sse(res);
  assert.ok(done);
  const last = chunks.at(-1).json;
  assert.ok(last.usage, JSON.stringify(last));
  const expected = nanos_of(last.usage);
  assert.equal(last.tollgate.cost_usd, usd(expected));
  assert.equal(last.tollgate.usage_source, 'provider');
  assert.equal(last.tollgate.provider, 'up');
  assert.equal(last.tollgate.request_id, 'money-stream-1');
  const entry = await audit_entry(gw, 'money-stream-1');
  assert.equal(entry.detail.cost_usd, usd(expected));
  assert.equal(entry.detail.usage_source, 'provider');
  assert.ok(expected > 0);
  await gw.stop();
});

test('a stream cut before its usage is counted by estimate, marked estimated, never $0', async () => {
  const gw = await start('cut');
  const { key } = await issue_key(gw);
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
    { model: 'cut', messages: [{ role: 'user', content: 'the quick brown fox jumps over the lazy dog' }], stream: true },
    { ...bearer(key), 'x-request-id': 'money-cut-1' });
  assert.equal(res.status, 200);
  await read_sse(res).catch(() => {});
  const entry = await audit_entry(gw, 'money-cut-1');
  assert.equal(entry.detail.usage_source, 'estimated');
  assert.ok(entry.detail.prompt_tokens > 0);
  assert.ok(entry.detail.completion_tokens > 0, JSON.stringify(entry));
  assert.equal(entry.detail.cost_usd,
    usd(entry.detail.prompt_tokens * 2000 + entry.detail.completion_tokens * 8000));
  assert.equal(entry.detail.error, 'stream_error');

  // A provider that never reports usage: estimated too, and the header shows the estimate.
  const r = await chat(gw, key, 'quiet', 'four words of text', {}, { 'x-request-id': 'money-quiet-1' });
  assert.equal(r.status, 200, r.text);
  const quiet = await audit_entry(gw, 'money-quiet-1');
  assert.equal(quiet.detail.usage_source, 'estimated');
  assert.equal(r.headers.get('x-tollgate-cost-usd'), quiet.detail.cost_usd);
  assert.notEqual(quiet.detail.cost_usd, '0');

  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.ok(metric_sum(metrics, 'tollgate_tokens_total', { source: 'estimated', type: 'completion' }) > 0);
  await gw.stop();
});

test('a model with no price is served at 0 and flagged in the log and a metric', async () => {
  const gw = await start('unpriced');
  const { key } = await issue_key(gw);
  const r = await chat(gw, key, 'free');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-tollgate-cost-usd'), '0');
  // Logged and counted when the request settles, just after the reply (slow under sanitizers).
  await eventually(() => /no-such-priced-model has no price/.test(gw.output()), { timeout_ms: 10_000 });
  await eventually(async () => {
    const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
    return metric_sum(metrics, 'tollgate_unpriced_requests_total', { model: 'no-such-priced-model' }) === 1;
  });
  await gw.stop();
});

test('a virtual key with a tiny hard budget gets budget_exceeded with x-should-retry: false', async () => {
  const gw = await start('hard');
  // Each request really costs 32,000 nanos and reserves up to (prompt estimate + 5) tokens' worth.
  const { key, id } = await issue_key(gw, { budget: { limit_usd: 0.0001, period: 'daily' } });
  const body = { max_tokens: 5 };
  let served = 0;
  let refusal = null;
  for (let i = 0; i < 10 && refusal === null; ++i) {
    const r = await chat(gw, key, 'm', 'one two three', body);
    if (r.status === 200) ++served;
    else refusal = r;
  }
  assert.ok(refusal, 'the budget never refused');
  assert.equal(refusal.status, 429);
  assert.equal(refusal.headers.get('x-should-retry'), 'false');
  const error = openai_error(refusal.json);
  assert.equal(error.type, 'insufficient_quota');
  assert.equal(error.code, 'budget_exceeded');
  assert.match(error.message, /Budget exceeded/);
  assert.ok(served >= 1 && served <= 3, `served ${served}`);

  const budget = await get(`${gw.url}/api/v1/budgets/vkb_${id}`, master);
  assert.equal(budget.status, 200, budget.text);
  assert.equal(budget.json.spend_usd, usd(served * 32_000));
  assert.equal(budget.json.limit_usd, '0.0001');
  assert.ok(Number(budget.json.spend_usd) <= 0.0001);
  await gw.stop();
});

test('a spent soft budget routes to downgrade_to and records the saving', async () => {
  const gw = await start('soft', {
    budgets: [{ scope: 'model', scope_id: 'big', period: 'monthly', limit_usd: 0.00001, enforcement: 'soft',
                downgrade_to: 'small' }],
  });
  const { key } = await issue_key(gw);
  const first = await chat(gw, key, 'big');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('x-tollgate-model'), 'big-model');
  const second = await chat(gw, key, 'big', 'one two three', {}, { 'x-request-id': 'money-soft-2' });
  assert.equal(second.status, 200, second.text);
  assert.equal(second.headers.get('x-tollgate-model'), 'small-model');
  assert.equal(second.headers.get('x-tollgate-downgraded-from'), 'big');
  const cost = nanos_of(second.json.usage);
  const would_have = nanos_of(second.json.usage, kBigPrice);
  assert.equal(second.headers.get('x-tollgate-cost-usd'), usd(cost));
  const entry = await audit_entry(gw, 'money-soft-2');
  assert.equal(entry.detail.saved_usd, usd(would_have - cost));
  assert.equal(entry.detail.served_model, 'small');
  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.ok(Math.abs(metric_sum(metrics, 'tollgate_savings_usd_total', { source: 'routing' }) - (would_have - cost) / 1e9) < 1e-12);
  await gw.stop();
});

test('200 concurrent requests against a budget with room for about 20 end within one request of the limit', async () => {
  const limit_nanos = 20 * 32_000;
  const gw = await start('concurrent', {
    budgets: [{ scope: 'global', period: 'total', limit_usd: limit_nanos / 1e9, enforcement: 'hard' }],
    server: { max_connections: 1000 },
  });
  const { key } = await issue_key(gw);
  const results = await Promise.all(Array.from({ length: 200 }, () =>
    chat(gw, key, 'slow', 'one two three', { max_tokens: 5 })));
  const served = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  assert.equal(served.length + refused.length, 200, results.map((r) => r.status).join(','));
  const spent = served.reduce((sum, r) => sum + nanos_of(r.json.usage), 0);
  const budget = await get(`${gw.url}/api/v1/budgets/config_0`, master);
  assert.equal(budget.json.spend_usd, usd(spent));
  const overshoot = Math.max(0, spent - limit_nanos);
  console.log(`# 200 concurrent: ${served.length} served, ${refused.length} refused, spent ${usd(spent)} of ` +
              `${usd(limit_nanos)} USD, overshoot ${usd(overshoot)} USD`);
  assert.ok(overshoot <= 32_000, `overshoot ${overshoot} nanos`);
  // Requests that did not fit only because of money held in flight waited for it to settle, so the
  // budget ends spent to within one request's cost, not refused early at its worst case.
  assert.ok(limit_nanos - spent <= 64_000, `${usd(limit_nanos - spent)} USD left unspent`);
  await gw.stop();
});

test('the webhook receives each threshold once, in order', async () => {
  const received = [];
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => { hook.listen(0, '127.0.0.1', resolve); });
  try {
    const gw = await start('webhook', {
      budgets: [{ scope: 'global', period: 'monthly', limit_usd: 0.0001, enforcement: 'alert', alerts: [0.25, 0.5, 1] }],
      alerts: { webhook: `http://127.0.0.1:${hook.address().port}/hooks/budget?token=secret-token` },
    });
    const { key } = await issue_key(gw);
    for (let i = 0; i < 6; ++i) assert.equal((await chat(gw, key, 'm')).status, 200);  // 32% … 192%
    await eventually(() => received.length >= 3, { timeout_ms: 10_000 });
    await new Promise((resolve) => { setTimeout(resolve, 300); });  // no late duplicates
    assert.deepEqual(received.map((r) => r.body.threshold), [0.25, 0.5, 1]);
    const last = received[2].body;
    assert.equal(last.budget.id, 'config_0');
    assert.equal(last.budget.scope, 'global');
    assert.equal(last.budget.period, 'monthly');
    assert.equal(last.limit_usd, '0.0001');
    assert.equal(last.spend_usd, usd(4 * 32_000));
    assert.equal(new Set(received.map((r) => r.headers['idempotency-key'])).size, 3);
    assert.ok(/reached 25% of its limit/.test(gw.output()));
    assert.ok(!gw.output().includes('secret-token'));
    const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
    assert.equal(metric_sum(metrics, 'tollgate_budget_alerts_total', { budget: 'config_0' }), 3);
    assert.ok(metric_sum(metrics, 'tollgate_budget_utilization_ratio', { budget: 'config_0' }) > 1.9);
    await gw.stop();
  } finally {
    hook.close();
  }
});

test('usage grouped by team and by feature adds up to the total; a restart keeps the period spend', async () => {
  const gw = await start('usage', {
    budgets: [{ scope: 'team', scope_id: 'ml', period: 'monthly', limit_usd: 1, enforcement: 'hard' }],
  });
  const ml = (await issue_key(gw, { metadata: { team: 'ml' } })).key;
  const web = (await issue_key(gw, { metadata: { team: 'web' } })).key;
  const sent = [
    [ml, 'feature=search'], [ml, 'feature=chat,customer=acme'], [web, 'feature=chat'], [web, ''], [ml, 'feature=chat'],
  ];
  let total_nanos = 0;
  for (const [key, tags] of sent) {
    const r = await chat(gw, key, 'm', 'one two three', {}, tags ? { 'x-tollgate-tags': tags } : {});
    assert.equal(r.status, 200, r.text);
    total_nanos += nanos_of(r.json.usage);
  }
  const bad = await chat(gw, ml, 'm', 'x', {}, { 'x-tollgate-tags': 'feature' });
  assert.equal(bad.status, 400);
  assert.equal(openai_error(bad.json).param, 'x-tollgate-tags');

  const sum = (rows, field) => rows.reduce((s, r) => s + Number(r[field]), 0);
  const by_team = await eventually(async () => {
    const u = await usage(gw, '?group_by=team');
    return u.total.requests === 5 ? u : null;  // the malformed tags never reached the pipeline
  });
  assert.equal(by_team.total.cost_usd, usd(total_nanos));
  assert.equal(sum(by_team.rows, 'requests'), by_team.total.requests);
  assert.ok(Math.abs(sum(by_team.rows, 'cost_usd') - total_nanos / 1e9) < 1e-12);
  assert.deepEqual(by_team.rows.map((r) => r.group).sort(), ['ml', 'web']);
  const by_feature = await usage(gw, '?group_by=feature');
  assert.equal(by_feature.total.cost_usd, usd(total_nanos));
  assert.ok(Math.abs(sum(by_feature.rows, 'cost_usd') - total_nanos / 1e9) < 1e-12);
  assert.deepEqual(by_feature.rows.map((r) => r.group ?? '(none)').sort(), ['(none)', 'chat', 'search']);
  const chat_row = by_feature.rows.find((r) => r.group === 'chat');
  assert.equal(chat_row.requests, 3);

  const before = await get(`${gw.url}/api/v1/budgets/config_0`, master);
  assert.equal(before.json.spend_usd, usd(3 * 32_000));
  const data_dir = gw.data_dir;
  await gw.stop();

  const again = await start('usage', {
    budgets: [{ scope: 'team', scope_id: 'ml', period: 'monthly', limit_usd: 1, enforcement: 'hard' }],
  }, { data_dir });
  const after_restart = await get(`${again.url}/api/v1/budgets/config_0`, master);
  assert.equal(after_restart.json.spend_usd, before.json.spend_usd);
  assert.equal((await usage(again)).total.cost_usd, usd(total_nanos));
  await again.stop();
});
