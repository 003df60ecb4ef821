// The command line: --version, check-config on good and broken configs, and a start with no config (mock-1).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import {
  get, kSecret, post_json, run_tollgate, start_tollgate, stop_all, unique_prompt, write_config,
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
