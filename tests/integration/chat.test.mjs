// Chat completions through tollgate: pass-through, response headers, streaming chunk by chunk, usage chunk.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  issued_prompts, joined_content, kSecret, post_json, post_stream, read_sse, start_tollgate, start_upstream, stop_all,
  unique_prompt,
} from './support.mjs';

const kFast = 'id=chat-a';
const kSlow = 'chunk_delay=200ms,id=chat-slow';

let up;
let gw;

before(async () => {
  up = await start_upstream();
  gw = await start_tollgate({
    config: {
      server: { max_body_bytes: '64KiB' },
      providers: [
        { id: 'up-a', type: 'openai', base_url: up.base_url(kFast), keys: [kSecret] },
        { id: 'up-slow', type: 'openai', base_url: up.base_url(kSlow), keys: [kSecret] },
      ],
      models: [
        { name: 'chat', deployments: [{ provider: 'up-a', model: 'gpt-y' }] },
        { name: 'slow', deployments: [{ provider: 'up-slow', model: 'gpt-x' }] },
      ],
      routing: { strategy: 'priority', first_byte_timeout: '2s', stream_idle_timeout: '2s' },
      cache: { mode: 'off' },
      dedup: { enabled: false },
    },
  });
});

after(stop_all);

async function last_upstream_request(scenario) {
  const stats = await up.stats();
  const mine = stats.last_requests.filter((r) => r.path === up.chat_path(scenario));
  assert.ok(mine.length > 0, `the upstream saw no request on ${up.chat_path(scenario)}: ${JSON.stringify(stats.by_path)}`);
  return mine[mine.length - 1];
}

const words = (text) => text.trim().split(/\s+/).length;

test('non-streaming completion: body echoed, headers, usage, request rewritten for the deployment', async () => {
  const prompt = unique_prompt('non streaming echo');
  const messages = [{ role: 'system', content: 'be brief' }, { role: 'user', content: prompt }];
  const r = await post_json(`${gw.url}/v1/chat/completions`, {
    model: 'chat', messages, temperature: 0.25, user: 'user-7', x_unknown_field: { nested: [1, 'two'] },
  }, { 'x-request-id': 'it-req-0001' });

  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.choices[0].message.role, 'assistant');
  assert.equal(r.json.choices[0].message.content, prompt);
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  const prompt_tokens = (2 + 1) + (words(prompt) + 1);  // the fake upstream's count: words + 1 per message
  assert.equal(r.json.usage.prompt_tokens, prompt_tokens);
  assert.equal(r.json.usage.completion_tokens, words(prompt));
  assert.equal(r.json.usage.total_tokens, prompt_tokens + words(prompt));

  assert.equal(r.headers.get('x-request-id'), 'it-req-0001');
  assert.equal(r.headers.get('x-tollgate-provider'), 'up-a');
  assert.equal(r.headers.get('x-tollgate-model'), 'gpt-y');
  assert.equal(r.headers.get('x-tollgate-attempts'), '1');

  const sent = await last_upstream_request(kFast);
  assert.equal(sent.method, 'POST');
  assert.equal(sent.headers.authorization, `Bearer ${kSecret}`);
  assert.equal(sent.headers['x-request-id'], 'it-req-0001', 'the request id is propagated upstream');
  assert.equal(sent.body.model, 'gpt-y');
  assert.deepEqual(sent.body.messages, messages);
  assert.equal(sent.body.temperature, 0.25);
  assert.equal(sent.body.user, 'user-7');
  assert.deepEqual(sent.body.x_unknown_field, { nested: [1, 'two'] });
});

test('a request without x-request-id gets a generated one, distinct per request', async () => {
  const body = (p) => ({ model: 'chat', messages: [{ role: 'user', content: p }] });
  const a = await post_json(`${gw.url}/v1/chat/completions`, body(unique_prompt()));
  const b = await post_json(`${gw.url}/v1/chat/completions`, body(unique_prompt()));
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  const id_a = a.headers.get('x-request-id');
  const id_b = b.headers.get('x-request-id');
  assert.ok(id_a && id_a.length >= 8, `x-request-id: ${id_a}`);
  assert.notEqual(id_a, id_b);
});

test('streamed completion arrives chunk by chunk and ends with [DONE]', async () => {
  // 5 words: role chunk, 5 word chunks, finish chunk, each 200 ms apart upstream.
  const prompt = unique_prompt('alpha beta gamma delta');
  const { res, sent_at } = await post_stream(`${gw.url}/v1/chat/completions`,
    { model: 'slow', stream: true, messages: [{ role: 'user', content: prompt }] });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(res.headers.get('x-tollgate-provider'), 'up-slow');
  assert.equal(res.headers.get('x-tollgate-model'), 'gpt-x');
  assert.ok(res.headers.get('x-request-id'));

  const s = await read_sse(res);
  assert.equal(s.error, null, `stream error: ${s.error}`);
  assert.equal(s.done, true, 'the stream must end with data: [DONE]');
  assert.equal(s.events[s.events.length - 1].data, '[DONE]');
  assert.equal(joined_content(s.chunks), prompt);
  assert.equal(s.chunks.length, 7);
  for (const c of s.chunks) assert.equal(c.json.object, 'chat.completion.chunk');

  const first = s.chunks[0].at - sent_at;
  const last = s.chunks[s.chunks.length - 1].at - sent_at;
  // Upstream sends the last chunk 1.2 s after the first: a buffering gateway would deliver them together.
  assert.ok(last - first >= 900, `first chunk at ${first.toFixed(0)} ms, last at ${last.toFixed(0)} ms`);
  const gaps = s.chunks.slice(1).map((c, i) => c.at - s.chunks[i].at);
  assert.ok(gaps.filter((g) => g >= 120).length >= 5, `gaps between chunks (ms): ${gaps.map((g) => g.toFixed(0))}`);
});

test('usage chunk is stripped when the client did not ask, while the upstream was asked for it', async () => {
  const prompt = unique_prompt('strip the usage');
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`,
    { model: 'chat', stream: true, messages: [{ role: 'user', content: prompt }] });
  assert.equal(res.status, 200);
  const s = await read_sse(res);
  assert.equal(s.done, true);
  assert.equal(joined_content(s.chunks), prompt);
  assert.equal(s.chunks.filter((c) => Array.isArray(c.json.choices) && c.json.choices.length === 0).length, 0,
    'no chunk with choices: [] may reach a client that did not ask for usage');
  // As OpenAI does for a client that did not ask: no `usage` field at all, not even null.
  assert.ok(s.chunks.every((c) => !('usage' in c.json)),
    `a chunk carried a usage field: ${s.events.map((e) => e.data).join('\n')}`);

  const sent = await last_upstream_request(kFast);
  assert.equal(sent.body.stream, true);
  assert.equal(sent.body.stream_options?.include_usage, true);
});

test('usage chunk is kept, with the tollgate object, when the client asked for it', async () => {
  const prompt = unique_prompt('keep the usage');
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`, {
    model: 'chat', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: prompt }],
  }, { 'x-request-id': 'it-req-usage' });
  assert.equal(res.status, 200);
  const s = await read_sse(res);
  assert.equal(s.done, true);
  assert.equal(joined_content(s.chunks), prompt);

  const last = s.chunks[s.chunks.length - 1].json;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, words(prompt) + 1);
  assert.equal(last.usage.completion_tokens, words(prompt));
  assert.equal(last.usage.total_tokens, 2 * words(prompt) + 1);
  assert.equal(typeof last.tollgate, 'object', `final chunk: ${JSON.stringify(last)}`);
  assert.equal(last.tollgate.request_id, 'it-req-usage');
  assert.equal(last.tollgate.provider, 'up-a');
  assert.equal(last.tollgate.model, 'gpt-y');
  assert.equal(Number(last.tollgate.attempts), 1);

  const sent = await last_upstream_request(kFast);
  assert.equal(sent.body.stream_options?.include_usage, true);
});

test('neither the configured key nor a prompt appears in tollgate output, and SIGTERM exits 0', async () => {
  const { code } = await gw.stop();
  assert.equal(code, 0, `exit code ${code}; output:\n${gw.output()}`);
  assert.ok(gw.output().length > 0, 'tollgate printed nothing at all');
  assert.ok(!gw.output().includes(kSecret), `the secret appears in tollgate's output:\n${gw.output()}`);
  const prompts = issued_prompts();
  assert.ok(prompts.length >= 5);
  for (const prompt of prompts) {
    assert.ok(!gw.output().includes(prompt), `a prompt appears in tollgate's output (log_bodies is off): ${prompt}`);
  }
});
