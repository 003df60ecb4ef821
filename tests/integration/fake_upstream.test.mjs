// Tests of tests/upstream/fake_upstream.mjs itself: its OpenAI, Azure, Anthropic and Gemini formats, scenarios and stats.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { get, kRepoRoot, post_json, post_stream, read_sse, joined_content, start_upstream, stop_all } from './support.mjs';

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

// ---------------------------------------------------------------------------------------------
// Tool calls on the OpenAI and Anthropic routes

const kTools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];

test('OpenAI tool_call: one call with the last user text as query, finish_reason tool_calls, usage 1 + words', async () => {
  const r = await post_json(`${up.base_url('tool_call=lookup')}/chat/completions`, chat({ tools: kTools }));
  assert.equal(r.status, 200);
  const [choice] = r.json.choices;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.role, 'assistant');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const [call] = choice.message.tool_calls;
  assert.match(call.id, /^call_fake\d+$/);
  assert.equal(call.type, 'function');
  assert.deepEqual(call.function, { name: 'lookup', arguments: '{"query":"one two three"}' });
  assert.equal(r.json.usage.prompt_tokens, 4);
  assert.equal(r.json.usage.completion_tokens, 4);
  // Without tools the directive does nothing.
  const plain = await post_json(`${up.base_url('tool_call=lookup')}/chat/completions`, chat());
  assert.equal(plain.json.choices[0].message.content, 'one two three');
  assert.equal(plain.json.choices[0].finish_reason, 'stop');
});

test('OpenAI tool_call,parallel: two calls; a conversation ending in tool results gets their echo', async () => {
  const url = `${up.base_url('tool_call=lookup,parallel')}/chat/completions`;
  const first = await post_json(url, chat({ tools: kTools }));
  const calls = first.json.choices[0].message.tool_calls;
  assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments)),
    [{ query: 'one two three' }, { query: 'one two three', n: 2 }]);
  assert.notEqual(calls[0].id, calls[1].id);
  assert.equal(first.json.usage.completion_tokens, 8);
  const second = await post_json(url, chat({
    tools: kTools,
    messages: [{ role: 'user', content: 'one two three' }, first.json.choices[0].message,
               { role: 'tool', tool_call_id: calls[0].id, content: 'sunny 20C' },
               { role: 'tool', tool_call_id: calls[1].id, content: [{ type: 'text', text: 'rain' }] }],
  }));
  assert.equal(second.json.choices[0].message.content, 'sunny 20C\nrain');
  assert.equal(second.json.choices[0].finish_reason, 'stop');
  // 4 messages (+1 each): 3 + 0 + 2 + 1 words.
  assert.equal(second.json.usage.prompt_tokens, 10);
  assert.equal(second.json.usage.completion_tokens, 3);
});

test('OpenAI tool_call stream: head with id and name, argument pieces of 8 characters, finish, usage', async () => {
  const { res } = await post_stream(`${up.base_url('tool_call=lookup,parallel')}/chat/completions`,
    chat({ stream: true, stream_options: { include_usage: true }, tools: kTools }));
  const s = await read_sse(res);
  assert.equal(s.done, true);
  const deltas = s.chunks.filter((c) => c.json.choices.length).map((c) => c.json.choices[0].delta);
  assert.equal(deltas[0].role, 'assistant');
  assert.equal(deltas[0].content, null);
  assert.deepEqual(Object.keys(deltas[0].tool_calls[0]), ['index', 'id', 'type', 'function']);
  assert.deepEqual(deltas[0].tool_calls[0].function, { name: 'lookup', arguments: '' });
  const args = [0, 1].map((index) => deltas.flatMap((d) => d.tool_calls ?? [])
    .filter((t) => t.index === index).map((t) => t.function.arguments).join(''));
  assert.deepEqual(JSON.parse(args[0]), { query: 'one two three' });
  assert.deepEqual(JSON.parse(args[1]), { query: 'one two three', n: 2 });
  const pieces = deltas.flatMap((d) => d.tool_calls ?? []).filter((t) => t.id === undefined);
  assert.ok(pieces.every((t) => t.function.arguments.length <= 8 && t.function.arguments.length > 0));
  assert.equal(pieces[0].function.arguments, '{"query"');
  const head1 = deltas.find((d) => d.tool_calls?.[0].index === 1 && d.tool_calls[0].id);
  assert.equal(head1.role, undefined);
  assert.equal(s.chunks.at(-2).json.choices[0].finish_reason, 'tool_calls');
  assert.equal(s.chunks.at(-1).json.usage.completion_tokens, 8);
});

test('Anthropic tool_call,parallel: two tool_use blocks; tool_result blocks are echoed; x-api-key is read', async () => {
  const url = `${up.base_url('tool_call=lookup,parallel,require_key=ak-1')}/messages`;
  const tools = [{ name: 'lookup', input_schema: { type: 'object' } }];
  const body = { model: 'claude-x', max_tokens: 50, tools, messages: [{ role: 'user', content: 'one two' }] };
  const denied = await post_json(url, body, { 'x-api-key': 'ak-2' });
  assert.equal(denied.status, 401);
  assert.deepEqual(denied.json, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
  const r = await post_json(url, body, { 'x-api-key': 'ak-1' });
  assert.equal(r.status, 200);
  assert.equal(r.json.stop_reason, 'tool_use');
  assert.deepEqual(r.json.content.map((b) => [b.type, b.name, b.input]),
    [['tool_use', 'lookup', { query: 'one two' }], ['tool_use', 'lookup', { query: 'one two', n: 2 }]]);
  assert.equal(r.json.usage.output_tokens, 6);
  const [a, b] = r.json.content;
  const round = await post_json(url, { ...body, messages: [...body.messages, { role: 'assistant', content: r.json.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: a.id, content: 'sunny' },
                              { type: 'tool_result', tool_use_id: b.id,
                                content: [{ type: 'text', text: 'rain now' }] }] }] },
  { 'x-api-key': 'ak-1' });
  assert.deepEqual(round.json.content, [{ type: 'text', text: 'sunny\nrain now' }]);
  assert.equal(round.json.stop_reason, 'end_turn');
  // 3 messages (+1 each): 2 + 0 + 3 words.
  assert.equal(round.json.usage.input_tokens, 8);
});

// ---------------------------------------------------------------------------------------------
// Gemini

const fixture = (name) => JSON.parse(fs.readFileSync(path.join(kRepoRoot, 'tests', 'fixtures', 'gemini', name), 'utf8'));
const gemini = (scenario = '', version = 'v1beta') =>
  (scenario ? `${up.origin}/scenario/${scenario}/${version}` : `${up.origin}/${version}`);
const contents = (text = 'one two three') => ({ contents: [{ role: 'user', parts: [{ text }] }] });
const kDeclarations = [{ functionDeclarations: [{ name: 'lookup', parameters: { type: 'object' } }] }];
const kOverloaded = {
  error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' },
};
const invalid_argument = (message) => ({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } });
/// POSTs a generateContent request to the Gemini route of `scenario`.
const generate = (scenario, body, model = 'gemini-x') =>
  post_json(`${gemini(scenario)}/models/${model}:generateContent`, body);

test('Gemini generateContent: echo, usage counted as on the OpenAI route, modelVersion, maxOutputTokens', async () => {
  const r = await post_json(`${gemini()}/models/gemini-2.0-flash:generateContent`, {
    systemInstruction: { parts: [{ text: 'be brief' }] },
    contents: [{ role: 'user', parts: [{ text: 'first' }] }, { role: 'model', parts: [{ text: 'x' }] },
               { role: 'user', parts: [{ text: 'last ' }, { text: 'one' }] }],
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.candidates,
    [{ content: { parts: [{ text: 'last one' }], role: 'model' }, finishReason: 'STOP', index: 0 }]);
  // As the OpenAI route counts [system, user, assistant, user]: 4 turns (+1 each), 2 + 1 + 1 + 2 words.
  assert.deepEqual(r.json.usageMetadata, { promptTokenCount: 10, candidatesTokenCount: 2, totalTokenCount: 12,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: 10 }] });
  assert.equal(r.json.modelVersion, 'gemini-2.0-flash');
  assert.match(r.json.responseId, /^gfake\d+$/);
  const openai = await post_json(`${up.base_url()}/chat/completions`, { model: 'gpt-x', messages: [
    { role: 'system', content: 'be brief' }, { role: 'user', content: 'first' }, { role: 'assistant', content: 'x' },
    { role: 'user', content: 'last one' }] });
  assert.equal(openai.json.usage.prompt_tokens, r.json.usageMetadata.promptTokenCount);

  const cut = await post_json(`${gemini('', 'v1')}/models/gemini-x:generateContent`,
    { ...contents(), generationConfig: { maxOutputTokens: 2 } });
  assert.equal(cut.status, 200);
  assert.equal(cut.json.candidates[0].content.parts[0].text, 'one two');
  assert.equal(cut.json.candidates[0].finishReason, 'MAX_TOKENS');
  assert.equal(cut.json.usageMetadata.candidatesTokenCount, 2);
  // The colon percent-encoded, a missing role (a user) and reply=TEXT.
  const encoded = await post_json(`${gemini('reply=a+b')}/models/gemini-x%3AgenerateContent`,
    { contents: [{ parts: [{ text: 'q' }] }] });
  assert.equal(encoded.json.candidates[0].content.parts[0].text, 'a b');
});

test('Gemini request errors: invalid JSON, no contents (the fixture), a bad role, empty parts, unknown field', async () => {
  const url = `${gemini()}/models/gemini-x:generateContent`;
  const bad = await post_json(url, '{"contents":');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, invalid_argument('Invalid JSON payload received. Unexpected token.'));
  const missing = await post_json(url, {});
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.json, fixture('error_400.json'));
  assert.deepEqual((await post_json(url, { contents: [] })).json, fixture('error_400.json'));
  const role = await post_json(url, { contents: [{ role: 'system', parts: [{ text: 'x' }] }] });
  assert.equal(role.status, 400);
  assert.deepEqual(role.json, invalid_argument('Please use a valid role: user, model.'));
  const assistant = await post_json(url, { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] });
  assert.equal(assistant.json.error.message, 'Please use a valid role: user, model.');
  const empty = await post_json(url, { contents: [{ role: 'user', parts: [] }] });
  assert.equal(empty.json.error.message, '* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n');
  const unknown = await post_json(url, { ...contents(), messages: [] });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.error.message, 'Invalid JSON payload received. Unknown name "messages": Cannot find field.');
  // snake_case names are accepted, as proto3 JSON does.
  const snake = await post_json(url, { ...contents(), generation_config: { max_output_tokens: 1 } });
  assert.equal(snake.json.candidates[0].finishReason, 'MAX_TOKENS');
});

test('Gemini stream with alt=sse: CRLF events, one per word, partial usage, finishReason and counts last', async () => {
  const { res } = await post_stream(`${gemini('thoughts=5')}/models/gemini-x:streamGenerateContent?alt=sse`, contents());
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const raw = await res.text();
  const blocks = raw.split('\r\n\r\n');
  assert.equal(blocks.at(-1), '');
  assert.equal(blocks.length, 4);
  const events = blocks.slice(0, -1).map((b) => { assert.match(b, /^data: \{/); return JSON.parse(b.slice(6)); });
  assert.deepEqual(events.map((e) => e.candidates[0].content.parts[0].text), ['one', ' two', ' three']);
  assert.deepEqual(events.map((e) => e.candidates[0].finishReason), [undefined, undefined, 'STOP']);
  assert.deepEqual(events[0].usageMetadata, { promptTokenCount: 4, totalTokenCount: 9, thoughtsTokenCount: 5 });
  assert.deepEqual(events[2].usageMetadata, { promptTokenCount: 4, candidatesTokenCount: 3, totalTokenCount: 12,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: 4 }], thoughtsTokenCount: 5 });
  assert.ok(events.every((e) => e.candidates[0].content.role === 'model' && e.candidates[0].index === 0 &&
                                e.modelVersion === 'gemini-x' && e.responseId === events[0].responseId));
  // read_sse (what the tollgate tests use) parses the same stream.
  const { res: again } = await post_stream(`${gemini('no_usage')}/models/gemini-x:streamGenerateContent?alt=sse`,
    contents());
  const s = await read_sse(again);
  assert.equal(s.chunks.length, 3);
  assert.ok(s.chunks.every((c) => !('usageMetadata' in c.json)));
});

test('Gemini stream without alt=sse answers one JSON array', async () => {
  const r = await post_json(`${gemini()}/models/gemini-x:streamGenerateContent`, contents('one two'));
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.match(r.text, /^\[\{.*\},\r\n\{.*\}\]$/s);
  assert.deepEqual(r.json.map((e) => e.candidates[0].content.parts[0].text), ['one', ' two']);
  assert.equal(r.json[1].candidates[0].finishReason, 'STOP');
  const broken = await post_json(`${gemini('error_after=1')}/models/gemini-x:streamGenerateContent`, contents('one two'));
  assert.equal(broken.json.length, 2);
  assert.deepEqual(broken.json[1], kOverloaded);
});

test('Gemini stream faults: error_after sends an in-band UNAVAILABLE error, break_after drops, garbage', async () => {
  const open = async (scenario) => {
    const { res } = await post_stream(`${gemini(scenario)}/models/gemini-x:streamGenerateContent?alt=sse`, contents());
    assert.equal(res.status, 200);
    return read_sse(res);
  };
  const errored = await open('error_after=2');
  assert.equal(errored.events.length, 3);
  assert.equal(errored.error, null);
  assert.deepEqual(errored.events[2].json, kOverloaded);
  const broken = await open('break_after=1');
  assert.equal(broken.events.length, 1);
  assert.notEqual(broken.error, null);
  const garbage = await open('garbage');
  assert.equal(garbage.events.length, 2);
  assert.ok(garbage.events.every((e) => e.json === undefined));
  const half = await fetch(`${gemini('break_after=0')}/models/gemini-x:generateContent`,
    { method: 'POST', body: JSON.stringify(contents()) });
  await assert.rejects(half.text());
});

test('Gemini tool_call: functionCall parts with finishReason STOP, streamed whole; functionResponse is echoed', async () => {
  const url = `${gemini('tool_call=lookup,parallel')}/models/gemini-x`;
  const r = await post_json(`${url}:generateContent`, { ...contents('one two'), tools: kDeclarations });
  assert.deepEqual(r.json.candidates, [{ content: { parts: [
    { functionCall: { name: 'lookup', args: { query: 'one two' } } },
    { functionCall: { name: 'lookup', args: { query: 'one two', n: 2 } } }], role: 'model' },
  finishReason: 'STOP', index: 0 }]);
  assert.equal(r.json.usageMetadata.candidatesTokenCount, 6);
  const { res } = await post_stream(`${url}:streamGenerateContent?alt=sse`,
    { ...contents('one two'), tools: kDeclarations });
  const s = await read_sse(res);
  assert.equal(s.chunks.length, 1);
  assert.deepEqual(s.chunks[0].json.candidates, r.json.candidates);
  assert.equal(s.chunks[0].json.usageMetadata.totalTokenCount, 3 + 6);

  const round = await post_json(`${url}:generateContent`, { tools: kDeclarations, contents: [
    { role: 'user', parts: [{ text: 'one two' }] }, r.json.candidates[0].content,
    { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { result: 'sunny 20C' } } },
                            { functionResponse: { name: 'lookup', response: { temp: 20 } } }] }] });
  assert.equal(round.json.candidates[0].content.parts[0].text, 'sunny 20C\n{"temp":20}');
  assert.equal(round.json.candidates[0].finishReason, 'STOP');
  // 3 turns (+1 each): 2 + 0 + (2 + 1) words.
  assert.equal(round.json.usageMetadata.promptTokenCount, 8);
  const content = await post_json(`${gemini()}/models/gemini-x:generateContent`, { contents: [
    { role: 'user', parts: [{ functionResponse: { name: 'f', response: { content: 'from content' } } }] }] });
  assert.equal(content.json.candidates[0].content.parts[0].text, 'from content');
  // Without functionDeclarations the directive does nothing.
  const plain = await post_json(`${url}:generateContent`, contents('one two'));
  assert.equal(plain.json.candidates[0].content.parts[0].text, 'one two');
});

test('Gemini block=prompt, block=response and thoughts', async () => {
  const prompt = await post_json(`${gemini('block=prompt')}/models/gemini-x:generateContent`, contents());
  assert.equal(prompt.status, 200);
  assert.equal(prompt.json.candidates, undefined);
  const blocked = fixture('generate_content_blocked.json');
  assert.deepEqual(prompt.json.promptFeedback, blocked.promptFeedback);
  assert.deepEqual(prompt.json.usageMetadata, { promptTokenCount: 4, totalTokenCount: 4 });
  const response = await post_json(`${gemini('block=response')}/models/gemini-x:generateContent`, contents());
  const [candidate] = response.json.candidates;
  assert.equal(candidate.finishReason, 'SAFETY');
  assert.equal(candidate.content, undefined);
  assert.deepEqual(candidate.safetyRatings.filter((r) => r.blocked),
    [{ category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'HIGH', blocked: true }]);
  const { res } = await post_stream(`${gemini('block=response')}/models/gemini-x:streamGenerateContent?alt=sse`, contents());
  const s = await read_sse(res);
  assert.equal(s.chunks.length, 1);
  assert.equal(s.chunks[0].json.candidates[0].finishReason, 'SAFETY');
  const thoughts = await post_json(`${gemini('thoughts=7')}/models/gemini-x:generateContent`, contents());
  assert.equal(thoughts.json.usageMetadata.thoughtsTokenCount, 7);
  assert.equal(thoughts.json.usageMetadata.totalTokenCount, 4 + 3 + 7);
  assert.equal((await post_json(`${gemini('block=all')}/models/gemini-x:generateContent`, contents())).status, 400);
});

test('Gemini scripted errors: Google status names, 429 RetryInfo, context overflow, code=C', async () => {
  const expected = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED',
    500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };
  for (const [status, name] of Object.entries(expected)) {
    const r = await post_json(`${gemini(`status=${status}`)}/models/gemini-x:generateContent`, contents());
    assert.equal(r.status, Number(status));
    assert.equal(r.json.error.code, Number(status));
    assert.equal(r.json.error.status, name);
    assert.equal(r.json.error.message, `fake_upstream: scripted status ${status}`);
  }
  const limited = await post_json(`${gemini('status=429,retry_after=2')}/models/gemini-x:generateContent`, contents());
  assert.equal(limited.headers.get('retry-after'), '2');
  assert.deepEqual(limited.json.error.details.map((d) => d['@type']),
    ['type.googleapis.com/google.rpc.QuotaFailure', 'type.googleapis.com/google.rpc.RetryInfo']);
  assert.equal(limited.json.error.details[1].retryDelay, '2s');
  assert.equal(limited.json.error.details[0].violations[0].quotaDimensions.model, 'gemini-x');
  const plain429 = await post_json(`${gemini('status=429')}/models/gemini-x:streamGenerateContent?alt=sse`, contents());
  assert.equal(plain429.headers.get('retry-after'), null);
  assert.equal(plain429.json.error.details.length, 1);
  const overflow = await generate('status=400,code=context_length_exceeded', contents());
  assert.deepEqual(overflow.json, { error: { code: 400, status: 'INVALID_ARGUMENT',
    message: 'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).' } });
  const named = await generate('status=400,code=FAILED_PRECONDITION', contents());
  assert.equal(named.json.error.status, 'FAILED_PRECONDITION');
  const first = `${gemini('fail_first=1,status=503,id=gff')}/models/gemini-x:generateContent`;
  assert.equal((await post_json(first, contents())).json.error.status, 'UNAVAILABLE');
  assert.equal((await post_json(first, contents())).status, 200);
});

test('Gemini keys: x-goog-api-key or ?key=; a wrong key is the fixture\'s 400 API_KEY_INVALID, none a 403', async () => {
  const url = `${gemini('require_key=gk-1')}/models/gemini-x:generateContent`;
  assert.equal((await post_json(url, contents(), { 'x-goog-api-key': 'gk-1' })).status, 200);
  assert.equal((await post_json(`${url}?key=gk-1`, contents())).status, 200);
  const wrong = await post_json(url, contents(), { 'x-goog-api-key': 'gk-2' });
  assert.equal(wrong.status, 400);
  assert.deepEqual(wrong.json, fixture('error_400_key.json'));
  assert.deepEqual((await post_json(`${url}?key=gk-2`, contents())).json, fixture('error_400_key.json'));
  // A Bearer token is not how Gemini takes a key.
  const none = await post_json(url, contents(), { authorization: 'Bearer gk-1' });
  assert.equal(none.status, 403);
  assert.equal(none.json.error.status, 'PERMISSION_DENIED');
  assert.match(none.json.error.message, /^Method doesn't allow unregistered callers/);
  const pool = `${gemini('status=429,only_key=gk-1')}/models/gemini-x:generateContent`;
  assert.equal((await post_json(pool, contents(), { 'x-goog-api-key': 'gk-1' })).status, 429);
  assert.equal((await post_json(pool, contents(), { 'x-goog-api-key': 'gk-2' })).status, 200);
  assert.equal((await post_json(`${pool}?key=gk-1`, contents())).status, 429);
});

test('Gemini embedContent and batchEmbedContents: OpenAI\'s vectors, outputDimensionality, model check', async () => {
  const text = 'Hello, embedding world';
  const openai = await post_json(`${up.base_url()}/embeddings`, { model: 'e', input: [text, 'other words'] });
  const one = await post_json(`${gemini()}/models/text-embedding-004:embedContent`,
    { content: { parts: [{ text }] }, taskType: 'RETRIEVAL_QUERY' });
  assert.equal(one.status, 200);
  assert.deepEqual(Object.keys(one.json), ['embedding']);
  assert.equal(one.json.embedding.values.length, 64);
  assert.deepEqual(one.json.embedding.values, openai.json.data[0].embedding);
  const small = await post_json(`${gemini('', 'v1')}/models/text-embedding-004:embedContent`,
    { content: { parts: [{ text }] }, outputDimensionality: 8 });
  assert.equal(small.json.embedding.values.length, 8);
  assert.equal(small.json.embedding.values.reduce((a, b) => a + b, 0), 3);

  const batch = await post_json(`${gemini()}/models/text-embedding-004:batchEmbedContents`, { requests: [
    { model: 'models/text-embedding-004', content: { parts: [{ text }] } },
    { model: 'models/text-embedding-004', content: { parts: [{ text: 'other' }, { text: 'words' }] } }] });
  assert.equal(batch.status, 200);
  assert.deepEqual(batch.json.embeddings.map((e) => e.values), openai.json.data.map((d) => d.embedding));
  const mismatch = await post_json(`${gemini()}/models/text-embedding-004:batchEmbedContents`, { requests: [
    { model: 'models/other-model', content: { parts: [{ text }] } }] });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.json.error.status, 'INVALID_ARGUMENT');
  assert.match(mismatch.json.error.message, /requests\[0\]\.model/);
  const empty = await post_json(`${gemini()}/models/text-embedding-004:embedContent`, { content: { parts: [] } });
  assert.equal(empty.status, 400);
  const denied = await post_json(`${gemini('require_key=gk-1')}/models/text-embedding-004:embedContent`,
    { content: { parts: [{ text }] } }, { 'x-goog-api-key': 'nope' });
  assert.deepEqual(denied.json, fixture('error_400_key.json'));
});

// ---------------------------------------------------------------------------------------------
// Azure OpenAI paths

test('Azure deployments: api-version required, model from the deployment, api-key or Bearer, Azure errors', async () => {
  const deployment = (scenario = '') => `${up.origin}${scenario ? `/scenario/${scenario}` : ''}/openai/deployments/my-4o`;
  const missing = await post_json(`${deployment()}/chat/completions`, chat());
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, { error: { code: '404', message: 'Resource not found' } });
  const r = await post_json(`${deployment()}/chat/completions?api-version=2024-10-21`,
    { messages: [{ role: 'user', content: 'hi there' }] });
  assert.equal(r.status, 200);
  assert.equal(r.json.model, 'my-4o');
  assert.equal(r.json.choices[0].message.content, 'hi there');
  assert.equal(r.json.usage.prompt_tokens, 3);
  const with_model = await post_json(`${deployment()}/chat/completions?api-version=2024-10-21`, chat());
  assert.equal(with_model.json.model, 'gpt-x');

  const keyed = `${deployment('require_key=az-1')}/chat/completions?api-version=2024-10-21`;
  assert.equal((await post_json(keyed, chat(), { 'api-key': 'az-1' })).status, 200);
  assert.equal((await post_json(keyed, chat(), { authorization: 'Bearer az-1' })).status, 200);
  const wrong = await post_json(keyed, chat(), { 'api-key': 'az-2' });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.json, { error: { code: '401', message: 'Access denied due to invalid subscription key or ' +
    'wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API ' +
    'endpoint for your resource.' } });
  const pool = `${deployment('status=429,retry_after=1,only_key=az-1')}/chat/completions?api-version=2024-10-21`;
  const limited = await post_json(pool, chat(), { 'api-key': 'az-1' });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.deepEqual(limited.json, { error: { code: '429', message: 'fake_upstream: scripted status 429' } });
  assert.equal((await post_json(pool, chat(), { 'api-key': 'az-2' })).status, 200);
  const server = await post_json(`${deployment('status=500')}/chat/completions?api-version=2024-10-21`, chat());
  assert.equal(server.json.error.type, 'server_error');
  const overflow = await post_json(
    `${deployment('status=400,code=context_length_exceeded')}/chat/completions?api-version=1`, chat());
  assert.equal(overflow.json.error.code, 'context_length_exceeded');
  assert.equal(overflow.json.error.type, 'invalid_request_error');
});

test('Azure streams, tool calls and embeddings; /openai/v1 paths take the model from the body', async () => {
  const base = `${up.origin}/scenario/tool_call=lookup/openai`;
  const { res } = await post_stream(`${base}/deployments/my-4o/chat/completions?api-version=2024-10-21`,
    { stream: true, messages: [{ role: 'user', content: 'one two' }], tools: kTools });
  const s = await read_sse(res);
  assert.equal(s.done, true);
  assert.ok(s.chunks.every((c) => c.json.model === 'my-4o'));
  assert.equal(s.chunks.at(-1).json.choices[0].finish_reason, 'tool_calls');
  const v1 = await post_json(`${base}/v1/chat/completions`, chat());
  assert.equal(v1.status, 200);
  assert.equal(v1.json.model, 'gpt-x');
  assert.equal((await post_json(`${base}/v1/chat/completions`, { messages: [] })).json.error.param, 'model');
  const embedded = await post_json(`${up.origin}/openai/deployments/emb/embeddings?api-version=2024-10-21`,
    { input: 'a b' });
  assert.equal(embedded.status, 200);
  assert.equal(embedded.json.model, 'emb');
  assert.equal(embedded.json.data[0].embedding.length, 64);
  const embedded_v1 = await post_json(`${up.origin}/openai/v1/embeddings`, { model: 'e', input: 'a b', dimensions: 4 });
  assert.deepEqual(embedded_v1.json.data[0].embedding.length, 4);
  assert.equal((await post_json(`${up.origin}/openai/deployments/emb/embeddings`, { input: 'a' })).status, 404);
});
