#!/usr/bin/env node
// Fake upstream LLM provider for tollgate's tests: a loopback HTTP server speaking OpenAI, Azure, Anthropic and Gemini.
//
// Start:   node tests/upstream/fake_upstream.mjs [--port 0] [--host 127.0.0.1] [--verbose]
//          prints one JSON line {"port": N} on stdout once it listens; SIGTERM/SIGINT exit 0.
//
// Provider API (optionally behind a scenario prefix, see below; the query string never takes part
// in route matching):
//   POST /v1/chat/completions   non-stream: a chat.completion with usage;
//                               stream: true: SSE `data: {chunk}\n\n` — a role chunk, one chunk per
//                               word of the reply, a finish chunk, then (only when the request has
//                               stream_options.include_usage: true) a usage chunk with `choices: []`,
//                               then `data: [DONE]`. With include_usage every other chunk carries
//                               `"usage": null`, as OpenAI does. Tool calls (tool_call=NAME) stream as
//                               OpenAI does: the first call's head {index: 0, id, type, function:
//                               {name, arguments: ""}} rides with the role, then argument pieces of 8
//                               characters ({index, function: {arguments}}), then the next call's head…
//   GET  /v1/models, GET /v1/models/{id}
//   POST /v1/embeddings         {object: "list", data: [{object: "embedding", index, embedding}], model,
//                               usage}: a deterministic bag-of-words vector per input (`dimensions`
//                               floats, default 64; same words in any case or punctuation, same vector)
//   Azure OpenAI: POST /openai/deployments/{deployment}/chat/completions?api-version=V and
//                               …/{deployment}/embeddings?api-version=V behave as the OpenAI routes, the
//                               model being the deployment when the body has no `model`; without
//                               api-version: 404 {"error": {"code": "404", "message": "Resource not
//                               found"}}, as Azure. POST /openai/v1/chat/completions and
//                               /openai/v1/embeddings (Azure's newer paths; model from the body) too.
//   POST /v1/messages           Anthropic Messages: max_tokens required; the reply echoes the last user
//                               text as one text block (stop_reason end_turn, or max_tokens when cut), usage
//                               {input_tokens, output_tokens, cache_*: 0}; stream: true sends every event
//                               type (message_start, content_block_start/delta/stop, ping, message_delta,
//                               message_stop). Scripted statuses answer Anthropic's error shape
//                               ({type: "error", error: {type, message}}; 529 overloaded_error); error_after
//                               sends an `event: error` (overloaded) mid-stream.
//   Gemini (generativelanguage API, /v1beta or /v1; the colon may come as %3A):
//   POST /v1beta/models/{model}:generateContent
//                               {contents: [{role: user|model, parts}], systemInstruction?, tools?,
//                               toolConfig?, generationConfig?, safetySettings?} → {candidates:
//                               [{content: {parts: [{text}], role: "model"}, finishReason: "STOP",
//                               index: 0}], usageMetadata: {promptTokenCount, candidatesTokenCount,
//                               totalTokenCount, promptTokensDetails}, modelVersion: {model},
//                               responseId}. generationConfig.maxOutputTokens cuts to that many words
//                               (finishReason MAX_TOKENS). Validated as Google does (400
//                               INVALID_ARGUMENT): invalid JSON, an unknown top-level field, missing or
//                               empty `contents`, a content with no parts, a role other than user/model
//                               ("Please use a valid role: user, model."; a missing role is a user).
//   POST …/models/{model}:streamGenerateContent?alt=sse
//                               SSE `data: {GenerateContentResponse}\r\n\r\n` (CRLF, no end marker),
//                               one event per word piece; the events before the last carry usageMetadata
//                               {promptTokenCount, totalTokenCount}, the last one finishReason and the
//                               final counts. Without alt=sse: the same responses as one JSON array
//                               (`[{…},\r\n{…}]`), written element by element, as Google does.
//   POST …/models/{model}:embedContent {content: {parts: [{text}]}, outputDimensionality?}
//                               → {embedding: {values}}: embed_text() of the text parts joined by a space
//                               (the OpenAI route's vector for the same text), 64 floats by default.
//   POST …/models/{model}:batchEmbedContents {requests: [{model: "models/{model}", content, …}]}
//                               → {embeddings: [{values}]}; a request whose model is not the URL's
//                               "models/{model}" is a 400.
//   Gemini errors are Google's {error: {code, message, status, details?}}: status=N picks the name (400
//   INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429
//   RESOURCE_EXHAUSTED with a QuotaFailure and, with retry_after=S, a RetryInfo retryDelay "Ss", 500
//   INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, other UNKNOWN).
//
//   Reply content, every route: the last user message's text, echoed, so tests can check
//   pass-through — or, when the conversation ends with tool results (OpenAI: the trailing `tool`
//   messages; Anthropic: a user turn holding tool_result blocks; Gemini: a user turn holding
//   functionResponse parts and no text), those results' text joined by "\n" (Gemini: a response's
//   `content` or `result` field when it is a string, else JSON.stringify(response)), so a round trip
//   user → tool call → tool result → final text is testable. `model` in an OpenAI reply is the
//   request's model. max_tokens / max_completion_tokens cut the reply to that many words with
//   finish_reason "length". Usage: prompt_tokens = words in all messages + 1 per message,
//   completion_tokens = words in the reply, or 1 + words of the query per tool call. Anthropic:
//   input_tokens = the same + words of `system` (no +1). Gemini: promptTokenCount = words of the text
//   and functionResponse parts + 1 per turn, + 1 + words of systemInstruction when it has parts (an
//   OpenAI system message is one more message, so a plain conversation counts the same on both).
//   Request errors are OpenAI-shaped {"error": {message, type, param, code}}: invalid JSON → 400,
//   missing `model` or `messages` → 400 naming the param, unknown route → 404.
//
// Scenarios: a path segment before the API path chooses the behaviour of that request, so every
// provider base_url in a tollgate config can behave differently with no shared state:
//   http://127.0.0.1:PORT/scenario/<directive>[,<directive>…]/v1
//   Every directive applies to every route unless it says otherwise; errors and keys take the shape
//   of the route's provider.
//   status=N          answer N with the provider's error body (type/code/status chosen from N)
//                     instead of a reply. Azure paths: 401, 403, 404 and 429 in Azure's gateway shape
//                     {"error": {"code": "N", "message"}}, others OpenAI-shaped
//   retry_after=S     with status: add `retry-after: S` (Gemini 429: also RetryInfo retryDelay "Ss")
//   code=C            with status: the error body's `code` is C (e.g. context_length_exceeded) instead
//                     of the one chosen from the status. Gemini: C replaces the status name, except
//                     context_length_exceeded, which gives Google's "The input token count (…)
//                     exceeds the maximum number of tokens allowed (…)." message
//   fail_first=N      apply `status` (default 500) only to the first N requests seen on this exact
//                     path since start or the last /_reset, then answer normally
//   latency=D         wait D before sending the response head
//   chunk_delay=D     stream: wait D between two SSE events
//   break_after=N     stream: send the head and N chunks, then destroy the socket (N=0: head only);
//                     non-stream: send the head and half the body, then destroy the socket
//   stall_after=N     stream: send the head and N chunks, then stay silent with the socket open
//   error_after=N     stream: send N chunks, then an in-band error and end: OpenAI `data: {"error":
//                     {...}}` without [DONE]; Anthropic `event: error` (overloaded); Gemini `data:
//                     {"error": {"code": 503, "message", "status": "UNAVAILABLE"}}`
//   reset             destroy the socket without answering (a connection error)
//   hang              never answer (the socket stays open until the client gives up)
//   chaos=P[:SEED]    chat completions (OpenAI and Azure paths): with probability P (0..1) a request
//                     fails with one of, drawn uniformly: `500` (an OpenAI error body), `429` (with
//                     `retry-after: 1`), `hang` (as above) or `broken` (as break_after=2: stream: head
//                     + 2 chunks then the socket is destroyed; non-stream: head + half the body then
//                     destroyed); otherwise it
//                     answers normally (`ok`). With SEED (an integer) each path draws from its own
//                     mulberry32 generator seeded with SEED, so the same path and SEED give the same
//                     sequence of outcomes since start or the last /_reset; without it, Math.random.
//                     Applied after `status`/`fail_first`, to valid chat requests only.
//   garbage           200 with a non-JSON body (stream: SSE whose data is not JSON, then [DONE];
//                     Gemini: no [DONE])
//   reply=TEXT        answer TEXT (URL-encoded, `+` is a space) instead of echoing
//   no_usage          leave usage out (non-stream: no `usage`; stream: no usage chunk even if asked;
//                     Gemini: no usageMetadata anywhere)
//   require_key=K     unless the request presents K the provider's way, answer as the provider does:
//                     OpenAI `authorization: Bearer K` (401 invalid_api_key); Azure `api-key: K` or
//                     Bearer (401 {"error": {"code": "401", "message": "Access denied due to invalid
//                     subscription key…"}}); Anthropic `x-api-key: K` or Bearer (401
//                     authentication_error); Gemini `x-goog-api-key: K` or `?key=K` (a wrong key: 400
//                     INVALID_ARGUMENT with an ErrorInfo API_KEY_INVALID detail, as
//                     tests/fixtures/gemini/error_400_key.json; no key: 403 PERMISSION_DENIED)
//   only_key=K        with status: apply it only to requests presenting K (read as for require_key:
//                     one key of a pool rate-limited, the others answering)
//   tool_call=NAME    when the request declares tools (OpenAI/Azure `tools`, Anthropic `tools`, Gemini
//                     `functionDeclarations`) and ends with a user text (not tool results): call NAME
//                     with {"query": <last user text>}. OpenAI: message {role: assistant, content:
//                     null, tool_calls: [{id: "call_fake…", type: function, function: {name,
//                     arguments}}]}, finish_reason tool_calls. Anthropic: a tool_use block (stream:
//                     input_json_delta pieces of 8 characters), stop_reason tool_use. Gemini: a part
//                     {functionCall: {name, args}}, finishReason STOP; streamed as one event holding
//                     the whole call (Gemini does not split arguments)
//                     Anthropic: a request whose tool_choice is {type: "tool", name} calls that tool the
//                     same way with no directive (how a JSON answer is forced)
//   parallel          with tool_call: two calls, NAME with {"query"} and NAME with {"query", "n": 2}
//                     (OpenAI indices 0 and 1; two tool_use blocks; two functionCall parts)
//   block=prompt      Gemini: 200 with no candidates and promptFeedback {blockReason: "SAFETY",
//                     safetyRatings}; usageMetadata has the prompt only
//   block=response    Gemini: one candidate with finishReason "SAFETY", safetyRatings (the HIGH one
//                     `blocked: true`) and no content
//   thoughts=N        Gemini: usageMetadata.thoughtsTokenCount N, counted in totalTokenCount
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
// Another wire format is one more group of entries in `kRoutes`, a case in family_of() (its key
// header and error shapes); the scenario machinery and the stats apply to every route.

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
      case 'parallel': s.parallel = true; break;
      case 'block':
        if (value !== 'prompt' && value !== 'response') {
          throw new Error(`bad block in scenario directive '${directive}' (block=prompt or block=response)`);
        }
        s.block = value;
        break;
      case 'thoughts': s.thoughts = parse_count(value, directive); break;
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

/// The calls the `tool_call=NAME` directive answers with, whatever the wire format: NAME with
/// {"query": <the last user text>}, and with `parallel` NAME again with {"query": …, "n": 2}.
/// Each call costs 1 + the words of the query in completion tokens.
function scripted_calls(scenario, query) {
  const calls = [{ name: scenario.tool_call, args: { query } }];
  if (scenario.parallel) calls.push({ name: scenario.tool_call, args: { query, n: 2 } });
  return { calls, tokens: calls.length * (1 + count_words(query)) };
}

/// The contents of the tool messages that end `messages` (joined by "\n"), or undefined when the
/// last message is not a tool result.
function tool_results_text(messages) {
  let first = messages.length;
  while (first > 0 && messages[first - 1] && messages[first - 1].role === 'tool') --first;
  if (first === messages.length) return undefined;
  return messages.slice(first).map((m) => text_of(m.content)).join('\n');
}

/// The reply to a chat request: the echo of the last user message, or of the tool results that end
/// the conversation, or `reply=TEXT`, cut to max_tokens words; with `tool_call=NAME`, tools in the
/// request and a user message last, tool calls instead (`tool_calls` set, no pieces).
function reply_text(request, scenario) {
  const tool_echo = tool_results_text(request.messages);
  const users = request.messages.filter((m) => m && m.role === 'user');
  const asked = users.length ? text_of(users[users.length - 1].content) : '';
  // tool_choice {type: "tool", name}: Anthropic must call that tool (how JSON output is forced).
  const forced = request.tool_choice && request.tool_choice.type === 'tool' ? request.tool_choice.name : undefined;
  if ((scenario.tool_call !== undefined || forced !== undefined) && tool_echo === undefined &&
      Array.isArray(request.tools) && request.tools.length > 0) {
    const { calls, tokens } = scripted_calls(forced !== undefined ? { ...scenario, tool_call: forced } : scenario, asked);
    const tool_calls = calls.map((call) => ({
      id: `call_fake${String(state.next_id++).padStart(6, '0')}`,
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.args) },
    }));
    return { pieces: [], text: null, tool_calls, finish_reason: 'tool_calls', completion_tokens: tokens };
  }
  const text = scenario.reply ?? tool_echo ?? asked;
  const limit = request.max_completion_tokens ?? request.max_tokens;
  let pieces = word_pieces(text);
  let finish_reason = 'stop';
  if (Number.isInteger(limit) && limit >= 0 && pieces.length > limit) {
    pieces = pieces.slice(0, limit);
    finish_reason = 'length';
  }
  const joined = pieces.join('');
  return { pieces, text: joined, finish_reason, completion_tokens: count_words(joined) };
}

function usage_of(request, completion) {
  const prompt = request.messages.reduce(
    (n, m) => n + 1 + count_words(text_of(m && m.content)), 0);
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
  const reply = reply_text(request, scenario);
  const usage = scenario.no_usage ? undefined : usage_of(request, reply.completion_tokens);

  if (request.stream === true) return stream_chat(ctx, request, { id, created, ...reply, usage });

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
      message: reply.tool_calls
        ? { role: 'assistant', content: null, tool_calls: reply.tool_calls, refusal: null }
        : { role: 'assistant', content: reply.text, refusal: null },
      logprobs: null,
      finish_reason: reply.finish_reason,
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
  const events = [];
  if (reply.tool_calls) {
    // As OpenAI streams calls: the role rides on the first call's head (id, type, name, empty
    // arguments); the arguments follow in pieces carrying only the call's index.
    reply.tool_calls.forEach((call, index) => {
      const head = { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } };
      events.push(chunk(index === 0 ? { role: 'assistant', content: null, tool_calls: [head], refusal: null }
        : { tool_calls: [head] }, null));
      const args = call.function.arguments;
      for (let at = 0; at < args.length; at += 8) {
        events.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(at, at + 8) } }] }, null));
      }
    });
  } else {
    events.push(chunk({ role: 'assistant', content: '', refusal: null }, null));
    for (const piece of reply.pieces) events.push(chunk({ content: piece }, null));
  }
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

/// The text of the tool_result blocks of an Anthropic content (each a string or text blocks),
/// joined by "\n"; undefined when it holds none.
function anthropic_tool_results(content) {
  if (!Array.isArray(content)) return undefined;
  const results = content.filter((b) => b && b.type === 'tool_result');
  return results.length ? results.map((b) => anthropic_text(b.content)).join('\n') : undefined;
}

/// The words an Anthropic message counts for: its text blocks and tool results.
function anthropic_words(content) {
  return count_words(anthropic_text(content)) + count_words(anthropic_tool_results(content) ?? '');
}

/// The reply as Anthropic content blocks: the echoed text (cut to max_tokens words) — the last user
/// text, or the tool results when the last message is a user turn holding tool_result blocks — or
/// with the `tool_call=NAME` directive (tools in the request, a user text last) tool_use blocks
/// (see scripted_calls).
function anthropic_reply(request, scenario) {
  const users = request.messages.filter((m) => m && m.role === 'user');
  const asked = users.length ? anthropic_text(users[users.length - 1].content) : '';
  const last = request.messages[request.messages.length - 1];
  const tool_echo = last && last.role === 'user' ? anthropic_tool_results(last.content) : undefined;
  const input_tokens = request.messages.reduce((n, m) => n + 1 + anthropic_words(m && m.content), 0) +
    count_words(typeof request.system === 'string' ? request.system : anthropic_text(request.system));
  // tool_choice {type: "tool", name}: Anthropic must call that tool (how JSON output is forced).
  const forced = request.tool_choice && request.tool_choice.type === 'tool' ? request.tool_choice.name : undefined;
  if ((scenario.tool_call !== undefined || forced !== undefined) && tool_echo === undefined &&
      Array.isArray(request.tools) && request.tools.length > 0) {
    const { calls, tokens } = scripted_calls(forced !== undefined ? { ...scenario, tool_call: forced } : scenario, asked);
    const blocks = calls.map((call) => ({ type: 'tool_use', id: `toolu_fake${String(state.next_id++).padStart(6, '0')}`,
      name: call.name, input: call.args }));
    return { blocks, stop_reason: 'tool_use', input_tokens, output_tokens: tokens };
  }
  let pieces = word_pieces(scenario.reply ?? tool_echo ?? asked);
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

// ---------------------------------------------------------------------------------------------
// Gemini wire format (generativelanguage API, v1beta and v1: POST /v1beta/models/{model}:METHOD)

/// The google.rpc.Code name Google's APIs answer with an HTTP status.
function google_status(status) {
  switch (status) {
    case 400: return 'INVALID_ARGUMENT';
    case 401: return 'UNAUTHENTICATED';
    case 403: return 'PERMISSION_DENIED';
    case 404: return 'NOT_FOUND';
    case 409: return 'ABORTED';
    case 429: return 'RESOURCE_EXHAUSTED';
    case 499: return 'CANCELLED';
    case 500: return 'INTERNAL';
    case 501: return 'UNIMPLEMENTED';
    case 503: return 'UNAVAILABLE';
    case 504: return 'DEADLINE_EXCEEDED';
    default: return 'UNKNOWN';
  }
}

function google_error_body(status, message, details = undefined, status_name = google_status(status)) {
  return { error: { code: status, message, status: status_name, ...(details ? { details } : {}) } };
}

/// A Gemini API path after the scenario prefix: [, version, model, method]. Some clients send the
/// colon percent-encoded.
const kGeminiPath = /^\/(v1beta|v1)\/models\/([^/:]+)(?::|%3A)([A-Za-z]+)$/;

/// Google's answer to a wrong key (as tests/fixtures/gemini/error_400_key.json): 400, not 401.
const kGoogleKeyInvalid = google_error_body(400, 'API key not valid. Please pass a valid API key.', [{
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason: 'API_KEY_INVALID',
  domain: 'googleapis.com',
  metadata: { service: 'generativelanguage.googleapis.com' },
}]);

/// Google's answer to a request with no key at all.
const kGoogleKeyMissing = google_error_body(403, "Method doesn't allow unregistered callers (callers without " +
  'established identity). Please use API Key or other form of API consumer identity to call this API.');

/// The scripted error `status` in Google's shape. code=context_length_exceeded gives Google's
/// input-too-long message; any other code=C replaces the status name (e.g. FAILED_PRECONDITION).
/// 429 carries a QuotaFailure and, when retry_after is a number of seconds, a RetryInfo.
function google_scripted_error(status, message, scenario, model) {
  if (scenario.code === 'context_length_exceeded') {
    return google_error_body(status,
      'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).');
  }
  let details;
  if (status === 429) {
    details = [{
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [{
        quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
        quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
        quotaDimensions: { location: 'global', model },
        quotaValue: '15',
      }],
    }];
    if (/^\d+(\.\d+)?$/.test(scenario.retry_after ?? '')) {
      details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${scenario.retry_after}s` });
    }
  }
  return google_error_body(status, message, details, scenario.code || google_status(status));
}

/// GenerateContentRequest fields (proto3 JSON accepts the camelCase and the snake_case name).
const kGeminiFields = new Set(['contents', 'model', 'systemInstruction', 'system_instruction', 'tools', 'toolConfig',
  'tool_config', 'safetySettings', 'safety_settings', 'generationConfig', 'generation_config', 'cachedContent',
  'cached_content']);

/// Checks a generateContent body as Google does; returns a Google error body or null.
function validate_gemini(request) {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return google_error_body(400, 'Invalid JSON payload received. Root element must be a message.');
  }
  for (const key of Object.keys(request)) {
    if (!kGeminiFields.has(key)) {
      return google_error_body(400, `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
    }
  }
  if (!Array.isArray(request.contents) || request.contents.length === 0) {
    return google_error_body(400, '* GenerateContentRequest.contents: contents is not specified\n');
  }
  for (let i = 0; i < request.contents.length; ++i) {
    const content = request.contents[i];
    if (content === null || typeof content !== 'object' || Array.isArray(content)) {
      return google_error_body(400, `Invalid JSON payload received. Expected an object at 'contents[${i}]'.`);
    }
    // A missing role is accepted (a single-turn request need not say "user").
    if (content.role !== undefined && content.role !== 'user' && content.role !== 'model') {
      return google_error_body(400, 'Please use a valid role: user, model.');
    }
    if (!Array.isArray(content.parts) || content.parts.length === 0) {
      return google_error_body(400, `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`);
    }
  }
  return null;
}

/// What the fake echoes for a functionResponse part: its response's `content` or `result` when a
/// string (tollgate's adapter wraps a plain-text tool result as {"result": text}), else the JSON of
/// the whole response.
function function_response_text(part) {
  const response = part.functionResponse.response;
  if (response && typeof response.content === 'string') return response.content;
  if (response && typeof response.result === 'string') return response.result;
  return JSON.stringify(response ?? {});
}

function parts_of(content) {
  return content && Array.isArray(content.parts) ? content.parts.filter((p) => p && typeof p === 'object') : [];
}

/// The words a Gemini Content counts for: its text parts and functionResponse echoes (calls and
/// media count 0, as an assistant message with only tool_calls counts 0 on the OpenAI route).
function gemini_words(content) {
  return parts_of(content).reduce((n, p) => {
    if (typeof p.text === 'string') return n + count_words(p.text);
    if (p.functionResponse && typeof p.functionResponse === 'object') return n + count_words(function_response_text(p));
    return n;
  }, 0);
}

const kSafetyCategories = ['HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_HATE_SPEECH',
  'HARM_CATEGORY_HARASSMENT', 'HARM_CATEGORY_DANGEROUS_CONTENT'];

/// Safety ratings with hate speech HIGH (marked `blocked` on a blocked candidate, as Google does).
function safety_ratings(candidate) {
  return kSafetyCategories.map((category) => (category === 'HARM_CATEGORY_HATE_SPEECH'
    ? { category, probability: 'HIGH', ...(candidate ? { blocked: true } : {}) }
    : { category, probability: 'NEGLIGIBLE' }));
}

/// The reply to a generateContent request, mirroring the OpenAI route: the last user turn's text
/// parts (joined) echoed, or, when that turn holds functionResponse parts and no text, their echo
/// texts joined by "\n"; `reply=TEXT` instead; cut to generationConfig.maxOutputTokens words
/// (MAX_TOKENS). With `tool_call=NAME`, functionDeclarations in the request and a user text last:
/// functionCall parts (finishReason STOP, as Gemini says for calls). `block=` wins over both.
/// promptTokenCount = 1 + words per turn, plus 1 + words of systemInstruction when it has parts
/// (an OpenAI system message is one more message).
function gemini_reply(request, scenario) {
  const contents = request.contents;
  const users = contents.filter((c) => (c.role ?? 'user') === 'user');
  const parts = parts_of(users[users.length - 1]);
  const texts = parts.filter((p) => typeof p.text === 'string');
  const responses = parts.filter((p) => p.functionResponse && typeof p.functionResponse === 'object');
  const tool_echo = texts.length === 0 && responses.length > 0
    ? responses.map(function_response_text).join('\n') : undefined;
  const asked = texts.map((p) => p.text).join('');
  const system = request.systemInstruction ?? request.system_instruction;
  const prompt = contents.reduce((n, c) => n + 1 + gemini_words(c), 0) +
    (parts_of(system).length ? 1 + gemini_words(system) : 0);

  if (scenario.block) return { block: scenario.block, prompt };
  const tools = Array.isArray(request.tools) ? request.tools : [];
  const declares = tools.some((t) => {
    const declarations = t && (t.functionDeclarations ?? t.function_declarations);
    return Array.isArray(declarations) && declarations.length > 0;
  });
  if (scenario.tool_call !== undefined && tool_echo === undefined && declares) {
    const { calls, tokens } = scripted_calls(scenario, asked);
    return { parts: calls.map((c) => ({ functionCall: { name: c.name, args: c.args } })), finish_reason: 'STOP',
      prompt, candidates: tokens };
  }
  const config = request.generationConfig ?? request.generation_config ?? {};
  const limit = config.maxOutputTokens ?? config.max_output_tokens;
  let pieces = word_pieces(scenario.reply ?? tool_echo ?? asked);
  let finish_reason = 'STOP';
  if (Number.isInteger(limit) && limit >= 0 && pieces.length > limit) {
    pieces = pieces.slice(0, limit);
    finish_reason = 'MAX_TOKENS';
  }
  const text = pieces.join('');
  return { parts: [{ text }], pieces, finish_reason, prompt, candidates: count_words(text) };
}

/// usageMetadata: the final counts, or (partial) what Google puts on the events before the last
/// one of a stream: the prompt (and thoughts) only.
function gemini_usage(reply, thoughts, partial = false) {
  const extra = thoughts ?? 0;
  if (partial || reply.block) {
    return { promptTokenCount: reply.prompt, totalTokenCount: reply.prompt + (reply.block ? 0 : extra),
      ...(thoughts !== undefined && !reply.block ? { thoughtsTokenCount: thoughts } : {}) };
  }
  return {
    promptTokenCount: reply.prompt,
    candidatesTokenCount: reply.candidates,
    totalTokenCount: reply.prompt + reply.candidates + extra,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: reply.prompt }],
    ...(thoughts !== undefined ? { thoughtsTokenCount: thoughts } : {}),
  };
}

/// The GenerateContentResponse events of `reply`: one for a block or for function calls (Gemini
/// sends a call whole), else one per word piece, finishReason and the final usage on the last.
function gemini_events(reply, scenario, model, response_id) {
  const wrap = (body, usage) => ({
    ...body, ...(scenario.no_usage ? {} : { usageMetadata: usage }), modelVersion: model, responseId: response_id,
  });
  if (reply.block === 'prompt') {
    return [wrap({ promptFeedback: { blockReason: 'SAFETY', safetyRatings: safety_ratings(false) } },
      gemini_usage(reply))];
  }
  if (reply.block === 'response') {
    return [wrap({ candidates: [{ finishReason: 'SAFETY', index: 0, safetyRatings: safety_ratings(true) }] },
      gemini_usage(reply))];
  }
  const candidate = (parts, finish) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(finish ? { finishReason: finish } : {}), index: 0 }],
  });
  if (!reply.pieces) return [wrap(candidate(reply.parts, reply.finish_reason), gemini_usage(reply, scenario.thoughts))];
  const pieces = reply.pieces.length ? reply.pieces : [''];
  return pieces.map((piece, i) => {
    const last = i === pieces.length - 1;
    return wrap(candidate([{ text: piece }], last ? reply.finish_reason : undefined),
      gemini_usage(reply, scenario.thoughts, !last));
  });
}

function gemini_generate(ctx, match, stream) {
  const { res, scenario } = ctx;
  const request = ctx.body_text === '' ? {} : ctx.body_json;
  const invalid = request === undefined ? google_error_body(400, 'Invalid JSON payload received. Unexpected token.')
    : validate_gemini(request);
  if (invalid) return send_json(res, 400, invalid);
  const model = decodeURIComponent(match[2]);
  const response_id = `gfake${String(state.next_id++).padStart(6, '0')}`;
  const reply = gemini_reply(request, scenario);

  if (stream) return gemini_stream(ctx, gemini_events(reply, scenario, model, response_id));
  if (scenario.garbage) {
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    return res.end('<html><body>this is not JSON {</body></html>');
  }
  const [response] = gemini_events({ ...reply, pieces: undefined }, scenario, model, response_id);
  if (scenario.break_after !== undefined) {
    const full = JSON.stringify(response);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(full) });
    res.write(full.slice(0, Math.floor(full.length / 2)), () => destroy_soon(res));
    return;
  }
  send_json(res, 200, response);
}

function gemini_generate_content(ctx, match) { return gemini_generate(ctx, match, false); }
function gemini_stream_generate_content(ctx, match) { return gemini_generate(ctx, match, true); }

/// Streams `events`: with ?alt=sse as SSE `data: {…}\r\n\r\n` (Google ends lines with CRLF; no end
/// marker), without it as one JSON array written element by element, as Google does.
async function gemini_stream(ctx, events) {
  const { res, scenario } = ctx;
  const sse = ctx.query.get('alt') === 'sse';
  let payloads = events.map((e) => JSON.stringify(e));
  if (scenario.garbage) payloads = ['this is not JSON {', '{"truncated": '];
  const frame = (i, payload) => (sse ? `data: ${payload}\r\n\r\n` : `${i === 0 ? '[' : ',\r\n'}${payload}`);

  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();
  for (let i = 0; i < payloads.length; ++i) {
    if (scenario.break_after === i) return destroy_soon(res);
    if (scenario.stall_after === i) return;
    if (scenario.error_after === i) {
      const error = google_error_body(503, 'The model is overloaded. Please try again later.');
      await write_then(res, frame(i, JSON.stringify(error)) + (sse ? '' : ']'));
      return res.end();
    }
    if (i > 0) await sleep(scenario.chunk_delay_ms, res);
    if (!(await write_then(res, frame(i, payloads[i])))) return;
  }
  if (scenario.break_after === payloads.length) return destroy_soon(res);
  if (scenario.stall_after === payloads.length) return;
  if (gone(res)) return;
  res.end(sse ? undefined : ']');
}

/// The text of an embedding request's content: its text parts joined by a space.
function embed_request_text(request) {
  return parts_of(request.content).filter((p) => typeof p.text === 'string').map((p) => p.text).join(' ');
}

function embed_dimensions(request) {
  const d = request.outputDimensionality ?? request.output_dimensionality;
  return Number.isInteger(d) && d > 0 ? d : 64;
}

/// Checks one EmbedContentRequest (`at` names it in messages); returns a Google error body or null.
function validate_embed_request(request, at) {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return google_error_body(400, 'Invalid JSON payload received. Root element must be a message.');
  }
  if (parts_of(request.content).length === 0) {
    return google_error_body(400, `* ${at}.content: content is not specified\n`);
  }
  return null;
}

function gemini_embed_content(ctx) {
  const request = ctx.body_text === '' ? {} : ctx.body_json;
  const invalid = request === undefined ? google_error_body(400, 'Invalid JSON payload received. Unexpected token.')
    : validate_embed_request(request, 'EmbedContentRequest');
  if (invalid) return send_json(ctx.res, 400, invalid);
  send_json(ctx.res, 200, { embedding: { values: embed_text(embed_request_text(request), embed_dimensions(request)) } });
}

function gemini_batch_embed_contents(ctx, match) {
  const body = ctx.body_text === '' ? {} : ctx.body_json;
  if (body === undefined) {
    return send_json(ctx.res, 400, google_error_body(400, 'Invalid JSON payload received. Unexpected token.'));
  }
  if (body === null || typeof body !== 'object' || !Array.isArray(body.requests) || body.requests.length === 0) {
    return send_json(ctx.res, 400,
      google_error_body(400, '* BatchEmbedContentsRequest.requests: requests is not specified\n'));
  }
  const model = `models/${decodeURIComponent(match[2])}`;
  for (let i = 0; i < body.requests.length; ++i) {
    const at = `BatchEmbedContentsRequest.requests[${i}]`;
    const invalid = validate_embed_request(body.requests[i], at);
    if (invalid) return send_json(ctx.res, 400, invalid);
    if (body.requests[i].model !== model) {
      return send_json(ctx.res, 400, google_error_body(400, `* ${at}.model: the model of each request ` +
        `(${body.requests[i].model ?? 'none'}) must be the model of the batch (${model})\n`));
    }
  }
  send_json(ctx.res, 200, {
    embeddings: body.requests.map((r) => ({ values: embed_text(embed_request_text(r), embed_dimensions(r)) })),
  });
}

// ---------------------------------------------------------------------------------------------
// Azure OpenAI paths: the OpenAI handlers behind Azure's URLs

/// /openai/deployments/{deployment}/… (needs ?api-version=); /openai/v1/… is Azure's newer path.
const kAzureDeploymentPath = /^\/openai\/deployments\/([^/]+)\//;

/// Azure's gateway answers ({"error": {code, message}}, code a string), unlike its OpenAI-shaped
/// request errors.
function azure_error_body(code, message) {
  return { error: { code, message } };
}

const kAzureKeyInvalid = azure_error_body('401', 'Access denied due to invalid subscription key or wrong API ' +
  'endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API ' +
  'endpoint for your resource.');

/// Azure routes a deployment by the URL: a body without `model` gets the deployment's name.
function with_deployment(ctx, match) {
  const body = ctx.body_json;
  if (body !== null && typeof body === 'object' && !Array.isArray(body) &&
      (typeof body.model !== 'string' || body.model === '')) {
    ctx.body_json = { ...body, model: decodeURIComponent(match[1]) };
  }
}

function azure_chat_completions(ctx, match) {
  with_deployment(ctx, match);
  return chat_completions(ctx);
}

function azure_embeddings(ctx, match) {
  with_deployment(ctx, match);
  return embeddings(ctx);
}

/// Provider routes, matched against the path after the scenario prefix (query string excluded).
const kRoutes = [
  { method: 'POST', pattern: /^\/v1\/chat\/completions$/, handler: chat_completions },
  { method: 'POST', pattern: /^\/v1\/embeddings$/, handler: embeddings },
  { method: 'POST', pattern: /^\/v1\/messages$/, handler: messages },
  { method: 'GET', pattern: /^\/v1\/models$/, handler: list_models },
  { method: 'GET', pattern: /^\/v1\/models\/([^/]+)$/, handler: get_model },
  { method: 'POST', pattern: /^\/(v1beta|v1)\/models\/([^/:]+)(?::|%3A)generateContent$/, handler: gemini_generate_content },
  { method: 'POST', pattern: /^\/(v1beta|v1)\/models\/([^/:]+)(?::|%3A)streamGenerateContent$/,
    handler: gemini_stream_generate_content },
  { method: 'POST', pattern: /^\/(v1beta|v1)\/models\/([^/:]+)(?::|%3A)embedContent$/, handler: gemini_embed_content },
  { method: 'POST', pattern: /^\/(v1beta|v1)\/models\/([^/:]+)(?::|%3A)batchEmbedContents$/,
    handler: gemini_batch_embed_contents },
  { method: 'POST', pattern: /^\/openai\/deployments\/([^/]+)\/chat\/completions$/, handler: azure_chat_completions },
  { method: 'POST', pattern: /^\/openai\/deployments\/([^/]+)\/embeddings$/, handler: azure_embeddings },
  { method: 'POST', pattern: /^\/openai\/v1\/chat\/completions$/, handler: chat_completions },
  { method: 'POST', pattern: /^\/openai\/v1\/embeddings$/, handler: embeddings },
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

/// Which provider's conventions (key header, error shapes) a path after the scenario prefix follows.
function family_of(api_path) {
  if (kGeminiPath.test(api_path)) return 'gemini';
  if (api_path.startsWith('/openai/')) return 'azure';
  if (api_path === '/v1/messages') return 'anthropic';
  return 'openai';
}

/// The keys a request presents, in its provider's ways: OpenAI `authorization: Bearer K`; Azure
/// also `api-key: K`; Anthropic also `x-api-key: K`; Gemini `x-goog-api-key: K` or `?key=K`.
function presented_keys(req, family, query) {
  const keys = [];
  const header = (name) => { if (typeof req.headers[name] === 'string') keys.push(req.headers[name]); };
  if (family === 'gemini') {
    header('x-goog-api-key');
    if (query.has('key')) keys.push(query.get('key'));
    return keys;
  }
  const bearer = /^Bearer (.*)$/.exec(req.headers.authorization ?? '');
  if (bearer) keys.push(bearer[1]);
  if (family === 'azure') header('api-key');
  if (family === 'anthropic') header('x-api-key');
  return keys;
}

/// The answer to a wrong or missing key, as each provider gives it: [status, body].
function auth_failure(family, keys) {
  switch (family) {
    case 'gemini': return keys.length ? [400, kGoogleKeyInvalid] : [403, kGoogleKeyMissing];
    case 'azure': return [401, kAzureKeyInvalid];
    case 'anthropic': return [401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }];
    default: return [401, error_body(401, 'Incorrect API key provided.')];
  }
}

/// The body of a scripted `status` in the shape of the path's provider.
function scripted_error(family, api_path, scenario) {
  const { status } = scenario;
  const message = `fake_upstream: scripted status ${status}`;
  switch (family) {
    case 'gemini':
      return google_scripted_error(status, message, scenario, decodeURIComponent(kGeminiPath.exec(api_path)[2]));
    case 'anthropic': return anthropic_error_body(status, message);
    case 'azure':
      // Azure's gateway answers these itself, in its own shape; other statuses come from the model
      // service in OpenAI's.
      if ([401, 403, 404, 429].includes(status)) return azure_error_body(scenario.code || String(status), message);
      return error_body(status, message, null, scenario.code);
    default: return error_body(status, message, null, scenario.code);
  }
}

async function handle(req, res, verbose) {
  const url = new URL(req.url, 'http://fake');
  const path = url.pathname;
  const query = url.searchParams;
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

  const family = family_of(api_path);
  if (family === 'azure' && kAzureDeploymentPath.test(api_path) && !query.get('api-version')) {
    return send_json(res, 404, azure_error_body('404', 'Resource not found'));
  }
  const keys = presented_keys(req, family, query);
  if (scenario.require_key !== undefined && !keys.includes(scenario.require_key)) {
    const [status, body] = auth_failure(family, keys);
    return send_json(res, status, body);
  }
  if (scenario.status !== undefined && (scenario.only_key === undefined || keys.includes(scenario.only_key))) {
    let fail = true;
    if (scenario.fail_first !== undefined) {
      const seen = (state.fail_counts.get(path) ?? 0) + 1;
      state.fail_counts.set(path, seen);
      fail = seen <= scenario.fail_first;
    }
    if (fail) {
      const headers = scenario.retry_after !== undefined ? { 'retry-after': scenario.retry_after } : {};
      return send_json(res, scenario.status, scripted_error(family, api_path, scenario), headers);
    }
  }

  const ctx = { req, res, scenario, body_text, body_json, path, query };
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
