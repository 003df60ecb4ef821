// Identity across restarts and auth modes: state on disk, the secret key, secrets kept out of files and logs, open vs virtual-key auth.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  eventually, make_temp_dir, openai_error, post_stream, read_sse, request, run_tollgate, start_tollgate, start_upstream,
  stop_all, unique_prompt, write_config,
} from './support.mjs';

const kMaster = 'master-key-identity-tests-9a8b7c6d5e4f';
// The fake upstream answers 401 on provider `openai` unless it is called with this key.
const kMaterial = 'sk-registered-identity-0123456789abcdefQRST';
const kConfigKey = 'sk-config-identity-backup-000000bbbb';
const kVirtualKey = /^tg-[0-9A-Za-z]{43,}$/;

let up;

before(async () => {
  up = await start_upstream();
});

after(stop_all);

/// Provider `openai` (no config key: keys come through the API) and `backup` (a config key).
function gateway_config(name, extra = {}) {
  return {
    providers: [
      { id: 'openai', type: 'openai', base_url: up.base_url(`require_key=${kMaterial},id=${name}`) },
      { id: 'backup', type: 'openai', base_url: up.base_url(`id=${name}-backup`), keys: [kConfigKey] },
    ],
    models: [
      { name: 'chat', deployments: [{ provider: 'openai', model: 'gpt-y' }] },
      { name: 'other', deployments: [{ provider: 'backup', model: 'gpt-x' }] },
    ],
    routing: { strategy: 'priority', max_attempts: 1, first_byte_timeout: '2s', stream_idle_timeout: '2s' },
    cache: { mode: 'off' },
    dedup: { enabled: false },
    ...extra,
  };
}

const bearer = (key) => (key === null ? {} : { authorization: `Bearer ${key}` });
const master = bearer(kMaster);

function chat_body(model, prompt = unique_prompt('identity')) {
  return { model, messages: [{ role: 'user', content: prompt }] };
}

async function chat(gw, model, headers) {
  return request('POST', `${gw.url}/v1/chat/completions`, chat_body(model), headers);
}

async function create_virtual_key(gw, body, headers = master) {
  const r = await request('POST', `${gw.url}/api/v1/virtual-keys`, body, headers);
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.key, kVirtualKey);
  return r.json;
}

async function register_key(gw, body, headers = master) {
  const r = await request('POST', `${gw.url}/api/v1/keys`, body, headers);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function audit_entries(gw) {
  const r = await request('GET', `${gw.url}/api/v1/audit?limit=1000`, undefined, master);
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

function assert_auth_error(r, message) {
  assert.equal(r.status, 401, r.text);
  const error = openai_error(r.json);
  assert.equal(error.type, 'authentication_error', r.text);
  assert.equal(error.code, 'invalid_api_key', r.text);
  if (message) assert.match(error.message, message, r.text);
}

/// The store's files (database, WAL, shared memory) as one byte buffer per file.
function store_files(data_dir) {
  return ['tollgate.db', 'tollgate.db-wal', 'tollgate.db-shm']
    .map((name) => path.join(data_dir, name))
    .filter((file) => fs.existsSync(file))
    .map((file) => ({ file, bytes: fs.readFileSync(file) }));
}

/// Asserts no store file holds any of `secrets` in clear text (as UTF-8 or UTF-16), and that the
/// files do hold `marker` (a virtual key name), so the search looks at the real data.
function assert_store_has_no_secret(data_dir, secrets, marker) {
  const files = store_files(data_dir);
  assert.ok(files.some((f) => f.file.endsWith('tollgate.db')), `no tollgate.db in ${data_dir}: ${fs.readdirSync(data_dir)}`);
  assert.ok(files.some((f) => f.bytes.includes(Buffer.from(marker))),
    `the store files do not contain '${marker}': not the store this test wrote to?`);
  for (const { file, bytes } of files) {
    for (const secret of secrets) {
      for (const encoding of ['utf8', 'utf16le']) {
        assert.ok(!bytes.includes(Buffer.from(secret, encoding)),
          `${path.basename(file)} contains a secret in clear text (${secret.slice(0, 8)}…, ${encoding})`);
      }
    }
  }
}

function assert_output_has_no_secret(output, secrets) {
  for (const secret of secrets) {
    const at = output.indexOf(secret);
    assert.equal(at, -1, `tollgate's output contains a secret (${secret.slice(0, 8)}…) near: ` +
      `${at < 0 ? '' : output.slice(Math.max(0, at - 200), at).replaceAll(secret, '<SECRET>')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Restart

test('restart on the same data dir: upstream keys, virtual keys and audit survive; secrets never reach the store in clear', async () => {
  const config = gateway_config('restart');
  const data_dir = path.join(make_temp_dir(), 'data');
  const first = await start_tollgate({ config, env: { TOLLGATE_MASTER_KEY: kMaster }, data_dir });

  const secret_file = path.join(data_dir, 'secret.key');
  assert.ok(fs.existsSync(secret_file), `no ${secret_file}`);
  assert.equal(fs.statSync(secret_file).mode & 0o777, 0o600, 'secret.key must be readable by its owner only');
  const secret_key = fs.readFileSync(secret_file, 'utf8');
  assert.match(secret_key, /^[0-9a-f]{64}\n?$/);

  const key = await register_key(first, { key_material: kMaterial, provider_id: 'openai', metadata: { env: 'prod' } });
  const live = await create_virtual_key(first, { name: 'restart-live-key', rpm: 2, models: ['chat'] });
  const doomed = await create_virtual_key(first, { name: 'restart-revoked-key' });
  const revoked = await request('DELETE', `${first.url}/api/v1/virtual-keys/${doomed.id}`, undefined, master);
  assert.equal(revoked.status, 200, revoked.text);
  const rotated_from = await create_virtual_key(first, { name: 'restart-rotated-key' });
  const rotated = await request('POST', `${first.url}/api/v1/virtual-keys/${rotated_from.id}/rotate`, undefined, master);
  assert.equal(rotated.status, 200, rotated.text);

  const used = await chat(first, 'chat', bearer(live.key));
  assert.equal(used.status, 200, used.text);
  const entries_before = await eventually(async () => {
    const entries = await audit_entries(first);
    return entries.some((e) => e.kind === 'request' && e.actor === live.id) ? entries : null;
  });
  assert.ok(entries_before.length >= 6, JSON.stringify(entries_before));

  const secrets = [kMaterial, live.key, doomed.key, rotated_from.key, rotated.json.key, kMaster];
  assert_store_has_no_secret(data_dir, secrets, 'restart-live-key');
  const stopped = await first.stop();
  assert.equal(stopped.code, 0, `first run exit ${JSON.stringify(stopped)}; output:\n${first.output()}`);
  assert_store_has_no_secret(data_dir, secrets, 'restart-live-key');

  const second = await start_tollgate({ config, env: { TOLLGATE_MASTER_KEY: kMaster }, data_dir });
  assert.equal(fs.readFileSync(secret_file, 'utf8'), secret_key, 'the secret key file is reused, not regenerated');
  assert.ok(!/generated a new secret key/.test(second.output()), second.output());

  const keys = await request('GET', `${second.url}/api/v1/keys?provider_id=openai`, undefined, master);
  assert.equal(keys.status, 200, keys.text);
  assert.deepEqual(keys.json.data, [key]);

  // The stored key is decrypted and used; the issued secret still works and its rpm still applies.
  const path_openai = up.chat_path(`require_key=${kMaterial},id=restart`);
  for (let i = 0; i < 2; ++i) {
    const r = await chat(second, 'chat', bearer(live.key));
    assert.equal(r.status, 200, `request ${i + 1} after the restart: ${r.text}`);
  }
  const sent = (await up.stats()).last_requests.filter((r) => r.path === path_openai).pop();
  assert.equal(sent.headers.authorization, `Bearer ${kMaterial}`);
  const limited = await chat(second, 'chat', bearer(live.key));
  assert.equal(limited.status, 429, `rpm 2 must still apply after the restart: ${limited.text}`);
  assert.equal(openai_error(limited.json).code, 'rate_limit_exceeded');
  const not_allowed = await chat(second, 'other', bearer(live.key));
  assert.equal(not_allowed.status, 403, `the models allowlist must survive the restart: ${not_allowed.text}`);

  assert_auth_error(await chat(second, 'chat', bearer(doomed.key)), /revoked/i);
  assert_auth_error(await chat(second, 'other', bearer(rotated_from.key)));
  const with_rotated = await chat(second, 'other', bearer(rotated.json.key));
  assert.equal(with_rotated.status, 200, with_rotated.text);

  const listed = await request('GET', `${second.url}/api/v1/virtual-keys`, undefined, master);
  assert.equal(listed.status, 200, listed.text);
  const by_id = Object.fromEntries(listed.json.data.map((k) => [k.id, k]));
  assert.equal(by_id[live.id]?.state, 'active', listed.text);
  assert.equal(by_id[live.id].rpm, 2);
  assert.deepEqual(by_id[live.id].models, ['chat']);
  assert.equal(by_id[live.id].key_hint, live.key_hint);
  assert.equal(by_id[doomed.id]?.state, 'revoked', listed.text);
  assert.equal(by_id[doomed.id].revoked_at, revoked.json.revoked_at);
  assert.equal(by_id[rotated_from.id]?.key_hint, rotated.json.key_hint);

  const entries_after = await audit_entries(second);
  assert.ok(entries_after.length >= entries_before.length,
    `audit entries went from ${entries_before.length} to ${entries_after.length}`);
  const ids_after = new Set(entries_after.map((e) => e.id));
  for (const e of entries_before) assert.ok(ids_after.has(e.id), `audit entry ${JSON.stringify(e)} is gone after the restart`);

  const stopped_again = await second.stop();
  assert.equal(stopped_again.code, 0, second.output());
  assert_store_has_no_secret(data_dir, secrets, 'restart-live-key');
  assert_output_has_no_secret(`${first.output()}${second.output()}`, [...secrets, secret_key.trim()]);
});

test('a different TOLLGATE_SECRET_KEY on restart: exits non-zero saying why, without printing the key; the right one starts', async () => {
  const config = gateway_config('secret-change');
  const data_dir = path.join(make_temp_dir(), 'data');
  const first = await start_tollgate({ config, env: { TOLLGATE_MASTER_KEY: kMaster }, data_dir });
  await register_key(first, { key_material: kMaterial, provider_id: 'openai' });
  assert.equal((await first.stop()).code, 0, first.output());
  const original = fs.readFileSync(path.join(data_dir, 'secret.key'), 'utf8').trim();

  const args = ['--config', first.config_file, '--port', '0', '--data-dir', data_dir];
  for (const wrong of [crypto.randomBytes(32).toString('hex'), 'a passphrase that is long enough but not the right one']) {
    const r = run_tollgate(args, { env: { TOLLGATE_MASTER_KEY: kMaster, TOLLGATE_SECRET_KEY: wrong } });
    assert.equal(r.signal, null, `tollgate did not exit on its own (${r.error?.message}); output:\n${r.output}`);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /secret key/i, r.output);
    assert_output_has_no_secret(r.output, [wrong, original, kMaterial, kMaster]);
    assert.ok(!/listening on/.test(r.output), r.output);
  }

  // The same key given through the environment opens the same store.
  const again = await start_tollgate({ config, env: { TOLLGATE_MASTER_KEY: kMaster, TOLLGATE_SECRET_KEY: original }, data_dir });
  const vk = await create_virtual_key(again, { name: 'after-the-right-secret' });
  const r = await chat(again, 'chat', bearer(vk.key));
  assert.equal(r.status, 200, `the stored upstream key must decrypt with the original secret: ${r.text}`);
  assert_output_has_no_secret(again.output(), [original, kMaterial, kMaster, vk.key]);
});

// ---------------------------------------------------------------------------------------------
// Logs

test('secrets never reach the logs: materials, issued keys, the master key and wrong keys, at debug level', async () => {
  const material_b = 'sk-second-material-for-patch-0000CCCC';
  const material_c = 'sk-backup-registered-material-DDDD1234';
  const wrong_virtual = 'tg-WrongKeyThatLooksReal0123456789abcdefghijKLMN';
  const wrong_plain = 'sk-wrong-client-key-0123456789EEEE';
  const wrong_master = `${kMaster}-but-wrong`;
  const gw = await start_tollgate({
    config: gateway_config('logs'), env: { TOLLGATE_MASTER_KEY: kMaster }, log_level: 'debug',
  });

  const key = await register_key(gw, { key_material: kMaterial, provider_id: 'openai' });
  const backup_key = await register_key(gw, { key_material: material_c, provider_id: 'backup' });
  const vk = await create_virtual_key(gw, { name: 'log-watcher' });
  assert.equal((await chat(gw, 'chat', bearer(vk.key))).status, 200);
  assert.equal((await chat(gw, 'other', bearer(vk.key))).status, 200);
  assert.equal((await chat(gw, 'other', bearer(vk.key))).status, 200, 'the backup pool has two keys now');
  const { res } = await post_stream(`${gw.url}/v1/chat/completions`, { ...chat_body('chat'), stream: true }, bearer(vk.key));
  assert.equal(res.status, 200);
  assert.equal((await read_sse(res)).done, true);
  assert.equal((await request('GET', `${gw.url}/v1/models`, undefined, bearer(vk.key))).status, 200);
  assert.equal((await request('GET', `${gw.url}/v1/models`, undefined, { 'api-key': vk.key })).status, 200);

  assert_auth_error(await chat(gw, 'chat', bearer(wrong_virtual)));
  assert_auth_error(await chat(gw, 'chat', bearer(wrong_plain)));
  assert_auth_error(await chat(gw, 'chat', { 'api-key': wrong_plain }));
  assert_auth_error(await request('GET', `${gw.url}/api/v1/keys`, undefined, bearer(wrong_master)));
  assert_auth_error(await request('GET', `${gw.url}/api/v1/keys`, undefined, bearer(vk.key)));

  const rotated = await request('POST', `${gw.url}/api/v1/virtual-keys/${vk.id}/rotate`, undefined, master);
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal((await chat(gw, 'chat', bearer(rotated.json.key))).status, 200);
  assert_auth_error(await chat(gw, 'chat', bearer(vk.key)));

  const patched = await request('PATCH', `${gw.url}/api/v1/keys/${key.id}`, { key_material: material_b, rpm: 50 }, master);
  assert.equal(patched.status, 200, patched.text);
  // The upstream accepts only the first material: this one is refused there, so the key is
  // disabled and the request (one candidate) fails as an upstream error, never the caller's 401.
  assert.equal((await chat(gw, 'chat', bearer(rotated.json.key))).status, 502);
  const restored = await request('PATCH', `${gw.url}/api/v1/keys/${key.id}`, { key_material: kMaterial }, master);
  assert.equal(restored.status, 200, restored.text);
  assert.equal((await chat(gw, 'chat', bearer(rotated.json.key))).status, 200);
  const bad_body = await request('POST', `${gw.url}/api/v1/keys`, { key_material: `${material_b} with a space`, provider_id: 'openai' }, master);
  assert.equal(bad_body.status, 400, bad_body.text);
  const deleted = await request('DELETE', `${gw.url}/api/v1/keys/${backup_key.id}`, undefined, master);
  assert.equal(deleted.status, 200, deleted.text);
  const revoked = await request('DELETE', `${gw.url}/api/v1/virtual-keys/${vk.id}`, undefined, master);
  assert.equal(revoked.status, 200, revoked.text);
  assert_auth_error(await chat(gw, 'chat', bearer(rotated.json.key)), /revoked/i);

  const stopped = await gw.stop();
  assert.equal(stopped.code, 0, gw.output());
  const output = gw.output();
  assert.ok((output.match(/request id=/g) ?? []).length >= 20, `expected one access line per request:\n${output.slice(0, 2000)}`);
  assert_output_has_no_secret(output, [
    kMaterial, material_b, material_c, kConfigKey, vk.key, rotated.json.key, kMaster, wrong_virtual, wrong_plain, wrong_master,
  ]);
});

// ---------------------------------------------------------------------------------------------
// Auth modes

function run_serve(config, { env = {}, args = [] } = {}) {
  const dir = make_temp_dir();
  const file = write_config(config, dir);
  return run_tollgate(['--config', file, '--port', '0', '--data-dir', path.join(dir, 'data'), ...args], { env });
}

test('auth open on a public address without a master key: refuses to start, with the reason', () => {
  const r = run_serve(gateway_config('open-public', { auth: { mode: 'open' } }), { args: ['--host', '0.0.0.0'] });
  assert.equal(r.signal, null, `tollgate did not exit on its own; output:\n${r.output}`);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /open/, r.output);
  assert.match(r.output, /non-loopback|public/i, r.output);
  assert.ok(!/listening on/.test(r.output), r.output);
});

test('auth open on a public address with allow_open_on_public but no master key: still refuses to start', () => {
  const r = run_serve(gateway_config('open-forced', { auth: { mode: 'open', allow_open_on_public: true } }),
    { args: ['--host', '0.0.0.0'] });
  assert.equal(r.signal, null, `tollgate did not exit on its own; output:\n${r.output}`);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /TOLLGATE_MASTER_KEY/, r.output);
  assert.ok(!/listening on/.test(r.output), r.output);
});

test('auth auto on a public address with a master key: virtual keys are required', async () => {
  const gw = await start_tollgate({
    config: gateway_config('auto-public'), env: { TOLLGATE_MASTER_KEY: kMaster }, args: ['--host', '0.0.0.0'],
  });
  assert.match(gw.output(), /listening on http:\/\/0\.0\.0\.0:\d+/);
  assert.match(gw.output(), /auth virtual-keys/);
  assert_auth_error(await chat(gw, 'other', {}), /provide an API key/i);
  assert_auth_error(await request('GET', `${gw.url}/v1/models`, undefined, {}), /provide an API key/i);
  assert_auth_error(await chat(gw, 'other', bearer('sk-anything-an-sdk-might-send')));
  assert_auth_error(await chat(gw, 'other', bearer('tg-notAKeyThisServerIssued0000000000000000000000')));
  assert.equal((await request('GET', `${gw.url}/health`)).status, 200, 'health stays public');

  const vk = await create_virtual_key(gw, { name: 'public-caller' });
  const r = await chat(gw, 'other', bearer(vk.key));
  assert.equal(r.status, 200, r.text);
  assert_auth_error(await request('GET', `${gw.url}/api/v1/virtual-keys`, undefined, {}));
});

test('loopback without a master key: auth is open and the admin API needs no key', async () => {
  const gw = await start_tollgate({ config: gateway_config('open-loopback') });
  assert.match(gw.output(), /auth open/);
  const anonymous = await chat(gw, 'other', {});
  assert.equal(anonymous.status, 200, anonymous.text);
  const any_key = await chat(gw, 'other', bearer('sk-whatever-the-sdk-sends'));
  assert.equal(any_key.status, 200, any_key.text);
  const models = await request('GET', `${gw.url}/v1/models`);
  assert.equal(models.status, 200, models.text);

  const vk = await create_virtual_key(gw, { name: 'open-mode-key', models: ['other'] }, {});
  const listed = await request('GET', `${gw.url}/api/v1/virtual-keys`);
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(listed.json.data.map((k) => k.id), [vk.id]);
  const keys = await request('GET', `${gw.url}/api/v1/keys`);
  assert.equal(keys.status, 200, keys.text);
  // A virtual key presented in open mode is still that key, with its limits.
  const limited = await chat(gw, 'chat', bearer(vk.key));
  assert.equal(limited.status, 403, limited.text);
  assert.equal(openai_error(limited.json).code, 'model_not_allowed');
});

test('auth open with a master key set: clients need no key, the admin API requires the master key', async () => {
  const gw = await start_tollgate({
    config: gateway_config('open-master', { auth: { mode: 'open' } }), env: { TOLLGATE_MASTER_KEY: kMaster },
  });
  assert.match(gw.output(), /auth open/);
  const anonymous = await chat(gw, 'other', {});
  assert.equal(anonymous.status, 200, anonymous.text);
  assert_auth_error(await request('GET', `${gw.url}/api/v1/keys`), /master key/i);
  assert_auth_error(await request('POST', `${gw.url}/api/v1/virtual-keys`, { name: 'x' }));
  assert_auth_error(await request('GET', `${gw.url}/api/v1/keys`, undefined, bearer('sk-not-the-master-key-000000')));
  const keys = await request('GET', `${gw.url}/api/v1/keys`, undefined, master);
  assert.equal(keys.status, 200, keys.text);
  const listed = await request('GET', `${gw.url}/api/v1/virtual-keys`, undefined, master);
  assert.deepEqual(listed.json.data, [], 'the refused POST created nothing');
});

test('the api-key header works like Authorization: Bearer, for callers and for the master key', async () => {
  const gw = await start_tollgate({ config: gateway_config('api-key-header'), env: { TOLLGATE_MASTER_KEY: kMaster } });
  const vk = await create_virtual_key(gw, { name: 'azure-style' }, { 'api-key': kMaster });
  const r = await request('POST', `${gw.url}/v1/chat/completions`, chat_body('other'), { 'api-key': vk.key, 'x-request-id': 'it-api-key-1' });
  assert.equal(r.status, 200, r.text);
  const models = await request('GET', `${gw.url}/v1/models`, undefined, { 'api-key': vk.key });
  assert.equal(models.status, 200, models.text);
  assert_auth_error(await chat(gw, 'other', { 'api-key': `${vk.key.slice(0, -1)}0` }));
  assert_auth_error(await chat(gw, 'other', { 'api-key': '' }), /provide an API key/i);
  assert_auth_error(await request('GET', `${gw.url}/api/v1/keys`, undefined, { 'api-key': 'sk-not-the-master-key-000000' }));
  const keys = await request('GET', `${gw.url}/api/v1/keys`, undefined, { 'api-key': kMaster });
  assert.equal(keys.status, 200, keys.text);

  const entry = await eventually(async () => (await audit_entries(gw)).find((e) => e.target === 'it-api-key-1'));
  assert.equal(entry.actor, vk.id, 'the api-key header identifies the virtual key');
  assert.equal(entry.status, 200);
});
