import { describe, expect, it } from 'vitest';
import { RecpullError } from '../../src/core/errors.js';
import { digestResponse, HttpAuthenticator, parseChallenges } from '../../src/core/http-auth.js';
import {
  basicChallenge,
  digestChallenge,
  verifyBasic,
  verifyDigest,
} from '../../src/sandbox/http-auth-server.js';

// RFC 7616 §3.9.1
const RFC = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  uri: '/dir/index.html',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
};
const RFC_CHALLENGES = [
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=SHA-256, nonce="${RFC.nonce}", opaque="${RFC.opaque}"`,
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=MD5, nonce="${RFC.nonce}", opaque="${RFC.opaque}"`,
];

function params(header: string): Record<string, string> {
  return parseChallenges(header)[0]!.params;
}

describe('parseChallenges (RFC 9110 §11)', () => {
  it('parses the RFC 7616 challenges, one per field or both in one field', () => {
    const two = parseChallenges(RFC_CHALLENGES);
    expect(two).toHaveLength(2);
    expect(two[0]).toEqual({
      scheme: 'Digest',
      params: {
        realm: RFC.realm,
        qop: 'auth, auth-int',
        algorithm: 'SHA-256',
        nonce: RFC.nonce,
        opaque: RFC.opaque,
      },
    });
    expect(parseChallenges(RFC_CHALLENGES.join(', '))).toEqual(two);
  });

  it('handles several schemes, token68, escapes, odd spacing and empty elements', () => {
    const list = parseChallenges(
      ', Negotiate, NTLM TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=,Basic realm = "a \\"q\\" \\\\ b" , charset=UTF-8,, ' +
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Bearer abc.def==',
    );
    expect(list.map((c) => c.scheme)).toEqual(['Negotiate', 'NTLM', 'Basic', 'Newauth', 'Bearer']);
    expect(list[0]).toEqual({ scheme: 'Negotiate', params: {} });
    expect(list[1]!.token68).toBe('TlRMTVNTUAABAAAAB4IIAAAAAAAAAAAAAAAAAAAAAAA=');
    expect(list[2]!.params).toEqual({ realm: 'a "q" \\ b', charset: 'UTF-8' });
    expect(list[3]!.params).toEqual({ realm: 'apps', type: '1', title: 'Login to "apps"' });
    expect(list[4]!.token68).toBe('abc.def==');
  });

  it('lower-cases param names, keeps the first duplicate, tolerates unquoted slashes and commas in quotes', () => {
    const p = params('DIGEST Realm="x, y", NONCE=ab/cd+ef==, realm="z", stale=TRUE');
    expect(p).toEqual({ realm: 'x, y', nonce: 'ab/cd+ef==', stale: 'TRUE' });
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('Basic')).toEqual([{ scheme: 'Basic', params: {} }]);
  });
});

describe('HttpAuthenticator — Digest (RFC 7616)', () => {
  it('reproduces the RFC 7616 §3.9.1 MD5 and SHA-256 responses', () => {
    for (const [challenge, expected] of [
      [RFC_CHALLENGES[1]!, '8ca523f5e9506fed4657c9700eebdbec'],
      [RFC_CHALLENGES[0]!, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
    ] as const) {
      const auth = new HttpAuthenticator({
        username: RFC.username,
        password: RFC.password,
        cnonce: () => RFC.cnonce,
      });
      const header = auth.authorize('GET', RFC.uri, challenge);
      const p = params(header);
      expect(header.startsWith('Digest ')).toBe(true);
      expect(p).toMatchObject({
        username: 'Mufasa',
        realm: RFC.realm,
        uri: RFC.uri,
        nonce: RFC.nonce,
        nc: '00000001',
        cnonce: RFC.cnonce,
        qop: 'auth',
        opaque: RFC.opaque,
        response: expected,
      });
    }
  });

  it('prefers the first supported Digest challenge, and Digest over Basic', () => {
    const auth = new HttpAuthenticator({ username: 'u', password: 'p' });
    expect(params(auth.authorize('GET', '/', RFC_CHALLENGES)).algorithm).toBe('SHA-256');
    const mixed = [basicChallenge('r'), RFC_CHALLENGES[1]!];
    expect(auth.authorize('GET', '/', mixed)).toMatch(/^Digest /);
    // unsupported Digest algorithm is skipped in favour of the next one
    const h = auth.authorize('GET', '/', [
      `Digest realm="r", nonce="n", algorithm=SHA-1024`,
      RFC_CHALLENGES[1]!,
    ]);
    expect(params(h).algorithm).toBe('MD5');
  });

  it('computes MD5-sess and SHA-512-256 responses and falls back to RFC 2069 without qop', () => {
    const cases = [
      { algorithm: 'MD5-sess', qop: 'auth' },
      { algorithm: 'SHA-256-sess', qop: 'auth' },
      { algorithm: 'SHA-512-256', qop: 'auth' },
      { algorithm: 'MD5', qop: undefined },
    ] as const;
    for (const c of cases) {
      const auth = new HttpAuthenticator({ username: 'u', password: 'pw', cnonce: () => 'cn' });
      const challenge = `Digest realm="r", nonce="nn", algorithm=${c.algorithm}${c.qop ? `, qop="${c.qop}"` : ''}`;
      const p = params(auth.authorize('GET', '/x?y=1', challenge));
      const expected = digestResponse({
        algorithm: c.algorithm,
        username: 'u',
        password: 'pw',
        realm: 'r',
        nonce: 'nn',
        method: 'GET',
        uri: '/x?y=1',
        cnonce: 'cn',
        ...(c.qop ? { qop: c.qop, nc: '00000001' } : {}),
      });
      expect(p.response).toBe(expected);
      expect(p.response).toHaveLength(c.algorithm.startsWith('MD5') ? 32 : 64);
      if (!c.qop) {
        expect(p.qop).toBeUndefined();
        expect(p.nc).toBeUndefined();
      }
    }
  });

  it('increments nc per nonce (preemptive and repeated challenges) and resets it for a new nonce', () => {
    const auth = new HttpAuthenticator({ username: 'u', password: 'p' });
    expect(auth.preemptive('GET', '/a')).toBeUndefined();
    const first = params(auth.authorize('GET', '/a', RFC_CHALLENGES[1]!));
    expect(first.nc).toBe('00000001');
    expect(first.cnonce).toMatch(/^[0-9a-f]{32}$/);
    expect(params(auth.preemptive('GET', '/b')!).nc).toBe('00000002');
    expect(params(auth.authorize('GET', '/c', RFC_CHALLENGES[1]!)).nc).toBe('00000003');
    for (let i = 4; i <= 17; i++) auth.preemptive('GET', '/d');
    expect(params(auth.preemptive('GET', '/e')!).nc).toBe('00000012');
    const stale = `Digest realm="${RFC.realm}", qop="auth", nonce="fresh", stale=true`;
    expect(auth.isStale(stale)).toBe(true);
    expect(auth.isStale(RFC_CHALLENGES)).toBe(false);
    const again = params(auth.authorize('GET', '/f', stale));
    expect(again).toMatchObject({ nonce: 'fresh', nc: '00000001' });
  });

  it('sends username* for a non-ASCII username and userhash when asked', () => {
    const auth = new HttpAuthenticator({ username: 'J\u00e4s\u00f8n Doe', password: 'p' });
    const h = auth.authorize('GET', '/', 'Digest realm="r", nonce="n", qop=auth, charset=UTF-8');
    expect(params(h)['username*']).toBe("UTF-8''J%C3%A4s%C3%B8n%20Doe");
    const uh = params(auth.authorize('GET', '/', 'Digest realm="r", nonce="n2", qop=auth, userhash=true'));
    expect(uh.userhash).toBe('true');
    expect(uh.username).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('HttpAuthenticator — Basic (RFC 7617)', () => {
  it('encodes the RFC 7617 example and UTF-8 credentials; preemptive reuses them', () => {
    const auth = new HttpAuthenticator({ username: 'Aladdin', password: 'open sesame' });
    expect(auth.authorize('GET', '/', 'Basic realm="WallyWorld"')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(auth.preemptive('GET', '/next')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    const utf8 = new HttpAuthenticator({ username: 'test', password: '123\u00a3' });
    expect(utf8.authorize('GET', '/', 'Basic realm="foo", charset="UTF-8"')).toBe('Basic dGVzdDoxMjPCow==');
  });
});

describe('HttpAuthenticator — unsupported schemes', () => {
  const secret = 'canary-P@ssw0rd-7d3f';
  const fail = (challenges: string | string[]) => {
    const auth = new HttpAuthenticator({ username: 'ops', password: secret });
    try {
      auth.authorize('GET', '/voice.wav', challenges);
    } catch (err) {
      expect(err).toBeInstanceOf(RecpullError);
      const e = err as RecpullError;
      expect(e.code).toBe('E_AUTH');
      expect(e.retryable).toBe(false);
      expect(e.message).not.toContain(secret);
      expect(JSON.stringify(e.toJSON())).not.toContain(secret);
      return e.message;
    }
    throw new Error('expected E_AUTH');
  };

  it('names the scheme(s) it cannot speak, never the password', () => {
    expect(fail('NTLM')).toBe(
      'the server asks for NTLM authentication, which recpull cannot speak; supported: Basic, Digest',
    );
    expect(fail(['Negotiate', 'NTLM'])).toMatch(/asks for Negotiate, NTLM authentication/);
    expect(fail('Digest realm="r", nonce="n", qop="auth-int"')).toMatch(/Digest \(qop auth-int\)/);
    expect(fail('Digest realm="r", nonce="n", algorithm=SHA-1024')).toMatch(/Digest \(algorithm SHA-1024\)/);
    expect(fail([])).toMatch(/without a WWW-Authenticate challenge/);
  });
});

describe('sandbox verifier round trip', () => {
  const user = { username: 'tim', password: 's3cret pw' };
  const issued = new Set<string>();
  const base = {
    ...user,
    realm: 'TIM Plus',
    method: 'GET',
    nonceValid: (n: string) => issued.has(n),
  };

  for (const algorithm of ['MD5', 'MD5-sess', 'SHA-256', 'SHA-512-256-sess'] as const) {
    it(`authenticates with Digest ${algorithm}, then preemptively, then after a stale nonce`, () => {
      const seen = new Map<string, number>();
      const opts = {
        ...base,
        ncValid: (nonce: string, nc: number) => {
          const last = seen.get(nonce) ?? 0;
          seen.set(nonce, nc);
          return nc > last;
        },
      };
      const challenge = digestChallenge({ realm: base.realm, algorithm, opaque: 'op' });
      issued.add(params(challenge).nonce!);
      const auth = new HttpAuthenticator(user);
      const h1 = auth.authorize('GET', '/voice.wav?id=1', challenge);
      expect(verifyDigest(h1, { ...opts, uri: '/voice.wav?id=1' })).toBe('ok');
      expect(verifyDigest(h1, opts)).toBe('bad'); // replayed nc
      const h2 = auth.preemptive('GET', '/voice.wav?id=2')!;
      expect(verifyDigest(h2, { ...opts, uri: '/voice.wav?id=2' })).toBe('ok');
      expect(verifyDigest(h2, { ...opts, uri: '/other' })).toBe('bad');
      expect(verifyDigest(h2, { ...opts, method: 'POST' })).toBe('bad');
      expect(verifyDigest(h2, { ...opts, password: 'wrong' })).toBe('bad');
      expect(verifyDigest(h2, { ...opts, username: 'other' })).toBe('bad');
      // the server forgets the nonce: right credentials, stale nonce
      issued.clear();
      const h3 = auth.preemptive('GET', '/voice.wav?id=3')!;
      expect(verifyDigest(h3, opts)).toBe('stale');
      const fresh = digestChallenge({ realm: base.realm, algorithm, stale: true });
      issued.add(params(fresh).nonce!);
      expect(auth.isStale(fresh)).toBe(true);
      expect(verifyDigest(auth.authorize('GET', '/voice.wav?id=3', fresh), opts)).toBe('ok');
    });
  }

  it('verifies RFC 2069 (no qop), userhash and username* credentials', () => {
    const nonce = 'n-2069';
    issued.add(nonce);
    const auth = new HttpAuthenticator(user);
    expect(
      verifyDigest(
        auth.authorize('GET', '/', digestChallenge({ realm: base.realm, nonce, qop: null })),
        base,
      ),
    ).toBe('ok');
    const uh = new HttpAuthenticator(user).authorize(
      'GET',
      '/',
      digestChallenge({ realm: base.realm, nonce, userhash: true }),
    );
    expect(verifyDigest(uh, base)).toBe('ok');
    const intl = { username: 'Jürgen', password: 'pässwörd' };
    const h = new HttpAuthenticator(intl).authorize(
      'GET',
      '/',
      digestChallenge({ realm: base.realm, nonce }),
    );
    expect(h).toContain("username*=UTF-8''J%C3%BCrgen");
    expect(verifyDigest(h, { ...base, ...intl })).toBe('ok');
    expect(verifyDigest(undefined, base)).toBe('bad');
    expect(verifyDigest('Basic dGltOnMzY3JldCBwdw==', base)).toBe('bad');
  });

  it('verifies Basic', () => {
    const h = new HttpAuthenticator(user).authorize('GET', '/', basicChallenge('TIM Plus'));
    expect(verifyBasic(h, user.username, user.password)).toBe(true);
    expect(verifyBasic(h, user.username, 'nope')).toBe(false);
    expect(verifyBasic(undefined, user.username, user.password)).toBe(false);
    expect(verifyBasic('Digest x=1', user.username, user.password)).toBe(false);
  });
});
