#!/usr/bin/env node
// Chaos run: tollgate before two deployments that fail at random and one healthy one; prints what callers saw.
//
//   node bench/chaos.mjs [--bin build/release/tollgate] [--requests 2000] [--concurrency 50]
//                        [--fault 0.3] [--stream-requests 500] [--seed 1] [--keys 0] [--json]
//
// Starts tests/upstream/fake_upstream.mjs and tollgate (auth open, loopback, ephemeral port) with
// providers p1 and p2 whose base URLs carry the fake upstream's `chaos=FAULT:SEED` directive (500,
// 429 with retry-after, hang, broken answer, each a quarter of FAULT) and a healthy p3; one model
// `chaos` over the three (round-robin), max_attempts 4, first_byte_timeout 300ms, attempt_timeout 2s.
// By default the providers have no keys (called without credentials, like local servers), so a 429
// counts only against the deployment; --keys N gives each provider a pool of N keys, and then a 429
// rests the key that got it for the retry-after second (with N = 1 the whole deployment rests, and
// the faulty deployments see far less traffic).
// Then sends --requests non-stream chat completions at --concurrency with fetch, and --stream-requests
// streamed ones, each with a unique prompt the answer must echo. Prints a figures block (--json: the
// figures as JSON too). Exit 0 when every non-stream request succeeded and no stream ended with
// [DONE] on a truncated answer; 1 otherwise; 2 when the run could not be set up.
// The binary: --bin, else $TOLLGATE_BIN, else build/release/tollgate in the repo.
//
// `run_chaos(options)` (the same options in snake_case: requests, concurrency, fault, stream_requests,
// seed, keys, bin) returns the figures for tests; `format_figures(figures)` renders them.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  get, joined_content, kRepoRoot, parse_metrics, read_sse, start_tollgate, start_upstream,
} from '../tests/integration/support.mjs';

const kDefaults = {
  requests: 2000,
  concurrency: 50,
  fault: 0.3,
  stream_requests: 500,
  seed: 1,
  keys: 0,
  bin: null,
  client_timeout_ms: 30_000,
};

const kModel = 'chaos';
const kRouting = {
  strategy: 'round-robin',
  max_attempts: 4,
  backoff: { base: '20ms', max: '200ms' },
  first_byte_timeout: '300ms',
  attempt_timeout: '2s',
  stream_idle_timeout: '2s',
};

/// The provider ids and the fake upstream scenario each one's base URL carries.
function scenarios(fault, seed) {
  return {
    p1: `chaos=${fault}:${seed},id=p1`,
    p2: `chaos=${fault}:${seed + 1},id=p2`,
    p3: 'id=p3',
  };
}

function chaos_config(up, scenario_of, keys) {
  return {
    auth: { mode: 'open' },
    providers: Object.entries(scenario_of).map(([id, scenario]) => ({
      id,
      type: 'openai',
      base_url: up.base_url(scenario),
      ...(keys > 0 ? { keys: Array.from({ length: keys }, (_, k) => `sk-chaos-${id}-${k}-0123456789abcdef`) } : {}),
    })),
    models: [{
      name: kModel,
      strategy: 'round-robin',
      deployments: Object.keys(scenario_of).map((provider) => ({ provider, model: 'gpt-4o-mini' })),
    }],
    routing: kRouting,
    // Every request must reach the executor: nothing answered from cache or joined.
    cache: { mode: 'off' },
    dedup: { enabled: false },
  };
}

// ---------------------------------------------------------------------------------------------
// Small statistics

function bump(histogram, key) {
  histogram[key] = (histogram[key] ?? 0) + 1;
}

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => (sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] : NaN);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1] : NaN };
}

async function run_pool(count, concurrency, one) {
  const results = new Array(count);
  let next = 0;
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      results[i] = await one(i);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return results;
}

async function metrics_snapshot(gw) {
  const samples = parse_metrics((await get(`${gw.url}/metrics`)).text);
  const failovers = {};
  let retries = 0;
  for (const s of samples) {
    if (s.name === 'tollgate_failovers_total') failovers[s.labels.reason ?? ''] = (failovers[s.labels.reason ?? ''] ?? 0) + s.value;
    if (s.name === 'tollgate_retries_total') retries += s.value;
  }
  return { failovers, retries };
}

function metrics_delta(before, after) {
  const failovers = {};
  for (const [reason, value] of Object.entries(after.failovers)) {
    const d = value - (before.failovers[reason] ?? 0);
    if (d !== 0) failovers[reason] = d;
  }
  return {
    failovers,
    failovers_total: Object.values(failovers).reduce((a, b) => a + b, 0),
    retries_total: after.retries - before.retries,
  };
}

/// Upstream calls and chaos outcomes per provider since the last /_reset.
async function upstream_figures(up, scenario_of) {
  const stats = await up.stats();
  const out = {};
  for (const [id, scenario] of Object.entries(scenario_of)) {
    const p = up.chat_path(scenario);
    out[id] = { calls: stats.by_path[p] ?? 0, ...(stats.chaos?.[p] ? { chaos: stats.chaos[p] } : {}) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One request of each kind

function prompt_for(kind, i) {
  return `chaos ${kind} request number ${i} from ${process.pid} please echo`;
}

function describe_error(e) {
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' ? 'client_timeout' : 'network_error';
}

async function one_unary(url, i, timeout_ms) {
  const prompt = prompt_for('unary', i);
  const started = performance.now();
  let res;
  let text;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: kModel, messages: [{ role: 'user', content: prompt }] }),
      signal: AbortSignal.timeout(timeout_ms),
    });
    text = await res.text();
  } catch (e) {
    return { ok: false, status: describe_error(e), latency_ms: performance.now() - started, detail: String(e) };
  }
  const latency_ms = performance.now() - started;
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  const choice = json?.choices?.[0];
  const ok = res.status === 200 && choice?.message?.content === prompt && choice?.finish_reason === 'stop';
  return {
    ok,
    status: String(res.status),
    latency_ms,
    attempts: res.headers.get('x-tollgate-attempts') ?? 'none',
    provider: res.headers.get('x-tollgate-provider') ?? 'none',
    detail: ok ? undefined : (res.status === 200 ? `200 with a wrong answer: ${text.slice(0, 300)}` : text.slice(0, 300)),
  };
}

/// Classifies a streamed answer: complete, error_event, truncated_done (the one that must not
/// happen: [DONE] after a cut answer), cut_silently (no [DONE], no error event), or not_started.
async function one_stream(url, i, timeout_ms) {
  const prompt = prompt_for('stream', i);
  const started = performance.now();
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ model: kModel, stream: true, messages: [{ role: 'user', content: prompt }] }),
      signal: AbortSignal.timeout(timeout_ms),
    });
  } catch (e) {
    return { outcome: 'not_started', status: describe_error(e), latency_ms: performance.now() - started, detail: String(e) };
  }
  const base = {
    status: String(res.status),
    attempts: res.headers.get('x-tollgate-attempts') ?? 'none',
    provider: res.headers.get('x-tollgate-provider') ?? 'none',
  };
  if (res.status !== 200 || !/^text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
    const text = await res.text().catch((e) => String(e));
    return { ...base, outcome: 'not_started', latency_ms: performance.now() - started, detail: text.slice(0, 300) };
  }
  const s = await read_sse(res);
  const latency_ms = performance.now() - started;
  const finished = s.chunks.some((c) => c.json.choices?.some((ch) => ch.finish_reason));
  const content = joined_content(s.chunks);
  const last = s.events[s.events.length - 1];
  let outcome;
  if (s.done) outcome = finished && content === prompt ? 'complete' : 'truncated_done';
  else if (last?.json?.error) outcome = 'error_event';
  else outcome = 'cut_silently';
  const detail = outcome === 'complete' ? undefined
    : `${s.events.length} events, finish_reason ${finished}, content ${JSON.stringify(content)}` +
      `${s.error ? `, transport error ${s.error}` : ''}, last ${last ? last.data.slice(0, 200) : 'none'}`;
  return { ...base, outcome, latency_ms, chunks_before_end: s.chunks.length, detail };
}

// ---------------------------------------------------------------------------------------------
// The run

function summarize(results, wall_ms) {
  const status = {};
  const attempts = {};
  const provider = {};
  for (const r of results) {
    bump(status, r.status);
    if (r.attempts !== undefined) bump(attempts, r.attempts);
    if (r.provider !== undefined) bump(provider, r.provider);
  }
  return {
    requests: results.length,
    wall_s: wall_ms / 1000,
    rps: results.length / (wall_ms / 1000),
    status,
    latency_ms: percentiles(results.map((r) => r.latency_ms)),
    attempts,
    provider,
  };
}

/// Runs the chaos scenario; resolves with the figures (see format_figures), `passed` and `problems`.
export async function run_chaos(options = {}) {
  const o = { ...kDefaults, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (o.bin) process.env.TOLLGATE_BIN = path.resolve(o.bin);
  else if (!process.env.TOLLGATE_BIN) process.env.TOLLGATE_BIN = path.join(kRepoRoot, 'build', 'release', 'tollgate');

  const scenario_of = scenarios(o.fault, o.seed);
  let up;
  let gw;
  try {
    up = await start_upstream();
    const config = chaos_config(up, scenario_of, o.keys);
    // At info: start_tollgate waits for the `listening on` line.
    gw = await start_tollgate({ config });
    const url = `${gw.url}/v1/chat/completions`;
    const problems = [];
    const figures = {
      settings: {
        requests: o.requests, concurrency: o.concurrency, fault: o.fault, stream_requests: o.stream_requests,
        seed: o.seed, keys: o.keys, bin: process.env.TOLLGATE_BIN, scenarios: scenario_of, routing: kRouting,
      },
    };

    // Non-stream phase.
    await up.reset();
    let m0 = await metrics_snapshot(gw);
    let t0 = performance.now();
    const unary = await run_pool(o.requests, o.concurrency, (i) => one_unary(url, i, o.client_timeout_ms));
    const unary_wall = performance.now() - t0;
    const ok = unary.filter((r) => r.ok).length;
    figures.non_stream = {
      ...summarize(unary, unary_wall),
      ok,
      success_rate: unary.length ? ok / unary.length : 1,
      failures_sample: unary.filter((r) => !r.ok).slice(0, 5).map((r) => `${r.status}: ${r.detail}`),
      upstream: await upstream_figures(up, scenario_of),
      metrics: metrics_delta(m0, await metrics_snapshot(gw)),
    };
    if (ok !== unary.length) problems.push(`${unary.length - ok} of ${unary.length} non-stream requests failed`);

    // Stream phase.
    if (o.stream_requests > 0) {
      await up.reset();
      m0 = await metrics_snapshot(gw);
      t0 = performance.now();
      const streams = await run_pool(o.stream_requests, o.concurrency, (i) => one_stream(url, i, o.client_timeout_ms));
      const outcomes = { complete: 0, error_event: 0, truncated_done: 0, cut_silently: 0, not_started: 0 };
      for (const r of streams) outcomes[r.outcome] += 1;
      figures.stream = {
        ...summarize(streams, performance.now() - t0),
        outcomes,
        // Error events after a committed start: how many answer chunks callers had by then.
        error_event_chunks: streams.filter((r) => r.outcome === 'error_event')
          .reduce((h, r) => { bump(h, r.chunks_before_end); return h; }, {}),
        failures_sample: streams.filter((r) => r.outcome !== 'complete').slice(0, 5)
          .map((r) => `${r.outcome} (${r.status}): ${r.detail}`),
        upstream: await upstream_figures(up, scenario_of),
        metrics: metrics_delta(m0, await metrics_snapshot(gw)),
      };
      if (outcomes.truncated_done > 0) problems.push(`${outcomes.truncated_done} streams ended with [DONE] on a truncated answer`);
    }

    if (gw.child.exited) problems.push('tollgate exited during the run');
    figures.problems = problems;
    figures.passed = problems.length === 0;
    return figures;
  } finally {
    await gw?.stop();
    await up?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function fmt_hist(h) {
  const keys = Object.keys(h).sort((a, b) => (Number(a) - Number(b)) || a.localeCompare(b));
  return keys.length ? keys.map((k) => `${k}: ${h[k]}`).join(', ') : '-';
}

function fmt_ms(v) {
  return Number.isFinite(v) ? `${v.toFixed(1)}ms` : '-';
}

function fmt_latency(l) {
  return `p50 ${fmt_ms(l.p50)}, p95 ${fmt_ms(l.p95)}, p99 ${fmt_ms(l.p99)}, max ${fmt_ms(l.max)}`;
}

function fmt_upstream(upstream, scenario_of) {
  return Object.entries(upstream).map(([id, u]) => {
    const note = u.chaos ? fmt_hist(u.chaos) : (/chaos=/.test(scenario_of[id]) ? 'chaos, no outcome drawn' : 'healthy');
    return `  ${id}: ${u.calls} calls (${note})`;
  });
}

function fmt_metrics(m) {
  return `failovers_total ${m.failovers_total} (${fmt_hist(m.failovers)}), retries_total ${m.retries_total}`;
}

/// The figures as a text block.
export function format_figures(f) {
  const s = f.settings;
  const lines = [
    '== tollgate chaos run ==',
    `binary:     ${s.bin}`,
    `upstreams:  ${Object.entries(s.scenarios).map(([id, sc]) => `${id} [${sc}]`).join(', ')}`,
    `routing:    ${JSON.stringify(s.routing)}`,
    `keys:       ${s.keys ? `${s.keys} per provider` : 'none (providers called without credentials)'}`,
    `load:       ${s.requests} non-stream + ${s.stream_requests} stream requests at concurrency ${s.concurrency}`,
  ];
  const n = f.non_stream;
  lines.push(
    '',
    '-- non-stream --',
    `requests:   ${n.requests} in ${n.wall_s.toFixed(1)}s (${n.rps.toFixed(0)} req/s)`,
    `success:    ${n.ok}/${n.requests} = ${(100 * n.success_rate).toFixed(2)}%`,
    `status:     ${fmt_hist(n.status)}`,
    `latency:    ${fmt_latency(n.latency_ms)}`,
    `attempts:   ${fmt_hist(n.attempts)}  (x-tollgate-attempts)`,
    `served by:  ${fmt_hist(n.provider)}`,
    'upstream calls (chaos outcomes):',
    ...fmt_upstream(n.upstream, s.scenarios),
    `metrics:    ${fmt_metrics(n.metrics)}`,
  );
  if (n.failures_sample.length) lines.push('failures (first 5):', ...n.failures_sample.map((x) => `  ${x}`));
  if (f.stream) {
    const st = f.stream;
    lines.push(
      '',
      '-- stream --',
      `requests:   ${st.requests} in ${st.wall_s.toFixed(1)}s`,
      `complete ([DONE] after finish_reason, full answer): ${st.outcomes.complete}`,
      `ended with an SSE error event:                      ${st.outcomes.error_event}` +
        (st.outcomes.error_event ? `  (answer chunks before it: ${fmt_hist(st.error_event_chunks)})` : ''),
      `[DONE] on a truncated answer (must be 0):           ${st.outcomes.truncated_done}`,
      `cut with neither [DONE] nor error event:            ${st.outcomes.cut_silently}`,
      `not started (non-200 or no connection):             ${st.outcomes.not_started}`,
      `status:     ${fmt_hist(st.status)}`,
      `latency:    ${fmt_latency(st.latency_ms)}  (whole stream)`,
      `attempts:   ${fmt_hist(st.attempts)}`,
      `served by:  ${fmt_hist(st.provider)}`,
      'upstream calls (chaos outcomes):',
      ...fmt_upstream(st.upstream, s.scenarios),
      `metrics:    ${fmt_metrics(st.metrics)}`,
    );
    if (st.failures_sample.length) lines.push('not complete (first 5):', ...st.failures_sample.map((x) => `  ${x}`));
  }
  lines.push('', f.passed ? 'RESULT: PASS' : `RESULT: FAIL — ${f.problems.join('; ')}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// CLI

function number_option(values, name, { integer = true, min = 0, max = Infinity } = {}) {
  const text = values[name];
  const v = Number(text);
  if (text === undefined) return undefined;
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new Error(`--${name}: bad value '${text}'`);
  }
  return v;
}

async function main() {
  let options;
  let json = false;
  try {
    const { values } = parseArgs({
      options: {
        bin: { type: 'string' },
        requests: { type: 'string' },
        concurrency: { type: 'string' },
        fault: { type: 'string' },
        'stream-requests': { type: 'string' },
        seed: { type: 'string' },
        keys: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    json = values.json;
    options = {
      bin: values.bin,
      requests: number_option(values, 'requests', { min: 1 }),
      concurrency: number_option(values, 'concurrency', { min: 1 }),
      fault: number_option(values, 'fault', { integer: false, max: 1 }),
      stream_requests: number_option(values, 'stream-requests'),
      seed: number_option(values, 'seed', { max: 2 ** 32 - 2 }),
      keys: number_option(values, 'keys', { max: 100 }),
    };
  } catch (e) {
    process.stderr.write(`chaos: ${e.message}\n`);
    process.exit(2);
  }
  let figures;
  try {
    figures = await run_chaos(options);
  } catch (e) {
    process.stderr.write(`chaos: the run could not be set up or broke: ${e.stack ?? e}\n`);
    process.exit(2);
  }
  process.stdout.write(`${format_figures(figures)}\n`);
  if (json) process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  process.exit(figures.passed ? 0 : 1);
}

const invoked = process.argv[1] && fs.realpathSync(path.resolve(process.argv[1])) === fs.realpathSync(fileURLToPath(import.meta.url));
if (invoked) await main();
