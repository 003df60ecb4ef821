// Admin API (upstream keys, virtual keys, audit) and what its keys do on the client API: auth, model allowlists, RPM/TPM.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { eventually, openai_error, request, start_tollgate, start_upstream, stop_all, unique_prompt } from './support.mjs';

const kMaster = 'master-key-admin-tests-6f1d2c3b4a59';
// The fake upstream answers 401 on provider `openai` unless it is called with this key.
const kRegistered = 'sk-registered-admin-0123456789abcdefWXYZ';
const kConfigKey = 'sk-config-backup-00000000000000aaaa';
const kRfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const kVirtualKey = /^tg-[0-9A-Za-z]{43,}$/;
const kEllipsis = '\u2026';

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

/// A tollgate of its own for one test, with the master key set, and an admin client that keeps
/// every response body it saw so the test can check none of them leaks a secret.
async function start_gateway(name) {
  const openai_scenario = `require_key=${kRegistered},id=${name}`;
  const backup_scenario = `id=${name}-backup`;
  const gw = await start_tollgate({
    config: {
      providers: [
        { id: 'openai', type: 'openai', base_url: up.base_url(openai_scenario) },
        { id: 'backup', type: 'openai', base_url: up.base_url(backup_scenario), keys: [kConfigKey] },
      ],
      models: [
        { name: 'chat', deployments: [{ provider: 'openai', model: 'gpt-y' }] },
        { name: 'other', deployments: [{ provider: 'backup', model: 'gpt-x' }] },
        { name: 'mini', deployments: [{ provider: 'backup', model: 'gpt-4o-mini' }] },
      ],
      routing: { strategy: 'priority', max_attempts: 1, first_byte_timeout: '2s', stream_idle_timeout: '2s' },
      cache: { mode: 'off' },
      dedup: { enabled: false },
    },
    env: { TOLLGATE_MASTER_KEY: kMaster },
  });
  const bodies = [];
  const record = (r) => { bodies.push(r.text); return r; };
  return {
    gw,
    bodies,
    openai_path: up.chat_path(openai_scenario),
    backup_path: up.chat_path(backup_scenario),
    /// An admin call with the master key (or `headers` replacing it).
    admin: async (method, path, body, headers = { authorization: `Bearer ${kMaster}` }) =>
      record(await request(method, `${gw.url}${path}`, body, headers)),
    /// A client call with `key` as Bearer (none when null).
    client: async (method, path, body, key, headers = {}) =>
      record(await request(method, `${gw.url}${path}`, body,
        { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers })),
  };
}

function chat_body(model, prompt = unique_prompt('admin api')) {
  return { model, messages: [{ role: 'user', content: prompt }] };
}

async function upstream_count(path) {
  return (await up.stats()).by_path[path] ?? 0;
}

async function last_upstream_request(path) {
  const mine = (await up.stats()).last_requests.filter((r) => r.path === path);
  assert.ok(mine.length > 0, `the upstream saw no request on ${path}`);
  return mine[mine.length - 1];
}

/// Asserts status, type, code and param of an OpenAI-shaped error answer; returns the error.
function assert_error(r, status, { type = 'invalid_request_error', code, param, message } = {}) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  const error = openai_error(r.json);
  assert.equal(error.type, type, r.text);
  if (code !== undefined) assert.equal(error.code, code, r.text);
  if (param !== undefined) assert.equal(error.param, param, r.text);
  if (message !== undefined) assert.match(error.message, message, r.text);
  return error;
}

function assert_recent_time(text, what) {
  assert.match(text, kRfc3339, `${what}: ${text}`);
  assert.ok(Math.abs(Date.parse(text) - Date.now()) < 60_000, `${what} is not now: ${text}`);
}

function assert_no_secret(bodies, secrets) {
  for (const secret of secrets) {
    const leaked = bodies.filter((text) => text.includes(secret));
    assert.equal(leaked.length, 0, `a response body contains the secret ${secret.slice(0, 6)}…: ${leaked[0]}`);
  }
}

async function create_virtual_key(h, body) {
  const r = await h.admin('POST', '/api/v1/virtual-keys', body);
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.key, kVirtualKey);
  return r.json;
}

// ---------------------------------------------------------------------------------------------
// Upstream keys

test('upstream keys: register, list, filter, show, patch, delete; config keys are read-only; material never returned', async () => {
  const h = await start_gateway('keys-crud');
  const created = await h.admin('POST', '/api/v1/keys', {
    key_material: kRegistered, provider_id: 'openai', metadata: { owner: 'ops', tier: 1 }, rpm: 100, tpm: 100000, weight: 2,
  });
  assert.equal(created.status, 201, created.text);
  const key = created.json;
  assert.match(key.id, /^key_[0-9A-Za-z]+$/);
  assert.equal(key.object, 'upstream_key');
  assert.equal(key.provider_id, 'openai');
  assert.equal(key.fingerprint, `sk-${kEllipsis}${kRegistered.slice(-4)}`);
  assert.equal(key.state, 'active');
  assert.equal(key.state_reason, null);
  assert.deepEqual(key.metadata, { owner: 'ops', tier: 1 });
  assert.equal(key.rpm, 100);
  assert.equal(key.tpm, 100000);
  assert.equal(key.weight, 2);
  assert.equal(key.source, 'api');
  assert_recent_time(key.created_at, 'created_at');
  assert.ok(!('key_material' in key) && !('material' in key), created.text);

  const list = await h.admin('GET', '/api/v1/keys');
  assert.equal(list.status, 200, list.text);
  assert.ok(Array.isArray(list.json.data), list.text);
  assert.deepEqual(list.json.data.find((k) => k.id === key.id), key);
  const config_key = list.json.data.find((k) => k.source === 'config');
  assert.ok(config_key, `no config key listed: ${list.text}`);
  assert.equal(config_key.provider_id, 'backup');
  assert.equal(config_key.fingerprint, `sk-${kEllipsis}${kConfigKey.slice(-4)}`);
  assert.equal(config_key.state, 'active');
  assert.equal(list.json.data.length, 2, list.text);

  const only_openai = await h.admin('GET', '/api/v1/keys?provider_id=openai');
  assert.equal(only_openai.status, 200, only_openai.text);
  assert.deepEqual(only_openai.json.data.map((k) => k.id), [key.id]);
  const only_backup = await h.admin('GET', '/api/v1/keys?provider_id=backup');
  assert.equal(only_backup.status, 200, only_backup.text);
  assert.deepEqual(only_backup.json.data.map((k) => k.id), [config_key.id]);
  assert_error(await h.admin('GET', '/api/v1/keys?provider_id=no-such-provider'), 400,
    { param: 'provider_id', message: /no-such-provider/ });

  const shown = await h.admin('GET', `/api/v1/keys/${key.id}`);
  assert.equal(shown.status, 200, shown.text);
  assert.deepEqual(shown.json, key);

  const patched = await h.admin('PATCH', `/api/v1/keys/${key.id}`, { rpm: 5, weight: 0.5, metadata: { owner: 'sre' } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.rpm, 5);
  assert.equal(patched.json.weight, 0.5);
  assert.deepEqual(patched.json.metadata, { owner: 'sre' });
  assert.equal(patched.json.tpm, 100000, 'a field the PATCH left out keeps its value');
  assert.equal(patched.json.fingerprint, key.fingerprint);
  assert.equal(patched.json.created_at, key.created_at);
  assert.ok(Date.parse(patched.json.updated_at) >= Date.parse(key.created_at));

  const disabled = await h.admin('PATCH', `/api/v1/keys/${key.id}`, { state: 'disabled', state_reason: 'rotating at the vendor' });
  assert.equal(disabled.status, 200, disabled.text);
  assert.equal(disabled.json.state, 'disabled');
  assert.equal(disabled.json.state_reason, 'rotating at the vendor');
  const shown_disabled = await h.admin('GET', `/api/v1/keys/${key.id}`);
  assert.equal(shown_disabled.json.state, 'disabled');
  assert.equal(shown_disabled.json.state_reason, 'rotating at the vendor');

  const active = await h.admin('PATCH', `/api/v1/keys/${key.id}`, { state: 'active' });
  assert.equal(active.status, 200, active.text);
  assert.equal(active.json.state, 'active');
  assert.equal(active.json.state_reason, null);
  assert.equal(active.json.rpm, 5);

  const deleted = await h.admin('DELETE', `/api/v1/keys/${key.id}`);
  assert.equal(deleted.status, 200, deleted.text);
  assert.equal(deleted.json.id, key.id);
  assert.equal(deleted.json.deleted, true);
  assert_error(await h.admin('GET', `/api/v1/keys/${key.id}`), 404, { code: 'not_found' });
  assert_error(await h.admin('DELETE', `/api/v1/keys/${key.id}`), 404, { code: 'not_found' });
  assert_error(await h.admin('PATCH', `/api/v1/keys/${key.id}`, { rpm: 1 }), 404, { code: 'not_found' });
  const after_delete = await h.admin('GET', '/api/v1/keys');
  assert.deepEqual(after_delete.json.data.map((k) => k.id), [config_key.id]);

  // Keys from the config file are changed there, not through the API.
  assert_error(await h.admin('PATCH', `/api/v1/keys/${config_key.id}`, { rpm: 1 }), 409, { code: 'conflict', message: /config/ });
  assert_error(await h.admin('DELETE', `/api/v1/keys/${config_key.id}`), 409, { code: 'conflict', message: /config/ });
  const config_after = await h.admin('GET', `/api/v1/keys/${config_key.id}`);
  assert.deepEqual(config_after.json, config_key);

  assert.ok(h.bodies.length >= 15, `only ${h.bodies.length} bodies checked`);
  assert_no_secret(h.bodies, [kRegistered, kConfigKey]);
});

test('a key registered through the API is used by the next chat request; unknown provider_id is a 400', async () => {
  const h = await start_gateway('keys-use');
  const vk = await create_virtual_key(h, { name: 'caller' });

  // Provider `openai` has no key yet: it is called without credentials and the upstream refuses.
  const before_key = await h.client('POST', '/v1/chat/completions', chat_body('chat'), vk.key);
  assert_error(before_key, 401, { code: 'invalid_api_key' });
  assert.equal(before_key.headers.get('x-tollgate-provider'), 'openai', 'the 401 is the upstream\'s, passed through');
  assert.equal((await last_upstream_request(h.openai_path)).headers.authorization, undefined);
  assert.equal(await upstream_count(h.openai_path), 1);

  const unknown = await h.admin('POST', '/api/v1/keys', { key_material: kRegistered, provider_id: 'nonexistent-provider' });
  assert_error(unknown, 400, { param: 'provider_id', message: /nonexistent-provider/ });

  const created = await h.admin('POST', '/api/v1/keys', { key_material: kRegistered, provider_id: 'openai' });
  assert.equal(created.status, 201, created.text);

  const prompt = unique_prompt('now with a registered key');
  const after_key = await h.client('POST', '/v1/chat/completions', chat_body('chat', prompt), vk.key);
  assert.equal(after_key.status, 200, after_key.text);
  assert.equal(after_key.json.choices[0].message.content, prompt);
  assert.equal(after_key.headers.get('x-tollgate-provider'), 'openai');
  assert.equal((await last_upstream_request(h.openai_path)).headers.authorization, `Bearer ${kRegistered}`);
  assert.equal(await upstream_count(h.openai_path), 2);

  // Disabled: the pool of `openai` has no active key, so the upstream is not called with none.
  const disabled = await h.admin('PATCH', `/api/v1/keys/${created.json.id}`, { state: 'disabled' });
  assert.equal(disabled.status, 200, disabled.text);
  const while_disabled = await h.client('POST', '/v1/chat/completions', chat_body('chat'), vk.key);
  assert.ok([502, 503].includes(while_disabled.status), while_disabled.text);
  assert.match(openai_error(while_disabled.json).message, /disabled/);
  assert.equal(await upstream_count(h.openai_path), 2, 'no upstream call while every key of the provider is disabled');

  const enabled = await h.admin('PATCH', `/api/v1/keys/${created.json.id}`, { state: 'active' });
  assert.equal(enabled.status, 200, enabled.text);
  const again = await h.client('POST', '/v1/chat/completions', chat_body('chat'), vk.key);
  assert.equal(again.status, 200, again.text);

  assert_no_secret(h.bodies, [kRegistered, kConfigKey]);
});

// ---------------------------------------------------------------------------------------------
// Admin authentication

test('wrong or missing master key: 401 invalid_api_key on every admin route; a virtual key is not accepted there', async () => {
  const h = await start_gateway('admin-auth');
  const vk = await create_virtual_key(h, { name: 'not-an-admin' });
  const key = await h.admin('POST', '/api/v1/keys', { key_material: kRegistered, provider_id: 'openai' });
  assert.equal(key.status, 201, key.text);
  const audit_before = await h.admin('GET', '/api/v1/audit?limit=1000');
  const admin_entries_before = audit_before.json.data.filter((e) => e.kind === 'admin').length;

  const routes = [
    ['POST', '/api/v1/keys', { key_material: 'sk-intruder-0000000000000', provider_id: 'openai' }],
    ['GET', '/api/v1/keys'],
    ['GET', `/api/v1/keys/${key.json.id}`],
    ['PATCH', `/api/v1/keys/${key.json.id}`, { state: 'disabled' }],
    ['DELETE', `/api/v1/keys/${key.json.id}`],
    ['POST', '/api/v1/virtual-keys', { name: 'intruder' }],
    ['GET', '/api/v1/virtual-keys'],
    ['GET', `/api/v1/virtual-keys/${vk.id}`],
    ['PATCH', `/api/v1/virtual-keys/${vk.id}`, { rpm: 1 }],
    ['DELETE', `/api/v1/virtual-keys/${vk.id}`],
    ['POST', `/api/v1/virtual-keys/${vk.id}/rotate`],
    ['GET', '/api/v1/audit'],
  ];
  const credentials = [
    ['no credential', {}],
    ['wrong master key', { authorization: `Bearer ${kMaster}x` }],
    ['master key prefix', { authorization: `Bearer ${kMaster.slice(0, -1)}` }],
    ['a virtual key', { authorization: `Bearer ${vk.key}` }],
    ['a virtual key in api-key', { 'api-key': vk.key }],
    ['basic auth', { authorization: `Basic ${Buffer.from(`admin:${kMaster}`).toString('base64')}` }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ];
  const failures = [];
  for (const [method, path, body] of routes) {
    for (const [what, headers] of credentials) {
      const r = await h.admin(method, path, body, headers);
      const error = r.json?.error;
      if (r.status !== 401 || error?.type !== 'authentication_error' || error?.code !== 'invalid_api_key' ||
          typeof error?.message !== 'string' || !('param' in error)) {
        failures.push(`${method} ${path} with ${what}: ${r.status} ${r.text}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  const missing = await h.admin('GET', '/api/v1/keys', undefined, {});
  assert.match(missing.json.error.message, /master key/i);

  // Nothing above changed anything.
  const vk_after = await h.admin('GET', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(vk_after.json.state, 'active');
  assert.equal(vk_after.json.rpm, null);
  assert.equal(vk_after.json.key_hint, vk.key_hint);
  const key_after = await h.admin('GET', `/api/v1/keys/${key.json.id}`);
  assert.equal(key_after.json.state, 'active');
  const keys_after = await h.admin('GET', '/api/v1/keys');
  assert.equal(keys_after.json.data.length, 2, keys_after.text);
  const vks_after = await h.admin('GET', '/api/v1/virtual-keys');
  assert.deepEqual(vks_after.json.data.map((k) => k.id), [vk.id]);
  const audit_after = await h.admin('GET', '/api/v1/audit?limit=1000');
  assert.equal(audit_after.json.data.filter((e) => e.kind === 'admin').length, admin_entries_before,
    'a refused admin call is no admin action');
  const used = await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key);
  assert.equal(used.status, 200, used.text);

  assert_no_secret(h.bodies, [kRegistered, kConfigKey, 'sk-intruder-0000000000000']);
});

// ---------------------------------------------------------------------------------------------
// Virtual keys

test('virtual keys: create shows the key once; list and show never do; the key works; PATCH changes settings', async () => {
  const h = await start_gateway('vk-crud');
  const expires = new Date(Date.now() + 3600_000).toISOString();
  const vk = await create_virtual_key(h, {
    name: 'team-search', rpm: 600, tpm: 100000, budget: { limit_usd: 25, period: 'monthly' },
    metadata: { team: 'search', project: 'ranker', customer: 'acme' }, expires_at: expires,
  });
  assert.match(vk.id, /^vk_[0-9A-Za-z]+$/);
  assert.equal(vk.object, 'virtual_key');
  assert.equal(vk.name, 'team-search');
  assert.equal(vk.key_hint, `tg-${kEllipsis}${vk.key.slice(-4)}`);
  assert.equal(vk.models, null);
  assert.equal(vk.rpm, 600);
  assert.equal(vk.tpm, 100000);
  assert.deepEqual(vk.budget, { limit_usd: 25, period: 'monthly', enforcement: 'hard' });
  assert.deepEqual(vk.metadata, { team: 'search', project: 'ranker', customer: 'acme' });
  assert.equal(Date.parse(vk.expires_at), Date.parse(expires));
  assert.equal(vk.state, 'active');
  assert.equal(vk.revoked_at, null);
  assert_recent_time(vk.created_at, 'created_at');

  const second = await create_virtual_key(h, { name: 'second' });
  assert.notEqual(second.key, vk.key);
  assert.notEqual(second.id, vk.id);

  const list = await h.admin('GET', '/api/v1/virtual-keys');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.data.map((k) => k.id), [vk.id, second.id]);
  for (const item of list.json.data) assert.ok(!('key' in item) && !('key_hash' in item), list.text);
  const { key: secret, ...without_key } = vk;
  assert.deepEqual(list.json.data[0], without_key);
  const shown = await h.admin('GET', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(shown.status, 200, shown.text);
  assert.deepEqual(shown.json, without_key);
  for (const r of [list, shown]) {
    assert.ok(!r.text.includes(vk.key) && !r.text.includes(second.key), `a listed key shows its secret: ${r.text}`);
  }

  const prompt = unique_prompt('virtual key call');
  const chat = await h.client('POST', '/v1/chat/completions', chat_body('other', prompt), secret);
  assert.equal(chat.status, 200, chat.text);
  assert.equal(chat.json.choices[0].message.content, prompt);
  const sent = await last_upstream_request(h.backup_path);
  assert.equal(sent.headers.authorization, `Bearer ${kConfigKey}`, 'the upstream gets the provider key, not the caller\'s');
  const models = await h.client('GET', '/v1/models', undefined, secret);
  assert.equal(models.status, 200, models.text);
  assert.deepEqual(models.json.data.map((m) => m.id).sort(), ['chat', 'mini', 'other']);
  assert_error(await h.client('GET', '/v1/models', undefined, null), 401, { type: 'authentication_error', code: 'invalid_api_key' });
  assert_error(await h.client('POST', '/v1/chat/completions', chat_body('other'), `${secret.slice(0, -1)}x`), 401,
    { type: 'authentication_error', code: 'invalid_api_key' });

  const new_expiry = new Date(Date.now() + 7200_000).toISOString();
  const patched = await h.admin('PATCH', `/api/v1/virtual-keys/${vk.id}`, {
    name: 'team-search-v2', rpm: 30, models: ['other', 'mini'], metadata: { team: 'search-infra' }, expires_at: new_expiry,
  });
  assert.equal(patched.status, 200, patched.text);
  assert.ok(!('key' in patched.json), patched.text);
  assert.equal(patched.json.id, vk.id);
  assert.equal(patched.json.name, 'team-search-v2');
  assert.equal(patched.json.rpm, 30);
  assert.equal(patched.json.tpm, 100000, 'a field the PATCH left out keeps its value');
  assert.deepEqual(patched.json.models, ['other', 'mini']);
  assert.deepEqual(patched.json.metadata, { team: 'search-infra' });
  assert.deepEqual(patched.json.budget, vk.budget);
  assert.equal(Date.parse(patched.json.expires_at), Date.parse(new_expiry));
  assert.equal(patched.json.key_hint, vk.key_hint);
  const shown_patched = await h.admin('GET', `/api/v1/virtual-keys/${vk.id}`);
  assert.deepEqual(shown_patched.json, patched.json);

  // The new settings apply to the next request; the secret did not change.
  const allowed = await h.client('GET', '/v1/models', undefined, secret);
  assert.deepEqual(allowed.json.data.map((m) => m.id).sort(), ['mini', 'other']);
  assert_error(await h.client('POST', '/v1/chat/completions', chat_body('chat'), secret), 403,
    { type: 'permission_error', code: 'model_not_allowed', param: 'model' });

  const cleared = await h.admin('PATCH', `/api/v1/virtual-keys/${vk.id}`, { models: null, rpm: null, expires_at: null, budget: null });
  assert.equal(cleared.status, 200, cleared.text);
  assert.equal(cleared.json.models, null);
  assert.equal(cleared.json.rpm, null);
  assert.equal(cleared.json.expires_at, null);
  assert.equal(cleared.json.budget, null);
  const all_models = await h.client('GET', '/v1/models', undefined, secret);
  assert.deepEqual(all_models.json.data.map((m) => m.id).sort(), ['chat', 'mini', 'other']);

  assert_no_secret(h.bodies, [kConfigKey]);
});

test('virtual keys: rotate issues a new secret for the same id and settings; the old one stops working', async () => {
  const h = await start_gateway('vk-rotate');
  const vk = await create_virtual_key(h, { name: 'rotating', models: ['other'], rpm: 100, metadata: { team: 'a' } });
  assert.equal((await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key)).status, 200);

  const rotated = await h.admin('POST', `/api/v1/virtual-keys/${vk.id}/rotate`);
  assert.equal(rotated.status, 200, rotated.text);
  assert.match(rotated.json.key, kVirtualKey);
  assert.notEqual(rotated.json.key, vk.key);
  assert.equal(rotated.json.id, vk.id);
  assert.equal(rotated.json.name, 'rotating');
  assert.deepEqual(rotated.json.models, ['other']);
  assert.equal(rotated.json.rpm, 100);
  assert.deepEqual(rotated.json.metadata, { team: 'a' });
  assert.equal(rotated.json.created_at, vk.created_at);
  assert.equal(rotated.json.state, 'active');
  assert.equal(rotated.json.key_hint, `tg-${kEllipsis}${rotated.json.key.slice(-4)}`);

  const with_new = await h.client('POST', '/v1/chat/completions', chat_body('other'), rotated.json.key);
  assert.equal(with_new.status, 200, with_new.text);
  assert_error(await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key), 401,
    { type: 'authentication_error', code: 'invalid_api_key' });
  assert_error(await h.client('GET', '/v1/models', undefined, vk.key), 401, { type: 'authentication_error', code: 'invalid_api_key' });

  const list = await h.admin('GET', '/api/v1/virtual-keys');
  assert.equal(list.json.data.length, 1, list.text);
  assert.equal(list.json.data[0].key_hint, rotated.json.key_hint);
  assert.ok(!list.text.includes(rotated.json.key) && !list.text.includes(vk.key));
  assert_error(await h.admin('POST', '/api/v1/virtual-keys/vk_doesnotexist000000/rotate'), 404, { code: 'not_found' });
});

test('virtual keys: DELETE revokes; the key is refused with a message saying so, and stays listed as revoked', async () => {
  const h = await start_gateway('vk-revoke');
  const vk = await create_virtual_key(h, { name: 'short-lived' });
  const other = await create_virtual_key(h, { name: 'bystander' });
  assert.equal((await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key)).status, 200);

  const revoked = await h.admin('DELETE', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(revoked.json.id, vk.id);
  assert.equal(revoked.json.state, 'revoked');
  assert_recent_time(revoked.json.revoked_at, 'revoked_at');
  assert.ok(!('key' in revoked.json));

  const refused = await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key);
  assert_error(refused, 401, { type: 'authentication_error', code: 'invalid_api_key', message: /revoked/i });
  assert_error(await h.client('GET', '/v1/models', undefined, vk.key), 401,
    { type: 'authentication_error', code: 'invalid_api_key', message: /revoked/i });
  assert.equal((await h.client('POST', '/v1/chat/completions', chat_body('other'), other.key)).status, 200,
    'revoking one key leaves the others working');

  const shown = await h.admin('GET', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(shown.json.state, 'revoked');
  assert.equal(shown.json.revoked_at, revoked.json.revoked_at);
  // A revoked key cannot be brought back or given a new secret.
  assert_error(await h.admin('POST', `/api/v1/virtual-keys/${vk.id}/rotate`), 409, { code: 'conflict', message: /revoked/ });
  assert_error(await h.admin('PATCH', `/api/v1/virtual-keys/${vk.id}`, { rpm: 5 }), 409, { code: 'conflict', message: /revoked/ });
  const again = await h.admin('DELETE', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.revoked_at, revoked.json.revoked_at, 'revoking twice keeps the first time');
  assert_error(await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key), 401,
    { type: 'authentication_error', code: 'invalid_api_key', message: /revoked/i });
});

test('virtual keys: a key works until expires_at, then is refused with a message about its expiry', async () => {
  const h = await start_gateway('vk-expiry');
  const expires_ms = Date.now() + 2000;
  const vk = await create_virtual_key(h, { name: 'expiring', expires_at: new Date(expires_ms).toISOString() });
  assert.equal(vk.state, 'active');
  assert.equal(Date.parse(vk.expires_at), expires_ms);
  const before_expiry = await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key);
  assert.equal(before_expiry.status, 200, before_expiry.text);
  assert.ok(Date.now() < expires_ms, 'the test machine was too slow to use the key before it expired');

  await new Promise((resolve) => { setTimeout(resolve, expires_ms - Date.now() + 100); });
  const expired = await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key);
  assert_error(expired, 401, { type: 'authentication_error', code: 'invalid_api_key', message: /expire/i });
  assert_error(await h.client('GET', '/v1/models', undefined, vk.key), 401,
    { type: 'authentication_error', code: 'invalid_api_key', message: /expire/i });
  const shown = await h.admin('GET', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(shown.json.state, 'expired');
  assert.equal(shown.json.revoked_at, null);
});

test('virtual keys: a models allowlist gives 403 model_not_allowed and hides the other models from /v1/models', async () => {
  const h = await start_gateway('vk-models');
  const vk = await create_virtual_key(h, { name: 'only-other', models: ['other'] });
  assert.deepEqual(vk.models, ['other']);

  const denied = await h.client('POST', '/v1/chat/completions', chat_body('chat'), vk.key);
  assert_error(denied, 403, { type: 'permission_error', code: 'model_not_allowed', param: 'model', message: /chat/ });
  assert.equal(await upstream_count(h.openai_path), 0, 'a refused model is never sent upstream');
  const streamed_denied = await h.client('POST', '/v1/chat/completions', { ...chat_body('mini'), stream: true }, vk.key);
  assert_error(streamed_denied, 403, { type: 'permission_error', code: 'model_not_allowed', param: 'model' });

  const allowed = await h.client('POST', '/v1/chat/completions', chat_body('other'), vk.key);
  assert.equal(allowed.status, 200, allowed.text);

  const models = await h.client('GET', '/v1/models', undefined, vk.key);
  assert.equal(models.status, 200, models.text);
  assert.deepEqual(models.json.data.map((m) => m.id), ['other']);
  const one = await h.client('GET', '/v1/models/other', undefined, vk.key);
  assert.equal(one.status, 200, one.text);
  assert.equal(one.json.id, 'other');
  assert_error(await h.client('GET', '/v1/models/chat', undefined, vk.key), 404, { code: 'model_not_found' });
  assert_error(await h.client('GET', '/v1/models/no-such-model', undefined, vk.key), 404, { code: 'model_not_found' });

  // The master key may call the client API and sees every model.
  const master_models = await h.client('GET', '/v1/models', undefined, kMaster);
  assert.deepEqual(master_models.json.data.map((m) => m.id).sort(), ['chat', 'mini', 'other']);
});

// ---------------------------------------------------------------------------------------------
// Rate limits

test('rpm: a key with rpm 2 gets 429 rate_limit_exceeded with a Retry-After on its third request; other keys are not affected', async () => {
  const h = await start_gateway('rpm');
  const limited = await create_virtual_key(h, { name: 'rpm-2', rpm: 2 });
  const free = await create_virtual_key(h, { name: 'unlimited' });
  for (let i = 0; i < 2; ++i) {
    const r = await h.client('POST', '/v1/chat/completions', chat_body('other'), limited.key);
    assert.equal(r.status, 200, `request ${i + 1}: ${r.text}`);
  }
  const upstream_before = await upstream_count(h.backup_path);
  const third = await h.client('POST', '/v1/chat/completions', chat_body('other'), limited.key);
  assert_error(third, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  const retry_after = third.headers.get('retry-after');
  assert.match(retry_after ?? '', /^\d+$/, `retry-after: ${retry_after}`);
  assert.ok(Number(retry_after) >= 1 && Number(retry_after) <= 30, `retry-after: ${retry_after}`);
  assert.equal(await upstream_count(h.backup_path), upstream_before, 'a rate-limited request is not sent upstream');

  const other = await h.client('POST', '/v1/chat/completions', chat_body('other'), free.key);
  assert.equal(other.status, 200, other.text);
  const fourth = await h.client('POST', '/v1/chat/completions', chat_body('other'), limited.key);
  assert_error(fourth, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded' });
});

test('tpm: a key with tpm 50 gets 429 for a prompt larger than its limit, and small requests still pass', async () => {
  const h = await start_gateway('tpm');
  const vk = await create_virtual_key(h, { name: 'tpm-50', tpm: 50 });
  const small = await h.client('POST', '/v1/chat/completions', chat_body('other', unique_prompt('hi')), vk.key);
  assert.equal(small.status, 200, small.text);

  const big_prompt = unique_prompt(Array.from({ length: 400 }, (_, i) => `word${i}`).join(' '));
  const big = await h.client('POST', '/v1/chat/completions', chat_body('other', big_prompt), vk.key);
  assert_error(big, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: /too large/i });
  const big_output = await h.client('POST', '/v1/chat/completions',
    { ...chat_body('other', unique_prompt('hi')), max_tokens: 5000 }, vk.key);
  assert_error(big_output, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: /too large/i });
});

// ---------------------------------------------------------------------------------------------
// Audit

test('audit: admin actions and client requests are recorded without secrets; since and limit filter; bad ones are 400', async () => {
  const h = await start_gateway('audit');
  const key = await h.admin('POST', '/api/v1/keys', { key_material: kRegistered, provider_id: 'openai' });
  assert.equal(key.status, 201, key.text);
  const vk = await create_virtual_key(h, { name: 'audited' });
  const rotated = await h.admin('POST', `/api/v1/virtual-keys/${vk.id}/rotate`);
  assert.equal(rotated.status, 200, rotated.text);
  const chat = await h.client('POST', '/v1/chat/completions', chat_body('other'), rotated.json.key, { 'x-request-id': 'it-audit-req-1' });
  assert.equal(chat.status, 200, chat.text);

  // A request's entry is stamped after its response is written: wait for it, so it is before `mark`.
  await eventually(async () => (await h.admin('GET', '/api/v1/audit?limit=1000')).json?.data?.some((e) => e.target === 'it-audit-req-1'));
  // Later actions: after `mark` and after the next whole second, so `since` can split them.
  const mark = Date.now();
  const next_second = Math.ceil((mark + 1) / 1000);
  await new Promise((resolve) => { setTimeout(resolve, Math.max(0, next_second * 1000 - Date.now() + 20)); });
  const revoked = await h.admin('DELETE', `/api/v1/virtual-keys/${vk.id}`);
  assert.equal(revoked.status, 200, revoked.text);
  const denied = await h.client('POST', '/v1/chat/completions', chat_body('other'), rotated.json.key, { 'x-request-id': 'it-audit-req-2' });
  assert.equal(denied.status, 401, denied.text);

  const find = (entries, pred) => entries.find(pred);
  const all = await eventually(async () => {
    const r = await h.admin('GET', '/api/v1/audit?limit=1000');
    assert.equal(r.status, 200, r.text);
    return find(r.json.data, (e) => e.target === 'it-audit-req-2') && find(r.json.data, (e) => e.target === 'it-audit-req-1') ? r : null;
  });
  const entries = all.json.data;
  for (const e of entries) {
    assert.match(e.at, kRfc3339, JSON.stringify(e));
    assert.ok(Number.isInteger(e.id), JSON.stringify(e));
  }
  const admin_entry = (action, target) => {
    const e = find(entries, (x) => x.kind === 'admin' && x.action === action && x.target === target);
    assert.ok(e, `no admin audit entry ${action} ${target}: ${all.text}`);
    assert.equal(e.actor, 'master');
    return e;
  };
  assert.equal(admin_entry('keys.create', key.json.id).status, 201);
  assert.equal(admin_entry('virtual_keys.create', vk.id).status, 201);
  assert.equal(admin_entry('virtual_keys.rotate', vk.id).status, 200);
  assert.equal(admin_entry('virtual_keys.revoke', vk.id).status, 200);

  const served = find(entries, (e) => e.target === 'it-audit-req-1');
  assert.equal(served.kind, 'request');
  assert.equal(served.actor, vk.id);
  assert.equal(served.status, 200);
  assert.equal(served.detail.model, 'other');
  assert.match(served.action, /chat\/completions/);
  const refused = find(entries, (e) => e.target === 'it-audit-req-2');
  assert.equal(refused.kind, 'request');
  assert.equal(refused.status, 401);
  assert.notEqual(refused.actor, vk.id, 'a refused key is not the actor of its request');

  for (const secret of [kRegistered, vk.key, rotated.json.key, kMaster]) {
    assert.ok(!all.text.includes(secret), `the audit log contains a secret (${secret.slice(0, 6)}…)`);
  }

  // limit: the newest entries, and has_more.
  const two = await h.admin('GET', '/api/v1/audit?limit=2');
  assert.equal(two.status, 200, two.text);
  assert.equal(two.json.data.length, 2, two.text);
  assert.equal(two.json.has_more, true);
  const newest_ids = entries.map((e) => e.id).sort((a, b) => a - b).slice(-2);
  for (const e of two.json.data) assert.ok(e.id >= newest_ids[0], `limit=2 returned an old entry: ${two.text}`);

  // since: only what happened at or after it.
  const check_since = async (since) => {
    const r = await h.admin('GET', `/api/v1/audit?since=${encodeURIComponent(since)}&limit=1000`);
    assert.equal(r.status, 200, r.text);
    const targets = r.json.data.map((e) => `${e.action}:${e.target}`);
    assert.ok(targets.includes(`virtual_keys.revoke:${vk.id}`), `since=${since}: ${r.text}`);
    assert.ok(r.json.data.some((e) => e.target === 'it-audit-req-2'), `since=${since}: ${r.text}`);
    assert.ok(!targets.includes(`keys.create:${key.json.id}`), `since=${since} returned an earlier entry: ${r.text}`);
    assert.ok(!r.json.data.some((e) => e.target === 'it-audit-req-1'), `since=${since} returned an earlier entry: ${r.text}`);
    for (const e of r.json.data) assert.ok(Date.parse(e.at) >= Date.parse(new Date(Math.floor(mark)).toISOString()));
  };
  await check_since(new Date(mark + 1).toISOString());
  await check_since(String(next_second));
  const future = await h.admin('GET', `/api/v1/audit?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`);
  assert.equal(future.status, 200, future.text);
  assert.deepEqual(future.json.data, []);

  for (const [query, param] of [
    ['since=yesterday', 'since'], ['since=2026-13-45T00:00:00Z', 'since'], ['since=', 'since'], ['since=-5', 'since'],
    ['limit=0', 'limit'], ['limit=abc', 'limit'], ['limit=1001', 'limit'], ['limit=-1', 'limit'], ['limit=2.5', 'limit'],
  ]) {
    assert_error(await h.admin('GET', `/api/v1/audit?${query}`), 400, { param, message: new RegExp(param) });
  }
});

// ---------------------------------------------------------------------------------------------
// Malformed admin requests

test('malformed admin requests: each is a 4xx in OpenAI shape naming the problem; nothing is created; the server carries on', async () => {
  const h = await start_gateway('malformed');
  const vk = await create_virtual_key(h, { name: 'existing' });
  const key = await h.admin('POST', '/api/v1/keys', { key_material: kRegistered, provider_id: 'openai' });
  assert.equal(key.status, 201, key.text);
  const past = new Date(Date.now() - 60_000).toISOString();
  const vks = '/api/v1/virtual-keys';
  const keys = '/api/v1/keys';
  const key_body = (extra) => ({ key_material: 'sk-malformed-test-key-0001', provider_id: 'openai', ...extra });
  const invalid_utf8 = Buffer.concat([Buffer.from('{"name": "bad '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);

  // [method, path, body, status, param (null: none), message, code]
  const cases = [
    ['POST', vks, '{"name": "x",', 400, null, /not valid JSON/],
    ['POST', vks, '', 400, null, /empty/],
    ['POST', vks, '[{"name": "x"}]', 400, null, /JSON object, not an array/],
    ['POST', vks, '"just a string"', 400, null, /JSON object, not a string/],
    ['POST', vks, 'null', 400, null, /JSON object/],
    ['POST', vks, invalid_utf8, 400, null, /UTF-8|JSON/],
    ['POST', vks, {}, 400, 'name', /Missing required parameter: 'name'/],
    ['POST', vks, { name: 42 }, 400, 'name', /must be a string, not an integer/],
    ['POST', vks, { name: '' }, 400, 'name', /empty/],
    ['POST', vks, { name: 'a\nb' }, 400, 'name', /control characters/],
    ['POST', vks, { name: 'n'.repeat(200) }, 400, 'name', /longer than 128/],
    ['POST', vks, { name: 'n'.repeat(100 * 1024) }, 413, null, /limited to/, 'request_too_large'],
    ['POST', vks, { name: 'x', rpm: '10' }, 400, 'rpm', /must be an integer .* not a string/],
    ['POST', vks, { name: 'x', rpm: 0 }, 400, 'rpm', /integer from 1/],
    ['POST', vks, { name: 'x', rpm: 1.5 }, 400, 'rpm', /integer/],
    ['POST', vks, { name: 'x', rpm: true }, 400, 'rpm', /not a boolean/],
    ['POST', vks, { name: 'x', tpm: -5 }, 400, 'tpm', /integer from 1/],
    ['POST', vks, { name: 'x', tpm: 1e30 }, 400, 'tpm', /integer/],
    ['POST', vks, { name: 'x', metadata: ['team'] }, 400, 'metadata', /must be an object, not an array/],
    ['POST', vks, { name: 'x', metadata: { foo: 'bar' } }, 400, 'metadata.foo', /metadata\.foo/],
    ['POST', vks, { name: 'x', metadata: { team: 7 } }, 400, 'metadata.team', /string/],
    ['POST', vks, { name: 'x', models: 'chat' }, 400, 'models', /array of strings, not a string/],
    ['POST', vks, { name: 'x', models: [] }, 400, 'models', /at least one/],
    ['POST', vks, { name: 'x', models: [1] }, 400, 'models', /strings/],
    ['POST', vks, { name: 'x', models: ['chat', 'chat'] }, 400, 'models', /twice/],
    ['POST', vks, { name: 'x', models: ['no-such-model'] }, 400, 'models', /no-such-model/],
    ['POST', vks, { name: 'x', budget: { limit_usd: 10, period: 'yearly' } }, 400, 'budget.period', /daily, weekly, monthly, total/],
    ['POST', vks, { name: 'x', budget: { limit_usd: -1, period: 'monthly' } }, 400, 'budget.limit_usd', /above 0/],
    ['POST', vks, { name: 'x', budget: { limit_usd: '10' } }, 400, 'budget.limit_usd', /number/],
    ['POST', vks, { name: 'x', budget: { period: 'daily' } }, 400, 'budget.limit_usd', /Missing/],
    ['POST', vks, { name: 'x', budget: { limit_usd: 10, cap: 5 } }, 400, 'budget.cap', /budget\.cap/],
    ['POST', vks, { name: 'x', budget: { limit_usd: 10, enforcement: 'strict' } }, 400, 'budget.enforcement', /hard, soft, alert/],
    ['POST', vks, { name: 'x', budget: 10 }, 400, 'budget', /object/],
    ['POST', vks, { name: 'x', expires_at: past }, 400, 'expires_at', /future/],
    ['POST', vks, { name: 'x', expires_at: 'tomorrow' }, 400, 'expires_at', /RFC 3339/],
    ['POST', vks, { name: 'x', expires_at: '2030-02-30T00:00:00Z' }, 400, 'expires_at', /RFC 3339/],
    ['POST', vks, { name: 'x', expires_at: true }, 400, 'expires_at', /RFC 3339/],
    ['POST', vks, { name: 'x', colour: 'blue' }, 400, 'colour', /Unrecognized request argument supplied: 'colour'/],
    ['POST', vks, { name: 'x', key: 'tg-chosen-by-the-caller' }, 400, 'key', /Unrecognized/],
    ['POST', keys, key_body({ key_material: 'sk-has space-0000000' }), 400, 'key_material', /printable ASCII/],
    ['POST', keys, key_body({ key_material: 'sk-has\nnewline-0000000' }), 400, 'key_material', /printable ASCII/],
    ['POST', keys, key_body({ key_material: 'sk-n\u00f6n-ascii-0000000' }), 400, 'key_material', /printable ASCII/],
    ['POST', keys, key_body({ key_material: '' }), 400, 'key_material', /empty/],
    ['POST', keys, key_body({ key_material: 12345 }), 400, 'key_material', /string/],
    ['POST', keys, { provider_id: 'openai' }, 400, 'key_material', /Missing required parameter: 'key_material'/],
    ['POST', keys, { key_material: 'sk-malformed-test-key-0001' }, 400, 'provider_id', /Missing required parameter: 'provider_id'/],
    ['POST', keys, key_body({ provider_id: 'nope' }), 400, 'provider_id', /'nope'/],
    ['POST', keys, key_body({ weight: 0 }), 400, 'weight', /above 0/],
    ['POST', keys, key_body({ weight: 'x' }), 400, 'weight', /not a string/],
    ['POST', keys, key_body({ weight: -2 }), 400, 'weight', /above 0/],
    ['POST', keys, key_body({ rpm: '10' }), 400, 'rpm', /integer/],
    ['POST', keys, key_body({ metadata: [1, 2] }), 400, 'metadata', /object/],
    ['POST', keys, key_body({ state: 'disabled' }), 400, 'state', /Unrecognized/],
    ['PATCH', `${keys}/${key.json.id}`, { state: 'broken' }, 400, 'state', /active.*disabled/],
    ['PATCH', `${keys}/${key.json.id}`, { state_reason: 'because' }, 400, 'state_reason', /disabled/],
    ['PATCH', `${keys}/${key.json.id}`, { provider_id: 'backup' }, 400, 'provider_id', /cannot change/],
    ['PATCH', `${keys}/${key.json.id}`, '{"rpm": ', 400, null, /JSON/],
    ['PATCH', `${vks}/${vk.id}`, { name: null }, 400, 'name', /null/],
    ['PATCH', `${vks}/${vk.id}`, { state: 'active' }, 400, 'state', /Unrecognized/],
    ['PATCH', `${vks}/${vk.id}`, { rpm: -1 }, 400, 'rpm', /integer from 1/],
    ['PATCH', `${vks}/${vk.id}`, [], 400, null, /JSON object/],
    ['PATCH', `${vks}/vk_doesnotexist0000000`, { rpm: 5 }, 404, null, /vk_doesnotexist0000000/, 'not_found'],
    ['PATCH', `${keys}/key_doesnotexist000000`, { rpm: 5 }, 404, null, /key_doesnotexist000000/, 'not_found'],
    ['DELETE', `${vks}/vk_doesnotexist0000000`, undefined, 404, null, /No virtual key/, 'not_found'],
    ['GET', `${vks}/../../etc/passwd`, undefined, 404, null, /./],
    ['GET', `${keys}/..%2F..%2Fsecret.key`, undefined, 404, null, /./],
    ['DELETE', `${vks}/..`, undefined, 404, null, /./],
    ['GET', `${vks}/${'a'.repeat(200)}`, undefined, 404, null, /./],
    ['PATCH', `${keys}/${'k'.repeat(200)}`, { rpm: 1 }, 404, null, /./],
    ['POST', `${vks}/${vk.id}/frobnicate`, undefined, 404, null, /./],
    ['POST', `${keys}/${key.json.id}`, { rpm: 1 }, 405, null, /POST/],
    ['PUT', vks, { name: 'x' }, 405, null, /PUT/],
    // The resource exists (GET, PATCH, DELETE), as for /api/v1/keys/{id}: the method is what is wrong.
    ['POST', `${vks}/${vk.id}`, { name: 'x' }, 405, null, /POST/],
  ];
  assert.ok(cases.length >= 30);

  const failures = [];
  for (const [method, path, body, status, param, message, code] of cases) {
    const r = await h.admin(method, path, body);
    const what = `${method} ${path.slice(0, 80)} ${Buffer.isBuffer(body) ? '<bytes>' : JSON.stringify(body ?? null).slice(0, 80)}`;
    let error;
    try { error = openai_error(r.json); } catch (e) { failures.push(`${what}: ${r.status} ${e.message}`); continue; }
    const problems = [];
    if (r.status !== status) problems.push(`status ${r.status} (expected ${status})`);
    if (error.param !== param) problems.push(`param ${JSON.stringify(error.param)} (expected ${JSON.stringify(param)})`);
    if (!message.test(error.message)) problems.push(`message does not match ${message}`);
    if (error.type !== 'invalid_request_error') problems.push(`type ${error.type}`);
    if (code !== undefined && error.code !== code) problems.push(`code ${error.code} (expected ${code})`);
    if (error.message.length > 400) problems.push(`message of ${error.message.length} characters`);
    if (!(r.headers.get('content-type') ?? '').startsWith('application/json')) problems.push('not application/json');
    if (problems.length) failures.push(`${what}: ${problems.join(', ')}; body ${r.text.slice(0, 300)}`);
  }
  assert.deepEqual(failures, []);

  // None of them created or changed anything.
  const vk_list = await h.admin('GET', vks);
  assert.deepEqual(vk_list.json.data.map((k) => k.id), [vk.id]);
  assert.equal(vk_list.json.data[0].rpm, null);
  assert.equal(vk_list.json.data[0].name, 'existing');
  const key_list = await h.admin('GET', keys);
  assert.equal(key_list.json.data.length, 2, key_list.text);
  const key_now = await h.admin('GET', `${keys}/${key.json.id}`);
  assert.equal(key_now.json.state, 'active');
  assert.equal(key_now.json.provider_id, 'openai');

  // SQL-looking text is data: stored and returned verbatim.
  const sql_name = "'; DROP TABLE virtual_keys; --";
  const sql = await h.admin('POST', vks, { name: sql_name, metadata: { team: "x' OR '1'='1" } });
  assert.equal(sql.status, 201, sql.text);
  assert.equal(sql.json.name, sql_name);
  const sql_shown = await h.admin('GET', `${vks}/${sql.json.id}`);
  assert.equal(sql_shown.json.name, sql_name);
  assert.equal(sql_shown.json.metadata.team, "x' OR '1'='1");
  const sql_key = await h.admin('POST', keys, { key_material: "sk-x'-DROP-TABLE-upstream_keys--", provider_id: 'openai', metadata: { note: "'); DELETE FROM audit; --" } });
  assert.equal(sql_key.status, 201, sql_key.text);
  assert.deepEqual(sql_key.json.metadata, { note: "'); DELETE FROM audit; --" });

  assert.equal((await h.admin('GET', '/health', undefined, {})).status, 200);
  const normal = await h.admin('POST', vks, { name: 'after-the-storm' });
  assert.equal(normal.status, 201, normal.text);
  const final_list = await h.admin('GET', vks);
  assert.deepEqual(final_list.json.data.map((k) => k.name), ['existing', sql_name, 'after-the-storm']);
  assert.equal((await h.client('POST', '/v1/chat/completions', chat_body('other'), normal.json.key)).status, 200);
  const audit = await h.admin('GET', '/api/v1/audit?limit=1000');
  assert.equal(audit.status, 200, audit.text);
  assert.ok(audit.json.data.length > 10, 'the audit table still works');

  assert_no_secret(h.bodies, [kRegistered, 'sk-malformed-test-key-0001', "sk-x'-DROP-TABLE-upstream_keys--"]);
});
