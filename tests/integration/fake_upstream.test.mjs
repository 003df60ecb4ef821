// Tests of tests/upstream/fake_upstream.mjs itself: its OpenAI wire format, scenarios and stats.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { get, post_json, post_stream, read_sse, joined_content, start_upstream, stop_all } from './support.mjs';

let up;

before(async () => { up = await start_upstream(); });
after(stop_all);

const chat = (extra = {}) => ({ model: 'gpt-x', messages: [{ role: 'user', content: 'one two three' }], ...extra });

test('non-stream completion echoes the last user message with usage', async () => {
  const r = await post_json(`${up.base_url()}/chat/completions`, {
    model: 'gpt-y',
    messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'x' },
               { role: 'user', content: [{ type: 'text', text: 'last ' }, { type: 'text', text: 'one' }] }],
  });
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.model, 'gpt-y');
  assert.equal(r.json.choices[0].message.content, 'last one');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  // 3 messages (+1 each) and 1 + 1 + 2 words.
  assert.equal(r.json.usage.prompt_tokens, 7);
  assert.equal(r.json.usage.completion_tokens, 2);
  assert.equal(r.json.usage.total_tokens, 9);
});

test('stream without include_usage: role, one chunk per word, finish, [DONE], no usage', async () => {
  const { res } = await post_stream(`${up.base_url()}/chat/completions`, chat({ stream: true }));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const s = await read_sse(res);
  assert.equal(s.done, true);
  assert.equal(s.chunks.length, 5);
  assert.deepEqual(s.chunks[0].json.choices[0].delta, { role: 'assistant', content: '', refusal: null });
  assert.deepEqual(s.chunks.slice(1, 4).map((c) => c.json.choices[0].delta.content), ['one', ' two', ' three']);
  assert.equal(s.chunks[4].json.choices[0].finish_reason, 'stop');
  assert.ok(s.chunks.every((c) => !('usage' in c.json)));
  assert.equal(joined_content(s.chunks), 'one two three');
});

test('stream with include_usage ends with a usage chunk with no choices', async () => {
  const { res } = await post_stream(`${up.base_url()}/chat/completions`,
    chat({ stream: true, stream_options: { include_usage: true } }));
  const s = await read_sse(res);
  assert.equal(s.done, true);
  const last = s.chunks[s.chunks.length - 1].json;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 4);
  assert.equal(last.usage.completion_tokens, 3);
  assert.ok(s.chunks.slice(0, -1).every((c) => c.json.usage === null));
});

test('scripted status carries an OpenAI error body and retry-after', async () => {
  const r = await post_json(`${up.base_url('status=429,retry_after=2')}/chat/completions`, chat());
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '2');
  assert.deepEqual(r.json, { error: { message: 'fake_upstream: scripted status 429', type: 'requests',
                                      param: null, code: 'rate_limit_exceeded' } });
});

test('fail_first fails only the first N requests on its path', async () => {
  const url = `${up.base_url('fail_first=1,status=503')}/chat/completions`;
  assert.equal((await post_json(url, chat())).status, 503);
  assert.equal((await post_json(url, chat())).status, 200);
});

test('unknown directive answers 400 naming it', async () => {
  const r = await post_json(`${up.base_url('bogus=1')}/chat/completions`, chat());
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /bogus=1/);
});

test('request errors: invalid JSON and missing messages', async () => {
  const bad = await post_json(`${up.base_url()}/chat/completions`, '{"model":');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.type, 'invalid_request_error');
  const missing = await post_json(`${up.base_url()}/chat/completions`, { model: 'gpt-x' });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error.param, 'messages');
});

test('break_after=2 sends two chunks then drops the connection', async () => {
  const { res } = await post_stream(`${up.base_url('break_after=2')}/chat/completions`, chat({ stream: true }));
  const s = await read_sse(res);
  assert.equal(s.chunks.length, 2);
  assert.equal(s.done, false);
  assert.notEqual(s.error, null);
});

test('reset drops the connection without an answer; hang never answers', async () => {
  await assert.rejects(post_json(`${up.base_url('reset')}/chat/completions`, chat()));
  const started = Date.now();
  await assert.rejects(fetch(`${up.base_url('hang')}/chat/completions`, {
    method: 'POST', body: JSON.stringify(chat()), signal: AbortSignal.timeout(300),
  }), { name: 'TimeoutError' });
  assert.ok(Date.now() - started >= 290);
});

test('latency delays the head and chunk_delay spaces the chunks', async () => {
  const t0 = performance.now();
  const r = await get(`${up.base_url('latency=300ms')}/models`);
  assert.equal(r.status, 200);
  assert.ok(performance.now() - t0 >= 290);
  assert.deepEqual(r.json.data.map((m) => m.id).slice(0, 2), ['gpt-x', 'gpt-y']);

  const { res } = await post_stream(`${up.base_url('chunk_delay=100ms')}/chat/completions`, chat({ stream: true }));
  const s = await read_sse(res);
  assert.ok(s.chunks[4].at - s.chunks[0].at >= 350, `spread ${s.chunks[4].at - s.chunks[0].at} ms`);
});

test('reply, no_usage and max_tokens', async () => {
  const r = await post_json(`${up.base_url('reply=a+b+c,no_usage')}/chat/completions`, chat({ max_tokens: 2 }));
  assert.equal(r.json.choices[0].message.content, 'a b');
  assert.equal(r.json.choices[0].finish_reason, 'length');
  assert.equal(r.json.usage, undefined);
});

test('/_stats records paths, headers and bodies; /_reset clears them', async () => {
  await up.reset();
  await post_json(`${up.base_url('id=stats')}/chat/completions`, chat({ extra_field: [1] }),
    { authorization: 'Bearer sk-x' });
  const stats = await up.stats();
  assert.equal(stats.requests, 1);
  assert.deepEqual(stats.by_path, { [up.chat_path('id=stats')]: 1 });
  const [logged] = stats.last_requests;
  assert.equal(logged.method, 'POST');
  assert.equal(logged.headers.authorization, 'Bearer sk-x');
  assert.deepEqual(logged.body.extra_field, [1]);
  await up.reset();
  assert.deepEqual(await up.stats(), { requests: 0, by_path: {}, last_requests: [] });
});

test('Anthropic Messages: echo with usage, max_tokens required and cut, Anthropic error shapes', async () => {
  const messages = (body, scenario = '') => post_json(`${up.base_url(scenario)}/messages`, body);
  const body = { model: 'claude-x', max_tokens: 50, system: 'be brief',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'one two three' }] }] };
  const r = await messages(body);
  assert.equal(r.status, 200);
  assert.equal(r.json.type, 'message');
  assert.deepEqual(r.json.content, [{ type: 'text', text: 'one two three' }]);
  assert.equal(r.json.stop_reason, 'end_turn');
  assert.deepEqual(r.json.usage, { input_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
    output_tokens: 3 });
  const cut = await messages({ ...body, max_tokens: 2 });
  assert.equal(cut.json.stop_reason, 'max_tokens');
  assert.equal(cut.json.content[0].text, 'one two');
  const missing = await messages({ model: 'claude-x', messages: [] });
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.json, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } });
  const overloaded = await messages(body, 'status=529');
  assert.equal(overloaded.status, 529);
  assert.equal(overloaded.json.error.type, 'overloaded_error');
});

test('Anthropic Messages stream: every event type in order; a tool_use block streams input_json_delta', async () => {
  const open = async (scenario, extra) => {
    const { res } = await post_stream(`${up.base_url(scenario)}/messages`, {
      model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'one two' }], ...extra });
    assert.equal(res.status, 200);
    return (await read_sse(res)).events.map((e) => e.json);
  };
  const text = await open('', {});
  assert.deepEqual(text.map((e) => e.type), ['message_start', 'content_block_start', 'ping', 'content_block_delta',
    'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  assert.equal(text[3].delta.text + text[4].delta.text, 'one two');
  assert.equal(text[6].delta.stop_reason, 'end_turn');
  const tool = await open('tool_call=lookup', { tools: [{ name: 'lookup', input_schema: { type: 'object' } }] });
  assert.equal(tool[1].content_block.type, 'tool_use');
  assert.equal(tool[1].content_block.name, 'lookup');
  const json = tool.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
  assert.deepEqual(JSON.parse(json), { query: 'one two' });
  assert.equal(tool.find((e) => e.type === 'message_delta').delta.stop_reason, 'tool_use');
  const broken = await open('error_after=3', {});
  assert.equal(broken.at(-1).type, 'error');
  assert.equal(broken.at(-1).error.type, 'overloaded_error');
});
