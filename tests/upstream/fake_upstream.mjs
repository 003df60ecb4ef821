#!/usr/bin/env node
// Fake upstream LLM provider for tollgate's tests: a real HTTP server on loopback speaking OpenAI's wire format.
//
// Start:   node tests/upstream/fake_upstream.mjs [--port 0] [--host 127.0.0.1] [--verbose]
//          prints one JSON line {"port": N} on stdout once it listens; SIGTERM/SIGINT exit 0.
//
// Provider API (OpenAI, optionally behind a scenario prefix, see below):
//   POST /v1/chat/completions   non-stream: a chat.completion with usage;
//                               stream: true: SSE `data: {chunk}\n\n` — a role chunk, one chunk per
//                               word of the reply, a finish chunk, then (only when the request has
//                               stream_options.include_usage: true) a usage chunk with `choices: []`,
//                               then `data: [DONE]`. With include_usage every other chunk carries
//                               `"usage": null`, as OpenAI does.
//   GET  /v1/models, GET /v1/models/{id}
//   POST /v1/messages           Anthropic Messages: max_tokens required; the reply echoes the last user
//                               text as one text block (stop_reason end_turn, or max_tokens when cut), usage
//                               {input_tokens, output_tokens, cache_*: 0}; stream: true sends every event
//                               type (message_start, content_block_start/delta/stop, ping, message_delta,
//                               message_stop). Scripted statuses answer Anthropic's error shape
//                               ({type: "error", error: {type, message}}; 529 overloaded_error); error_after
//                               sends an `event: error` (overloaded) mid-stream.
//   POST /v1/embeddings         {object: "list", data: [{object: "embedding", index, embedding}], model,
//                               usage}: a deterministic bag-of-words vector per input (`dimensions`
//                               floats, default 64; same words in any case or punctuation, same vector)
//   Reply content: the last user message (text parts joined), echoed, so tests can check pass-through.
//   `model` in the reply is the request's model. max_tokens / max_completion_tokens cut the reply to
//   that many words with finish_reason "length". Usage: prompt_tokens = words in all messages + 1 per
//   message, completion_tokens = words in the reply.
//   Request errors are OpenAI-shaped {"error": {message, type, param, code}}: invalid JSON → 400,
//   missing `model` or `messages` → 400 naming the param, unknown route → 404.
//
// Scenarios: a path segment before the API path chooses the behaviour of that request, so every
// provider base_url in a tollgate config can behave differently with no shared state:
//   http://127.0.0.1:PORT/scenario/<directive>[,<directive>…]/v1
//   status=N          answer N with an OpenAI error body (type/code chosen from N) instead of a reply
//   retry_after=S     with status: add `retry-after: S`
//   code=C            with status: the error body's `code` is C (e.g. context_length_exceeded) instead
//                     of the one chosen from the status
//   fail_first=N      apply `status` (default 500) only to the first N requests seen on this exact
//                     path since start or the last /_reset, then answer normally
//   latency=D         wait D before sending the response head
//   chunk_delay=D     stream: wait D between two SSE events
//   break_after=N     stream: send the head and N chunks, then destroy the socket (N=0: head only);
//                     non-stream: send the head and half the body, then destroy the socket
//   stall_after=N     stream: send the head and N chunks, then stay silent with the socket open
//   error_after=N     stream: send N chunks, then `data: {"error": {...}}` and end without [DONE]
//   reset             destroy the socket without answering (a connection error)
//   hang              never answer (the socket stays open until the client gives up)
//   chaos=P[:SEED]    chat completions: with probability P (0..1) a request fails with one of, drawn
//                     uniformly: `500` (an OpenAI error body), `429` (with `retry-after: 1`), `hang`
//                     (as above) or `broken` (as break_after=2: stream: head + 2 chunks then the socket
//                     is destroyed; non-stream: head + half the body then destroyed); otherwise it
//                     answers normally (`ok`). With SEED (an integer) each path draws from its own
//                     mulberry32 generator seeded with SEED, so the same path and SEED give the same
//                     sequence of outcomes since start or the last /_reset; without it, Math.random.
//                     Applied after `status`/`fail_first`, to valid chat requests only.
//   garbage           200 with a non-JSON body (stream: SSE whose data is not JSON, then [DONE])
//   reply=TEXT        answer TEXT (URL-encoded, `+` is a space) instead of echoing
//   no_usage          leave usage out (non-stream: no `usage`; stream: no usage chunk even if asked)
//   require_key=K     401 invalid_api_key unless the request has `authorization: Bearer K`
//   only_key=K        with status: apply it only to requests with `authorization: Bearer K` (one key
//                     of a pool rate-limited, the others answering)
//   tool_call=NAME    /v1/messages with tools: answer one tool_use block calling NAME with
//                     {"query": <last user text>} (stream: input_json_delta pieces of 8 characters)
//   id=NAME           no behaviour: tells apart base URLs that would otherwise be identical
//   D is a duration: 300ms, 2s, 1.5s, or a bare number of milliseconds. An unknown directive is
//   answered with 400 naming it, so a typo in a test config shows up at once.
//
// Control (never behind a scenario prefix, not counted):
//   GET  /_stats  → {requests, by_path: {"/scenario/…/v1/chat/completions": N, …},
//                    chaos: {"/scenario/chaos=…/v1/chat/completions": {ok, 500, 429, hang, broken}, …}
//                      (only once a chaos directive has drawn an outcome),
//                    last_requests: [{method, path, url, headers, body, at}]}  (last 50, oldest first;
//                    headers lower-cased as received; body parsed as JSON when it is JSON, else text)
//   POST /_reset  → clears counters, the request log, fail_first counters and chaos generators
//   GET  /_health → {"status": "ok"}
//
// Other wire formats (Anthropic Messages, Gemini generateContent) are added as more entries in
// `kRoutes`; the scenario machinery and the stats apply to every route.

import http from 'node:http';
import { parseArgs } from 'node:util';

const kMaxLogged = 50;
const kScenarioPrefix = /^\/scenario\/([^/]*)(\/.*)$/;

// ---------------------------------------------------------------------------------------------
// Scenario parsing

function parse_duration(text, directive) {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text ?? '');
  if (!m) throw new Error(`bad duration in scenario directive '${directive}'`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

function parse_count(text, directive) {
  if (!/^\d+$/.test(text ?? '')) throw new Error(`bad count in scenario directive '${directive}'`);
  return Number(text);
}

/// "0.3" or "0.3:42" → {p, seed} (seed undefined when absent); throws on P outside 0..1.
function parse_chaos(text, directive) {
  const m = /^(\d+(?:\.\d+)?)(?::(\d+))?$/.exec(text ?? '');
  if (!m || Number(m[1]) > 1) throw new Error(`bad chaos in scenario directive '${directive}' (chaos=P[:SEED], P in 0..1)`);
  return { p: Number(m[1]), seed: m[2] === undefined ? undefined : Number(m[2]) };
}

/// Parses "status=429,retry_after=1" into a scenario object; throws Error naming a bad directive.
function parse_scenario(spec) {
  const s = {};
  if (!spec) return s;
  for (const directive of spec.split(',')) {
    if (directive === '') continue;
    const eq = directive.indexOf('=');
    const key = eq < 0 ? directive : directive.slice(0, eq);
    const value = eq < 0 ? undefined : decodeURIComponent(directive.slice(eq + 1).replace(/\+/g, ' '));
    switch (key) {
      case 'status': s.status = parse_count(value, directive); break;
      case 'retry_after': s.retry_after = value ?? '1'; break;
      case 'code': s.code = value ?? ''; break;
      case 'fail_first': s.fail_first = parse_count(value, directive); break;
      case 'latency': s.latency_ms = parse_duration(value, directive); break;
      case 'chunk_delay': s.chunk_delay_ms = parse_duration(value, directive); break;
      case 'break_after': s.break_after = parse_count(value, directive); break;
      case 'stall_after': s.stall_after = parse_count(value, directive); break;
      case 'error_after': s.error_after = parse_count(value, directive); break;
      case 'reset': s.reset = true; break;
      case 'hang': s.hang = true; break;
      case 'chaos': s.chaos = parse_chaos(value, directive); break;
      case 'garbage': s.garbage = true; break;
      case 'reply': s.reply = value ?? ''; break;
      case 'no_usage': s.no_usage = true; break;
      case 'require_key': s.require_key = value ?? ''; break;
      case 'only_key': s.only_key = value ?? ''; break;
      case 'tool_call': s.tool_call = value ?? 'lookup'; break;
      case 'id': break;
      default: throw new Error(`unknown scenario directive '${directive}'`);
    }
  }
  if (s.fail_first !== undefined && s.status === undefined) s.status = 500;
  return s;
}

// ---------------------------------------------------------------------------------------------
// OpenAI wire format

/// OpenAI's error type and code for an HTTP status, as api.openai.com answers them.
function error_kind(status) {
  switch (status) {
    case 400: return { type: 'invalid_request_error', code: null };
    case 401: return { type: 'invalid_request_error', code: 'invalid_api_key' };
    case 403: return { type: 'invalid_request_error', code: 'unsupported_country_region_territory' };
    case 404: return { type: 'invalid_request_error', code: 'model_not_found' };
    case 408: return { type: 'timeout', code: null };
    case 409: return { type: 'invalid_request_error', code: 'conflict' };
    case 413: return { type: 'invalid_request_error', code: 'request_too_large' };
    case 422: return { type: 'invalid_request_error', code: null };
    case 429: return { type: 'requests', code: 'rate_limit_exceeded' };
    default: return status >= 500
      ? { type: 'server_error', code: null }
      : { type: 'invalid_request_error', code: null };
  }
}

function error_body(status, message, param = null, code = undefined) {
  const kind = error_kind(status);
  return { error: { message, type: kind.type, param, code: code === undefined ? kind.code : code } };
}

function text_of(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.filter((p) => p && p.type === 'text' && typeof p.text === 'string')
      .map((p) => p.text).join('');
  }
  return '';
}

function count_words(text) {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

/// Splits text into word pieces that join back to the exact text ("a b" → ["a", " b"]).
function word_pieces(text) {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

function reply_text(request, scenario) {
  let text = scenario.reply;
  if (text === undefined) {
    const users = request.messages.filter((m) => m && m.role === 'user');
    text = users.length ? text_of(users[users.length - 1].content) : '';
  }
  const limit = request.max_completion_tokens ?? request.max_tokens;
  let pieces = word_pieces(text);
  let finish_reason = 'stop';
  if (Number.isInteger(limit) && limit >= 0 && pieces.length > limit) {
    pieces = pieces.slice(0, limit);
    finish_reason = 'length';
  }
  return { pieces, text: pieces.join(''), finish_reason };
}

function usage_of(request, completion_text) {
  const prompt = request.messages.reduce(
    (n, m) => n + 1 + count_words(text_of(m && m.content)), 0);
  const completion = count_words(completion_text);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0, audio_tokens: 0,
      accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
    },
  };
}

/// Checks a chat request the way OpenAI does; returns an error body or null.
function validate_chat(request) {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return error_body(400, 'The request body must be a JSON object.');
  }
  if (typeof request.model !== 'string' || request.model === '') {
    return error_body(400, 'you must provide a model parameter', 'model', null);
  }
  if (!Array.isArray(request.messages)) {
    return error_body(400, "Missing required parameter: 'messages'.", 'messages',
      'missing_required_parameter');
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Server state and helpers

const state = {
  next_id: 1,
  requests: 0,
  by_path: {},
  last_requests: [],
  fail_counts: new Map(),
  chaos: {},                // path → {ok, 500, 429, hang, broken}
  chaos_random: new Map(),  // path → seeded generator
};

function reset_state() {
  state.requests = 0;
  state.by_path = {};
  state.last_requests = [];
  state.fail_counts.clear();
  state.chaos = {};
  state.chaos_random.clear();
}

/// mulberry32: a small seeded PRNG returning floats in [0, 1).
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const kChaosFaults = ['500', '429', 'hang', 'broken'];

/// Draws this request's chaos outcome on `path` ('ok' or one of kChaosFaults) and counts it.
function chaos_outcome(path, chaos) {
  let random = Math.random;
  if (chaos.seed !== undefined) {
    random = state.chaos_random.get(path);
    if (!random) {
      random = mulberry32(chaos.seed);
      state.chaos_random.set(path, random);
    }
  }
  // Two draws per request whatever the first gives, so runs with the same SEED and another P stay
  // aligned request by request.
  const fail = random() < chaos.p;
  const fault = kChaosFaults[Math.floor(random() * kChaosFaults.length)];
  const outcome = fail ? fault : 'ok';
  const counts = state.chaos[path] ??= { ok: 0, 500: 0, 429: 0, hang: 0, broken: 0 };
  counts[outcome] += 1;
  return outcome;
}

function sleep(ms, res) {
  if (!ms) return Promise.resolve();
  return new Promise((resolve) => {
    // A client that went away must not keep a timer (and this process) busy.
    const on_close = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(() => { res.off('close', on_close); resolve(); }, ms);
    res.once('close', on_close);
  });
}

function gone(res) {
  return res.destroyed || res.writableEnded || (res.socket && res.socket.destroyed);
}

function send_json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function write_then(res, data) {
  return new Promise((resolve) => {
    if (gone(res)) return resolve(false);
    res.write(data, () => resolve(true));
  });
}

function destroy_soon(res) {
  // Let what was written reach the kernel first, so the peer sees a truncated answer, not nothing.
  setTimeout(() => res.socket && res.socket.destroy(), 20);
}

// ---------------------------------------------------------------------------------------------
// Routes (path after the scenario prefix)

async function chat_completions(ctx) {
  const { res, body_text } = ctx;
  const request = ctx.body_json;
  if (request === undefined) {
    return send_json(res, 400, error_body(400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using " +
      'your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not ' +
      `valid JSON.) Received ${body_text.length} bytes.`));
  }
  const invalid = validate_chat(request);
  if (invalid) return send_json(res, 400, invalid);
  if (ctx.scenario.chaos) {
    const outcome = chaos_outcome(ctx.path, ctx.scenario.chaos);
    if (outcome === 'hang') return;
    if (outcome === '500' || outcome === '429') {
      const status = Number(outcome);
      return send_json(res, status, error_body(status, `fake_upstream: chaos ${status}`),
        status === 429 ? { 'retry-after': '1' } : {});
    }
    if (outcome === 'broken') ctx.scenario = { ...ctx.scenario, break_after: 2 };
  }

  const { scenario } = ctx;
  const id = `chatcmpl-fake${String(state.next_id++).padStart(6, '0')}`;
  const created = Math.floor(Date.now() / 1000);
  const { pieces, text, finish_reason } = reply_text(request, scenario);
  const usage = scenario.no_usage ? undefined : usage_of(request, text);

  if (request.stream === true) return stream_chat(ctx, request, { id, created, pieces, finish_reason, usage });

  if (scenario.garbage) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end('<html><body>this is not JSON {</body></html>');
  }
  const completion = {
    id,
    object: 'chat.completion',
    created,
    model: request.model,
    system_fingerprint: 'fp_fake',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: text, refusal: null },
      logprobs: null,
      finish_reason,
    }],
    ...(usage ? { usage } : {}),
    service_tier: 'default',
  };
  if (scenario.break_after !== undefined) {
    const full = JSON.stringify(completion);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(full) });
    res.write(full.slice(0, Math.floor(full.length / 2)), () => destroy_soon(res));
    return;
  }
  send_json(res, 200, completion);
}

async function stream_chat(ctx, request, reply) {
  const { res, scenario } = ctx;
  const include_usage = request.stream_options?.include_usage === true;
  const base = {
    id: reply.id,
    object: 'chat.completion.chunk',
    created: reply.created,
    model: request.model,
    system_fingerprint: 'fp_fake',
  };
  const chunk = (delta, finish_reason) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    ...(include_usage ? { usage: null } : {}),
  });
  const events = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const piece of reply.pieces) events.push(chunk({ content: piece }, null));
  events.push(chunk({}, reply.finish_reason));
  if (include_usage && reply.usage) events.push({ ...base, choices: [], usage: reply.usage });
  let payloads = events.map((e) => JSON.stringify(e));
  if (scenario.garbage) payloads = ['this is not JSON {', '{"truncated": '];

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();

  for (let i = 0; i < payloads.length; ++i) {
    if (scenario.break_after === i) return destroy_soon(res);
    if (scenario.stall_after === i) return;  // silent, socket open: the client's idle timeout fires
    if (scenario.error_after === i) {
      const error = error_body(500, 'The server had an error while processing your request.');
      await write_then(res, `data: ${JSON.stringify(error)}\n\n`);
      return res.end();
    }
    if (i > 0) await sleep(scenario.chunk_delay_ms, res);
    if (!(await write_then(res, `data: ${payloads[i]}\n\n`))) return;
  }
  if (scenario.break_after === payloads.length) return destroy_soon(res);
  if (scenario.stall_after === payloads.length) return;
  await sleep(scenario.chunk_delay_ms, res);
  if (gone(res)) return;
  res.end('data: [DONE]\n\n');
}

const kModels = ['gpt-x', 'gpt-y', 'gpt-4o-mini', 'gpt-4o'];

function list_models(ctx) {
  send_json(ctx.res, 200, {
    object: 'list',
    data: kModels.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'fake-upstream' })),
  });
}

function get_model(ctx, match) {
  const id = decodeURIComponent(match[1]);
  if (!kModels.includes(id)) {
    return send_json(ctx.res, 404, error_body(404,
      `The model '${id}' does not exist or you do not have access to it.`, null, 'model_not_found'));
  }
  send_json(ctx.res, 200, { id, object: 'model', created: 1700000000, owned_by: 'fake-upstream' });
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages wire format (POST /v1/messages)

/// Anthropic's error type for an HTTP status (https://docs.anthropic.com/en/api/errors).
function anthropic_error_type(status) {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 529: return 'overloaded_error';
    default: return 'api_error';
  }
}

function anthropic_error_body(status, message) {
  return { type: 'error', error: { type: anthropic_error_type(status), message } };
}

/// The text of an Anthropic content (a string or an array of blocks; text blocks joined).
function anthropic_text(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter((b) => b && b.type === 'text' && typeof b.text === 'string').map((b) => b.text).join('\n');
}

function validate_messages(request) {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return anthropic_error_body(400, 'The request body must be a JSON object.');
  }
  if (typeof request.model !== 'string' || request.model === '') return anthropic_error_body(400, 'model: Field required');
  if (!Array.isArray(request.messages)) return anthropic_error_body(400, 'messages: Field required');
  if (!Number.isInteger(request.max_tokens)) return anthropic_error_body(400, 'max_tokens: Field required');
  return null;
}

/// The reply as Anthropic content blocks: the echoed text (cut to max_tokens words), or with the
/// `tool_call=NAME` directive (and tools in the request) one tool_use block whose input is
/// {"query": <the last user text>}.
function anthropic_reply(request, scenario) {
  const users = request.messages.filter((m) => m && m.role === 'user');
  const asked = users.length ? anthropic_text(users[users.length - 1].content) : '';
  const input_tokens = request.messages.reduce((n, m) => n + 1 + count_words(anthropic_text(m && m.content)), 0) +
    count_words(typeof request.system === 'string' ? request.system : anthropic_text(request.system));
  if (scenario.tool_call !== undefined && Array.isArray(request.tools) && request.tools.length > 0) {
    const tool_use = { type: 'tool_use', id: `toolu_fake${String(state.next_id++).padStart(6, '0')}`,
      name: scenario.tool_call, input: { query: asked } };
    return { blocks: [tool_use], stop_reason: 'tool_use', input_tokens, output_tokens: 1 + count_words(asked) };
  }
  let pieces = word_pieces(scenario.reply ?? asked);
  let stop_reason = 'end_turn';
  if (pieces.length > request.max_tokens) {
    pieces = pieces.slice(0, request.max_tokens);
    stop_reason = 'max_tokens';
  }
  const text = pieces.join('');
  return { blocks: [{ type: 'text', text }], pieces, stop_reason, input_tokens, output_tokens: count_words(text) };
}

async function messages(ctx) {
  const { res, scenario } = ctx;
  const request = ctx.body_json;
  const invalid = request === undefined ? anthropic_error_body(400, 'There was an error parsing the body.')
    : validate_messages(request);
  if (invalid) return send_json(res, 400, invalid);
  const id = `msg_fake${String(state.next_id++).padStart(6, '0')}`;
  const reply = anthropic_reply(request, scenario);
  const usage = { input_tokens: reply.input_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
    output_tokens: reply.output_tokens };
  const message = { id, type: 'message', role: 'assistant', model: request.model, content: reply.blocks,
    stop_reason: reply.stop_reason, stop_sequence: null, usage };
  if (request.stream !== true) return send_json(res, 200, message);

  const events = [['message_start', { type: 'message_start',
    message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } }]];
  reply.blocks.forEach((block, index) => {
    if (block.type === 'text') {
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      if (index === 0) events.push(['ping', { type: 'ping' }]);
      for (const piece of reply.pieces) {
        events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }]);
      }
    } else {
      events.push(['content_block_start', { type: 'content_block_start', index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }]);
      const json = JSON.stringify(block.input);
      for (let at = 0; at < json.length; at += 8) {
        events.push(['content_block_delta', { type: 'content_block_delta', index,
          delta: { type: 'input_json_delta', partial_json: json.slice(at, at + 8) } }]);
      }
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: reply.stop_reason, stop_sequence: null },
    usage: { output_tokens: reply.output_tokens } }]);
  events.push(['message_stop', { type: 'message_stop' }]);

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
  for (let i = 0; i < events.length; ++i) {
    if (scenario.break_after === i) return destroy_soon(res);
    if (scenario.stall_after === i) return;
    if (scenario.error_after === i) {
      const error = anthropic_error_body(529, 'Overloaded');
      await write_then(res, `event: error\ndata: ${JSON.stringify(error)}\n\n`);
      return res.end();
    }
    if (i > 0) await sleep(scenario.chunk_delay_ms, res);
    const [name, data] = events[i];
    if (!(await write_then(res, `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`))) return;
  }
  if (!gone(res)) res.end();
}

/// A deterministic stand-in for an embedding model: every word of the lower-cased input (letters
/// and digits only) adds 1 to one of `dimensions` (default 64) slots chosen by an FNV-1a hash, so
/// texts with the same words in any case, spacing or punctuation get the same vector. Not
/// normalised, like some compatible servers: the client must not rely on unit length.
function embed_text(text, dimensions) {
  const vector = new Array(dimensions).fill(0);
  for (const word of text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean)) {
    let h = 0x811c9dc5;
    for (let i = 0; i < word.length; ++i) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193) >>> 0;
    vector[h % dimensions] += 1;
  }
  return vector;
}

function embeddings(ctx) {
  const body = ctx.body_json;
  if (!body || typeof body !== 'object') return send_json(ctx.res, 400, error_body(400, 'Invalid JSON body.'));
  if (typeof body.model !== 'string') return send_json(ctx.res, 400, error_body(400, 'Missing model.', 'model'));
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.some((x) => typeof x !== 'string')) {
    return send_json(ctx.res, 400, error_body(400, 'input must be a string or an array of strings.', 'input'));
  }
  const dimensions = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : 64;
  const tokens = inputs.reduce((n, text) => n + text.split(/\s+/).filter(Boolean).length, 0);
  send_json(ctx.res, 200, {
    object: 'list',
    data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: embed_text(text, dimensions) })),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

/// Provider routes, matched against the path after the scenario prefix (query string excluded).
const kRoutes = [
  { method: 'POST', pattern: /^\/v1\/chat\/completions$/, handler: chat_completions },
  { method: 'POST', pattern: /^\/v1\/embeddings$/, handler: embeddings },
  { method: 'POST', pattern: /^\/v1\/messages$/, handler: messages },
  { method: 'GET', pattern: /^\/v1\/models$/, handler: list_models },
  { method: 'GET', pattern: /^\/v1\/models\/([^/]+)$/, handler: get_model },
];

// ---------------------------------------------------------------------------------------------
// Dispatch

function read_body(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function record(req, path, body_text, body_json) {
  state.requests += 1;
  state.by_path[path] = (state.by_path[path] ?? 0) + 1;
  state.last_requests.push({
    method: req.method,
    path,
    url: req.url,
    headers: req.headers,
    body: body_json !== undefined ? body_json : body_text,
    at: Date.now(),
  });
  if (state.last_requests.length > kMaxLogged) state.last_requests.shift();
}

function handle_control(req, res, path) {
  if (req.method === 'GET' && path === '/_stats') {
    send_json(res, 200, {
      requests: state.requests,
      by_path: state.by_path,
      ...(Object.keys(state.chaos).length ? { chaos: state.chaos } : {}),
      last_requests: state.last_requests,
    });
  } else if (req.method === 'POST' && path === '/_reset') {
    reset_state();
    send_json(res, 200, { ok: true });
  } else if (req.method === 'GET' && path === '/_health') {
    send_json(res, 200, { status: 'ok' });
  } else {
    return false;
  }
  return true;
}

async function handle(req, res, verbose) {
  const path = new URL(req.url, 'http://fake').pathname;
  const body_text = await read_body(req);
  if (path.startsWith('/_') && handle_control(req, res, path)) return;

  let body_json;
  if (body_text !== '') {
    try { body_json = JSON.parse(body_text); } catch { body_json = undefined; }
  }
  record(req, path, body_text, body_json);
  if (verbose) process.stderr.write(`fake_upstream: ${req.method} ${req.url}\n`);

  const m = kScenarioPrefix.exec(path);
  const api_path = m ? m[2] : path;
  let scenario;
  try {
    scenario = parse_scenario(m ? m[1] : '');
  } catch (e) {
    return send_json(res, 400, error_body(400, `fake_upstream: ${e.message}`));
  }

  if (scenario.reset) return req.socket.destroy();
  if (scenario.hang) return;
  await sleep(scenario.latency_ms, res);
  if (gone(res)) return;

  if (scenario.require_key !== undefined &&
      req.headers.authorization !== `Bearer ${scenario.require_key}`) {
    return send_json(res, 401, error_body(401, 'Incorrect API key provided.'));
  }
  if (scenario.status !== undefined &&
      (scenario.only_key === undefined || req.headers.authorization === `Bearer ${scenario.only_key}`)) {
    let fail = true;
    if (scenario.fail_first !== undefined) {
      const seen = (state.fail_counts.get(path) ?? 0) + 1;
      state.fail_counts.set(path, seen);
      fail = seen <= scenario.fail_first;
    }
    if (fail) {
      const headers = scenario.retry_after !== undefined ? { 'retry-after': scenario.retry_after } : {};
      const message = `fake_upstream: scripted status ${scenario.status}`;
      return send_json(res, scenario.status, api_path === '/v1/messages'
        ? anthropic_error_body(scenario.status, message)
        : error_body(scenario.status, message, null, scenario.code), headers);
    }
  }

  const ctx = { req, res, scenario, body_text, body_json, path };
  let method_mismatch = false;
  for (const route of kRoutes) {
    const match = route.pattern.exec(api_path);
    if (!match) continue;
    if (route.method !== req.method) { method_mismatch = true; continue; }
    return route.handler(ctx, match);
  }
  if (method_mismatch) {
    return send_json(res, 405, error_body(405, `Method ${req.method} not allowed on ${api_path}.`));
  }
  send_json(res, 404, error_body(404, `Invalid URL (${req.method} ${api_path})`, null, null));
}

// ---------------------------------------------------------------------------------------------
// Main

function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const server = http.createServer((req, res) => {
    handle(req, res, values.verbose).catch((e) => {
      process.stderr.write(`fake_upstream: ${e.stack}\n`);
      if (!res.headersSent) send_json(res, 500, error_body(500, `fake_upstream bug: ${e.message}`));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(Number(values.port), values.host, () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
