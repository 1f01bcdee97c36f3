/**
 * The console's cookies: `cs_session` (the session secret; HttpOnly, SameSite=Strict, Path=/console, Secure unless
 * CONSOLE_COOKIE_SECURE=false on a loopback http base URL) and `cs_login` (a sign-in in progress; SameSite=Lax so it
 * comes back with the IdP's cross-site redirect, Path=/console/callback). Hand-written because two cookies with fixed
 * attributes do not justify a dependency (@fastify/cookie is not one of ours), and parsing only reads `name=value`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'cs_session';
export const LOGIN_COOKIE = 'cs_login';

/** The value of cookie `name` in the request, or undefined. Values we set are base64url, so no decoding is needed. */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  secure: boolean;
}

function serialize(name: string, value: string, attrs: { path: string; sameSite: 'Strict' | 'Lax'; maxAgeSeconds: number; secure: boolean }): string {
  return [`${name}=${value}`, `Path=${attrs.path}`, `Max-Age=${attrs.maxAgeSeconds}`, 'HttpOnly', `SameSite=${attrs.sameSite}`, ...(attrs.secure ? ['Secure'] : [])].join('; ');
}

function append(reply: FastifyReply, cookie: string): void {
  const existing = reply.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
  void reply.header('set-cookie', [...list, cookie]);
}

export function setSessionCookie(reply: FastifyReply, value: string, maxAgeSeconds: number, opts: CookieOptions): void {
  append(reply, serialize(SESSION_COOKIE, value, { path: '/console', sameSite: 'Strict', maxAgeSeconds, secure: opts.secure }));
}

export function clearSessionCookie(reply: FastifyReply, opts: CookieOptions): void {
  append(reply, serialize(SESSION_COOKIE, '', { path: '/console', sameSite: 'Strict', maxAgeSeconds: 0, secure: opts.secure }));
}

export function setLoginCookie(reply: FastifyReply, value: string, opts: CookieOptions): void {
  append(reply, serialize(LOGIN_COOKIE, value, { path: '/console/callback', sameSite: 'Lax', maxAgeSeconds: 600, secure: opts.secure }));
}

export function clearLoginCookie(reply: FastifyReply, opts: CookieOptions): void {
  append(reply, serialize(LOGIN_COOKIE, '', { path: '/console/callback', sameSite: 'Lax', maxAgeSeconds: 0, secure: opts.secure }));
}
