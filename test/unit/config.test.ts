import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { describeProfile, type LoadedConfig, loadConfig, resolveProfile } from '../../src/config/index.js';
import ringcentral, { type RingcentralProfile } from '../../src/vendors/ringcentral/definition.js';
import timplus, { type TimplusProfile } from '../../src/vendors/timplus/definition.js';
import { RecpullError } from '../../src/core/errors.js';
import { clearSecrets, redact } from '../../src/core/redact.js';

const CANARY = 'canary-PW-7f3a9c%2B/=';
const savedEnv = { ...process.env };
let tmp: string;
let home: string;

beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'recpull-config-'));
  home = path.join(tmp, 'home');
  await mkdir(home, { recursive: true });
  process.env.HOME = home;
  process.env.XDG_CONFIG_HOME = path.join(home, '.config');
  clearSecrets();
});

afterEach(async () => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  clearSecrets();
  await rm(tmp, { recursive: true, force: true });
});

async function write(file: string, text: string, mode = 0o600): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

/** Runs `fn`, expects a RecpullError E_CONFIG, returns its message. */
async function configError(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RecpullError);
    expect((err as RecpullError).code).toBe('E_CONFIG');
    return (err as RecpullError).message;
  }
  throw new Error('expected an E_CONFIG error');
}

const TIMPLUS = `timplus:
  default:
    url: http://tim.example.com
    username: alice
    password: \${TEST_TIM_PW}
  site-b:
    url: https://tim-b.example.com
    username: bob
    passwordFile: secrets/b.pw
`;

async function loadYaml(text: string, name = 'config.yaml', mode = 0o600): Promise<LoadedConfig> {
  const file = await write(path.join(tmp, name), text, mode);
  return loadConfig({ configPath: file });
}

describe('loadConfig', () => {
  it('reports YAML syntax errors with file, line and column', async () => {
    const file = await write(
      path.join(tmp, 'bad.yaml'),
      'timplus:\n  default:\n    url: a: b\n    username: a\n',
    );
    const msg = await configError(() => loadConfig({ configPath: file }));
    expect(msg).toContain(file);
    expect(msg).toMatch(/line 3, column \d+/);
  });

  it('reports JSON syntax errors with file and line, without quoting the source', async () => {
    const file = await write(
      path.join(tmp, 'bad.json'),
      `{\n "timplus": {\n  "default": { "password": ${CANARY} }\n}\n`,
    );
    const msg = await configError(() => loadConfig({ configPath: file }));
    expect(msg).toContain(file);
    expect(msg).toContain(`${file}:3:`);
    expect(msg).toMatch(/line 3, column \d+/);
    expect(msg).not.toContain('canary');
    const comma = await write(path.join(tmp, 'comma.json'), '{\n "timplus": {},\n}\n');
    expect(await configError(() => loadConfig({ configPath: comma }))).toContain(comma);
  });

  it('loads an explicit --config path (relative to cwd); a missing one is E_CONFIG', async () => {
    await write(path.join(tmp, 'etc', 'rp.yaml'), TIMPLUS);
    const loaded = await loadConfig({ configPath: 'etc/rp.yaml', cwd: tmp });
    expect(loaded.filepath).toBe(path.join(tmp, 'etc', 'rp.yaml'));
    expect(Object.keys(loaded.raw as object)).toEqual(['timplus']);
    const msg = await configError(() => loadConfig({ configPath: 'nope.yaml', cwd: tmp }));
    expect(msg).toContain(path.join(tmp, 'nope.yaml'));
    expect(msg).toContain('not found');
  });

  it('finds .recpullrc.yaml in a parent folder of cwd, stopping at home', async () => {
    const project = path.join(home, 'project');
    const deep = path.join(project, 'a', 'b');
    await mkdir(deep, { recursive: true });
    const rc = await write(path.join(project, '.recpullrc.yaml'), TIMPLUS);
    // Above home: must not be found.
    await write(path.join(tmp, '.recpullrc.yaml'), 'ringcentral: {}\n');
    const loaded = await loadConfig({ cwd: deep });
    expect(loaded.filepath).toBe(rc);
    await rm(rc);
    const msg = await configError(() => loadConfig({ cwd: deep }));
    expect(msg).toContain('no config file found');
    expect(msg).toContain(deep);
    expect(msg).toContain(path.join(home, '.config', 'recpull', 'config.yaml'));
    expect(msg).not.toContain(`${tmp},`);
  });

  it('reads an extension-less .recpullrc as YAML and package.json "recpull" key', async () => {
    const dir = path.join(home, 'p');
    await write(path.join(dir, '.recpullrc'), TIMPLUS);
    expect((await loadConfig({ cwd: dir })).filepath).toBe(path.join(dir, '.recpullrc'));
    const dir2 = path.join(home, 'q');
    await write(
      path.join(dir2, 'package.json'),
      JSON.stringify({ name: 'x', recpull: { timplus: { default: {} } } }),
    );
    expect((await loadConfig({ cwd: dir2 })).filepath).toBe(path.join(dir2, 'package.json'));
  });

  it('falls back to $XDG_CONFIG_HOME/recpull/config.yaml', async () => {
    const xdg = path.join(tmp, 'xdg');
    process.env.XDG_CONFIG_HOME = xdg;
    const file = await write(path.join(xdg, 'recpull', 'config.yaml'), TIMPLUS);
    const cwd = path.join(home, 'empty');
    await mkdir(cwd);
    expect((await loadConfig({ cwd })).filepath).toBe(file);
  });

  it('rejects unknown top-level keys but allows $schema', async () => {
    const msg = await configError(() => loadYaml('timplsu:\n  default: {}\n'));
    expect(msg).toContain('timplsu: unknown top-level key');
    await expect(loadYaml('$schema: ./s.json\ntimplus:\n  default: {}\n')).resolves.toBeTruthy();
  });
});

describe('resolveProfile', () => {
  it('names the key path of an unknown key', async () => {
    const loaded = await loadYaml(TIMPLUS.replace(`password: \${TEST_TIM_PW}`, 'pasword: x'));
    const msg = await configError(() => resolveProfile<TimplusProfile>(loaded, timplus, 'default'));
    expect(msg).toContain(loaded.filepath);
    expect(msg).toContain('timplus.default.pasword: unknown key');
    expect(msg).toContain('did you mean password?');
  });

  it('says what was expected', async () => {
    process.env.TEST_TIM_PW = 'x'.repeat(8);
    const loaded = await loadYaml(
      TIMPLUS.replace('http://tim.example.com', 'ftp://tim').replace(
        'username: alice',
        'username: alice\n    concurrency: 100',
      ),
    );
    const msg = await configError(() => resolveProfile<TimplusProfile>(loaded, timplus, 'default'));
    expect(msg).toContain('timplus.default.url: expected an http(s) URL');
    expect(msg).toContain('timplus.default.concurrency: expected a number <= 64');
  });

  it('requires exactly one of password / passwordFile', async () => {
    const both = await loadYaml(TIMPLUS.replace('username: alice', 'username: alice\n    passwordFile: f'));
    process.env.TEST_TIM_PW = 'x'.repeat(8);
    expect(await configError(() => resolveProfile<TimplusProfile>(both, timplus, 'default'))).toContain(
      'timplus.default.password: set either password or passwordFile, not both',
    );
    const none = await loadYaml(TIMPLUS.replace(`password: \${TEST_TIM_PW}`, ''));
    expect(await configError(() => resolveProfile<TimplusProfile>(none, timplus, 'default'))).toContain(
      'timplus.default.password: missing',
    );
  });

  it('lists existing profiles for an unknown profile; explains a missing vendor section', async () => {
    const loaded = await loadYaml(TIMPLUS);
    const msg = await configError(() => resolveProfile<TimplusProfile>(loaded, timplus, 'site-c'));
    expect(msg).toContain('"site-c"');
    expect(msg).toContain('default, site-b');
    const msg2 = await configError(() => resolveProfile<RingcentralProfile>(loaded, ringcentral, 'default'));
    expect(msg2).toContain('"ringcentral"');
    expect(msg2).toContain('config.example.yaml');
  });

  it('interpolates $ENV references with and without default; a missing variable names key and variable', async () => {
    process.env.TEST_TIM_PW = CANARY;
    process.env.TEST_TIM_HOST = 'tim.internal';
    const loaded = await loadYaml(
      TIMPLUS.replace('http://tim.example.com', `http://\${TEST_TIM_HOST}:\${TEST_TIM_PORT:-8080}/tim`),
    );
    const r = await resolveProfile<TimplusProfile>(loaded, timplus, 'default');
    expect(r.settings.password).toBe(CANARY);
    expect(r.settings.url).toBe('http://tim.internal:8080/tim');
    expect(r.warnings).toEqual([]);

    delete process.env.TEST_TIM_PW;
    const msg = await configError(() => resolveProfile<TimplusProfile>(loaded, timplus, 'default'));
    expect(msg).toContain(loaded.filepath);
    expect(msg).toContain('timplus.default.password');
    expect(msg).toContain('TEST_TIM_PW');
  });

  it('reads passwordFile relative to the config file, trimming the trailing newline', async () => {
    const loaded = await loadYaml(TIMPLUS, 'conf/config.yaml');
    await write(path.join(tmp, 'conf', 'secrets', 'b.pw'), `${CANARY}\n`);
    const r = await resolveProfile<TimplusProfile>(loaded, timplus, 'site-b');
    expect(r.settings.password).toBe(CANARY);
    expect(r.settings).not.toHaveProperty('passwordFile');
    expect(r.warnings).toEqual([]);
    expect(redact(`pw=${CANARY}`)).toBe('pw=***');
  });

  it('expands ~ in passwordFile; a missing secret file is E_CONFIG', async () => {
    const loaded = await loadYaml(TIMPLUS.replace('secrets/b.pw', '~/b.pw'));
    const msg = await configError(() => resolveProfile<TimplusProfile>(loaded, timplus, 'site-b'));
    expect(msg).toContain(path.join(home, 'b.pw'));
    await write(path.join(home, 'b.pw'), CANARY);
    expect((await resolveProfile<TimplusProfile>(loaded, timplus, 'site-b')).settings.password).toBe(CANARY);
  });

  it('checks tls.caFile when the profile is resolved: missing or without a certificate is E_CONFIG naming the key', async () => {
    process.env.TEST_TIM_PW = CANARY;
    const withCa = (ca: string) =>
      TIMPLUS.replace(
        '    password: ${TEST_TIM_PW}',
        `    password: \${TEST_TIM_PW}\n    tls:\n      caFile: ${ca}`,
      );
    const missing = await loadYaml(withCa('certs/ca.pem'));
    const ca = path.join(tmp, 'certs', 'ca.pem');
    let msg = await configError(() => resolveProfile<TimplusProfile>(missing, timplus, 'default'));
    expect(msg).toContain('timplus.default.tls.caFile');
    expect(msg).toContain(`${ca} (ENOENT)`);
    await write(ca, 'not a certificate\n');
    msg = await configError(() => resolveProfile<TimplusProfile>(missing, timplus, 'default'));
    expect(msg).toContain('holds no PEM certificate');
    await copyFile(new URL('../../src/sandbox/sandbox-cert.pem', import.meta.url), ca);
    const r = await resolveProfile<TimplusProfile>(missing, timplus, 'default');
    expect(r.settings.tls).toEqual({ caFile: ca }); // made absolute, relative to the config file
  });

  it.skipIf(process.platform === 'win32')(
    'warns about literal secrets and secret files readable by others',
    async () => {
      const text = TIMPLUS.replace(`\${TEST_TIM_PW}`, CANARY);
      const open = await loadYaml(text, 'open.yaml', 0o644);
      const r = await resolveProfile<TimplusProfile>(open, timplus, 'default');
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toContain(open.filepath);
      expect(r.warnings[0]).toContain('literal password');
      expect(r.warnings[0]).toContain('chmod 600');
      expect(r.warnings[0]).not.toContain(CANARY);

      const closed = await loadYaml(text, 'closed.yaml', 0o600);
      expect((await resolveProfile<TimplusProfile>(closed, timplus, 'default')).warnings).toEqual([]);

      // An ${ENV} reference in a readable file is fine.
      process.env.TEST_TIM_PW = CANARY;
      const env = await loadYaml(TIMPLUS, 'env.yaml', 0o644);
      expect((await resolveProfile<TimplusProfile>(env, timplus, 'default')).warnings).toEqual([]);

      // A readable secret file is not.
      const secret = await write(path.join(tmp, 'secrets', 'b.pw'), CANARY, 0o644);
      const w = (await resolveProfile<TimplusProfile>(env, timplus, 'site-b')).warnings;
      expect(w).toHaveLength(1);
      expect(w[0]).toContain(secret);
      await chmod(secret, 0o600);
      expect((await resolveProfile<TimplusProfile>(env, timplus, 'site-b')).warnings).toEqual([]);
    },
  );

  it('resolves a ringcentral profile with defaults and secret files', async () => {
    process.env.TEST_RC_SECRET = `${CANARY}-secret`;
    await write(path.join(tmp, 'rc.jwt'), `${CANARY}-jwt\r\n`);
    const loaded = await loadYaml(`ringcentral:
  default:
    clientId: abc
    clientSecret: \${TEST_RC_SECRET}
    jwtFile: rc.jwt
    extension: 101
    tz: Europe/Paris
    rateLimit: { heavy: { limit: 10, windowSeconds: 60 } }
    tls: { caFile: ca.pem, insecure: false }
`);
    await copyFile(new URL('../../src/sandbox/sandbox-cert.pem', import.meta.url), path.join(tmp, 'ca.pem')); // a real certificate: the file is checked
    const r = await resolveProfile<RingcentralProfile>(loaded, ringcentral, 'default');
    expectTypeOf(r.settings).toEqualTypeOf<RingcentralProfile>();
    expect(r.settings).toEqual({
      server: 'https://platform.ringcentral.com',
      mediaServer: 'https://media.ringcentral.com',
      clientId: 'abc',
      clientSecret: `${CANARY}-secret`,
      jwt: `${CANARY}-jwt`,
      extension: '101',
      tz: 'Europe/Paris',
      rateLimit: { heavy: { limit: 10, windowSeconds: 60 } },
      tls: { caFile: path.join(tmp, 'ca.pem'), insecure: false },
    });
    const bad = await loadYaml(
      'ringcentral:\n  default:\n    clientId: a\n    clientSecret: b\n    jwt: c\n    tz: Mars/Base\n',
      'bad.yaml',
    );
    expect(
      await configError(() => resolveProfile<RingcentralProfile>(bad, ringcentral, 'default')),
    ).toContain('ringcentral.default.tz: expected an IANA time zone');
  });
});

describe('describeProfile', () => {
  it('never shows a secret', async () => {
    process.env.TEST_TIM_PW = CANARY;
    const loaded = await loadYaml(
      TIMPLUS.replace('http://tim.example.com', `http://tim.example.com/?k=\${TEST_TIM_PW}`),
    );
    const r = await resolveProfile<TimplusProfile>(loaded, timplus, 'default');
    expectTypeOf(r.settings).toEqualTypeOf<TimplusProfile>();
    const text = describeProfile(r);
    expect(text).toContain('timplus:');
    expect(text).toContain('username: alice');
    expect(text).toContain('password: "***"');
    expect(text).not.toContain('canary');
    expect(text).not.toContain(encodeURIComponent(CANARY));
  });
});

describe('config.example.yaml', () => {
  it('is valid for every profile', async () => {
    const dir = path.join(tmp, 'ex');
    await mkdir(dir);
    const file = path.join(dir, 'config.yaml');
    await copyFile(path.join(import.meta.dirname, '..', '..', 'config.example.yaml'), file);
    await chmod(file, 0o600);
    await write(path.join(dir, 'secrets', 'timplus-site-b.password'), 'pw-b-1234');
    await copyFile(
      new URL('../../src/sandbox/sandbox-cert.pem', import.meta.url),
      path.join(dir, 'secrets', 'site-b-ca.pem'),
    );
    await write(path.join(home, '.config', 'recpull', 'rc.jwt'), 'jwt-1234');
    Object.assign(process.env, {
      RECPULL_TIMPLUS_PASSWORD: 'pw-a-1234',
      RECPULL_RC_CLIENT_ID: 'id',
      RECPULL_RC_CLIENT_SECRET: 'sec-1234',
    });
    const loaded = await loadConfig({ configPath: file });
    expect((await resolveProfile<TimplusProfile>(loaded, timplus, 'default')).settings.out).toBe(
      path.join(home, 'recordings', 'timplus'),
    );
    expect((await resolveProfile<TimplusProfile>(loaded, timplus, 'site-b')).settings.username).toBe(
      'recpull',
    );
    expect((await resolveProfile<RingcentralProfile>(loaded, ringcentral, 'default')).settings.jwt).toBe(
      'jwt-1234',
    );
  });
});
