// The command line: --version, check-config on good and broken configs, a start with no config (mock-1), and the
// admin helpers (keys, virtual-keys) against a running tollgate.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, test } from 'node:test';

import {
  clean_env, get, kRepoRoot, kSecret, openai_error, post_json, run_tollgate, start_tollgate, stop_all, tollgate_bin,
  unique_prompt, write_config,
} from './support.mjs';

after(stop_all);

const kGoodConfig = `
providers:
  - {id: up-a, type: openai, base_url: "http://127.0.0.1:9/v1", keys: ["${kSecret}"]}
  - {id: up-b, type: openai, base_url: "http://127.0.0.1:9/scenario/status=500/v1"}
models:
  - name: chat
    deployments: [{provider: up-b, model: gpt-x}, {provider: up-a, model: gpt-y}]
routing: {strategy: priority, first_byte_timeout: 2s, stream_idle_timeout: 2s}
`;

test('--version prints a version', () => {
  const r = run_tollgate(['--version']);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /\d+\.\d+\.\d+/);
});

test('check-config on a good config exits 0 and prints the model table', () => {
  const file = write_config(kGoodConfig);
  const r = run_tollgate(['check-config', '--config', file]);
  assert.equal(r.status, 0, r.output);
  for (const text of ['chat', 'up-a', 'up-b', 'gpt-x', 'gpt-y']) assert.ok(r.stdout.includes(text), `'${text}' missing:\n${r.output}`);
  assert.ok(!r.output.includes(kSecret), `check-config printed the key:\n${r.output}`);
});

test('check-config on a deployment naming an unknown provider exits 1 naming file and key path', () => {
  const file = write_config(kGoodConfig.replace('{provider: up-b, model: gpt-x}', '{provider: nope, model: gpt-x}'));
  const r = run_tollgate(['check-config', '--config', file]);
  assert.equal(r.status, 1, r.output);
  assert.ok(r.output.includes(file), `file name missing:\n${r.output}`);
  assert.ok(r.output.includes('models[0].deployments[0].provider'), `key path missing:\n${r.output}`);
});

test('check-config on a provider of an unknown type exits 1 naming the key path', () => {
  const file = write_config(kGoodConfig.replace('{id: up-b, type: openai', '{id: up-b, type: bogus'));
  const r = run_tollgate(['check-config', '--config', file]);
  assert.equal(r.status, 1, r.output);
  assert.ok(r.output.includes(file), `file name missing:\n${r.output}`);
  assert.ok(r.output.includes('providers[1].type'), `key path missing:\n${r.output}`);
});

test('check-config on invalid YAML exits 1 naming the file', () => {
  const file = write_config('models: [ {name: chat\n  deployments: : :\n');
  const r = run_tollgate(['check-config', '--config', file]);
  assert.equal(r.status, 1, r.output);
  assert.ok(r.output.includes(file), `file name missing:\n${r.output}`);
});

test('serve refuses to start on a broken config', () => {
  const file = write_config(kGoodConfig.replace('{provider: up-b, model: gpt-x}', '{provider: nope, model: gpt-x}'));
  const r = run_tollgate(['--config', file, '--port', '0']);
  assert.equal(r.signal, null, `still running after 10 s:\n${r.output}`);
  assert.notEqual(r.status, 0, r.output);
  assert.ok(r.output.includes('models[0].deployments[0].provider'), r.output);
});

test('--log-format json writes one JSON object per line', async () => {
  const gw = await start_tollgate({ config: kGoodConfig, args: ['--log-format', 'json'] });
  const r = await get(`${gw.url}/health`);
  assert.equal(r.status, 200);
  await gw.stop();
  const lines = gw.output().split('\n').filter((line) => line.trim() !== '');
  assert.ok(lines.length >= 1);
  for (const line of lines) {
    let parsed;
    assert.doesNotThrow(() => { parsed = JSON.parse(line); }, `not JSON: ${line}`);
    assert.equal(typeof parsed, 'object', line);
  }
  assert.ok(!gw.output().includes(kSecret));
});

test('with no config and no provider keys in the environment it serves mock-1', async () => {
  const gw = await start_tollgate({ config: null });
  assert.match(gw.output(), /OPENAI_API_KEY/, 'the warning should say how to add real keys');

  const models = await get(`${gw.url}/v1/models`);
  assert.equal(models.status, 200, models.text);
  assert.ok(models.json.data.some((m) => m.id === 'mock-1'), models.text);

  const prompt = unique_prompt('mock echo');
  const r = await post_json(`${gw.url}/v1/chat/completions`, { model: 'mock-1', messages: [{ role: 'user', content: prompt }] });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.choices[0].message.content.includes(prompt), r.text);
  assert.ok(r.json.usage.total_tokens > 0, r.text);

  const { code } = await gw.stop();
  assert.equal(code, 0, gw.output());
});

test('--host takes a name that resolves, and a host that does not resolve is a clear start-up error', async () => {
  const gw = await start_tollgate({ config: kGoodConfig, args: ['--host', 'localhost'] });
  assert.equal((await get(`${gw.url}/health`)).status, 200);
  await gw.stop();

  const r = run_tollgate(['--config', write_config(kGoodConfig), '--host', 'no-such-host.invalid', '--port', '0']);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /cannot listen on no-such-host\.invalid:0: server\.host is neither an IP address nor a name that resolves/);
});

// ---------------------------------------------------------------------------------------------
// Admin helpers: `tollgate keys …` and `tollgate virtual-keys …` talk HTTP to a running server.

const kMasterKey = 'mk-cli-test-0123456789';

/// Runs the CLI to completion with `input` on stdin (a pipe, not a terminal).
function run_cli(args, { env = {}, input = '' } = {}) {
  const r = spawnSync(tollgate_bin(), args, { cwd: kRepoRoot, env: clean_env(env), input, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '',
           output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/// A started tollgate with a master key, and a `cli(args, options)` bound to it through TOLLGATE_URL.
async function start_admin_gateway() {
  const gw = await start_tollgate({ config: kGoodConfig, env: { TOLLGATE_MASTER_KEY: kMasterKey } });
  const cli = (args, { master_key = kMasterKey, input = '' } = {}) => {
    const env = { TOLLGATE_URL: gw.url };
    if (master_key !== null) env.TOLLGATE_MASTER_KEY = master_key;
    return run_cli(args, { env, input });
  };
  return { gw, cli };
}

function count(haystack, needle) {
  return haystack.split(needle).length - 1;
}

test('keys add reads the material from stdin; list shows its fingerprint, never the material; rm removes it', async () => {
  const { gw, cli } = await start_admin_gateway();
  const material = `sk-cli-material-${process.pid}-${Date.now()}`;

  const added = cli(['keys', 'add', '--provider', 'up-a', '--rpm', '60', '--metadata', '{"owner":"cli-test"}'],
                    { input: `${material}\n` });
  assert.equal(added.status, 0, added.output);
  const key = JSON.parse(added.stdout);
  assert.equal(key.object, 'upstream_key', added.stdout);
  assert.equal(key.provider_id, 'up-a');
  assert.equal(key.rpm, 60);
  assert.deepEqual(key.metadata, { owner: 'cli-test' });
  assert.equal(key.source, 'api');
  assert.equal(typeof key.fingerprint, 'string');
  assert.ok(key.fingerprint.length > 0 && !material.startsWith(key.fingerprint), key.fingerprint);
  assert.ok(added.stdout.includes('\n  "'), `add should print pretty JSON:\n${added.stdout}`);

  const listed = cli(['keys', 'list']);
  assert.equal(listed.status, 0, listed.output);
  const header = listed.stdout.split('\n')[0];
  for (const column of ['ID', 'PROVIDER', 'FINGERPRINT', 'STATE', 'CREATED']) assert.ok(header.includes(column), header);
  const row = listed.stdout.split('\n').find((line) => line.startsWith(`${key.id} `));
  assert.ok(row, `no row for ${key.id}:\n${listed.stdout}`);
  assert.ok(row.includes('up-a') && row.includes(key.fingerprint) && row.includes('active'), row);

  const filtered = cli(['keys', 'list', '--provider', 'up-b', '--json']);
  assert.equal(filtered.status, 0, filtered.output);
  assert.ok(JSON.parse(filtered.stdout).data.every((k) => k.provider_id === 'up-b'), filtered.stdout);

  const removed = cli(['keys', 'rm', key.id]);
  assert.equal(removed.status, 0, removed.output);
  assert.ok(removed.stdout.includes(key.id), removed.stdout);
  const after_rm = cli(['keys', 'list', '--json']);
  assert.equal(after_rm.status, 0, after_rm.output);
  assert.ok(!JSON.parse(after_rm.stdout).data.some((k) => k.id === key.id), after_rm.stdout);

  const again = cli(['keys', 'rm', key.id]);
  assert.equal(again.status, 1, again.output);
  assert.match(again.stderr, /^error: .+/);

  // Neither the key material nor the config's own key shows anywhere, on either side.
  await gw.stop();
  for (const text of [added.output, listed.output, removed.output, gw.output()]) {
    assert.ok(!text.includes(material), `key material leaked:\n${text}`);
    assert.ok(!text.includes(kSecret), `config key leaked:\n${text}`);
  }
  assert.ok(!gw.output().includes(kMasterKey), 'the master key reached the log');
});

test('keys add with nothing on stdin exits 2 and sends nothing', async () => {
  const { gw, cli } = await start_admin_gateway();
  const r = cli(['keys', 'add', '--provider', 'up-a'], { input: '' });
  assert.equal(r.status, 2, r.output);
  assert.match(r.stderr, /^error: no key material on stdin/);
  const listed = cli(['keys', 'list', '--json']);
  assert.ok(!JSON.parse(listed.stdout).data.some((k) => k.source === 'api'), listed.stdout);
  await gw.stop();
});

test('virtual-keys create prints the key once; list shows only its hint; revoke turns it off', async () => {
  const { gw, cli } = await start_admin_gateway();

  const created = cli(['virtual-keys', 'create', '--name', 'cli-test', '--models', 'chat', '--rpm', '30', '--team', 'qa',
                       '--budget-usd', '5', '--budget-period', 'monthly', '--expires-at', '2099-01-01T00:00:00Z']);
  assert.equal(created.status, 0, created.output);
  const m = /^key: (\S+)$/m.exec(created.stdout);
  assert.ok(m, `no 'key:' line:\n${created.stdout}`);
  const secret = m[1];
  assert.equal(count(created.output, secret), 1, `the key should be printed exactly once:\n${created.output}`);
  assert.match(created.stdout, /shown only once/);
  const shown = JSON.parse(created.stdout.slice(0, created.stdout.indexOf('\n\nkey: ')));
  assert.equal(shown.object, 'virtual_key');
  assert.equal(shown.name, 'cli-test');
  assert.deepEqual(shown.models, ['chat']);
  assert.equal(shown.rpm, 30);
  assert.equal(shown.metadata.team, 'qa');
  assert.equal(shown.budget.period, 'monthly');
  assert.equal(Number(shown.budget.limit_usd), 5);
  assert.equal(Date.parse(shown.expires_at), Date.parse('2099-01-01T00:00:00Z'), shown.expires_at);
  assert.equal(shown.state, 'active');

  // The key works as a caller credential until it is revoked.
  const before = await get(`${gw.url}/v1/models`, { authorization: `Bearer ${secret}` });
  assert.equal(before.status, 200, before.text);

  const listed = cli(['virtual-keys', 'list']);
  assert.equal(listed.status, 0, listed.output);
  assert.ok(!listed.output.includes(secret), `list printed the key:\n${listed.output}`);
  const row = listed.stdout.split('\n').find((line) => line.startsWith(`${shown.id} `));
  assert.ok(row, `no row for ${shown.id}:\n${listed.stdout}`);
  assert.ok(row.includes('cli-test') && row.includes(shown.key_hint) && row.includes('active'), row);

  const revoked = cli(['virtual-keys', 'revoke', shown.id]);
  assert.equal(revoked.status, 0, revoked.output);
  assert.ok(revoked.stdout.includes(shown.id), revoked.stdout);
  const after_revoke = cli(['virtual-keys', 'list', '--json']);
  assert.equal(after_revoke.status, 0, after_revoke.output);
  const entry = JSON.parse(after_revoke.stdout).data.find((k) => k.id === shown.id);
  assert.equal(entry?.state, 'revoked', after_revoke.stdout);
  assert.ok(!after_revoke.output.includes(secret));

  const after = await get(`${gw.url}/v1/models`, { authorization: `Bearer ${secret}` });
  assert.equal(after.status, 401, after.text);
  assert.ok(!gw.output().includes(secret), 'the virtual key reached the log');
  await gw.stop();
});

test('virtual-keys create --json prints the raw answer, key included', async () => {
  const { gw, cli } = await start_admin_gateway();
  const r = cli(['virtual-keys', 'create', '--name', 'raw', '--json']);
  assert.equal(r.status, 0, r.output);
  const body = JSON.parse(r.stdout);
  assert.equal(body.name, 'raw');
  assert.equal(typeof body.key, 'string');
  assert.ok(body.key.length >= 20, r.stdout);
  await gw.stop();
});

test('an argument the server rejects exits 1 with the server\'s message', async () => {
  const { gw, cli } = await start_admin_gateway();
  const direct = await post_json(`${gw.url}/api/v1/virtual-keys`, { name: 'x', models: ['no-such-model'] },
                                 { authorization: `Bearer ${kMasterKey}` });
  assert.equal(direct.status, 400, direct.text);
  const r = cli(['virtual-keys', 'create', '--name', 'x', '--models', 'no-such-model']);
  assert.equal(r.status, 1, r.output);
  assert.equal(r.stderr, `error: ${openai_error(direct.json).message}\n`);
  assert.equal(r.stdout, '');
  await gw.stop();
});

test('a wrong master key exits 1 with the server\'s message', async () => {
  const { gw, cli } = await start_admin_gateway();
  const direct = await get(`${gw.url}/api/v1/virtual-keys`, { authorization: 'Bearer wrong-master-key' });
  assert.equal(direct.status, 401, direct.text);
  for (const args of [['virtual-keys', 'list'], ['keys', 'list'], ['virtual-keys', 'create', '--name', 'nope']]) {
    const r = cli(args, { master_key: 'wrong-master-key' });
    assert.equal(r.status, 1, r.output);
    assert.equal(r.stderr, `error: ${openai_error(direct.json).message}\n`);
    assert.equal(r.stdout, '');
  }
  const none = cli(['keys', 'list'], { master_key: null });
  assert.equal(none.status, 1, none.output);
  assert.match(none.stderr, /^error: .+/);
  await gw.stop();
});

test('with tollgate down the CLI exits 1 saying it cannot reach it', async () => {
  const port = await new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const p = server.address().port; server.close(() => resolve(p)); });
  });
  const url = `http://127.0.0.1:${port}`;
  for (const args of [['keys', 'list'], ['virtual-keys', 'list', '--url', url]]) {
    const r = run_cli(args, { env: { TOLLGATE_URL: url, TOLLGATE_MASTER_KEY: kMasterKey } });
    assert.equal(r.status, 1, r.output);
    assert.ok(r.stderr.startsWith(`error: cannot reach tollgate at ${url} (`), r.stderr);
    assert.match(r.stderr, /is it running\?\n$/);
  }
  const piped = run_cli(['keys', 'add', '--provider', 'up-a'], { env: { TOLLGATE_URL: url }, input: 'sk-down-1\n' });
  assert.equal(piped.status, 1, piped.output);
  assert.ok(!piped.output.includes('sk-down-1'), piped.output);
});

test('argument errors exit non-zero before anything is sent', () => {
  for (const args of [
    ['virtual-keys', 'create', '--name', 'x', '--budget-usd', '5'],
    ['virtual-keys', 'create', '--name', 'x', '--expires-at', 'tomorrow'],
    ['keys', 'add', '--provider', 'up-a', '--metadata', 'not json'],
    ['keys', 'add', '--provider', 'up-a', '--key', 'sk-in-argv'],
  ]) {
    const r = run_cli(args, { env: { TOLLGATE_URL: 'http://127.0.0.1:9' } });
    assert.ok(r.status !== 0 && r.status !== null, `${args.join(' ')}: ${r.output}`);
    assert.ok(!/cannot reach/.test(r.output), `${args.join(' ')} tried to connect:\n${r.output}`);
  }
});
