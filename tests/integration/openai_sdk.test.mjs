// The official OpenAI Node client, unmodified, against tollgate: completions, streams, usage, typed errors.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import OpenAI from 'openai';

import { kSecret, start_tollgate, start_upstream, stop_all, unique_prompt } from './support.mjs';

let up;
let gw;
let client;

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({
    config: {
      providers: [
        { id: 'up-a', type: 'openai', base_url: up.base_url('id=sdk-a'), keys: [kSecret] },
        { id: 'up-400', type: 'openai', base_url: up.base_url('status=400,id=sdk-400'), keys: [kSecret] },
      ],
      models: [
        { name: 'chat', deployments: [{ provider: 'up-a', model: 'gpt-y' }] },
        { name: 'refused', deployments: [{ provider: 'up-400', model: 'gpt-y' }] },
      ],
      routing: { strategy: 'priority', first_byte_timeout: '2s', stream_idle_timeout: '2s' },
      cache: { mode: 'off' },
    },
  });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 10_000 });
});

after(stop_all);

const user = (content) => [{ role: 'user', content }];

test('chat.completions.create, non-stream', async () => {
  const prompt = unique_prompt('sdk non stream');
  const completion = await client.chat.completions.create({ model: 'chat', messages: user(prompt) });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices[0].message.content, prompt);
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.equal(completion.usage.completion_tokens, prompt.split(' ').length);
});

test('withResponse exposes the tollgate headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'chat', messages: user(unique_prompt('sdk headers')) })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(response.headers.get('x-tollgate-provider'), 'up-a');
  assert.equal(response.headers.get('x-tollgate-model'), 'gpt-y');
});

test('stream: true yields chunks whose content joins to the reply', async () => {
  const prompt = unique_prompt('sdk stream of words');
  const stream = await client.chat.completions.create({ model: 'chat', messages: user(prompt), stream: true });
  let content = '';
  let count = 0;
  let usage_seen = false;
  for await (const chunk of stream) {
    count += 1;
    content += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage_seen = true;
  }
  assert.equal(content, prompt);
  assert.equal(count, prompt.split(' ').length + 2);
  assert.equal(usage_seen, false);
});

test('stream_options.include_usage: the final chunk has usage', async () => {
  const prompt = unique_prompt('sdk usage');
  const stream = await client.chat.completions.create({
    model: 'chat', messages: user(prompt), stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, prompt.split(' ').length);
  assert.equal(last.usage.prompt_tokens, prompt.split(' ').length + 1);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), prompt);
});

test('an unknown model surfaces as NotFoundError (an APIError with status 404)', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: user('hi') }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.ok(e instanceof OpenAI.APIError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
});

test('an upstream 400 surfaces as BadRequestError with the upstream message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'refused', messages: user(unique_prompt()) }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.match(e.message, /fake_upstream: scripted status 400/);
      return true;
    });
});

test('models.list returns the configured names', async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids.sort(), ['chat', 'refused']);
});
