// The cross-provider matrix through the real binary with the official openai client: OpenAI, Anthropic and Gemini deployments give the same OpenAI-shaped chat, streams, tool calls, failover, errors and embeddings, exactly priced.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import { eventually, kSecret, request, start_tollgate, start_upstream, stop_all, unique_prompt } from './support.mjs';

const kMaster = 'master-key-providers-tests-5a4b3c2d1e0f';

// Prices in nano-dollars (1e-9 USD) per token; the config gets USD per 1M tokens (nanos / 1000).
// Fractional per-1M prices on purpose: 0.15 or 0.075 must still give exact integer nanos.
const kPrices = {
  oa: { input: 150, output: 600 },      // $0.15 / $0.60 per 1M
  ant: { input: 3000, output: 15000 },  // $3 / $15 per 1M
  gem: { input: 75, output: 300 },      // $0.075 / $0.30 per 1M
};
const kEmbedPrices = {
  oa: { input: 20, output: 0 },         // $0.02 per 1M
  gem: { input: 25, output: 0 },        // $0.025 per 1M
};
const per_million = (p) => ({ input: p.input / 1000, output: p.output / 1000 });

// One model per provider: the client-facing name prefix, the provider id and the upstream model.
const kProviders = [
  { id: 'oa', upstream: 'gpt-x' },
  { id: 'ant', upstream: 'claude-x' },
  { id: 'gem', upstream: 'gemini-x' },
];

let up;
let gw;
let client;         // sends x-tollgate-cache: skip, so every chat request reaches its upstream
let cached_client;  // no cache header: for the embeddings cache checks
let caller_key;

/// Base URLs per provider type behind a scenario prefix (the fake's scenario directives).
function base_url(type, scenario) {
  const prefix = `${up.origin}/scenario/${scenario}`;
  if (type === 'openai') return `${prefix}/v1`;
  if (type === 'anthropic') return `${prefix}/v1`;  // a base ending in /v1 gets /messages
  return `${prefix}/v1beta`;                          // gemini: a base with a path is used as is
}

/// The path the fake records for a request to `type` under `scenario`.
function upstream_path(type, scenario, model = '', method = '') {
  const prefix = `/scenario/${scenario}`;
  if (type === 'openai') return `${prefix}/v1/chat/completions`;
  if (type === 'anthropic') return `${prefix}/v1/messages`;
  return `${prefix}/v1beta/models/${model}:${method}`;
}

function gateway_config() {
  const provider = (id, type, scenario) => ({ id, type, base_url: base_url(type, scenario), keys: [kSecret] });
  const model = (name, deployments, extra = {}) => ({ name, deployments, ...extra });
  const dep = (provider, upstream, price) => ({ provider, model: upstream, price: per_million(price) });
  return {
    providers: [
      // Plain providers. Anthropic and Gemini also in their bare-host form (the adapter appends
      // /v1/messages and /v1beta/models/…).
      { id: 'oa', type: 'openai', base_url: `${up.origin}/v1`, keys: [kSecret] },
      { id: 'ant', type: 'anthropic', base_url: up.origin, keys: [kSecret] },
      { id: 'gem', type: 'gemini', base_url: up.origin, keys: [kSecret] },
      // tool_call=lookup, and with parallel, per provider type
      provider('oa-tool', 'openai', 'tool_call=lookup'),
      provider('ant-tool', 'anthropic', 'tool_call=lookup'),
      provider('gem-tool', 'gemini', 'tool_call=lookup'),
      provider('oa-par', 'openai', 'tool_call=lookup,parallel'),
      provider('ant-par', 'anthropic', 'tool_call=lookup,parallel'),
      provider('gem-par', 'gemini', 'tool_call=lookup,parallel'),
      // failures (one provider per test, so no circuit or cooldown leaks from one test to another)
      provider('ant-529-a', 'anthropic', 'status=529,id=a'),
      provider('ant-529-b', 'anthropic', 'status=529,id=b'),
      provider('ant-529-c', 'anthropic', 'status=529,id=c'),
      provider('ant-400', 'anthropic', 'status=400'),
      provider('ant-err', 'anthropic', 'error_after=2'),
      provider('gem-err', 'gemini', 'error_after=2'),
      provider('gem-block-p', 'gemini', 'block=prompt'),
      provider('gem-block-r', 'gemini', 'block=response'),
      provider('gem-thoughts', 'gemini', 'thoughts=5'),
      provider('gem-429', 'gemini', 'status=429,retry_after=1'),
      // Groq (flavor groq) behind the OpenAI-speaking fake: it refuses logit_bias before any call.
      { id: 'groq', type: 'openai', flavor: 'groq', base_url: `${up.origin}/scenario/id=groq/v1`, keys: [kSecret] },
      // Azure OpenAI: the deployment URL, api-version and the api-key header (flavor azure).
      { id: 'az', type: 'openai', flavor: 'azure', base_url: `${up.origin}/scenario/require_key=${kSecret}`,
        api_version: '2024-10-21', keys: [kSecret] },
    ],
    models: [
      ...kProviders.flatMap(({ id, upstream }) => [
        model(`chat-${id}`, [dep(id, upstream, kPrices[id])]),
        model(`tool-${id}`, [dep(`${id}-tool`, upstream, kPrices[id])]),
        model(`par-${id}`, [dep(`${id}-par`, upstream, kPrices[id])]),
      ]),
      model('over-529', [dep('ant-529-a', 'claude-x', kPrices.ant), dep('oa', 'gpt-x', kPrices.oa)]),
      model('over-529-stream', [dep('ant-529-b', 'claude-x', kPrices.ant), dep('oa', 'gpt-x', kPrices.oa)]),
      model('only-529', [dep('ant-529-c', 'claude-x', kPrices.ant)]),
      model('ant-400', [dep('ant-400', 'claude-x', kPrices.ant)]),
      model('err-ant', [dep('ant-err', 'claude-x', kPrices.ant)]),
      model('err-gem', [dep('gem-err', 'gemini-x', kPrices.gem)]),
      model('gem-block-prompt', [dep('gem-block-p', 'gemini-x', kPrices.gem)]),
      model('gem-block-response', [dep('gem-block-r', 'gemini-x', kPrices.gem)]),
      model('gem-thoughts', [dep('gem-thoughts', 'gemini-x', kPrices.gem)]),
      model('over-429', [dep('gem-429', 'gemini-x', kPrices.gem), dep('oa', 'gpt-x', kPrices.oa)]),
      model('emb-oa', [dep('oa', 'text-embed-x', kEmbedPrices.oa)]),
      model('emb-gem', [dep('gem', 'text-embedding-004', kEmbedPrices.gem)]),
      model('emb-ant', [dep('ant', 'claude-x', kPrices.ant)]),
      model('chat-az', [dep('az', 'gpt-x-deployment', kPrices.oa)]),
      model('mixed', [dep('groq', 'llama-x', kPrices.oa), dep('oa', 'gpt-x', kPrices.oa)]),
      model('groq-only', [dep('groq', 'llama-x', kPrices.oa)]),
      model('emb-az', [dep('az', 'embed-deployment', kEmbedPrices.oa)]),
    ],
    routing: {
      strategy: 'priority', max_attempts: 3, backoff: { base: '10ms', max: '50ms' },
      first_byte_timeout: '5s', stream_idle_timeout: '5s',
    },
    cache: { mode: 'exact' },
    dedup: { enabled: false },
  };
}

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({ config: gateway_config(), env: { TOLLGATE_MASTER_KEY: kMaster } });
  const issued = await request('POST', `${gw.url}/api/v1/virtual-keys`, { name: 'providers-it' },
    { authorization: `Bearer ${kMaster}` });
  assert.equal(issued.status, 201, issued.text);
  caller_key = issued.json.key;
  const options = { baseURL: `${gw.url}/v1`, apiKey: caller_key, maxRetries: 0, timeout: 10_000 };
  client = new OpenAI({ ...options, defaultHeaders: { 'x-tollgate-cache': 'skip' } });
  cached_client = new OpenAI(options);
});

after(stop_all);

// ---------------------------------------------------------------------------------------------
// Helpers

/// nano-dollars → the decimal string tollgate prints (as money.test.mjs).
function usd(nanos) {
  const n = BigInt(nanos);
  const whole = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

const cost_nanos = (usage, price) => usage.prompt_tokens * price.input + usage.completion_tokens * price.output;

const words = (text) => text.trim().split(/\s+/).filter(Boolean).length;

const kTools = [{
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Looks a thing up.',
    parameters: {
      type: 'object',
      properties: { query: { type: 'string' }, n: { type: 'integer' } },
      required: ['query'],
    },
  },
}];

/// Usage the fake reports for a conversation of plain messages. The rule, per wire format:
///   OpenAI:    prompt = Σ over messages (1 + words of the message's text)
///   Anthropic: input_tokens = Σ over `messages` (1 + words) + words of `system` (no +1: the system
///              prompt is a field, not a message)
///   Gemini:    promptTokenCount = Σ over contents (1 + words) + (1 + words of systemInstruction)
///   completion = words of the reply (tool calls: 1 + words of the query per call), on all three.
/// So a conversation with a system message counts one token less on Anthropic; without one, all
/// three agree.
function expected_prompt_tokens(provider, messages) {
  let n = 0;
  for (const m of messages) {
    const text = typeof m.content === 'string' ? m.content : '';
    n += (provider === 'ant' && m.role === 'system') ? words(text) : 1 + words(text);
  }
  return n;
}

/// Reads a whole stream from the official client: the chunks, in order.
async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const stream_text = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');

/// Tool-call deltas assembled by index, checking OpenAI's streaming shape: the first delta of an
/// index carries id, type and name; later ones only argument pieces.
function assemble_tool_calls(chunks) {
  const calls = [];
  for (const chunk of chunks) {
    for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
      assert.equal(typeof delta.index, 'number', JSON.stringify(delta));
      const call = calls[delta.index];
      if (call === undefined) {
        assert.ok(delta.id, `the first delta of call ${delta.index} has an id: ${JSON.stringify(delta)}`);
        assert.equal(delta.type, 'function');
        assert.ok(delta.function?.name, `the first delta of call ${delta.index} has a name: ${JSON.stringify(delta)}`);
        calls[delta.index] = { id: delta.id, name: delta.function.name, arguments: delta.function.arguments ?? '' };
      } else {
        assert.ok(delta.id === undefined || delta.id === call.id, `a later delta changes the id: ${JSON.stringify(delta)}`);
        assert.ok(delta.function?.name === undefined || delta.function.name === call.name,
          `a later delta changes the name: ${JSON.stringify(delta)}`);
        call.arguments += delta.function?.arguments ?? '';
      }
    }
  }
  return calls;
}

/// Exactly one chunk with a finish_reason; returns it.
function the_finish(chunks) {
  const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finishes.length, 1, `finish chunks: ${JSON.stringify(finishes)}`);
  return finishes[0].choices[0].finish_reason;
}

/// The fake's embedding (tests/upstream/fake_upstream.mjs embed_text): each lower-cased word adds 1
/// to the slot its FNV-1a hash picks.
function embed_text(text, dimensions = 64) {
  const vector = new Array(dimensions).fill(0);
  for (const word of text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean)) {
    let h = 0x811c9dc5;
    for (let i = 0; i < word.length; ++i) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193) >>> 0;
    vector[h % dimensions] += 1;
  }
  return vector;
}

/// Float32 precision: equal to within a relative 1e-6 (counts are small integers, exact anyway).
function assert_vectors_close(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; ++i) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-6 * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/// tollgate's token estimate of an embeddings input: ~4 bytes per token of each input, rounded up.
const estimate_tokens = (inputs) => inputs.reduce((n, s) => n + Math.ceil(Buffer.byteLength(s, 'utf8') / 4), 0);

/// A mark in the fake's request log: upstream_requests(suffix, mark) lists what came after it.
async function upstream_mark() {
  return (await up.stats()).requests;
}

/// The requests the fake logged after `mark` whose path ends with `suffix`, oldest first.
async function upstream_requests(suffix, mark) {
  const stats = await up.stats();
  const first = stats.requests - stats.last_requests.length;  // the log keeps the last 50
  assert.ok(first <= mark, 'the fake\'s request log no longer reaches back to the mark');
  return stats.last_requests.filter((r, i) => first + i >= mark && r.path.endsWith(suffix));
}

async function upstream_count(path) {
  return (await up.stats()).by_path[path] ?? 0;
}

/// Rejects when `promise` has not settled within `ms` (a hang is a failure, not a stuck run).
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hang)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const user = (content) => [{ role: 'user', content }];

// ---------------------------------------------------------------------------------------------
// 1-4: per provider

for (const { id, upstream } of kProviders) {
  const price = kPrices[id];

  test(`${id}: chat, non-stream: echo, usage by the fake's rule, headers, exact cost; max_tokens → length`, async () => {
    const prompt = unique_prompt('the weather in paris today');
    const messages = [{ role: 'system', content: 'be brief and kind' }, { role: 'user', content: prompt }];
    const { data, response } = await client.chat.completions
      .create({ model: `chat-${id}`, messages })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, prompt);
    assert.equal(data.choices[0].finish_reason, 'stop');
    const prompt_tokens = expected_prompt_tokens(id, messages);
    // system "be brief and kind" (4 words) + user prompt (6 words): OpenAI and Gemini 5 + 7 = 12,
    // Anthropic 4 + 7 = 11.
    assert.equal(prompt_tokens, id === 'ant' ? 11 : 12);
    assert.equal(data.usage.prompt_tokens, prompt_tokens);
    assert.equal(data.usage.completion_tokens, words(prompt));
    assert.equal(data.usage.total_tokens, prompt_tokens + words(prompt));
    assert.equal(response.headers.get('x-tollgate-provider'), id);
    assert.equal(response.headers.get('x-tollgate-model'), upstream);
    assert.equal(response.headers.get('x-tollgate-attempts'), '1');
    assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(cost_nanos(data.usage, price)));

    const cut = await client.chat.completions.create({ model: `chat-${id}`, messages: user(prompt), max_tokens: 2 });
    assert.equal(cut.choices[0].finish_reason, 'length');
    assert.equal(cut.choices[0].message.content, prompt.split(' ').slice(0, 2).join(' '));
    assert.equal(cut.usage.completion_tokens, 2);
  });

  test(`${id}: streamed chat: deltas join to the reply, one finish, a usage chunk with the tollgate object`, async () => {
    const prompt = unique_prompt('a streamed answer of several words');
    const unary = await client.chat.completions.create({ model: `chat-${id}`, messages: user(prompt) });
    const unary_cost = usd(cost_nanos(unary.usage, price));

    const { data: stream, response } = await client.chat.completions
      .create({ model: `chat-${id}`, messages: user(prompt), stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.equal(response.headers.get('x-tollgate-provider'), id);
    assert.equal(response.headers.get('x-tollgate-model'), upstream);
    const chunks = await collect(stream);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'), JSON.stringify(chunks));
    assert.equal(stream_text(chunks), unary.choices[0].message.content);
    assert.equal(the_finish(chunks), 'stop');
    const usage_chunks = chunks.filter((c) => c.usage);
    assert.equal(usage_chunks.length, 1, JSON.stringify(usage_chunks));
    const last = chunks.at(-1);
    assert.equal(last, usage_chunks[0], 'the usage chunk is the last one');
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, unary.usage.prompt_tokens);
    assert.equal(last.usage.completion_tokens, unary.usage.completion_tokens);
    assert.equal(last.usage.total_tokens, unary.usage.total_tokens);
    assert.equal(last.tollgate?.provider, id, JSON.stringify(last));
    assert.equal(last.tollgate.model, upstream);
    assert.equal(String(last.tollgate.cost_usd), unary_cost);
    assert.equal(Number(last.tollgate.attempts), 1);

    const plain = await collect(await client.chat.completions.create({
      model: `chat-${id}`, messages: user(prompt), stream: true,
    }));
    assert.equal(stream_text(plain), prompt);
    assert.equal(the_finish(plain), 'stop');
    assert.deepEqual(plain.filter((c) => c.usage || c.choices.length === 0 || c.tollgate), [],
      'no usage chunk without include_usage');
  });

  test(`${id}: tool round trip, non-stream`, async () => {
    const prompt = unique_prompt('weather in oslo');
    const first = await client.chat.completions.create({ model: `tool-${id}`, messages: user(prompt), tools: kTools });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.tool_calls.length, 1, JSON.stringify(choice.message));
    const [call] = choice.message.tool_calls;
    assert.equal(typeof call.id, 'string');
    assert.ok(call.id.length > 0);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'lookup');
    assert.deepEqual(JSON.parse(call.function.arguments), { query: prompt });
    // The fake bills a call as 1 + the words of its query.
    assert.equal(first.usage.prompt_tokens, 1 + words(prompt));
    assert.equal(first.usage.completion_tokens, 1 + words(prompt));

    const { data: second, response } = await client.chat.completions.create({
      model: `tool-${id}`,
      tools: kTools,
      messages: [
        ...user(prompt),
        { role: 'assistant', content: null, tool_calls: choice.message.tool_calls },
        { role: 'tool', tool_call_id: call.id, content: '42 degrees' },
      ],
    }).withResponse();
    assert.equal(second.choices[0].message.content, '42 degrees');
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(second.choices[0].message.tool_calls ?? undefined, undefined);
    // user (1 + w) + assistant with only tool calls (1) + tool result "42 degrees" (1 + 2)
    assert.equal(second.usage.prompt_tokens, words(prompt) + 5);
    assert.equal(second.usage.completion_tokens, 2);
    assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(cost_nanos(second.usage, price)));
  });

  test(`${id}: tool round trip, streamed; parallel calls by index`, async () => {
    const prompt = unique_prompt('weather in lima');
    const chunks = await collect(await client.chat.completions.create({
      model: `tool-${id}`, messages: user(prompt), tools: kTools, stream: true,
    }));
    assert.equal(the_finish(chunks), 'tool_calls');
    const calls = assemble_tool_calls(chunks);
    assert.equal(calls.length, 1, JSON.stringify(calls));
    assert.equal(calls[0].name, 'lookup');
    assert.deepEqual(JSON.parse(calls[0].arguments), { query: prompt });
    assert.equal(stream_text(chunks), '');

    const answer = await collect(await client.chat.completions.create({
      model: `tool-${id}`,
      tools: kTools,
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        ...user(prompt),
        { role: 'assistant', content: null,
          tool_calls: [{ id: calls[0].id, type: 'function', function: { name: calls[0].name, arguments: calls[0].arguments } }] },
        { role: 'tool', tool_call_id: calls[0].id, content: '42 degrees' },
      ],
    }));
    assert.equal(stream_text(answer), '42 degrees');
    assert.equal(the_finish(answer), 'stop');
    assert.equal(answer.at(-1).usage?.completion_tokens, 2, JSON.stringify(answer.at(-1)));

    const parallel = await collect(await client.chat.completions.create({
      model: `par-${id}`, messages: user(prompt), tools: kTools, stream: true,
    }));
    assert.equal(the_finish(parallel), 'tool_calls');
    const both = assemble_tool_calls(parallel);
    assert.equal(both.length, 2, JSON.stringify(both));
    assert.deepEqual(both.map((c) => c.name), ['lookup', 'lookup']);
    assert.deepEqual(JSON.parse(both[0].arguments), { query: prompt });
    assert.deepEqual(JSON.parse(both[1].arguments), { query: prompt, n: 2 });
    assert.notEqual(both[0].id, both[1].id);

    const unary = await client.chat.completions.create({ model: `par-${id}`, messages: user(prompt), tools: kTools });
    assert.equal(unary.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(unary.choices[0].message.tool_calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
      [['lookup', { query: prompt }], ['lookup', { query: prompt, n: 2 }]]);
    assert.equal(unary.usage.completion_tokens, 2 * (1 + words(prompt)));
  });
}

// ---------------------------------------------------------------------------------------------
// 5: one OpenAI shape whatever the provider

/// What a client sees of a provider, with the ids (which differ by nature) left out.
async function normalised(id, prompt) {
  const chat = await client.chat.completions.create({ model: `chat-${id}`, messages: user(prompt) });
  const streamed = await collect(await client.chat.completions.create({
    model: `chat-${id}`, messages: user(prompt), stream: true, stream_options: { include_usage: true },
  }));
  const tool = await client.chat.completions.create({ model: `tool-${id}`, messages: user(prompt), tools: kTools });
  const calls = tool.choices[0].message.tool_calls ?? [];
  const final = await client.chat.completions.create({
    model: `tool-${id}`,
    tools: kTools,
    messages: [
      ...user(prompt),
      { role: 'assistant', content: null, tool_calls: calls },
      ...calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: '42 degrees' })),
    ],
  });
  const parallel = await client.chat.completions.create({ model: `par-${id}`, messages: user(prompt), tools: kTools });
  const call_view = (c) => ({ type: c.type, name: c.function.name, arguments: JSON.parse(c.function.arguments) });
  return {
    object: chat.object,
    role: chat.choices[0].message.role,
    content: chat.choices[0].message.content,
    finish_reason: chat.choices[0].finish_reason,
    usage: [chat.usage.prompt_tokens, chat.usage.completion_tokens, chat.usage.total_tokens],
    stream: { content: stream_text(streamed), finish: the_finish(streamed),
      usage: [streamed.at(-1).usage?.prompt_tokens, streamed.at(-1).usage?.completion_tokens] },
    tool: { content: tool.choices[0].message.content ?? null, finish: tool.choices[0].finish_reason,
      calls: calls.map(call_view) },
    final: { content: final.choices[0].message.content, finish: final.choices[0].finish_reason },
    parallel: { finish: parallel.choices[0].finish_reason, calls: (parallel.choices[0].message.tool_calls ?? []).map(call_view) },
  };
}

test('the three providers give the same OpenAI-shaped results', async () => {
  const prompt = unique_prompt('same answer everywhere');
  const seen = {};
  for (const { id } of kProviders) seen[id] = await normalised(id, prompt);
  assert.equal(seen.oa.content, prompt);
  assert.deepEqual(seen.oa.tool.calls, [{ type: 'function', name: 'lookup', arguments: { query: prompt } }]);
  assert.deepEqual({ ant: seen.ant, gem: seen.gem }, { ant: seen.oa, gem: seen.oa });
});

// ---------------------------------------------------------------------------------------------
// 6: Anthropic failures

test('an Anthropic 529 fails over to the next deployment (non-stream and stream)', async () => {
  const prompt = unique_prompt('fail over from anthropic');
  const { data, response } = await client.chat.completions
    .create({ model: 'over-529', messages: user(prompt) })
    .withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(response.headers.get('x-tollgate-provider'), 'oa');
  assert.equal(response.headers.get('x-tollgate-model'), 'gpt-x');
  assert.equal(response.headers.get('x-tollgate-attempts'), '2');
  // Only the answering deployment is billed, at its price.
  assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(cost_nanos(data.usage, kPrices.oa)));
  assert.equal(await upstream_count(upstream_path('anthropic', 'status=529,id=a')), 1);

  const { data: stream, response: stream_response } = await client.chat.completions
    .create({ model: 'over-529-stream', messages: user(prompt), stream: true, stream_options: { include_usage: true } })
    .withResponse();
  assert.equal(stream_response.status, 200);
  assert.equal(stream_response.headers.get('x-tollgate-provider'), 'oa');
  const chunks = await collect(stream);
  assert.equal(stream_text(chunks), prompt);
  assert.equal(the_finish(chunks), 'stop');
  assert.equal(chunks.at(-1).tollgate?.provider, 'oa', JSON.stringify(chunks.at(-1)));
  assert.equal(Number(chunks.at(-1).tollgate.attempts), 2);
  assert.equal(await upstream_count(upstream_path('anthropic', 'status=529,id=b')), 1);
});

test('an Anthropic 529 on the only deployment: a 5xx OpenAI-shaped error', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'only-529', messages: user(unique_prompt('overloaded only')) }),
    (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 502);
      assert.deepEqual(Object.keys(e.error).sort(), ['code', 'message', 'param', 'type']);
      assert.equal(e.error.type, 'upstream_error');
      assert.equal(e.error.code, 'upstream_error');
      assert.match(e.error.message, /All 3 upstream attempts failed/);
      assert.match(e.error.message, /overloaded/i);
      return true;
    });
  // 529 is retryable: every attempt (max_attempts 3) went to the one deployment.
  assert.equal(await upstream_count(upstream_path('anthropic', 'status=529,id=c')), 3);
});

test('an Anthropic 400 passes through with its message, not retried', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'ant-400', messages: user(unique_prompt('refused by anthropic')) }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.error.message, /fake_upstream: scripted status 400/);
      return true;
    });
  // One upstream call: a 400 is the request's fault, never retried (max_attempts is 3).
  assert.equal(await upstream_count(upstream_path('anthropic', 'status=400')), 1);
});

// ---------------------------------------------------------------------------------------------
// 7: mid-stream errors

// error_after=2: Anthropic fails after message_start and content_block_start (only the role chunk
// reached the client), Gemini after two word pieces.
for (const [model, label, received] of [['err-ant', 'Anthropic', ''], ['err-gem', 'Gemini', 'one two']]) {
  test(`a mid-stream error on ${label} makes the official client's stream raise, without hanging`, async () => {
    const prompt = unique_prompt('one two three four five six');
    const started = performance.now();
    const outcome = await within((async () => {
      const chunks = [];
      try {
        const stream = await client.chat.completions.create({ model, messages: user(prompt), stream: true });
        for await (const chunk of stream) chunks.push(chunk);
        return { chunks, error: null };
      } catch (e) {
        return { chunks, error: e };
      }
    })(), 8000, `${label} mid-stream error`);
    assert.ok(outcome.error, `the stream ended without an error: ${JSON.stringify(outcome.chunks)}`);
    assert.ok(outcome.error instanceof OpenAI.APIError, `got ${outcome.error?.constructor?.name}: ${outcome.error}`);
    assert.equal(outcome.error.error?.type, 'upstream_error', JSON.stringify(outcome.error.error));
    assert.match(outcome.error.message, /overloaded/i);
    assert.ok(performance.now() - started < 8000);
    assert.ok(outcome.chunks.length >= 1, 'the stream had started: the error came in band');
    assert.equal(stream_text(outcome.chunks), received);
    // The reply never completes: no finish chunk reached the client.
    assert.equal(outcome.chunks.filter((c) => c.choices[0]?.finish_reason).length, 0);
  });
}

// ---------------------------------------------------------------------------------------------
// 8: Gemini specifics

test('Gemini: a blocked prompt and a blocked response finish with content_filter', async () => {
  for (const model of ['gem-block-prompt', 'gem-block-response']) {
    const prompt = unique_prompt('something blocked');
    const { data, response } = await client.chat.completions.create({ model, messages: user(prompt) }).withResponse();
    assert.equal(response.status, 200, model);
    assert.equal(data.choices.length, 1, `${model}: ${JSON.stringify(data)}`);
    assert.equal(data.choices[0].finish_reason, 'content_filter', model);
    assert.ok(!data.choices[0].message.content, `${model}: ${JSON.stringify(data.choices[0])}`);
    // The fake counts the prompt only; nothing was generated.
    assert.equal(data.usage.prompt_tokens, 1 + words(prompt), model);
    assert.equal(data.usage.completion_tokens, 0, model);
    assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(cost_nanos(data.usage, kPrices.gem)), model);

    const chunks = await collect(await client.chat.completions.create({ model, messages: user(prompt), stream: true }));
    assert.equal(the_finish(chunks), 'content_filter', model);
  }
});

test('Gemini: thinking tokens are reasoning_tokens, counted in completion_tokens and billed', async () => {
  const prompt = unique_prompt('think about this');
  const { data, response } = await client.chat.completions
    .create({ model: 'gem-thoughts', messages: user(prompt) })
    .withResponse();
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(data.usage.completion_tokens_details?.reasoning_tokens, 5, JSON.stringify(data.usage));
  // adapters/gemini usage_of: completion = candidatesTokenCount + thoughtsTokenCount
  assert.equal(data.usage.completion_tokens, words(prompt) + 5);
  assert.equal(data.usage.prompt_tokens, 1 + words(prompt));
  assert.equal(data.usage.total_tokens, 1 + words(prompt) + words(prompt) + 5);
  assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(cost_nanos(data.usage, kPrices.gem)));

  const chunks = await collect(await client.chat.completions.create({
    model: 'gem-thoughts', messages: user(prompt), stream: true, stream_options: { include_usage: true },
  }));
  assert.equal(stream_text(chunks), prompt);
  assert.equal(chunks.at(-1).usage?.completion_tokens_details?.reasoning_tokens, 5, JSON.stringify(chunks.at(-1)));
  assert.equal(chunks.at(-1).usage.completion_tokens, words(prompt) + 5);
  assert.equal(String(chunks.at(-1).tollgate?.cost_usd), usd(cost_nanos(data.usage, kPrices.gem)));
});

test('Gemini: a 429 with RetryInfo fails over like any 429', async () => {
  const prompt = unique_prompt('gemini rate limited');
  const { data, response } = await client.chat.completions
    .create({ model: 'over-429', messages: user(prompt) })
    .withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(response.headers.get('x-tollgate-provider'), 'oa');
  assert.equal(response.headers.get('x-tollgate-attempts'), '2');
  assert.equal(await upstream_count(upstream_path('gemini', 'status=429,retry_after=1', 'gemini-x', 'generateContent')), 1);
});

// ---------------------------------------------------------------------------------------------
// 9: embeddings

// What the usage view must show for the embeddings models at the end: requests and nano-dollars.
const embed_ledger = { 'emb-oa': { requests: 0, nanos: 0 }, 'emb-gem': { requests: 0, nanos: 0 } };
const kEmbedModels = [
  { model: 'emb-oa', provider: 'oa', upstream: 'text-embed-x', price: kEmbedPrices.oa },
  { model: 'emb-gem', provider: 'gem', upstream: 'text-embedding-004', price: kEmbedPrices.gem },
];

/// client.embeddings.create with the response; books what the answer cost for the usage-view test.
async function embed(c, body) {
  const { data, response } = await c.embeddings.create(body).withResponse();
  embed_ledger[body.model].requests += 1;
  const cost = response.headers.get('x-tollgate-cost-usd');
  assert.match(cost ?? '', /^\d+(\.\d+)?$/, `x-tollgate-cost-usd on ${body.model}`);
  const [whole, frac = ''] = cost.split('.');
  embed_ledger[body.model].nanos += Number(whole) * 1e9 + Number(frac.padEnd(9, '0'));
  return { data, response };
}

/// Token counts of an embeddings input: openai's are the fake's (words of every input, no extra
/// per input); Gemini reports none, so tollgate bills its estimate (~4 bytes per token, rounded up
/// per input).
const embed_tokens = (provider, inputs) =>
  (provider === 'oa' ? inputs.reduce((n, s) => n + words(s), 0) : estimate_tokens(inputs));

test('embeddings, one string: usage, exact cost, the upstream wire shape, then a cache hit at cost 0', async () => {
  const text = unique_prompt('Embed this sentence, please');
  for (const { model, provider, upstream, price } of kEmbedModels) {
    const since = await upstream_mark();
    const { data, response } = await embed(cached_client, { model, input: text });
    assert.equal(response.status, 200);
    assert.equal(data.object, 'list');
    assert.equal(data.model, upstream);
    assert.equal(data.data.length, 1);
    assert.equal(data.data[0].object, 'embedding');
    assert.equal(data.data[0].index, 0);
    const tokens = embed_tokens(provider, [text]);
    if (provider === 'oa') assert.equal(tokens, 5);
    assert.equal(response.headers.get('x-tollgate-provider'), provider);
    assert.equal(response.headers.get('x-tollgate-model'), upstream);
    assert.equal(response.headers.get('x-tollgate-cache'), 'miss');
    assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(tokens * price.input));

    const sent = await upstream_requests(provider === 'gem' ? ':embedContent' : '/v1/embeddings', since);
    assert.equal(sent.length, 1, `${model}: one upstream call`);
    if (provider === 'gem') {
      assert.equal(sent[0].path, '/v1beta/models/text-embedding-004:embedContent');
      assert.deepEqual(sent[0].body, { content: { parts: [{ text }] } });
      assert.equal(sent[0].headers['x-goog-api-key'], kSecret);
    } else {
      // passthrough: the client's body with the upstream model
      assert.deepEqual(sent[0].body, { model: 'text-embed-x', input: text, encoding_format: 'base64' });
      assert.equal(sent[0].headers.authorization, `Bearer ${kSecret}`);
    }

    const again = await embed(cached_client, { model, input: text });
    assert.equal(again.response.headers.get('x-tollgate-cache'), 'hit', model);
    assert.equal(again.response.headers.get('x-tollgate-cost-usd'), '0', model);
    assert.deepEqual(again.data.data.map((d) => d.embedding), data.data.map((d) => d.embedding), `${model} from cache`);
    assert.equal((await upstream_requests(provider === 'gem' ? ':embedContent' : '/v1/embeddings', since)).length, 1,
      `${model}: the hit made no upstream call`);

    // Gemini reports no tokens: the answer shows tollgate's estimate, the one it bills (the cost
    // header above is that estimate's price).
    assert.deepEqual(data.usage, { prompt_tokens: tokens, total_tokens: tokens }, `${model}: usage`);
  }
});

test('embeddings, float: the same vectors from openai and gemini, single string and array, with dimensions', async () => {
  const inputs = [unique_prompt('first text to embed'), unique_prompt('Second: text, to embed!')];
  const seen = {};
  const usages = {};
  for (const { model, provider, price } of kEmbedModels) {
    const one = await embed(client, { model, input: inputs[0], encoding_format: 'float' });
    assert.deepEqual(one.data.data[0].embedding, embed_text(inputs[0]), `${model} single`);
    const many = await embed(client, { model, input: inputs, encoding_format: 'float' });
    assert.deepEqual(many.data.data.map((d) => d.index), [0, 1]);
    inputs.forEach((text, i) => assert.deepEqual(many.data.data[i].embedding, embed_text(text), `${model}[${i}]`));
    const tokens = embed_tokens(provider, inputs);
    usages[model] = [many.data.usage?.prompt_tokens, tokens];
    assert.equal(many.response.headers.get('x-tollgate-cost-usd'), usd(tokens * price.input), model);
    seen[model] = [one.data.data[0].embedding, ...many.data.data.map((d) => d.embedding)];

    const since = await upstream_mark();
    const small = await embed(client, { model, input: inputs, dimensions: 16, encoding_format: 'float' });
    inputs.forEach((text, i) => assert.deepEqual(small.data.data[i].embedding, embed_text(text, 16), `${model}[${i}] 16`));
    if (provider === 'gem') {
      const [sent] = await upstream_requests(':batchEmbedContents', since);
      assert.equal(sent.path, '/v1beta/models/text-embedding-004:batchEmbedContents');
      assert.deepEqual(sent.body, {
        requests: inputs.map((text) => ({
          model: 'models/text-embedding-004', content: { parts: [{ text }] }, outputDimensionality: 16,
        })),
      });
      const single_since = await upstream_mark();
      await embed(client, { model, input: inputs[0], dimensions: 16, encoding_format: 'float' });
      const [single] = await upstream_requests(':embedContent', single_since);
      assert.deepEqual(single.body, { content: { parts: [{ text: inputs[0] }] }, outputDimensionality: 16 });
    } else {
      const [sent] = await upstream_requests('/v1/embeddings', since);
      assert.deepEqual(sent.body, { model: 'text-embed-x', input: inputs, dimensions: 16, encoding_format: 'float' });
    }
  }
  assert.deepEqual(seen['emb-gem'], seen['emb-oa']);
  // [usage.prompt_tokens answered, expected]; gemini's is tollgate's estimate (see the one-string test).
  assert.deepEqual(usages, {
    'emb-oa': [embed_tokens('oa', inputs), embed_tokens('oa', inputs)],
    'emb-gem': [estimate_tokens(inputs), estimate_tokens(inputs)],
  });
});

test('embeddings, the client\'s default base64: gemini decodes to the fake\'s vectors', async () => {
  const inputs = [unique_prompt('base64 vectors please'), unique_prompt('and another one')];
  const since = await upstream_mark();
  const { data, response } = await embed(client, { model: 'emb-gem', input: inputs });
  inputs.forEach((text, i) => assert_vectors_close(data.data[i].embedding, embed_text(text), `emb-gem[${i}]`));
  assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(estimate_tokens(inputs) * kEmbedPrices.gem.input));
  const [sent] = await upstream_requests(':batchEmbedContents', since);
  assert.deepEqual(sent.body, {
    requests: inputs.map((text) => ({ model: 'models/text-embedding-004', content: { parts: [{ text }] } })),
  });
  // On the wire tollgate answered base64 float32, as OpenAI does when asked.
  const raw = await request('POST', `${gw.url}/v1/embeddings`, { model: 'emb-gem', input: inputs[0], encoding_format: 'base64' },
    { authorization: `Bearer ${caller_key}`, 'x-tollgate-cache': 'skip' });
  embed_ledger['emb-gem'].requests += 1;
  embed_ledger['emb-gem'].nanos += estimate_tokens([inputs[0]]) * kEmbedPrices.gem.input;
  assert.equal(typeof raw.json.data[0].embedding, 'string', raw.text);
  const bytes = Buffer.from(raw.json.data[0].embedding, 'base64');
  assert.deepEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)), embed_text(inputs[0]));
});

// The official client asks for base64 by default. An upstream that ignores encoding_format (this
// fake, and OpenAI-compatible servers that only speak floats) answers float arrays: tollgate
// encodes them as asked, or the client would "decode" the JSON array as base64 text.
test('embeddings, the client\'s default base64: openai decodes to the same vectors as gemini', async () => {
  const text = unique_prompt('decode me the same everywhere');
  const gem = await embed(client, { model: 'emb-gem', input: text });
  assert_vectors_close(gem.data.data[0].embedding, embed_text(text), 'emb-gem');
  const raw = await request('POST', `${gw.url}/v1/embeddings`, { model: 'emb-oa', input: text, encoding_format: 'base64' },
    { authorization: `Bearer ${caller_key}`, 'x-tollgate-cache': 'skip' });
  embed_ledger['emb-oa'].requests += 1;
  embed_ledger['emb-oa'].nanos += words(text) * kEmbedPrices.oa.input;
  assert.equal(raw.status, 200, raw.text);
  assert.equal(typeof raw.json.data[0].embedding, 'string',
    `the client asked for base64; tollgate answered ${JSON.stringify(raw.json.data[0].embedding).slice(0, 80)}…`);
  const oa = await embed(client, { model: 'emb-oa', input: text });
  assert_vectors_close(oa.data.data[0].embedding, gem.data.data[0].embedding, 'emb-oa (base64) vs emb-gem (base64)');
});

test('embeddings: anthropic refuses with a 400 naming model; an empty input is a 400 before any upstream call', async () => {
  const before_count = (await up.stats()).requests;
  await assert.rejects(cached_client.embeddings.create({ model: 'emb-ant', input: 'no embeddings here' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.param, 'model', JSON.stringify(e.error));
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /anthropic/);
    return true;
  });
  await assert.rejects(cached_client.embeddings.create({ model: 'emb-oa', input: [] }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.param, 'input', JSON.stringify(e.error));
    return true;
  });
  assert.equal((await up.stats()).requests, before_count, 'no upstream call for either');
});

// ---------------------------------------------------------------------------------------------
// 10: the usage view

test('the usage view counts the embeddings requests with their cost', async () => {
  const master = { authorization: `Bearer ${kMaster}` };
  const expected_rows = Object.entries(embed_ledger).map(([model, e]) => [model, e.requests, usd(e.nanos)]);
  assert.ok(expected_rows.every(([, requests, cost]) => requests > 0 && cost !== '0'), JSON.stringify(expected_rows));
  const rows = await eventually(async () => {
    const r = await request('GET', `${gw.url}/api/v1/usage?group_by=model`, undefined, master);
    assert.equal(r.status, 200, r.text);
    const found = expected_rows.map(([model]) => r.json.rows.find((row) => row.group === model));
    return found.every((row) => row && row.requests === embed_ledger[row.group].requests) ? found : null;
  }, { timeout_ms: 5000 }).catch(async (e) => {
    const r = await request('GET', `${gw.url}/api/v1/usage?group_by=model`, undefined, master);
    throw new Error(`${e.message}; expected ${JSON.stringify(expected_rows)}; usage: ${r.text}`);
  });
  assert.deepEqual(rows.map((row) => [row.group, row.requests, usd(Math.round(Number(row.cost_usd) * 1e9))]),
    expected_rows);
  // Embeddings produce no completion tokens.
  assert.deepEqual(rows.map((row) => row.completion_tokens), [0, 0]);
});

// ---------------------------------------------------------------------------------------------
// Azure OpenAI (flavor azure on the openai type)

test('azure: chat, stream and embeddings go to the deployment URL with api-version and api-key', async () => {
  const prompt = unique_prompt('azure says hello');
  await request('POST', `${up.origin}/_reset`);
  const { data, response } = await client.chat.completions
    .create({ model: 'chat-az', messages: [{ role: 'user', content: prompt }] })
    .withResponse();
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(response.headers.get('x-tollgate-provider'), 'az');
  const usage = { prompt_tokens: 1 + words(prompt), completion_tokens: words(prompt) };
  assert.equal(data.usage.prompt_tokens, usage.prompt_tokens);
  assert.equal(response.headers.get('x-tollgate-cost-usd'), usd(cost_nanos(usage, kPrices.oa)));

  const chunks = await collect(await client.chat.completions.create({
    model: 'chat-az', messages: [{ role: 'user', content: prompt }], stream: true,
    stream_options: { include_usage: true },
  }));
  assert.equal(stream_text(chunks), prompt);
  assert.equal(chunks.at(-1).usage.completion_tokens, words(prompt));

  const embedded = await client.embeddings.create({ model: 'emb-az', input: 'blue sky' });
  assert.equal(embedded.data.length, 1);
  assert.equal(embedded.data[0].embedding.length, 64);

  const stats = (await request('GET', `${up.origin}/_stats`)).json;
  const seen = stats.last_requests.map((r) => [r.method, r.url, r.headers['api-key'], r.headers.authorization]);
  const prefix = `/scenario/require_key=${kSecret}/openai/deployments`;
  assert.deepEqual(seen, [
    ['POST', `${prefix}/gpt-x-deployment/chat/completions?api-version=2024-10-21`, kSecret, undefined],
    ['POST', `${prefix}/gpt-x-deployment/chat/completions?api-version=2024-10-21`, kSecret, undefined],
    ['POST', `${prefix}/embed-deployment/embeddings?api-version=2024-10-21`, kSecret, undefined],
  ]);
});

// ---------------------------------------------------------------------------------------------
// A deployment that cannot express the request is passed over without a call

test('a field one flavour refuses moves to a deployment that takes it; with none, a 400 naming it', async () => {
  const prompt = unique_prompt('bias me');
  await request('POST', `${up.origin}/_reset`);
  const body = { messages: [{ role: 'user', content: prompt }], logit_bias: { 50256: -100 } };
  const { data, response } = await client.chat.completions.create({ model: 'mixed', ...body }).withResponse();
  assert.equal(data.choices[0].message.content, prompt);
  assert.equal(response.headers.get('x-tollgate-provider'), 'oa');
  assert.equal(response.headers.get('x-tollgate-attempts'), '2');
  // Groq was never called; OpenAI got the field untouched.
  let stats = (await request('GET', `${up.origin}/_stats`)).json;
  assert.deepEqual(stats.last_requests.map((r) => r.path), ['/v1/chat/completions']);
  assert.deepEqual(stats.last_requests[0].body.logit_bias, { 50256: -100 });

  await request('POST', `${up.origin}/_reset`);
  await assert.rejects(client.chat.completions.create({ model: 'groq-only', ...body }), (error) => {
    assert.equal(error.status, 400);
    assert.equal(error.param, 'logit_bias');
    assert.match(error.message, /groq does not support 'logit_bias'; remove it or route this request to another provider/);
    return true;
  });
  stats = (await request('GET', `${up.origin}/_stats`)).json;
  assert.equal(stats.requests, 0);
});

// ---------------------------------------------------------------------------------------------
// Structured output on Anthropic: a JSON response_format becomes a forced tool

test('anthropic: response_format json_schema answers JSON content, non-stream and stream', async () => {
  const prompt = unique_prompt('give me json');
  await request('POST', `${up.origin}/_reset`);
  const response_format = {
    type: 'json_schema',
    json_schema: { name: 'answer', schema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  };
  const messages = [{ role: 'user', content: prompt }];
  const data = await client.chat.completions.create({ model: 'chat-ant', messages, response_format });
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.choices[0].message.tool_calls, undefined);
  // The fake answers a forced tool with {"query": <prompt>}: that object is the content.
  assert.deepEqual(JSON.parse(data.choices[0].message.content), { query: prompt });
  const sent = (await request('GET', `${up.origin}/_stats`)).json.last_requests.at(-1).body;
  assert.deepEqual(sent.tool_choice, { type: 'tool', name: 'json_response' });
  assert.deepEqual(sent.tools.map((t) => [t.name, t.input_schema]), [['json_response', response_format.json_schema.schema]]);

  const chunks = await collect(await client.chat.completions.create({ model: 'chat-ant', messages, response_format, stream: true }));
  assert.deepEqual(JSON.parse(stream_text(chunks)), { query: prompt });
  assert.deepEqual(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean), ['stop']);
  assert.ok(chunks.every((c) => c.choices[0]?.delta?.tool_calls === undefined));
});
