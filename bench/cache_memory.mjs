#!/usr/bin/env node
// Cache memory: fills tollgate's response cache with N distinct ~1 KB answers and prints what each entry costs in RSS and in the cache's own byte count.
//
//   node bench/cache_memory.mjs [--bin build/release/tollgate] [--entries 20000] [--answer-bytes 1024]
//                               [--concurrency 32] [--stream] [--json]
//
// Starts tests/upstream/fake_upstream.mjs (it echoes the last user message, so every prompt gets its
// own answer) and tollgate (auth open, loopback, ephemeral port, `cache: {mode: exact}` with room for
// every entry, dedup on). Each request carries a unique prompt of realistic English words sized so
// that the upstream's chat.completion body is about --answer-bytes long. Three phases, all with the
// same request shapes and concurrency:
//   warm-up   N/10 requests with `x-tollgate-cache: skip` (pools, allocator arenas, SQLite pages);
//   baseline  N requests with `x-tollgate-cache: skip`: what a request costs in RSS with nothing
//             cached (ledger, logs, allocator drift), to read the cache figure against;
//   fill      N requests the cache stores (each must answer `x-tollgate-cache: miss`).
// Then 200 of the filled prompts again, which must be hits with the same answer. It prints VmRSS and
// RssAnon of the tollgate process (/proc/PID/status) around the baseline and the fill, the growth
// per request / entry, tollgate_cache_bytes and tollgate_cache_entries from /metrics, and the
// cache's stats (GET /api/v1/cache/stats: compressed entries, evictions, rejections).
// --stream fills the cache with stream transcripts instead (the fake upstream sends one chunk per
// word). Exit 0 when every entry was stored and is held, 1 otherwise, 2 when the run could not be set
// up. The binary: --bin, else $TOLLGATE_BIN, else build/release/tollgate in the repo. ~25-40 s
// (--stream is ~4x slower per request: --entries 5000 keeps it near half a minute).

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  get, joined_content, kRepoRoot, metric_sum, parse_metrics, post_stream, read_sse, start_tollgate, start_upstream,
} from '../tests/integration/support.mjs';

const kMaster = 'bench-master-cache-memory-5d1c9e7a0b';
const kModel = 'mem';
const kCheckSample = 200;
const kSettleMs = 1000;

// Common English words, so answers look like text (entries under 2 KiB are stored uncompressed
// anyway, but --stream transcripts and bigger --answer-bytes are compressed).
const kWords = (
  'the of and to in is that for it as with was on be by this are at from or an have not but which ' +
  'can all their more one will would there been has when were so if about what who also other into ' +
  'its than them these only some time could may such like new then after first two most over any ' +
  'where through because between each those should well system request latency gateway upstream ' +
  'cache model token answer budget provider stream connection response client server memory entry ' +
  'policy retry timeout failover routing deployment usage cost price limit window error status'
).split(' ');

/// mulberry32: a small seeded PRNG, so every run sends the same texts.
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

/// A unique prompt of exactly `length` characters (JSON-safe, no escapes): a tag, then words.
function prompt_text(tag, length, random) {
  let text = `${tag}:`;
  while (text.length < length) text += ` ${kWords[Math.floor(random() * kWords.length)]}`;
  return text.slice(0, Math.max(length, tag.length + 1));
}

function proc_status(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS') * 1024, anon: kib('RssAnon') * 1024 };
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

/// One chat completion; resolves {status, cache (the x-tollgate-cache header), content, bytes}.
async function chat(url, prompt, { stream, skip }) {
  const body = { model: kModel, messages: [{ role: 'user', content: prompt }] };
  const headers = skip ? { 'x-tollgate-cache': 'skip' } : {};
  if (stream) {
    const { res } = await post_stream(url, { ...body, stream: true }, headers);
    const sse = await read_sse(res);
    return {
      status: res.status,
      cache: res.headers.get('x-tollgate-cache'),
      content: joined_content(sse.chunks),
      bytes: sse.events.reduce((n, e) => n + e.data.length, 0),
      chunks: sse.events.length,
      ok: res.status === 200 && sse.done && !sse.error,
    };
  }
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return {
    status: res.status,
    cache: res.headers.get('x-tollgate-cache'),
    content: json?.choices?.[0]?.message?.content,
    bytes: Buffer.byteLength(text),
    ok: res.status === 200 && json !== undefined,
  };
}

async function cache_figures(gw) {
  const samples = parse_metrics((await get(`${gw.url}/metrics`)).text);
  const stats = await get(`${gw.url}/api/v1/cache/stats`, { authorization: `Bearer ${kMaster}` });
  return {
    metric_bytes: metric_sum(samples, 'tollgate_cache_bytes'),
    metric_entries: metric_sum(samples, 'tollgate_cache_entries'),
    stats: stats.status === 200 ? stats.json : { error: `HTTP ${stats.status}: ${stats.text.slice(0, 200)}` },
  };
}

const settle = () => new Promise((resolve) => { setTimeout(resolve, kSettleMs); });

/// Runs the measurement; resolves with the figures, `passed` and `problems`.
export async function run_cache_memory(options = {}) {
  const o = { entries: 20000, answer_bytes: 1024, concurrency: 32, stream: false, bin: null, ...options };
  if (o.bin) process.env.TOLLGATE_BIN = path.resolve(o.bin);
  else if (!process.env.TOLLGATE_BIN) process.env.TOLLGATE_BIN = path.join(kRepoRoot, 'build', 'release', 'tollgate');

  let up;
  let gw;
  try {
    up = await start_upstream();
    // At info: start_tollgate waits for the `listening on` line.
    gw = await start_tollgate({
      config: {
        auth: { mode: 'open' },
        providers: [{ id: 'up', type: 'openai', base_url: up.base_url() }],
        models: [{ name: kModel, deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] }],
        // Room for every entry: an eviction would make the per-entry figures meaningless.
        cache: { mode: 'exact', ttl: '1h', max_bytes: '4GiB' },
        dedup: { enabled: true },
      },
      env: { TOLLGATE_MASTER_KEY: kMaster },
    });
    const url = `${gw.url}/v1/chat/completions`;
    const pid = gw.child.proc.pid;
    const problems = [];
    const random = mulberry32(1);
    const kind = { stream: o.stream };

    // The upstream's envelope around the content, so the answer body lands near --answer-bytes.
    const probe = await chat(url, 'probe', { stream: false, skip: true });
    if (!probe.ok) throw new Error(`probe request failed: HTTP ${probe.status}`);
    const envelope = probe.bytes - probe.content.length;
    const content_length = Math.max(32, o.answer_bytes - envelope);
    const prompts = (phase, count) => Array.from({ length: count }, (_, i) => prompt_text(`${phase}-${i}`, content_length, random));

    const phase = async (name, texts, skip, expect_cache) => {
      const before = proc_status(pid);
      const t0 = performance.now();
      const results = await run_pool(texts.length, o.concurrency, (i) => chat(url, texts[i], { ...kind, skip }));
      const wall_s = (performance.now() - t0) / 1000;
      await settle();
      const after = proc_status(pid);
      const failed = results.filter((r) => !r.ok).length;
      const wrong_cache = results.filter((r) => r.cache !== expect_cache).length;
      if (failed) problems.push(`${name}: ${failed} of ${texts.length} requests failed`);
      if (wrong_cache) problems.push(`${name}: ${wrong_cache} answers without x-tollgate-cache: ${expect_cache}`);
      return {
        requests: texts.length,
        wall_s,
        rps: texts.length / wall_s,
        answer_bytes_avg: results.reduce((n, r) => n + r.bytes, 0) / results.length,
        chunks_avg: o.stream ? results.reduce((n, r) => n + r.chunks, 0) / results.length : undefined,
        rss_before: before.rss,
        rss_after: after.rss,
        rss_per_request: (after.rss - before.rss) / texts.length,
        anon_per_request: (after.anon - before.anon) / texts.length,
        results,
      };
    };

    const t_start = performance.now();
    await phase('warm-up', prompts('warm', Math.max(100, Math.floor(o.entries / 10))), true, 'bypass');
    const baseline = await phase('baseline', prompts('base', o.entries), true, 'bypass');
    const before_fill = await cache_figures(gw);
    const fill_texts = prompts('fill', o.entries);
    const fill = await phase('fill', fill_texts, false, 'miss');
    const cache = await cache_figures(gw);

    // Stored means served: a sample of the filled prompts must come back from the cache unchanged.
    const sample = Array.from({ length: Math.min(kCheckSample, o.entries) }, (_, k) => Math.floor((k * o.entries) / Math.min(kCheckSample, o.entries)));
    const again = await run_pool(sample.length, o.concurrency, (k) => chat(url, fill_texts[sample[k]], kind));
    const not_hit = again.filter((r, k) => !r.ok || r.cache !== 'hit' || r.content !== fill.results[sample[k]].content).length;
    if (not_hit) problems.push(`${not_hit} of ${sample.length} filled prompts were not answered from the cache unchanged`);

    const entries = cache.metric_entries - before_fill.metric_entries;
    const bytes = cache.metric_bytes - before_fill.metric_bytes;
    if (entries !== o.entries) problems.push(`the cache holds ${entries} new entries, expected ${o.entries}`);
    if (cache.stats.evictions) problems.push(`${cache.stats.evictions} evictions`);
    if (cache.stats.rejected) problems.push(`${cache.stats.rejected} rejected puts`);
    if (gw.child.exited) problems.push('tollgate exited during the run');

    for (const p of [baseline, fill]) delete p.results;
    return {
      settings: { ...o, bin: process.env.TOLLGATE_BIN, content_length },
      baseline,
      fill,
      cache: {
        entries,
        bytes,
        bytes_per_entry: bytes / Math.max(1, entries),
        compressed_entries: cache.stats.compressed_entries,
        evictions: cache.stats.evictions,
        rejected: cache.stats.rejected,
      },
      rss_per_entry: fill.rss_per_request,
      rss_per_entry_net: fill.rss_per_request - baseline.rss_per_request,
      wall_s: (performance.now() - t_start) / 1000,
      problems,
      passed: problems.length === 0,
    };
  } finally {
    await gw?.stop();
    await up?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
const per = (b) => `${Math.round(b)} B`;

export function format_figures(f) {
  const kind = f.settings.stream ? `stream transcripts (~${Math.round(f.fill.chunks_avg)} SSE events each)` : 'chat.completion bodies';
  return [
    '== tollgate cache memory ==',
    `binary:    ${f.settings.bin}`,
    `entries:   ${f.settings.entries} ${kind}, answer ~${Math.round(f.fill.answer_bytes_avg)} B` +
      `${f.settings.stream ? ' of SSE data' : ''} (content ${f.settings.content_length} chars), concurrency ${f.settings.concurrency}`,
    `baseline:  ${f.baseline.requests} requests with x-tollgate-cache: skip: RSS ${mib(f.baseline.rss_before)} -> ` +
      `${mib(f.baseline.rss_after)}, ${per(f.baseline.rss_per_request)}/request (anon ${per(f.baseline.anon_per_request)}), ` +
      `${Math.round(f.baseline.rps)} rps`,
    `fill:      ${f.fill.requests} requests stored: RSS ${mib(f.fill.rss_before)} -> ${mib(f.fill.rss_after)}, ` +
      `${per(f.fill.rss_per_request)}/entry (anon ${per(f.fill.anon_per_request)}), ${Math.round(f.fill.rps)} rps`,
    `RSS per entry: ${per(f.rss_per_entry)} (${per(f.rss_per_entry_net)} over the baseline's per-request growth)`,
    `tollgate_cache_bytes: +${mib(f.cache.bytes)} for +${f.cache.entries} entries = ${per(f.cache.bytes_per_entry)}/entry` +
      ` (RSS/charged: ${(f.rss_per_entry / f.cache.bytes_per_entry).toFixed(2)})`,
    `cache:     ${f.cache.compressed_entries} compressed, ${f.cache.evictions} evictions, ${f.cache.rejected} rejected`,
    `time:      ${f.wall_s.toFixed(1)} s`,
    f.passed ? 'result:    OK' : `result:    FAILED: ${f.problems.join('; ')}`,
  ].join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      bin: { type: 'string' },
      entries: { type: 'string' },
      'answer-bytes': { type: 'string' },
      concurrency: { type: 'string' },
      stream: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const int = (v, name, min) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  let options;
  try {
    options = {
      bin: values.bin,
      entries: int(values.entries, 'entries', 1),
      answer_bytes: int(values['answer-bytes'], 'answer-bytes', 1),
      concurrency: int(values.concurrency, 'concurrency', 1),
      stream: values.stream ?? false,
    };
  } catch (e) {
    console.error(`cache_memory: ${e.message}`);
    process.exit(2);
  }
  options = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  let figures;
  try {
    figures = await run_cache_memory(options);
  } catch (e) {
    console.error(`cache_memory: could not run: ${e.stack ?? e}`);
    process.exit(2);
  }
  console.log(format_figures(figures));
  if (values.json) console.log(JSON.stringify(figures, null, 2));
  process.exit(figures.passed ? 0 : 1);
}

const invoked = process.argv[1] && fs.realpathSync(path.resolve(process.argv[1])) === fs.realpathSync(fileURLToPath(import.meta.url));
if (invoked) await main();
