/**
 * `npm run cli -- verify grant <jws> --request <request.json> --key <jwks.json | public key PEM | base64 key> [--at <ISO time>]`:
 * checks, offline (no service, no database, no network), that an approval grant was signed by Countersign's key and
 * binds exactly the request in request.json (the body the agent submitted: action, resource, context, requester,
 * onBehalfOf), and says by whom, under which rule and until when it may be used. Exit 0 when the grant holds for the
 * request and is within its window (or `--at` time), 1 when it does not, 64 on bad usage, 66 when an input cannot be
 * read.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { GRANT_TYPE, grantActionHash, type GrantClaims, type GrantSubject } from '../domain/grant';

export const VERIFY_GRANT_USAGE = `  npm run cli -- verify grant <jws> --request <request.json> --key <jwks.json|public key PEM file|base64 key> [--at <ISO time>]`;

/** The public keys a `--key` names, by kid when the JWKS gives them. */
function readKeys(value: string): { kid?: string; key: KeyObject }[] {
  const text = existsSync(value) ? readFileSync(value, 'utf8') : value;
  if (text.trim().startsWith('{')) {
    const jwks = JSON.parse(text) as { keys?: (Record<string, string> & { kid?: string })[] };
    return (jwks.keys ?? []).map((jwk) => ({ kid: jwk.kid, key: createPublicKey({ key: jwk, format: 'jwk' }) }));
  }
  if (text.includes('BEGIN PUBLIC KEY')) return [{ key: createPublicKey(text) }];
  const raw = Buffer.from(text.trim(), 'base64');
  if (raw.length !== 32) throw new Error(`--key ${value.slice(0, 40)}: not a JWKS, a PEM public key or a base64 Ed25519 key`);
  return [{ key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' }) }];
}

export async function runVerifyGrantCommand(argv: string[], out: (s: string) => void): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { request: { type: 'string' }, key: { type: 'string' }, at: { type: 'string' } } }));
  } catch (err) {
    out(`${(err as Error).message}\n${VERIFY_GRANT_USAGE}`);
    return 64;
  }
  const jws = positionals[0];
  if (!jws || !values.request || !values.key) {
    out(VERIFY_GRANT_USAGE);
    return 64;
  }
  let keys;
  let request: GrantSubject;
  try {
    keys = readKeys(values.key);
    request = JSON.parse(readFileSync(values.request, 'utf8')) as GrantSubject;
  } catch (err) {
    out(`cannot read the inputs: ${(err as Error).message}`);
    return 66;
  }
  const at = values.at ? new Date(values.at) : new Date();
  let claims: GrantClaims;
  try {
    const kid = decodeProtectedHeader(jws).kid;
    const key = keys.find((k) => !k.kid || k.kid === kid)?.key;
    if (!key) throw new Error(`no trusted key has id ${kid}`);
    // The window is judged below, so that an expired grant still shows what it approved.
    const { payload } = await jwtVerify(jws, key, { algorithms: ['EdDSA'], typ: GRANT_TYPE, currentDate: new Date(0) });
    claims = payload as unknown as GrantClaims;
  } catch (err) {
    out(`✗ not a valid Countersign grant: ${(err as Error).message}`);
    return 1;
  }
  out(`✓ signed by the trusted key; request ${claims.jti} (${claims.cs_action} on ${claims.cs_resource}), rule ${claims.cs_rule}, approved by ${claims.cs_approvers.join(', ')}`);
  const expected = grantActionHash(request);
  if (expected !== claims.cs_hash) {
    out(`✗ the grant does not cover this request: its hash is ${claims.cs_hash}, the request's ${expected}`);
    return 1;
  }
  out('✓ it binds exactly this request (action, resource, context, requester, on behalf of)');
  const exp = new Date(claims.exp * 1000);
  if (at.getTime() >= exp.getTime()) {
    out(`✗ its execution window ended at ${exp.toISOString()}`);
    return 1;
  }
  out(`✓ usable until ${exp.toISOString()} (once: the executor records the use with POST /v1/grants/use)`);
  return 0;
}
