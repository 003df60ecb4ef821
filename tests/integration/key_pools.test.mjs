// Key pools through the real binary: a key its upstream rejects (401) is disabled with the reason,
// and the pool's other keys carry on.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  eventually, get, metric_sum, parse_metrics, request, start_tollgate, start_upstream, stop_all,
} from './support.mjs';

const kMaster = 'master-key-key-pool-tests-5e4d3c2b1a09f8e7';
const master = { authorization: `Bearer ${kMaster}` };
const kGood = 'sk-pool-good-0123456789abcdefGHIJ';
const kBad = 'sk-pool-revoked-0123456789abcdefWXYZ';

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

test('a key the upstream answers 401 to is disabled with the reason; the other key serves', async () => {
  const gw = await start_tollgate({
    config: {
      providers: [{ id: 'pool', type: 'openai', base_url: up.base_url(`require_key=${kGood},id=pool`), keys: [kBad, kGood] }],
      models: [{ name: 'm', deployments: [{ provider: 'pool', model: 'pool-model' }] }],
      routing: { strategy: 'priority', max_attempts: 2 },  // a retry with the next key is an attempt
    },
    env: { TOLLGATE_MASTER_KEY: kMaster },
  });
  const chat = () => request('POST', `${gw.url}/v1/chat/completions`,
    { model: 'm', messages: [{ role: 'user', content: 'hello pool' }] }, master);

  // Round-robin starts with either key. The rejected key is disabled and the same deployment is
  // tried again with the next key, so the caller never sees the upstream's 401.
  for (let i = 0; i < 8; ++i) {
    const r = await chat();
    assert.equal(r.status, 200, r.text);
  }
  const stats = await up.stats();
  const bad_uses = stats.last_requests.filter((x) => x.headers.authorization === `Bearer ${kBad}`).length;
  assert.ok(bad_uses <= 1, `the rejected key was used ${bad_uses} times`);

  const keys = await get(`${gw.url}/api/v1/keys?provider_id=pool`, master);
  assert.equal(keys.status, 200, keys.text);
  const states = keys.json.data.map((k) => k.state).sort();
  assert.deepEqual(states, ['active', 'disabled']);
  const disabled = keys.json.data.find((k) => k.state === 'disabled');
  assert.match(disabled.state_reason, /401/);
  assert.equal(disabled.fingerprint, `sk-…${kBad.slice(-4)}`);
  await eventually(() => /key cfg_pool_0 \(sk-…WXYZ\) disabled/.test(gw.output()));
  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_upstream_key_state', { provider: 'pool', key: 'cfg_pool_0' }), 2);
  assert.equal(metric_sum(metrics, 'tollgate_upstream_key_state', { provider: 'pool', key: 'cfg_pool_1' }), 0);
  assert.ok(!gw.output().includes(kBad));
  await gw.stop();
});

test('a key answering 429 rests until its Retry-After and the other key takes the traffic', async () => {
  const kLimited = 'sk-pool-limited-0123456789abcdefLMNO';
  const scenario = `status=429,retry_after=2,only_key=${kLimited},id=rest`;
  const gw = await start_tollgate({
    config: {
      providers: [{ id: 'pool', type: 'openai', base_url: up.base_url(scenario), keys: [kLimited, kGood] }],
      // Two deployments of the pool's provider: a 429 on the first fails over to the second.
      models: [{ name: 'm', deployments: [{ provider: 'pool', model: 'model-a' }, { provider: 'pool', model: 'model-b' }] }],
      routing: { strategy: 'priority', max_attempts: 2 },
      cache: { mode: 'off' },  // every request must reach the pool
    },
    env: { TOLLGATE_MASTER_KEY: kMaster },
  });
  const chat = () => request('POST', `${gw.url}/v1/chat/completions`,
    { model: 'm', messages: [{ role: 'user', content: 'hello rest' }] }, master);
  const used = async () => {
    const stats = await up.stats();
    return stats.last_requests.filter((r) => r.path === up.chat_path(scenario)).map((r) => r.headers.authorization);
  };

  await up.reset();
  for (let i = 0; i < 8; ++i) assert.equal((await chat()).status, 200);
  const first = await used();
  // The limited key was tried at most once: after its 429 it rests for 2 s.
  assert.ok(first.filter((a) => a === `Bearer ${kLimited}`).length <= 1, first.join(' '));
  assert.equal(first.filter((a) => a === `Bearer ${kGood}`).length, 8);
  await eventually(() => /answered 429; it rests for 2000 ms/.test(gw.output()));
  const listed = await get(`${gw.url}/api/v1/keys?provider_id=pool`, master);
  const resting = listed.json.data.find((k) => k.fingerprint === `sk-…${kLimited.slice(-4)}`);
  assert.equal(resting.state, 'cooling_down');
  const until = Date.parse(resting.cooling_until);
  assert.ok(until > Date.now() && until <= Date.now() + 2100, resting.cooling_until);
  assert.equal(listed.json.data.find((k) => k.fingerprint === `sk-…${kGood.slice(-4)}`).state, 'active');
  const metrics = parse_metrics((await get(`${gw.url}/metrics`)).text);
  assert.equal(metric_sum(metrics, 'tollgate_upstream_key_state', { key: resting.id }), 1);

  // Once the rest is over the key is tried again (and rests again).
  await new Promise((resolve) => { setTimeout(resolve, 2200); });
  await up.reset();
  for (let i = 0; i < 4; ++i) assert.equal((await chat()).status, 200);
  assert.equal((await used()).filter((a) => a === `Bearer ${kLimited}`).length, 1);
  await gw.stop();
});
