// Integration test helpers: start the fake upstream and the real tollgate binary, talk HTTP and SSE to them, clean up.
//
// Every process started here is registered; `stop_all()` (call it from an `after` hook) ends them,
// and a process 'exit' handler kills whatever is still alive, so a failing test leaves no orphans.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const kRepoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const kFakeUpstream = path.join(kRepoRoot, 'tests', 'upstream', 'fake_upstream.mjs');
export const kSecret = 'sk-test-a';

const kStartTimeoutMs = 10_000;
const kStopTimeoutMs = 10_000;
const kProviderEnv = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'OLLAMA_BASE_URL'];

const live = new Set();
const temp_dirs = new Set();

process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const dir of temp_dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/// The tollgate binary under test: $TOLLGATE_BIN, required.
export function tollgate_bin() {
  const bin = process.env.TOLLGATE_BIN;
  if (!bin) throw new Error('TOLLGATE_BIN is not set: point it at the tollgate binary (e.g. build/tollgate)');
  if (!fs.existsSync(bin)) throw new Error(`TOLLGATE_BIN=${bin} does not exist`);
  return bin;
}

export function make_temp_dir(prefix = 'tollgate-it-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temp_dirs.add(dir);
  return dir;
}

/// The environment tollgate runs in: the test's own, less provider keys and tollgate settings,
/// so a developer's real keys never reach the binary under test.
export function clean_env(extra = {}) {
  const env = { ...process.env };
  for (const name of kProviderEnv) delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith('TOLLGATE_')) delete env[name];
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A child process with its stdout+stderr collected in arrival order.
class Child {
  constructor(name, proc) {
    this.name = name;
    this.proc = proc;
    this.output = '';
    this.exit = new Promise((resolve) => {
      // 'close' comes after the output pipes drained, so `output` is complete by then.
      proc.on('close', (code, signal) => { live.delete(this); resolve({ code, signal }); });
    });
    proc.on('error', (e) => { this.output += `\n[spawn error: ${e.message}]\n`; });
    for (const stream of [proc.stdout, proc.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (d) => { this.output += d; });
    }
    live.add(this);
  }

  get exited() { return this.proc.exitCode !== null || this.proc.signalCode !== null; }

  /// Sends `signal`; a second SIGTERM is never sent by stop(), as a server may take it as "force quit".
  kill(signal) {
    if (signal === 'SIGTERM') this.sigterm_sent = true;
    try { this.proc.kill(signal); } catch { /* already gone */ }
  }

  /// Waits for the exit without signalling; returns {code, signal}, or {timed_out: true} if still running.
  async wait_exit(timeout_ms = kStopTimeoutMs) {
    let timer;
    const timed_out = new Promise((resolve) => { timer = setTimeout(() => resolve({ timed_out: true }), timeout_ms); });
    const first = await Promise.race([this.exit, timed_out]);
    clearTimeout(timer);
    return first;
  }

  /// Sends SIGTERM (once) and waits for the exit, SIGKILL after the timeout; returns {code, signal},
  /// plus timed_out: true when it had to be killed.
  async stop(timeout_ms = kStopTimeoutMs) {
    if (this.exited) return this.exit;
    if (!this.sigterm_sent) this.kill('SIGTERM');
    const result = await this.wait_exit(timeout_ms);
    if (result.timed_out) {
      this.kill('SIGKILL');
      return { ...(await this.exit), timed_out: true };
    }
    return result;
  }

  /// Resolves with the first match of `regex` in the output; rejects on exit or timeout with the output.
  wait_for(regex, timeout_ms = kStartTimeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = regex.exec(this.output);
        if (m) { done(); resolve(m); return true; }
        return false;
      };
      const on_exit = ({ code, signal }) => {
        if (check()) return;
        done();
        reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) before printing ${regex}; ` +
                         `output:\n${this.output}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${regex} within ${timeout_ms} ms; output:\n${this.output}`));
      }, timeout_ms);
      const listener = () => check();
      const done = () => {
        clearTimeout(timer);
        this.proc.stdout?.off('data', listener);
        this.proc.stderr?.off('data', listener);
      };
      if (check()) return;
      this.proc.stdout?.on('data', listener);
      this.proc.stderr?.on('data', listener);
      this.exit.then(on_exit);
    });
  }
}

/// Stops every process these helpers started (for `after` hooks); never throws.
export async function stop_all() {
  await Promise.all([...live].map((child) => child.stop().catch(() => {})));
}

/// Starts tests/upstream/fake_upstream.mjs on an ephemeral port.
export async function start_upstream() {
  const proc = spawn(process.execPath, [kFakeUpstream, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child('fake upstream', proc);
  const m = await child.wait_for(/^\{"port":\s*(\d+)\}\s*$/m);
  const port = Number(m[1]);
  const origin = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    origin,
    /// An OpenAI base_url ending in /v1 whose requests follow `scenario` (e.g. "status=500,id=a").
    base_url: (scenario = '') => (scenario ? `${origin}/scenario/${scenario}/v1` : `${origin}/v1`),
    /// The request path the upstream records for a chat completion under `scenario`.
    chat_path: (scenario = '') => (scenario ? `/scenario/${scenario}/v1/chat/completions` : '/v1/chat/completions'),
    stats: async () => (await fetch(`${origin}/_stats`)).json(),
    reset: async () => { await fetch(`${origin}/_reset`, { method: 'POST' }); },
    stop: () => child.stop(),
  };
}

/// Writes a config file into a temp dir: an object is written as JSON (which is YAML), a string as is.
export function write_config(config, dir = make_temp_dir()) {
  const file = path.join(dir, 'tollgate.yaml');
  fs.writeFileSync(file, typeof config === 'string' ? config : `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/// Starts tollgate on port 0 and waits for its `listening on http://HOST:PORT` line.
/// options: config (object|string|null: null means no --config), args (extra), env (extra),
///          log_level ('info'), data_dir (default: a fresh `data` folder in a temp dir; pass the
///          `data_dir` of an earlier run to restart on the same state).
export async function start_tollgate({ config = null, args = [], env = {}, log_level = 'info', data_dir = null } = {}) {
  const bin = tollgate_bin();
  const dir = make_temp_dir();
  const data = data_dir ?? path.join(dir, 'data');
  const argv = ['--port', '0', '--data-dir', data, '--log-level', log_level];
  let config_file = null;
  if (config !== null) {
    config_file = write_config(config, dir);
    argv.unshift('--config', config_file);
  }
  argv.push(...args);
  const proc = spawn(bin, argv, { cwd: kRepoRoot, env: clean_env(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child('tollgate', proc);
  let m;
  try {
    m = await child.wait_for(/listening on (http:\/\/(\[[^\]]+\]|[^\s:/"']+):(\d+))/);
  } catch (e) {
    await child.stop();
    throw e;
  }
  const port = Number(m[3]);
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    port,
    url,
    config_file,
    dir,
    data_dir: data,
    output: () => child.output,
    stop: () => child.stop(),
  };
}

/// Runs the binary to completion (for --version, check-config); returns {status, stdout, stderr, output}.
export function run_tollgate(args, { env = {}, timeout_ms = 10_000 } = {}) {
  const r = spawnSync(tollgate_bin(), args, { cwd: kRepoRoot, env: clean_env(env), encoding: 'utf8', timeout: timeout_ms });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '',
           output: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

/// `promtool check metrics` on `text` (stdin); returns {status, output}.
export function promtool_check(text) {
  const r = spawnSync(process.env.PROMTOOL || 'promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// POSTs JSON (or a raw string) and reads the whole answer; returns {status, headers, text, json}.
export async function post_json(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return read_response(res);
}

export async function get(url, headers = {}) {
  return read_response(await fetch(url, { headers }));
}

/// Any method, with the path sent byte for byte (no dot-segment or percent normalisation, unlike
/// fetch), so tests can send `..` paths. `body`: undefined (none), a Buffer or string (as is), or
/// a value sent as JSON. Returns {status, headers (a Headers), text, json} like post_json.
export function request(method, url, body = undefined, headers = {}) {
  const m = /^http:\/\/([^/:]+|\[[^\]]+\]):(\d+)(\/.*)?$/.exec(url);
  if (!m) throw new Error(`request(): not an http://host:port/path URL: ${url}`);
  let payload = null;
  if (Buffer.isBuffer(body)) payload = body;
  else if (typeof body === 'string') payload = Buffer.from(body, 'utf8');
  else if (body !== undefined) payload = Buffer.from(JSON.stringify(body), 'utf8');
  const all = { ...(payload !== null ? { 'content-type': 'application/json' } : {}), ...headers };
  if (payload !== null) all['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]), path: m[3] ?? '/', method, headers: all },
      (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          const response_headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            response_headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          resolve({ status: res.statusCode, headers: response_headers, text, json });
        });
        res.on('error', reject);
      });
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

/// Polls `probe` (async, returns a value or throws/returns falsy) until it yields a truthy value;
/// for effects that land just after a response (audit entries, metrics). Throws the last error.
export async function eventually(probe, { timeout_ms = 3000, interval_ms = 25 } = {}) {
  const deadline = performance.now() + timeout_ms;
  let last_error = null;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last_error = null;
    } catch (e) {
      last_error = e;
    }
    if (performance.now() >= deadline) {
      throw last_error ?? new Error(`eventually(): the condition did not hold within ${timeout_ms} ms`);
    }
    await new Promise((resolve) => { setTimeout(resolve, interval_ms); });
  }
}

async function read_response(res) {
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/// Opens a streamed chat completion; returns the fetch Response (body not read yet) and the send time.
export async function post_stream(url, body, headers = {}) {
  const sent_at = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
  return { res, sent_at };
}

/// Yields the SSE events of `res` as they arrive: {data, json, at} with `at` from performance.now().
/// `json` is undefined for [DONE] and non-JSON data. A transport error ends the iteration by throwing.
export async function* sse_events(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const at = performance.now();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r?\n\r?\n/.exec(buffer);
        if (!m) break;
        const block = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        const data = block.split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data === '' && !block.split(/\r?\n/).some((line) => line.startsWith('data:'))) continue;
        let json;
        try { json = JSON.parse(data); } catch { json = undefined; }
        yield { data, json, at };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/// Reads a whole SSE stream: {events, done (saw [DONE]), error (transport error or null), ended_at}.
export async function read_sse(res) {
  const events = [];
  let error = null;
  try {
    for await (const event of sse_events(res)) events.push(event);
  } catch (e) {
    error = e;
  }
  return {
    events,
    chunks: events.filter((e) => e.json !== undefined && e.json.error === undefined),
    done: events.length > 0 && events[events.length - 1].data === '[DONE]',
    error,
    ended_at: performance.now(),
  };
}

/// The text of a list of chat.completion.chunk objects (first choice's deltas joined).
export function joined_content(chunks) {
  return chunks.map((c) => c.json?.choices?.[0]?.delta?.content ?? '').join('');
}

/// Tries a TCP connection; resolves 'connected' or the error code (e.g. 'ECONNREFUSED').
export function try_connect(port, host = '127.0.0.1', timeout_ms = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, timeout_ms);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve('connected'); });
    socket.once('error', (e) => { clearTimeout(timer); resolve(e.code ?? e.message); });
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics and assertions

/// Parses Prometheus text into [{name, labels, value}] (comments skipped).
export function parse_metrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

/// Sum of the samples named `name` whose labels include `labels`.
export function metric_sum(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/// Checks an OpenAI-shaped error body and returns its `error` object.
export function openai_error(body) {
  if (!body || typeof body !== 'object' || typeof body.error !== 'object' || body.error === null) {
    throw new Error(`not an OpenAI error body: ${JSON.stringify(body)}`);
  }
  for (const field of ['message', 'type', 'param', 'code']) {
    if (!(field in body.error)) throw new Error(`error body lacks '${field}': ${JSON.stringify(body)}`);
  }
  if (typeof body.error.message !== 'string' || body.error.message === '') {
    throw new Error(`error.message is not a non-empty string: ${JSON.stringify(body)}`);
  }
  return body.error;
}

/// A unique prompt, so no cache or dedup layer can answer a test from another test's request.
let prompt_counter = 0;
const prompts = [];
export function unique_prompt(words = 'hello from the test') {
  prompt_counter += 1;
  const prompt = `${words} ${process.pid}x${prompt_counter}`;
  prompts.push(prompt);
  return prompt;
}

/// Every prompt unique_prompt() handed out in this test file (to check logs never show one).
export function issued_prompts() {
  return [...prompts];
}
