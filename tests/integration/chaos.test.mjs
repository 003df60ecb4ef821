// Chaos: the fake upstream's chaos directive, and a small chaos run through tollgate (bench/chaos.mjs).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { run_chaos } from '../../bench/chaos.mjs';
import { post_json, start_upstream, stop_all } from './support.mjs';

after(stop_all);

const kHangWaitMs = 500;

/// Sends one non-stream chat request and names what came back: ok, 500, 429, hang or broken.
async function outcome_of(url, i) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-x', messages: [{ role: 'user', content: `chaos probe ${i}` }] }),
      signal: AbortSignal.timeout(kHangWaitMs),
    });
  } catch (e) {
    assert.equal(e.name, 'TimeoutError', `unexpected fetch failure: ${e}`);
    return 'hang';
  }
  let text;
  try {
    text = await res.text();
  } catch {
    assert.equal(res.status, 200);
    return 'broken';
  }
  if (res.status === 200) {
    assert.equal(JSON.parse(text).choices[0].message.content, `chaos probe ${i}`);
    return 'ok';
  }
  if (res.status === 429) assert.equal(res.headers.get('retry-after'), '1');
  else assert.equal(res.status, 500, text);
  assert.equal(JSON.parse(text).error.message, `fake_upstream: chaos ${res.status}`);
  return String(res.status);
}

async function probe(up, scenario, n) {
  const url = `${up.base_url(scenario)}/chat/completions`;
  const seen = { ok: 0, 500: 0, 429: 0, hang: 0, broken: 0 };
  const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => outcome_of(url, i)));
  for (const o of outcomes) seen[o] += 1;
  return seen;
}

test('chaos=P:SEED fails a seeded share of requests with 500/429/hang/broken, counted in /_stats', async () => {
  const up = await start_upstream();
  const scenario = 'chaos=0.5:7,id=probe';
  const first = await probe(up, scenario, 60);
  const stats = await up.stats();
  assert.deepEqual(stats.chaos[up.chat_path(scenario)], first);
  assert.equal(Object.values(first).reduce((a, b) => a + b, 0), 60);
  for (const kind of ['ok', '500', '429', 'hang', 'broken']) assert.ok(first[kind] > 0, `no ${kind} in ${JSON.stringify(first)}`);

  // The same seed after a reset draws the same outcomes (arrival order aside, the same multiset).
  await up.reset();
  assert.deepEqual(await probe(up, scenario, 60), first);

  assert.deepEqual(await probe(up, 'chaos=0:3,id=never', 10), { ok: 10, 500: 0, 429: 0, hang: 0, broken: 0 });
  const always = await probe(up, 'chaos=1,id=always', 10);
  assert.equal(always.ok, 0, JSON.stringify(always));

  const bad = await post_json(`${up.base_url('chaos=1.5')}/chat/completions`,
    { model: 'gpt-x', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /chaos=1\.5/);
  await up.stop();
});

test('chaos run: 100% non-stream success and no [DONE] on a truncated stream with one healthy deployment',
  { timeout: 60_000 }, async () => {
    const f = await run_chaos({ requests: 300, concurrency: 20, stream_requests: 100, fault: 0.3, seed: 1 });
    const n = f.non_stream;
    const report = JSON.stringify(f, null, 2);
    assert.equal(n.ok, 300, report);
    assert.equal(n.success_rate, 1);
    assert.deepEqual(n.status, { 200: 300 }, report);

    // Chaos really happened on both faulty deployments, and every failure seen was counted there.
    for (const id of ['p1', 'p2']) {
      const u = n.upstream[id];
      assert.ok(u.calls > 0, `${id} got no traffic:\n${report}`);
      assert.equal(Object.values(u.chaos).reduce((a, b) => a + b, 0), u.calls);
      assert.ok(u.calls - u.chaos.ok > 0, `no fault on ${id}:\n${report}`);
    }
    assert.equal(n.upstream.p3.chaos, undefined);
    assert.ok(n.metrics.failovers_total > 0, report);

    const s = f.stream;
    assert.equal(s.requests, 100);
    assert.equal(Object.values(s.outcomes).reduce((a, b) => a + b, 0), 100);
    assert.equal(s.outcomes.truncated_done, 0, report);
    assert.ok(s.outcomes.complete > 0, report);
    assert.equal(f.passed, true, report);
  });
