// The exact response cache through the real binary: hits and misses, the cache headers, stream
// replay, tenants kept apart, and what a hit costs and saves.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  eventually, get, joined_content, metric_sum, openai_error, parse_metrics, post_stream, read_sse, request,
  start_tollgate, start_upstream, stop_all, unique_prompt,
} from './support.mjs';

const kMaster = 'master-key-cache-tests-0a1b2c3d4e5f60718293';
const master = { authorization: `Bearer ${kMaster}` };
const bearer = (key) => ({ authorization: `Bearer ${key}` });

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

async function start_gateway(name, cache = {}) {
  return start_tollgate({
    config: {
      providers: [{ id: 'up', type: 'openai', base_url: up.base_url(`id=${name}`) }],
      models: [{ name: 'm', deployments: [{ provider: 'up', model: 'up-model', price: { input: 2, output: 8 } }] }],
      cache: { mode: 'exact', ...cache },
    },
    env: { TOLLGATE_MASTER_KEY: kMaster },
  });
}

async function new_key(gw, name) {
  const r = await request('POST', `${gw.url}/api/v1/virtual-keys`, { name }, master);
  assert.equal(r.status, 201, r.text);
  return r.json.key;
}

const calls = async (name) => (await up.stats()).by_path[up.chat_path(`id=${name}`)] ?? 0;
const body = (prompt, extra = {}) => ({ model: 'm', messages: [{ role: 'user', content: prompt }], ...extra });

test('a repeated request is answered from the cache: one upstream call, cost 0, the original cost saved', async () => {
  const gw = await start_gateway('c1');
  const key = await new_key(gw, 'c1');
  const prompt = unique_prompt('cache me');
  const first = await request('POST', `${gw.url}/v1/chat/completions`, body(prompt), bearer(key));
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('x-tollgate-cache'), 'miss');
  const cost = Number(first.headers.get('x-tollgate-cost-usd'));
  assert.ok(cost > 0);
  const second = await request('POST', `${gw.url}/v1/chat/completions`, body(prompt), bearer(key));
  assert.equal(second.status, 200, second.text);
  assert.equal(second.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(second.headers.get('x-tollgate-cost-usd'), '0');
  assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
  assert.deepEqual(second.json.usage, first.json.usage);
  assert.equal(await calls('c1'), 1);
  // Field order does not matter; a changed answer-changing field does.
  const reordered = await request('POST', `${gw.url}/v1/chat/completions`,
    { messages: [{ content: prompt, role: 'user' }], model: 'm' }, bearer(key));
  assert.equal(reordered.headers.get('x-tollgate-cache'), 'hit');
  const warmer = await request('POST', `${gw.url}/v1/chat/completions`, body(prompt, { temperature: 0.9 }), bearer(key));
  assert.equal(warmer.headers.get('x-tollgate-cache'), 'miss');
  assert.equal(await calls('c1'), 2);

  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_cache_requests_total', { result: 'hit' }), 2);
  assert.equal(metric_sum(metrics, 'tollgate_cache_requests_total', { result: 'miss' }), 2);
  assert.ok(metric_sum(metrics, 'tollgate_cache_entries') >= 2);
  assert.ok(metric_sum(metrics, 'tollgate_cache_bytes') > 0);
  assert.ok(Math.abs(metric_sum(metrics, 'tollgate_savings_usd_total', { source: 'cache' }) - 2 * cost) < 1e-9);
  const rows = await eventually(async () => {
    const r = await get(`${gw.url}/api/v1/audit?limit=100`, master);
    const hits = r.json.data.filter((e) => e.kind === 'request' && e.detail?.cache === 'hit');
    return hits.length === 2 ? hits : undefined;
  });
  for (const row of rows) {
    assert.equal(row.detail.cost_usd, '0');
    assert.equal(row.detail.usage_source, 'cache');
  }
  await gw.stop();
});

test('skip, refresh, no-cache and no-store are honoured; a bad x-tollgate-cache is a 400', async () => {
  const gw = await start_gateway('c2');
  const key = await new_key(gw, 'c2');
  const prompt = unique_prompt('directives');
  const send = (headers = {}) => request('POST', `${gw.url}/v1/chat/completions`, body(prompt), { ...bearer(key), ...headers });
  assert.equal((await send({ 'cache-control': 'no-store' })).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await send({ 'x-tollgate-cache': 'skip' })).headers.get('x-tollgate-cache'), 'bypass');
  assert.equal(await calls('c2'), 2);  // neither stored
  // refresh and no-cache skip the read but call upstream and store: a miss (DESIGN.md).
  assert.equal((await send({ 'x-tollgate-cache': 'refresh' })).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await send()).headers.get('x-tollgate-cache'), 'hit');  // the refresh stored it
  assert.equal((await send({ 'cache-control': 'no-cache' })).headers.get('x-tollgate-cache'), 'miss');
  assert.equal(await calls('c2'), 4);
  const bad = await send({ 'x-tollgate-cache': 'always' });
  assert.equal(bad.status, 400);
  assert.equal(openai_error(bad.json).param, 'x-tollgate-cache');
  const bad_ttl = await send({ 'x-tollgate-cache-ttl': 'soon' });
  assert.equal(bad_ttl.status, 400);
  assert.equal(openai_error(bad_ttl.json).param, 'x-tollgate-cache-ttl');
  await gw.stop();
});

test('a repeated stream is replayed as a valid stream without an upstream call', async () => {
  const gw = await start_gateway('c3');
  const key = await new_key(gw, 'c3');
  const prompt = unique_prompt('stream me');
  const streamed = body(prompt, { stream: true, stream_options: { include_usage: true } });
  const first = await post_stream(`${gw.url}/v1/chat/completions`, streamed, bearer(key));
  assert.equal(first.res.headers.get('x-tollgate-cache'), 'miss');
  const a = await read_sse(first.res);
  assert.ok(a.done);
  const second = await post_stream(`${gw.url}/v1/chat/completions`, streamed, bearer(key));
  assert.equal(second.res.status, 200);
  assert.equal(second.res.headers.get('x-tollgate-cache'), 'hit');
  const b = await read_sse(second.res);
  assert.ok(b.done, 'the replay ends with [DONE]');
  assert.equal(joined_content(b.chunks), joined_content(a.chunks));
  assert.ok(joined_content(b.chunks).length > 0);
  const usage = b.chunks.find((c) => c.json.usage)?.json;
  assert.ok(usage, 'the replay has its usage chunk');
  assert.equal(usage.tollgate.cache, 'hit');
  assert.equal(usage.tollgate.cost_usd, '0');
  assert.equal(usage.tollgate.usage_source, 'cache');
  assert.equal(await calls('c3'), 1);
  // A buffered request for the same prompt gets the transcript assembled into a chat.completion.
  const buffered = await request('POST', `${gw.url}/v1/chat/completions`, body(prompt), bearer(key));
  assert.equal(buffered.status, 200, buffered.text);
  assert.equal(buffered.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(buffered.json.object, 'chat.completion');
  assert.equal(buffered.json.id, a.chunks[0].json.id);
  assert.equal(buffered.json.choices[0].message.role, 'assistant');
  assert.equal(buffered.json.choices[0].message.content, joined_content(a.chunks));
  assert.equal(buffered.json.choices[0].finish_reason, 'stop');
  assert.deepEqual(buffered.json.usage, a.chunks.at(-1).json.usage);
  assert.equal(await calls('c3'), 1);
  await gw.stop();
});

test('a buffered answer serves a later stream request, split into chunks', async () => {
  const gw = await start_gateway('c3b');
  const key = await new_key(gw, 'c3b');
  const prompt = unique_prompt('split me');
  const first = await request('POST', `${gw.url}/v1/chat/completions`, body(prompt), bearer(key));
  assert.equal(first.status, 200, first.text);
  for (const include_usage of [true, false]) {
    const extra = { stream: true, ...(include_usage ? { stream_options: { include_usage } } : {}) };
    const { res } = await post_stream(`${gw.url}/v1/chat/completions`, body(prompt, extra), bearer(key));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-tollgate-cache'), 'hit');
    const sse = await read_sse(res);
    assert.ok(sse.done, 'the split stream ends with [DONE]');
    assert.equal(joined_content(sse.chunks), first.json.choices[0].message.content);
    for (const chunk of sse.chunks) {
      assert.equal(chunk.json.object, 'chat.completion.chunk');
      assert.equal(chunk.json.id, first.json.id);
    }
    assert.equal(sse.chunks[0].json.choices[0].delta.role, 'assistant');
    const finish = sse.chunks.find((c) => c.json.choices[0]?.finish_reason);
    assert.equal(finish.json.choices[0].finish_reason, 'stop');
    const usage_chunks = sse.chunks.filter((c) => c.json.usage);
    if (include_usage) {
      assert.equal(usage_chunks.length, 1);
      assert.deepEqual(usage_chunks[0].json.choices, []);
      assert.equal(usage_chunks[0].json.usage.total_tokens, first.json.usage.total_tokens);
      assert.equal(usage_chunks[0].json.tollgate.cache, 'hit');
    } else {
      assert.equal(usage_chunks.length, 0, 'no usage chunk unless asked');
    }
  }
  assert.equal(await calls('c3b'), 1);
  await gw.stop();
});

test('different tenants never share entries (cache.scope key)', async () => {
  const gw = await start_gateway('c4');
  const one = await new_key(gw, 'tenant-one');
  const two = await new_key(gw, 'tenant-two');
  const prompt = unique_prompt('tenants');
  const send = (key) => request('POST', `${gw.url}/v1/chat/completions`, body(prompt), bearer(key));
  assert.equal((await send(one)).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await send(two)).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await send(one)).headers.get('x-tollgate-cache'), 'hit');
  assert.equal((await send(two)).headers.get('x-tollgate-cache'), 'hit');
  assert.equal(await calls('c4'), 2);
  await gw.stop();
});

test('cache.mode off leaves the cache out entirely', async () => {
  const gw = await start_gateway('c5', { mode: 'off' });
  const key = await new_key(gw, 'c5');
  const prompt = unique_prompt('off');
  for (let i = 0; i < 2; ++i) {
    const r = await request('POST', `${gw.url}/v1/chat/completions`, body(prompt), bearer(key));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-tollgate-cache'), null);
  }
  assert.equal(await calls('c5'), 2);
  await gw.stop();
});

test('GET /api/v1/cache/stats counts entries per model; DELETE /api/v1/cache purges (all, or ?model=)', async () => {
  const gw = await start_gateway('c6');
  const key = await new_key(gw, 'c6');
  for (const word of ['one', 'two']) {
    const r = await request('POST', `${gw.url}/v1/chat/completions`, body(unique_prompt(word)), bearer(key));
    assert.equal(r.status, 200, r.text);
  }
  const stats = await get(`${gw.url}/api/v1/cache/stats`, master);
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.json.entries, 2);
  assert.equal(stats.json.misses, 2);
  assert.equal(stats.json.models.m.entries, 2);
  assert.ok(stats.json.bytes > 0 && stats.json.bytes <= stats.json.max_bytes);
  assert.equal((await get(`${gw.url}/api/v1/cache/stats`, bearer(key))).status, 401, 'admin only');

  const other = await request('DELETE', `${gw.url}/api/v1/cache?model=nope`, undefined, master);
  assert.equal(other.json.deleted, 0);
  const purged = await request('DELETE', `${gw.url}/api/v1/cache?model=m`, undefined, master);
  assert.equal(purged.status, 200, purged.text);
  assert.equal(purged.json.deleted, 2);
  assert.equal((await get(`${gw.url}/api/v1/cache/stats`, master)).json.entries, 0);
  await gw.stop();

  const off = await start_gateway('c6-off', { mode: 'off' });
  const missing = await get(`${off.url}/api/v1/cache/stats`, master);
  assert.equal(missing.status, 404);
  assert.equal(openai_error(missing.json).param, 'cache.mode');
  await off.stop();
});

test('semantic cache: a paraphrase is a semantic-hit; an unrelated prompt, a changed number or another tenant is not', async () => {
  const gw = await start_gateway('c-sem', { mode: 'semantic' });
  const [key, other_key] = [await new_key(gw, 'sem-a'), await new_key(gw, 'sem-b')];
  const ask = (prompt, k = key, extra = {}) =>
    request('POST', `${gw.url}/v1/chat/completions`, body(prompt, extra), bearer(k));
  const first = await ask('What is the capital city of France?');
  assert.equal(first.headers.get('x-tollgate-cache'), 'miss');
  for (const paraphrase of ['what is the capital city of france', 'What is the  capital city of France ??',
    "what's the capital city of France?"]) {
    const r = await ask(paraphrase);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-cache'), 'semantic-hit', paraphrase);
    assert.equal(r.headers.get('x-tollgate-cost-usd'), '0');
    assert.equal(r.json.choices[0].message.content, first.json.choices[0].message.content);
  }
  assert.equal(await calls('c-sem'), 1);
  // Unrelated, a changed number, another tenant, other parameters: misses, each calls upstream.
  assert.equal((await ask('Write a haiku about autumn leaves falling.')).headers.get('x-tollgate-cache'), 'miss');
  const two = await ask('Give me 3 tips for learning the piano.');
  assert.equal(two.headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await ask('Give me 5 tips for learning the piano.')).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await ask('Give me three tips for learning the piano!')).headers.get('x-tollgate-cache'), 'semantic-hit');
  assert.equal((await ask('What is the capital city of France?', other_key)).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await ask('what is the capital city of france', key, { temperature: 0.2 }))
    .headers.get('x-tollgate-cache'), 'miss');
  assert.equal(await calls('c-sem'), 6);
  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_cache_requests_total', { result: 'semantic-hit' }), 4);
  await gw.stop();
});

test('semantic cache with a provider embedder: vectors come from the provider\'s /v1/embeddings', async () => {
  const gw = await start_tollgate({
    config: {
      providers: [{ id: 'up', type: 'openai', base_url: up.base_url('id=c-emb') }],
      models: [{ name: 'm', deployments: [{ provider: 'up', model: 'up-model', price: { input: 2, output: 8 } }] }],
      cache: { mode: 'semantic' },
      dedup: { semantic: { threshold: 0.99, embedder: { provider: 'up', model: 'fake-embedding', dimensions: 64 } } },
    },
  });
  const embeddings_path = '/scenario/id=c-emb/v1/embeddings';
  const embeddings = async () => (await up.stats()).by_path[embeddings_path] ?? 0;
  const ask = (prompt) => request('POST', `${gw.url}/v1/chat/completions`, body(prompt));
  const first = await ask('What is the capital city of France?');
  assert.equal(first.headers.get('x-tollgate-cache'), 'miss');
  // The fake embedding model is a bag of words: the same words in another order are the same vector.
  const reordered = await ask('The capital city of France is what?');
  assert.equal(reordered.headers.get('x-tollgate-cache'), 'semantic-hit');
  assert.equal(reordered.json.choices[0].message.content, first.json.choices[0].message.content);
  assert.equal((await ask('Write a haiku about autumn leaves falling.')).headers.get('x-tollgate-cache'), 'miss');
  assert.equal(await calls('c-emb'), 2);
  assert.equal(await embeddings(), 3, 'one embedding per request that missed the exact cache');
  const sent = (await up.stats()).last_requests.filter((r) => r.path === embeddings_path);
  assert.deepEqual(sent[0].body, {
    model: 'fake-embedding', input: 'What is the capital city of France?', encoding_format: 'float', dimensions: 64,
  });
  await gw.stop();
});
