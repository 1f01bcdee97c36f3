/**
 * Sign-in to the web console through the organisation's IdP: OpenID Connect authorization code flow with PKCE, state
 * and nonce (`openid-client`). A login in progress is kept in Redis for ten minutes under the hash of a random token
 * the browser holds in a cookie, and taken out once (GETDEL), so a callback is bound to the browser that started it and
 * can be completed once. Step-up asks the IdP to authenticate again (`prompt=login`, `max_age`) and checks the
 * `auth_time` it returns.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { AppError } from '../domain/app-error';
import type { IdpClaims } from './console-session-service';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** Absolute URL of GET /console/callback, registered at the IdP. */
  redirectUri: string;
  /** Step-up window: a step-up sign-in must be at most this old (`max_age`). */
  stepUpMaxAgeSeconds: number;
}

export interface ConsoleOidcService {
  /** Starts a sign-in: where to send the browser, and the token it must present at the callback (a cookie). */
  start(opts: { next: string; stepUp: boolean }): Promise<{ location: string; loginToken: string }>;
  /**
   * Completes a sign-in from the IdP's redirect (`search`, the query string it came back with) and the browser's login
   * token. @throws AppError `sign_in_failed` for anything the IdP or the browser got wrong.
   */
  finish(search: string, loginToken: string | undefined): Promise<{ claims: IdpClaims; next: string }>;
}

interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  maxAge: number | null;
}

/** How long a started sign-in may take at the IdP. */
const LOGIN_TTL_SECONDS = 600;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A development IdP on this machine may speak plain HTTP; anything else must be HTTPS (openid-client's rule). */
function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]');
}

export function createConsoleOidcService(deps: {
  settings: OidcSettings;
  redis: Pick<Redis, 'set' | 'getdel'>;
  prefix: string;
  clock?: () => Date;
}): ConsoleOidcService {
  const { settings } = deps;
  const key = (token: string) => `${deps.prefix}:console-login:${sha256(token)}`;
  // Discovered on first use (not at start-up), so an IdP that is down delays sign-ins, not the service; a failed
  // discovery is retried by the next sign-in.
  let discovered: Promise<oidc.Configuration> | undefined;
  function configuration(): Promise<oidc.Configuration> {
    discovered ??= (async () => {
      const issuer = new URL(settings.issuer);
      const auth = settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None();
      return oidc.discovery(issuer, settings.clientId, settings.clientSecret, auth, isLoopbackHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined);
    })().catch((err: unknown) => {
      discovered = undefined;
      throw new AppError('service_unavailable', `The identity provider could not be reached: ${(err as Error).message}`);
    });
    return discovered;
  }

  return {
    async start({ next, stepUp }) {
      const config = await configuration();
      const pending: PendingLogin = {
        state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), next,
        maxAge: stepUp ? settings.stepUpMaxAgeSeconds : null,
      };
      const params: Record<string, string> = {
        redirect_uri: settings.redirectUri,
        scope: 'openid email profile',
        response_type: 'code',
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
      };
      if (pending.maxAge !== null) Object.assign(params, { prompt: 'login', max_age: String(pending.maxAge) });
      const loginToken = randomBytes(32).toString('base64url');
      await deps.redis.set(key(loginToken), JSON.stringify(pending), 'EX', LOGIN_TTL_SECONDS);
      return { location: oidc.buildAuthorizationUrl(config, params).href, loginToken };
    },

    async finish(search, loginToken) {
      // The registered redirect URI with the answer's parameters: what the token request must repeat, whatever path
      // prefix a reverse proxy removed on the way in.
      const callbackUrl = new URL(settings.redirectUri);
      callbackUrl.search = search;
      const stored = loginToken && /^[A-Za-z0-9_-]{43}$/.test(loginToken) ? await deps.redis.getdel(key(loginToken)) : null;
      if (!stored) throw new AppError('sign_in_failed', 'This sign-in was not started from this browser, took too long, or was already completed. Sign in again.');
      const pending = JSON.parse(stored) as PendingLogin;
      const config = await configuration();
      let claims: oidc.IDToken | undefined;
      let profile: oidc.UserInfoResponse | undefined;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: pending.verifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
          ...(pending.maxAge !== null ? { maxAge: pending.maxAge } : {}),
        });
        claims = tokens.claims();
        // A conformant IdP may keep email and name out of the ID token and answer them at userinfo (same subject).
        if (claims && typeof claims.email !== 'string' && tokens.access_token) profile = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      } catch (err) {
        throw new AppError('sign_in_failed', `The identity provider's answer was refused: ${(err as Error).message}`);
      }
      if (!claims) throw new AppError('sign_in_failed', 'The identity provider returned no ID token.');
      const about: Record<string, unknown> = { ...(profile ?? {}), ...claims };
      const authTime = typeof claims.auth_time === 'number' ? new Date(claims.auth_time * 1000) : null;
      if (pending.maxAge !== null && !authTime) throw new AppError('sign_in_failed', 'The identity provider did not say when you signed in (auth_time); step-up needs it.');
      return {
        next: pending.next,
        claims: {
          issuer: claims.iss,
          subject: claims.sub,
          email: typeof about.email === 'string' ? about.email : undefined,
          // Only an email the IdP says it verified may map a person (an unverified one is anybody's claim).
          emailVerified: about.email_verified === true,
          name: typeof about.name === 'string' ? about.name : undefined,
          authTime,
        },
      };
    },
  };
}
