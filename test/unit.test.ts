import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mergeSettings, stripNulls } from '../src/shared/merge';
import { openSecrets, sealSecrets } from '../src/shared/secrets';
import { SecretBox } from '../src/secret-box';
import { Masker } from '../src/activities/masker';
import { ConfigError, loadConfig, parseEnv } from '../src/config';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { readLogs } from '../src/api/logs';
import { LogWriter } from '../src/activities/log-writer';
import type { DeploymentSettings } from '../src/shared/settings';
import { describeChanges, hasDrift } from '../src/shared/drift';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'stackwright-unit-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Deeply frozen copy, so a test fails if the code under test mutates its input. */
function frozen<T>(value: T): T {
  const copy = structuredClone(value);
  const freeze = (v: unknown) => {
    if (v && typeof v === 'object') {
      Object.freeze(v);
      Object.values(v).forEach(freeze);
    }
  };
  freeze(copy);
  return copy;
}

// ---------------------------------------------------------------------------------------------

describe('mergeSettings', () => {
  test("Pulumi's documented worked example (API reference, Patch Settings)", () => {
    const current = frozen({
      sourceContext: {
        git: {
          repoURL: 'https://github.com/pulumi/deploy-demos.git',
          branch: 'refs/heads/demo',
          repoDir: 'pulumi-programs/aws-ts-s3',
        },
      },
      operationContext: {
        preRunCommands: ['echo "hello world"'],
        environmentVariables: {
          AWS_REGION: 'us-west-2',
          AWS_ACCESS_KEY_ID: '$AWS_ACCESS_KEY_ID',
          AWS_SECRET_ACCESS_KEY: '$AWS_SECRET_ACCESS_KEY',
          AWS_SESSION_TOKEN: '$AWS_SESSION_TOKEN',
        },
      },
    });
    const patch = frozen({
      sourceContext: { git: { repoURL: null } },
      operationContext: {
        preRunCommands: ['echo "bonjour"'],
        environmentVariables: { AWS_ACCESS_KEY_ID: null, AWS_SECRET_ACCESS_KEY: null, AWS_SESSION_TOKEN: null },
        oidc: { aws: { roleArn: 'my-role-arn', sessionName: 'pulumi-deploy' } },
      },
      gitHub: { repository: 'pulumi/deploy-demos' },
    });
    const result = mergeSettings(current, patch);
    expect(result).toEqual({
      sourceContext: { git: { branch: 'refs/heads/demo', repoDir: 'pulumi-programs/aws-ts-s3' } },
      operationContext: {
        preRunCommands: ['echo "bonjour"'],
        environmentVariables: { AWS_REGION: 'us-west-2' },
        oidc: { aws: { roleArn: 'my-role-arn', sessionName: 'pulumi-deploy' } },
      },
      gitHub: { repository: 'pulumi/deploy-demos' },
    });
    // No key left behind holding null or undefined.
    expect(JSON.stringify(result)).not.toContain('null');
    expect(Object.keys(result.sourceContext.git)).toEqual(['branch', 'repoDir']);
  });

  test('vcs is replaced whole; gitHub and other objects merge key by key', () => {
    const current = frozen({
      vcs: { provider: 'github', repository: 'acme/old', deployCommits: true, paths: ['infra/**'] },
      gitHub: { repository: 'acme/old', deployCommits: true },
    });
    expect(mergeSettings(current, { vcs: { provider: 'gitlab', repository: 'acme/new' } })).toEqual({
      vcs: { provider: 'gitlab', repository: 'acme/new' },
      gitHub: { repository: 'acme/old', deployCommits: true },
    });
    expect(mergeSettings(current, { vcs: { provider: 'github', paths: null, tagFilters: ['v*'] } }).vcs).toEqual({
      provider: 'github',
      tagFilters: ['v*'],
    });
    expect(mergeSettings(current, { vcs: null })).toEqual({ gitHub: current.gitHub });
    expect(mergeSettings(current, { gitHub: { previewPullRequests: true, deployCommits: null } }).gitHub).toEqual({
      repository: 'acme/old',
      previewPullRequests: true,
    });
    // Only the top-level vcs is special.
    expect(mergeSettings({ operationContext: { oidc: { vcs: { a: 1 } } } }, { operationContext: { oidc: { vcs: { b: 2 } } } })).toEqual({
      operationContext: { oidc: { vcs: { a: 1, b: 2 } } },
    });
  });

  test('arrays and secret values replace; other values replace; absent keys stay', () => {
    const current = frozen({
      operationContext: {
        preRunCommands: ['a', 'b', 'c'],
        environmentVariables: { SEALED: { ciphertext: 'v1:old' }, PLAIN: 'p', KEEP: 'k' },
        options: { skipInstallDependencies: true, shell: '/bin/sh' },
      },
      executorContext: { executorImage: { reference: 'img:1', credentials: { username: 'u', password: { ciphertext: 'v1:pw' } } } },
    });
    const merged = mergeSettings(current, {
      operationContext: {
        preRunCommands: ['z'],
        environmentVariables: { SEALED: 'now-plain', PLAIN: { ciphertext: 'v1:new' } },
        options: { skipInstallDependencies: false, shell: undefined },
      },
      executorContext: { executorImage: 'img:2' },
    });
    expect(merged).toEqual({
      operationContext: {
        preRunCommands: ['z'],
        environmentVariables: { SEALED: 'now-plain', PLAIN: { ciphertext: 'v1:new' }, KEEP: 'k' },
        options: { skipInstallDependencies: false, shell: '/bin/sh' },
      },
      executorContext: { executorImage: 'img:2' },
    });
    // A sealed value over a sealed value replaces it rather than merging.
    expect(
      mergeSettings({ env: { K: { ciphertext: 'v1:a' } } }, { env: { K: { ciphertext: 'v1:b' } } }),
    ).toEqual({ env: { K: { ciphertext: 'v1:b' } } });
  });

  test('merging onto nothing drops nulls; the inputs are not modified', () => {
    const patch = frozen({ sourceContext: { git: { repoURL: 'https://x', branch: null } }, tag: null, cacheOptions: { enable: false } });
    expect(mergeSettings(undefined, patch)).toEqual({ sourceContext: { git: { repoURL: 'https://x' } }, cacheOptions: { enable: false } });
    // frozen() would have made any mutation throw; check the values too.
    expect(patch.sourceContext.git.branch).toBeNull();
  });
});

describe('drift in a change summary', () => {
  test.each([
    [{}, false, ''],
    [{ same: 3 }, false, ''],
    [{ same: 1, update: 0 }, false, ''],
    [{ same: 1, update: 2 }, true, '2 to update'],
    [{ delete: 1 }, true, '1 to delete'],
    [{ same: 1, update: 1, delete: 1 }, true, '1 to update, 1 to delete'],
  ])('%j: drift %s, described as "%s"', (changes, drift, text) => {
    expect(hasDrift(changes)).toBe(drift);
    expect(describeChanges(changes)).toBe(text);
  });
});

describe('stripNulls', () => {
  test('removes null-valued keys at every depth and keeps other falsy values', () => {
    const input = frozen({
      a: null,
      b: { c: null, d: { e: null, f: 0 }, g: false, h: '' },
      list: ['x', 'y'],
      u: undefined,
      vcs: { provider: 'github', paths: null },
    });
    const out = stripNulls(input);
    expect(out).toEqual({ b: { d: { f: 0 }, g: false, h: '' }, list: ['x', 'y'], vcs: { provider: 'github' } });
    expect('a' in out).toBe(false);
    expect('u' in out).toBe(false);
    expect(Object.keys(out.b.d)).toEqual(['f']);
    expect(stripNulls({})).toEqual({});
  });
});

// ---------------------------------------------------------------------------------------------

describe('sealSecrets / openSecrets', () => {
  const fakeEncrypt = (p: string) => `enc(${p})`;
  const fakeDecrypt = (c: string) => c.replace(/^enc\((.*)\)$/s, '$1');

  const input = {
    sourceContext: {
      git: {
        repoURL: 'https://git.example.com/x.git',
        branch: 'main',
        gitAuth: {
          accessToken: 'tok',
          basicAuth: { userName: 'me', password: 'pw' },
          sshAuth: { sshPrivateKey: '-----BEGIN KEY-----\nabc\n-----END KEY-----', password: { isSecret: false, value: 'pp' } },
        },
      },
    },
    operationContext: {
      preRunCommands: ['echo hi'],
      environmentVariables: {
        S: { secret: 's' },
        H: { isSecret: true, value: 'h' },
        P: { isSecret: false, value: 'p' },
        PLAIN: 'plain',
        SEALED: { ciphertext: 'enc(already)' },
      },
    },
    executorContext: { executorImage: { reference: 'img', credentials: { username: 'u', password: 'ipw' } } },
  };

  const sealed = {
    sourceContext: {
      git: {
        repoURL: 'https://git.example.com/x.git',
        branch: 'main',
        gitAuth: {
          accessToken: { ciphertext: 'enc(tok)' },
          basicAuth: { userName: 'me', password: { ciphertext: 'enc(pw)' } },
          sshAuth: {
            sshPrivateKey: { ciphertext: 'enc(-----BEGIN KEY-----\nabc\n-----END KEY-----)' },
            password: { ciphertext: 'enc(pp)' },
          },
        },
      },
    },
    operationContext: {
      preRunCommands: ['echo hi'],
      environmentVariables: {
        S: { ciphertext: 'enc(s)' },
        H: { ciphertext: 'enc(h)' },
        P: 'p',
        PLAIN: 'plain',
        SEALED: { ciphertext: 'enc(already)' },
      },
    },
    executorContext: { executorImage: { reference: 'img', credentials: { username: 'u', password: { ciphertext: 'enc(ipw)' } } } },
  };

  test('seals {secret}, {isSecret: true} and credentials (even bare strings); {isSecret: false} becomes plain', () => {
    expect(sealSecrets(frozen(input), fakeEncrypt)).toEqual(sealed);
  });

  test('already sealed values are left untouched (sealing is idempotent)', () => {
    const encrypt = jest.fn(fakeEncrypt);
    expect(sealSecrets(frozen(sealed), encrypt)).toEqual(sealed);
    expect(encrypt).not.toHaveBeenCalled();
    expect(sealSecrets({ accessToken: { ciphertext: 'v1:x' } }, encrypt)).toEqual({ accessToken: { ciphertext: 'v1:x' } });
    expect(encrypt).not.toHaveBeenCalled();
  });

  test('alwaysSecret seals a bare value', () => {
    expect(sealSecrets('x', fakeEncrypt, true)).toEqual({ ciphertext: 'enc(x)' });
    expect(sealSecrets('x', fakeEncrypt)).toBe('x');
  });

  test('openSecrets replaces every sealed value with its plaintext', () => {
    expect(openSecrets(frozen(sealed), fakeDecrypt)).toEqual({
      sourceContext: {
        git: {
          repoURL: 'https://git.example.com/x.git',
          branch: 'main',
          gitAuth: {
            accessToken: 'tok',
            basicAuth: { userName: 'me', password: 'pw' },
            sshAuth: { sshPrivateKey: '-----BEGIN KEY-----\nabc\n-----END KEY-----', password: 'pp' },
          },
        },
      },
      operationContext: {
        preRunCommands: ['echo hi'],
        environmentVariables: { S: 's', H: 'h', P: 'p', PLAIN: 'plain', SEALED: 'already' },
      },
      executorContext: { executorImage: { reference: 'img', credentials: { username: 'u', password: 'ipw' } } },
    });
  });

  test('round trip through a real SecretBox', () => {
    const box = new SecretBox(randomBytes(32));
    const settings = {
      sourceContext: { git: { repoURL: 'https://x', gitAuth: { accessToken: 'ghp_token' } } },
      operationContext: {
        environmentVariables: { K: { secret: 'multi\nline ünïcode ✓' }, F: { isSecret: false, value: 'shown' }, P: 'plain' },
      },
    };
    const s = sealSecrets<unknown>(settings, box.encrypt) as DeploymentSettings;
    const json = JSON.stringify(s);
    expect(json).not.toContain('ghp_token');
    expect(json).not.toContain('ünïcode');
    expect(s.operationContext!.environmentVariables!.K).toEqual({ ciphertext: expect.stringMatching(/^v1:/) });
    expect(openSecrets(s, box.decrypt)).toEqual({
      sourceContext: { git: { repoURL: 'https://x', gitAuth: { accessToken: 'ghp_token' } } },
      operationContext: { environmentVariables: { K: 'multi\nline ünïcode ✓', F: 'shown', P: 'plain' } },
    });
  });
});

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  test('encrypts with a fresh IV each time and decrypts', () => {
    const a = box.encrypt('hello');
    const b = box.encrypt('hello');
    expect(a).toMatch(/^v1:/);
    expect(a).not.toBe(b);
    expect(box.decrypt(a)).toBe('hello');
    expect(box.decrypt(box.encrypt(''))).toBe('');
  });

  test('rejects tampered, truncated, foreign and wrongly keyed ciphertext', () => {
    const ct = box.encrypt('the secret');
    const raw = Buffer.from(ct.slice(3), 'base64');
    const flip = (i: number) => {
      const copy = Buffer.from(raw);
      copy[i] ^= 0x01;
      return `v1:${copy.toString('base64')}`;
    };
    expect(() => box.decrypt(flip(0))).toThrow(); // IV
    expect(() => box.decrypt(flip(12))).toThrow(); // tag
    expect(() => box.decrypt(flip(raw.length - 1))).toThrow(); // data
    expect(() => box.decrypt(`v1:${raw.subarray(0, 27).toString('base64')}`)).toThrow(/not a Stackwright ciphertext/);
    expect(() => box.decrypt(`v1:${raw.subarray(0, raw.length - 1).toString('base64')}`)).toThrow();
    expect(() => box.decrypt(ct.slice(3))).toThrow(/not a Stackwright ciphertext/);
    expect(() => box.decrypt(`v2:${ct.slice(3)}`)).toThrow();
    expect(() => new SecretBox(randomBytes(32)).decrypt(ct)).toThrow();
  });

  test('wants a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Masker', () => {
  test('masks every occurrence of a secret', () => {
    const m = new Masker(['hunter2']);
    expect(m.mask('password hunter2, again hunter2')).toBe('password [secret], again [secret]');
    expect(m.mask('nothing here')).toBe('nothing here');
  });

  test('masks a multi-line secret line by line', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACD3xk2\n-----END OPENSSH PRIVATE KEY-----';
    const m = new Masker([key]);
    expect(m.mask('b3BlbnNzaC1rZXktdjEAAAAA')).toBe('[secret]');
    expect(m.mask('  QyNTUxOQAAACD3xk2 trailing')).toBe('  [secret] trailing');
    expect(m.mask(`cat: ${key}`)).toBe('cat: [secret]');
    for (const line of key.split(/\r?\n/)) expect(m.mask(line)).not.toContain(line);
  });

  test('ignores lines too short to mask', () => {
    const m = new Masker(['ab\n  \nlonger-part', '', 'x']);
    expect(m.mask('about x')).toBe('about x');
    expect(m.mask('a longer-part')).toBe('a [secret]');
  });

  test('masks nested and overlapping values completely', () => {
    // Nested: the longer value must not be left half masked.
    const nested = new Masker(['secret', 'supersecret123']);
    expect(nested.mask('supersecret123 and secret')).toBe('[secret] and [secret]');
    // Overlapping, in either order: no character of either value may survive.
    const overlapping: [string[], string][] = [
      [['tokenAAAA', 'AAAABBBBBBBB'], 'x tokenAAAABBBBBBBB y'],
      [['AAAABBBBBBBB', 'tokenAAAA'], 'x tokenAAAABBBBBBBB y'],
      [['abcdef', 'defghi'], 'x abcdefghi y'],
      [['defghi', 'abcdef'], 'x abcdefghi y'],
      [['abcdef', 'cdefgh', 'ghijkl'], 'x abcdefghijkl y'],
    ];
    for (const [values, text] of overlapping) expect(new Masker(values).mask(text)).toBe('x [secret] y');
    // A value overlapping itself, and adjacent values.
    expect(new Masker(['aaa']).mask('aaaa!')).toBe('[secret]!');
    expect(new Masker(['left', 'right']).mask('leftright')).toBe('[secret]');
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseEnv', () => {
  test('a non-numeric STACKWRIGHT_PORT fails naming it', () => {
    expect(() => parseEnv({ STACKWRIGHT_PORT: 'abc' })).toThrow(ConfigError);
    expect(() => parseEnv({ STACKWRIGHT_PORT: 'abc' })).toThrow(/STACKWRIGHT_PORT/);
    expect(() => parseEnv({ STACKWRIGHT_PORT: '70000' })).toThrow(/STACKWRIGHT_PORT/);
  });

  test('a short STACKWRIGHT_TOKEN fails naming it, without echoing it', () => {
    let err: unknown;
    try {
      parseEnv({ STACKWRIGHT_TOKEN: 'tiny-tok3n' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/STACKWRIGHT_TOKEN/);
    expect((err as Error).message).not.toMatch(/STACKWRIGHT_PORT/);
    expect((err as Error).message).not.toContain('tiny-tok3n');
  });

  test('every bad variable is named at once', () => {
    expect(() => parseEnv({ STACKWRIGHT_PORT: 'x', STACKWRIGHT_SECRETS_KEY: 'c2hvcnQ=', STACKWRIGHT_LOG_LEVEL: 'loud' })).toThrow(
      /STACKWRIGHT_PORT[\s\S]*STACKWRIGHT_SECRETS_KEY[\s\S]*STACKWRIGHT_LOG_LEVEL/,
    );
  });

  test('defaults and coercions', () => {
    const e = parseEnv({});
    expect(e.STACKWRIGHT_PORT).toBe(8080);
    expect(e.STACKWRIGHT_HOST).toBe('127.0.0.1');
    expect(e.STACKWRIGHT_TOKEN).toBeUndefined();
    expect(parseEnv({ STACKWRIGHT_PORT: '9090' }).STACKWRIGHT_PORT).toBe(9090);
  });
});

describe('loadConfig', () => {
  test('generates the token, key and passphrase once and returns the same values later', () => {
    const dataDir = join(tmp, 'data', 'nested');
    const env = { STACKWRIGHT_DATA_DIR: dataDir };
    const first = loadConfig(env);
    const second = loadConfig(env);

    expect(first.dataDir).toBe(dataDir);
    expect(first.token.length).toBeGreaterThanOrEqual(16);
    expect(() => parseEnv({ STACKWRIGHT_TOKEN: first.token })).not.toThrow();
    expect(first.secretsKey).toHaveLength(32);
    expect(first.pulumiPassphrase.length).toBeGreaterThanOrEqual(16);

    expect(second.token).toBe(first.token);
    expect(second.secretsKey.equals(first.secretsKey)).toBe(true);
    expect(second.pulumiPassphrase).toBe(first.pulumiPassphrase);

    // What one process seals, the next can open.
    expect(new SecretBox(second.secretsKey).decrypt(new SecretBox(first.secretsKey).encrypt('x'))).toBe('x');

    for (const f of ['api-token', 'secrets.key', 'pulumi-passphrase']) {
      expect(statSync(join(dataDir, f)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(dataDir).mode & 0o077).toBe(0);
    expect(first.databaseUrl).toBe(join(dataDir, 'stackwright.db'));
    expect(first.publicUrl).toBe('http://127.0.0.1:8080');

    // Another data dir gets other secrets.
    const other = loadConfig({ STACKWRIGHT_DATA_DIR: join(tmp, 'other') });
    expect(other.token).not.toBe(first.token);
    expect(other.secretsKey.equals(first.secretsKey)).toBe(false);
  });

  test('values from the environment win and are not written to disk', () => {
    const dataDir = join(tmp, 'from-env');
    const key = randomBytes(32).toString('base64');
    const c = loadConfig({
      STACKWRIGHT_DATA_DIR: dataDir,
      STACKWRIGHT_TOKEN: 'a-token-of-enough-length',
      STACKWRIGHT_SECRETS_KEY: key,
      PULUMI_CONFIG_PASSPHRASE: 'phrase',
    });
    expect(c.token).toBe('a-token-of-enough-length');
    expect(c.secretsKey.toString('base64')).toBe(key);
    expect(c.pulumiPassphrase).toBe('phrase');
    for (const f of ['api-token', 'secrets.key', 'pulumi-passphrase']) expect(existsSync(join(dataDir, f))).toBe(false);
    // A generated value left from before does not override the environment either.
    const kept = loadConfig({ STACKWRIGHT_DATA_DIR: dataDir });
    expect(kept.token).not.toBe('a-token-of-enough-length');
    expect(readFileSync(join(dataDir, 'api-token'), 'utf8')).toBe(kept.token);
    expect(loadConfig({ STACKWRIGHT_DATA_DIR: dataDir, STACKWRIGHT_TOKEN: 'a-token-of-enough-length' }).token).toBe('a-token-of-enough-length');
  });
});

// ---------------------------------------------------------------------------------------------

describe('readLogs', () => {
  const ref = { org: 'acme', project: 'website', stack: 'dev' };
  const H = (name: string) => ({ header: name, timestamp: '0001-01-01T00:00:00Z' });
  const L = (line: string, i: number) => ({ timestamp: `2024-01-01T00:00:0${i}.000Z`, line: `${line}\n` });
  const logs = (...lines: string[]) => lines.map((l, i) => ({ seq: i, ts: `2024-01-01T00:00:0${i}.000Z`, line: `${l}\n` }));
  let store: Store;

  beforeAll(async () => {
    store = new Store(await openDatabase(join(tmp, 'logs.sqlite')));
  });
  afterAll(() => store.db.destroy());

  const create = () =>
    store.createDeployment(ref, {
      operation: 'update',
      settings: {},
      inheritSettings: true,
      initiator: 'api',
      requestedBy: 'test',
      steps: ['Get source', 'Install dependencies', 'Pulumi operation'],
    });

  test('streams across steps as the deployment runs, with stable continuation tokens', async () => {
    const { id } = await create();
    const fresh = async () => (await store.getDeploymentById(id))!;
    const read = async (continuationToken?: string, count = 2) => readLogs(store, await fresh(), { continuationToken, offset: 0, count });
    const tokens: (string | undefined)[] = [];
    const lines: unknown[] = [];
    let token: string | undefined;
    const next = async () => {
      const r = await read(token);
      tokens.push(r.nextToken);
      lines.push(...r.lines);
      token = r.nextToken;
      return r;
    };

    // Nothing started: nothing to read, and the same token to poll with.
    expect(await read()).toEqual({ __type: 'DeploymentLogs', lines: [], nextToken: '0.0.0' });

    await store.setStatus(id, 'running');
    await store.setStep(id, 0, 'running');
    await store.appendLogs(id, 0, logs('a0', 'a1', 'a2'));
    expect((await next()).lines).toEqual([H('Get source'), L('a0', 0)]);
    expect((await next()).lines).toEqual([L('a1', 1), L('a2', 2)]);
    // The step is still running: no lines, and the same token again.
    expect((await next()).lines).toEqual([]);
    expect(tokens).toEqual(['0.0.2', '0.0.4', '0.0.4']);

    await store.setStep(id, 0, 'succeeded');
    await store.setStep(id, 1, 'running');
    await store.appendLogs(id, 1, logs('b0'));
    expect((await next()).lines).toEqual([H('Install dependencies'), L('b0', 0)]);

    await store.appendLogs(id, 1, [{ seq: 1, ts: '2024-01-01T00:00:01.000Z', line: 'b1\n' }]);
    await store.setStep(id, 1, 'succeeded');
    await store.setStep(id, 2, 'running');
    await store.appendLogs(id, 2, logs('c0'));
    await store.setStep(id, 2, 'succeeded');
    expect((await next()).lines).toEqual([L('b1', 1), H('Pulumi operation')]);
    // Everything read, but the deployment has not ended: keep polling.
    expect((await next()).lines).toEqual([L('c0', 0)]);
    expect(token).toBe('0.3.0');
    expect((await next()).lines).toEqual([]);

    await store.setStatus(id, 'succeeded');
    const last = await next();
    expect(last).toEqual({ __type: 'DeploymentLogs', lines: [] });
    expect(tokens).toEqual(['0.0.2', '0.0.4', '0.0.4', '0.1.2', '0.2.1', '0.3.0', '0.3.0', undefined]);

    const all = [H('Get source'), L('a0', 0), L('a1', 1), L('a2', 2), H('Install dependencies'), L('b0', 0), L('b1', 1), H('Pulumi operation'), L('c0', 0)];
    expect(lines).toEqual(all);

    // Read again from the start once it ended: the same lines, a header once per step, no token at the end.
    const again: unknown[] = [];
    const againTokens: (string | undefined)[] = [];
    let t: string | undefined;
    do {
      const r = await read(t);
      again.push(...r.lines);
      againTokens.push(r.nextToken);
      t = r.nextToken;
    } while (t !== undefined);
    expect(again).toEqual(all);
    expect(againTokens).toEqual(['0.0.2', '0.0.4', '0.1.2', '0.2.1', undefined]);
    // Tokens are positions: an old one reads the same lines again.
    expect(await read('0.0.2')).toEqual({ __type: 'DeploymentLogs', lines: [L('a1', 1), L('a2', 2)], nextToken: '0.0.4' });
    expect(await read('0.1.1', 100)).toEqual({ __type: 'DeploymentLogs', lines: [L('b0', 0), L('b1', 1), H('Pulumi operation'), L('c0', 0)] });
  });

  test('a failed deployment: no headers for skipped steps, and the stream ends', async () => {
    const { id } = await create();
    await store.setStatus(id, 'running');
    await store.setStep(id, 0, 'running');
    await store.appendLogs(id, 0, logs('fatal: repository not found'));
    await store.setStep(id, 0, 'failed');
    await store.setStatus(id, 'failed', 'could not fetch the source');
    await store.closeOpenSteps(id, 'failed');
    const d = (await store.getDeploymentById(id))!;
    expect(d.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(await readLogs(store, d, { offset: 0, count: 100 })).toEqual({ __type: 'DeploymentLogs', lines: [H('Get source'), L('fatal: repository not found', 0)] });
    expect(await readLogs(store, d, { offset: 0, count: 2 })).toEqual({ __type: 'DeploymentLogs', lines: [H('Get source'), L('fatal: repository not found', 0)], nextToken: '0.0.2' });
    expect(await readLogs(store, d, { continuationToken: '0.0.2', offset: 0, count: 2 })).toEqual({ __type: 'DeploymentLogs', lines: [] });
  });

  test('step mode pages one step with nextOffset', async () => {
    const { id } = await create();
    await store.setStatus(id, 'running');
    await store.setStep(id, 0, 'running');
    await store.appendLogs(id, 0, logs('a0', 'a1', 'a2'));
    let d = (await store.getDeploymentById(id))!;
    expect(await readLogs(store, d, { step: 0, offset: 0, count: 2 })).toEqual({ __type: 'DeploymentLogsStep', name: 'Get source', lines: [L('a0', 0), L('a1', 1)], nextOffset: 2 });
    // Running: more may come, so an offset to poll from.
    expect(await readLogs(store, d, { step: 0, offset: 2, count: 2 })).toEqual({ __type: 'DeploymentLogsStep', name: 'Get source', lines: [L('a2', 2)], nextOffset: 3 });
    await store.setStep(id, 0, 'succeeded');
    d = (await store.getDeploymentById(id))!;
    expect(await readLogs(store, d, { step: 0, offset: 2, count: 2 })).toEqual({ __type: 'DeploymentLogsStep', name: 'Get source', lines: [L('a2', 2)] });
    expect(await readLogs(store, d, { step: 1, offset: 0, count: 2 })).toEqual({ __type: 'DeploymentLogsStep', name: 'Install dependencies', lines: [], nextOffset: 0 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('LogWriter', () => {
  let store: Store;
  beforeAll(async () => {
    store = new Store(await openDatabase(join(tmp, 'writer.sqlite')));
  });
  afterAll(() => store.db.destroy());
  afterEach(() => jest.useRealTimers());

  // Lets pending store writes finish; timers stay frozen.
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };

  test('writes the first line at once, then one batch per 200 ms while output flows', async () => {
    const { id } = await store.createDeployment({ org: 'acme', project: 'website', stack: 'writer' }, { operation: 'update', settings: {}, inheritSettings: true, initiator: 'api', requestedBy: 't', steps: ['A'] });
    const log = await LogWriter.open(store, id, 0, new Masker([]));
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const writes = jest.spyOn(store, 'appendLogs');
    const stored = async () => (await store.readLogs(id, 0, 0, 100)).map((l) => l.line);

    log.write('one\n');
    await settle();
    expect(await stored()).toEqual(['one\n']);
    log.write('two\nthree\n');
    await settle();
    expect(await stored()).toEqual(['one\n']);
    jest.advanceTimersByTime(200);
    await settle();
    expect(await stored()).toEqual(['one\n', 'two\n', 'three\n']);
    log.write('four\n'); // within the next window: waits for it
    await settle();
    expect(await stored()).toHaveLength(3);
    jest.advanceTimersByTime(200);
    await settle();
    expect(await stored()).toHaveLength(4);
    jest.advanceTimersByTime(200); // a window with nothing: quiet again
    log.write('five\n');
    await settle();
    expect(await stored()).toHaveLength(5);
    expect(writes.mock.calls.map((c) => c[2].map((l) => l.line))).toEqual([['one\n'], ['two\n', 'three\n'], ['four\n'], ['five\n']]);
    await log.close();
    writes.mockRestore();
  });
});
