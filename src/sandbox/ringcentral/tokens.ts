/**
 * OAuth for the RingCentral emulator: the JWT bearer grant and the refresh grant at `POST /restapi/oauth/token`,
 * `POST /restapi/oauth/revoke`, and Bearer checks for API requests.
 *
 * Protocol facts (reference/ringcentral/docs/docs_authentication_jwt-flow.md, _tokens.md, _refresh-tokens.md,
 * extract-spec-oauth.yml): form-encoded body, client id and secret as HTTP Basic; `grant_type` is
 * `urn:ietf:params:oauth:grant-type:jwt-bearer` with `assertion`, or `refresh_token` with `refresh_token`;
 * the answer is a TokenInfo (access_token, token_type `bearer`, expires_in, refresh_token,
 * refresh_token_expires_in, scope, owner_id, endpoint_id, session_id); access tokens live 1 h and refresh
 * tokens 7 days by default; refreshing invalidates the previous access token at once; revoking one token ends
 * the whole session. The token endpoint is in the Auth usage plan group.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';

/** The token response (schema TokenInfo). */
export interface TokenInfo {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  scope: string;
  owner_id: string;
  endpoint_id: string;
  session_id: string;
}

interface Session {
  id: string;
  ownerId: string;
  endpointId: string;
  revoked: boolean;
}

interface IssuedToken {
  session: Session;
  expiresAt: number;
  /** Access token replaced by a refresh, or refresh token already used. */
  spent: boolean;
}

/** Why a Bearer token was refused. */
export type TokenProblem = 'expired' | 'notFound' | 'corrupted';

const ACCESS_RE = /^SBXA1[A-Za-z0-9_-]{32}$/;

/** Issues, refreshes, checks and revokes tokens. */
export class TokenStore {
  /** How many token pairs were issued (JWT grant and refresh grant). */
  issued = 0;
  private readonly access = new Map<string, IssuedToken>();
  private readonly refresh = new Map<string, IssuedToken>();

  constructor(
    private readonly cfg: { accessLifetimeS: number; refreshLifetimeS: number; scope: string },
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session for `ownerId` with its first token pair. */
  login(ownerId: string): TokenInfo {
    const session: Session = {
      id: randomBytes(9).toString('base64url'),
      ownerId,
      endpointId: randomBytes(12).toString('base64url'),
      revoked: false,
    };
    return this.issue(session);
  }

  /** Exchanges a refresh token for a new pair; undefined when it is unknown, used, expired or revoked. */
  refreshWith(token: string): TokenInfo | undefined {
    const rec = this.refresh.get(token);
    if (!rec || rec.spent || rec.session.revoked || this.now() >= rec.expiresAt) return undefined;
    rec.spent = true;
    for (const a of this.access.values()) if (a.session === rec.session) a.spent = true;
    return this.issue(rec.session);
  }

  /** Ends the session of `token` (access or refresh); false when the token is unknown. */
  revoke(token: string): boolean {
    const rec = this.access.get(token) ?? this.refresh.get(token);
    if (!rec) return false;
    rec.session.revoked = true;
    return true;
  }

  /** Checks a Bearer token: its owner, or why it is refused. */
  verify(token: string): { ownerId: string } | { problem: TokenProblem } {
    const rec = this.access.get(token);
    if (!rec) return { problem: ACCESS_RE.test(token) ? 'notFound' : 'corrupted' };
    if (rec.spent || rec.session.revoked) return { problem: 'notFound' };
    if (this.now() >= rec.expiresAt) return { problem: 'expired' };
    return { ownerId: rec.session.ownerId };
  }

  /** Makes every access token issued so far expire now (refresh tokens stay valid). */
  expireAccessTokens(): void {
    const t = this.now();
    for (const a of this.access.values()) a.expiresAt = Math.min(a.expiresAt, t);
  }

  private issue(session: Session): TokenInfo {
    const t = this.now();
    const access = `SBXA1${randomBytes(24).toString('base64url')}`;
    const refresh = `SBXR1${randomBytes(24).toString('base64url')}`;
    this.access.set(access, { session, expiresAt: t + this.cfg.accessLifetimeS * 1000, spent: false });
    this.refresh.set(refresh, { session, expiresAt: t + this.cfg.refreshLifetimeS * 1000, spent: false });
    this.issued++;
    return {
      access_token: access,
      token_type: 'bearer',
      expires_in: this.cfg.accessLifetimeS,
      refresh_token: refresh,
      refresh_token_expires_in: this.cfg.refreshLifetimeS,
      scope: this.cfg.scope,
      owner_id: session.ownerId,
      endpoint_id: session.endpointId,
      session_id: session.id,
    };
  }
}

/** Client credentials from an HTTP Basic header, or why there are none. */
export function parseBasic(
  header: string | undefined,
): { id: string; secret: string } | 'missing' | 'malformed' {
  if (!header) return 'missing';
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m?.[1]) return 'malformed';
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return 'malformed';
  return { id: text.slice(0, colon), secret: text.slice(colon + 1) };
}

/** The access token of an API request: Bearer header, or (media only) `access_token` query parameter. */
export function bearerOf(
  req: http.IncomingMessage,
  query: URLSearchParams,
  allowQuery: boolean,
): { token: string; via: 'header' | 'query' } | 'missing' | 'malformed' {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1] ? { token: m[1], via: 'header' } : 'malformed';
  }
  const q = query.get('access_token');
  if (allowQuery && q) return { token: q, via: 'query' };
  return 'missing';
}
