// Single-flight through the real binary: identical concurrent requests share one upstream call,
// streams fan out to every joiner at its own pace, failures reach joiners (or one retries), and
// tenants never share.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import {
  eventually, get, joined_content, metric_sum, parse_metrics, post_stream, read_sse, request, start_tollgate,
  start_upstream, stop_all, unique_prompt,
} from './support.mjs';

const kMaster = 'master-key-dedup-tests-0a1b2c3d4e5f607182';
const master = { authorization: `Bearer ${kMaster}` };
const bearer = (key) => ({ authorization: `Bearer ${key}` });

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

/// A gateway whose model `m` calls the fake upstream with `scenario` (plus a unique id, so each
/// test counts its own upstream calls). Cache off unless asked: these requests reach dedup.
async function start_gateway(name, scenario, { cache = { mode: 'off' }, dedup = {}, routing = {}, keys = false } = {}) {
  const directives = [`id=${name}`, scenario].filter(Boolean).join(',');
  const gw = await start_tollgate({
    config: {
      providers: [{ id: 'up', type: 'openai', base_url: up.base_url(directives) }],
      models: [{ name: 'm', deployments: [{ provider: 'up', model: 'up-model', price: { input: 2, output: 8 } }] }],
      routing: { strategy: 'priority', backoff: { base: '10ms', max: '20ms' }, ...routing },
      cache,
      dedup: { enabled: true, ...dedup },
    },
    env: keys ? { TOLLGATE_MASTER_KEY: kMaster } : {},
  });
  gw.calls = async () => (await up.stats()).by_path[up.chat_path(directives)] ?? 0;
  return gw;
}

const body = (prompt, extra = {}) => ({ model: 'm', messages: [{ role: 'user', content: prompt }], ...extra });
const chat = (gw, b, headers = {}) => request('POST', `${gw.url}/v1/chat/completions`, b, headers);

test('50 identical concurrent requests: one upstream call, 50 identical answers, 49 joined at cost 0', async () => {
  const gw = await start_gateway('d1', 'latency=500ms');
  const prompt = unique_prompt('single flight');
  const replies = await Promise.all(Array.from({ length: 50 }, () => chat(gw, body(prompt))));
  assert.equal(await gw.calls(), 1);
  for (const r of replies) assert.equal(r.status, 200, r.text);
  assert.equal(new Set(replies.map((r) => r.text)).size, 1, 'every caller gets the same body');
  const roles = replies.map((r) => r.headers.get('x-tollgate-dedup')).sort();
  assert.deepEqual(roles, ['leader', ...Array(49).fill('joined')].sort());
  const leader = replies.find((r) => r.headers.get('x-tollgate-dedup') === 'leader');
  const cost = Number(leader.headers.get('x-tollgate-cost-usd'));
  assert.ok(cost > 0);
  for (const r of replies.filter((x) => x !== leader)) {
    assert.equal(r.headers.get('x-tollgate-cost-usd'), '0');
    assert.equal(r.headers.get('x-tollgate-attempts'), '0');
    assert.equal(r.headers.get('x-tollgate-provider'), 'up');
    assert.equal(r.headers.get('x-tollgate-model'), 'up-model');
  }
  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_dedup_joined_total'), 49);
  assert.ok(Math.abs(metric_sum(metrics, 'tollgate_savings_usd_total', { source: 'dedup' }) - 49 * cost) < 1e-9);
  assert.ok(Math.abs(metric_sum(metrics, 'tollgate_cost_usd_total') - cost) < 1e-9, 'only the leader is charged');
  // Every joined request has its own ledger row: cost 0, the leader's cost saved, source dedup.
  const rows = await eventually(async () => {
    const r = await get(`${gw.url}/api/v1/audit?limit=100`);
    const joined = r.json.data.filter((e) => e.kind === 'request' && e.detail?.dedup === 'joined');
    return joined.length === 49 ? joined : undefined;
  });
  for (const row of rows) {
    assert.equal(row.detail.cost_usd, '0');
    assert.equal(Number(row.detail.saved_usd), cost);
    assert.equal(row.detail.saved_source, 'dedup');
  }
});

test('50 identical concurrent streams: one upstream call, every joiner receives the whole stream', async () => {
  const gw = await start_gateway('d2', 'latency=500ms,chunk_delay=20ms');
  const prompt = unique_prompt('one two three four five six seven eight');
  const streams = await Promise.all(Array.from({ length: 50 }, async () => {
    const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
      body(prompt, { stream: true, stream_options: { include_usage: true } }));
    assert.equal(res.status, 200);
    return { role: res.headers.get('x-tollgate-dedup'), sse: await read_sse(res) };
  }));
  assert.equal(await gw.calls(), 1);
  assert.deepEqual(streams.map((s) => s.role).sort(), ['leader', ...Array(49).fill('joined')].sort());
  const leader = streams.find((s) => s.role === 'leader').sse;
  for (const { sse } of streams) {
    assert.equal(sse.error, null);
    assert.ok(sse.done, 'each stream ends with [DONE]');
    assert.equal(joined_content(sse.chunks), prompt);
    assert.deepEqual(sse.chunks.map((c) => c.json.id), leader.chunks.map((c) => c.json.id));
    const usage = sse.chunks.at(-1).json;
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, leader.chunks.at(-1).json.usage.completion_tokens);
  }
  const joined_costs = streams.filter((s) => s.role === 'joined').map((s) => s.sse.chunks.at(-1).json.tollgate.cost_usd);
  assert.deepEqual([...new Set(joined_costs)], ['0']);
  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_dedup_joined_total'), 49);
  const leader_cost = Number(leader.chunks.at(-1).json.tollgate.cost_usd);
  await eventually(async () => {
    const m = parse_metrics((await get(`${gw.url}/metrics`)).text);
    return Math.abs(metric_sum(m, 'tollgate_savings_usd_total', { source: 'dedup' }) - 49 * leader_cost) < 1e-9;
  });
});

/// Opens a stream with node:http and does not read it: once the socket buffers are full, tollgate's
/// writes to this client block. Returns {response, read_all()} where read_all resumes reading.
function open_paused_stream(gw, b) {
  return new Promise((resolve, reject) => {
    const url = new URL(`${gw.url}/v1/chat/completions`);
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json' },
    }, (res) => {
      res.pause();
      resolve({
        res,
        read_all: () => new Promise((done, fail) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => { text += d; });
          res.on('end', () => done(text));
          res.on('error', fail);
          res.resume();
        }),
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(b));
  });
}

/// Five clients reading `b` as fast as they can; resolves with the slowest one's time.
async function five_fast_readers(gw, b, prompt) {
  const t0 = performance.now();
  const fast = await Promise.all(Array.from({ length: 5 }, async () => {
    const { res } = await post_stream(`${gw.url}/v1/chat/completions`, b);
    const sse = await read_sse(res);
    return { role: res.headers.get('x-tollgate-dedup'), sse, ms: sse.ended_at - t0 };
  }));
  for (const f of fast) {
    assert.ok(f.sse.done);
    assert.equal(joined_content(f.sse.chunks), prompt);
  }
  return { roles: fast.map((f) => f.role), ms: Math.max(...fast.map((f) => f.ms)) };
}

test('a leader and a joiner that do not read never delay the other joiners', async () => {
  // A long answer (one chunk per word): megabytes of SSE, more than the socket buffers of a
  // client that does not read can hold, so tollgate's writes to such a client block.
  // The upstream takes ~2 s to send it, so the readers arrive while it is in flight; the recent
  // window keeps the flight joinable for one that arrives after the end (its 6 MB upload is slow).
  const gw = await start_gateway('d3', 'latency=300ms,chunk_delay=1ms', { dedup: { recent_window: '60s' } });
  // 1500 words of 4 KB each: ~6 MB, in 1500 chunks (cheap to parse).
  const words = (tag) => Array.from({ length: 1500 }, (_, i) => `${tag}${i}${'x'.repeat(4096)}`).join(' ');
  // Baseline: five readers alone (one leads, four join).
  const alone_prompt = unique_prompt(words('a'));
  const alone = await five_fast_readers(gw, body(alone_prompt, { stream: true }), alone_prompt);
  assert.deepEqual(alone.roles.sort(), ['joined', 'joined', 'joined', 'joined', 'leader']);

  const prompt = unique_prompt(words('w'));
  const b = body(prompt, { stream: true });
  const stalled_leader = await open_paused_stream(gw, b);  // answered first: it leads
  assert.equal(stalled_leader.res.headers['x-tollgate-dedup'], 'leader');
  const stalled_joiner = await open_paused_stream(gw, b);
  assert.equal(stalled_joiner.res.headers['x-tollgate-dedup'], 'joined');
  // Were the upstream read at the leader's pace, these would wait for it forever.
  const beside = await five_fast_readers(gw, b, prompt);
  assert.deepEqual(beside.roles, Array(5).fill('joined'));
  assert.equal(stalled_leader.res.readableEnded, false);
  // Then the stalled clients read, and get the whole stream too.
  for (const stalled of [stalled_leader, stalled_joiner]) {
    const text = await stalled.read_all();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    const content = text.split('\n\n').filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, prompt);
  }
  assert.equal(await gw.calls(), 2);
  console.log(`# 5 readers of a 6 MB stream: ${alone.ms.toFixed(0)} ms alone, ` +
    `${beside.ms.toFixed(0)} ms beside a stalled leader and a stalled joiner`);
});

test('the leader fails with a retryable error: one joiner retries, the others join it', async () => {
  const gw = await start_gateway('d4', 'latency=300ms,fail_first=1,status=500', { routing: { max_attempts: 1 } });
  const prompt = unique_prompt('retry once');
  const replies = await Promise.all(Array.from({ length: 10 }, () => chat(gw, body(prompt))));
  const statuses = replies.map((r) => r.status).sort();
  assert.deepEqual(statuses, [...Array(9).fill(200), 502]);
  assert.equal(await gw.calls(), 2, 'the failed call and one retry');
  const ok = replies.filter((r) => r.status === 200);
  assert.equal(ok.filter((r) => r.headers.get('x-tollgate-dedup') === 'leader').length, 1);
  assert.equal(new Set(ok.map((r) => r.text)).size, 1);
});

test('the leader gets a request error: every joiner gets the same error, no retry', async () => {
  const gw = await start_gateway('d5', 'latency=300ms,status=400');
  const replies = await Promise.all(Array.from({ length: 10 }, () => chat(gw, body(unique_prompt('bad')))));
  // Ten different prompts: ten calls. Now ten identical ones: one call, ten identical 400s.
  assert.equal(await gw.calls(), 10);
  const prompt = unique_prompt('bad twice');
  const same = await Promise.all(Array.from({ length: 10 }, () => chat(gw, body(prompt))));
  assert.equal(await gw.calls(), 11);
  for (const r of [...replies, ...same]) assert.equal(r.status, 400);
  assert.equal(new Set(same.map((r) => r.text)).size, 1);
});

test('different virtual keys never share a flight; the same key does', async () => {
  const gw = await start_gateway('d6', 'latency=400ms', { keys: true });
  const keys = [];
  for (const name of ['a', 'b']) {
    const r = await request('POST', `${gw.url}/api/v1/virtual-keys`, { name }, master);
    assert.equal(r.status, 201, r.text);
    keys.push(r.json.key);
  }
  const prompt = unique_prompt('tenants');
  const replies = await Promise.all([keys[0], keys[1], keys[0], keys[1]].map((k) => chat(gw, body(prompt), bearer(k))));
  for (const r of replies) assert.equal(r.status, 200, r.text);
  assert.equal(await gw.calls(), 2);
  assert.deepEqual(replies.map((r) => r.headers.get('x-tollgate-dedup')).sort(), ['joined', 'joined', 'leader', 'leader']);
});

test('recent_window serves a finished answer again without the cache; skip bypasses dedup', async () => {
  const gw = await start_gateway('d7', '', { dedup: { recent_window: '2s' } });
  const prompt = unique_prompt('recent');
  const first = await chat(gw, body(prompt));
  const second = await chat(gw, body(prompt));
  assert.equal(first.headers.get('x-tollgate-dedup'), 'leader');
  assert.equal(second.headers.get('x-tollgate-dedup'), 'joined');
  assert.equal(second.text, first.text);
  assert.equal(await gw.calls(), 1);
  const skipped = await chat(gw, body(prompt), { 'x-tollgate-cache': 'skip' });
  assert.equal(skipped.status, 200);
  assert.equal(skipped.headers.get('x-tollgate-dedup'), null);
  assert.equal(await gw.calls(), 2);
});

test('a leader whose client leaves mid-stream: the joiner still gets everything, the leader is billed in full', async () => {
  const gw = await start_gateway('d8', 'latency=200ms,chunk_delay=30ms');
  const prompt = unique_prompt('alpha beta gamma delta epsilon zeta eta theta iota kappa');
  const b = body(prompt, { stream: true, stream_options: { include_usage: true } });
  const controller = new AbortController();
  const leader = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'leader-leaves' },
    body: JSON.stringify(b), signal: controller.signal,
  });
  assert.equal(leader.headers.get('x-tollgate-dedup'), 'leader');
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`, b);
  assert.equal(res.headers.get('x-tollgate-dedup'), 'joined');
  const reader = leader.body.getReader();
  await reader.read();
  controller.abort();
  const sse = await read_sse(res);
  assert.ok(sse.done);
  assert.equal(joined_content(sse.chunks), prompt);
  assert.equal(await gw.calls(), 1);
  const row = await eventually(async () => {
    const r = await get(`${gw.url}/api/v1/audit?limit=20`);
    return r.json.data.find((e) => e.kind === 'request' && e.target === 'leader-leaves');
  });
  assert.equal(row.detail.usage_source, 'provider', JSON.stringify(row));
  assert.ok(Number(row.detail.cost_usd) > 0);
  assert.equal(row.detail.completion_tokens, sse.chunks.at(-1).json.usage.completion_tokens);
});

test('semantic dedup: a paraphrase joins the request in flight; an unrelated prompt does not', async () => {
  const gw = await start_gateway('d9', 'latency=500ms', { dedup: { semantic: { enabled: true, threshold: 0.95 } } });
  const first = chat(gw, body('How do I reverse a list in Python?'));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const [a, b, c] = await Promise.all([first, chat(gw, body('how do i reverse a list in python')),
    chat(gw, body('How do I sort a dictionary by value in Go?'))]);
  for (const r of [a, b, c]) assert.equal(r.status, 200, r.text);
  assert.equal(a.headers.get('x-tollgate-dedup'), 'leader');
  assert.equal(b.headers.get('x-tollgate-dedup'), 'joined');
  assert.equal(b.text, a.text);
  assert.equal(c.headers.get('x-tollgate-dedup'), 'leader');
  assert.equal(await gw.calls(), 2);
});
