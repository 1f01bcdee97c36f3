/**
 * Microsoft Teams' configuration: its environment keys (defaults and meaning), the rules between them, when they
 * switch the adapter on, and which key says who may run audit look-ups. src/config/config.ts merges this into the one
 * schema; the adapter receives only these keys, parsed.
 */
import { z } from 'zod';
import type { PlatformConfig } from '../../src/channels/channel-module';
import { envBool, envInt, envOptionalString, hasValue, type ConfigOf } from '../../src/config/config-shape';

export const teamsConfigShape = {
  MICROSOFT_APP_ID: envOptionalString,
  MICROSOFT_APP_PASSWORD: envOptionalString,
  /** The Entra ID tenant served: required with Teams; activities from any other tenant are refused. */
  MICROSOFT_APP_TENANT_ID: envOptionalString,
  /** How the bot authenticates its own calls; the tenant filter applies whatever the type. */
  MICROSOFT_APP_TYPE: z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('SingleTenant'),
  /** Local development and tests only: accept Teams traffic without Bot Framework authentication. */
  TEAMS_ALLOW_UNAUTHENTICATED: envBool.default(false),
  /** Who may run audit look-ups from Teams: comma-separated policy group names. Empty: members of any policy group. */
  TEAMS_AUDIT_ACCESS: envOptionalString,
  TEAMS_MEMBER_CACHE_SIZE: envInt(1, 1_000_000).default(5_000),
  TEAMS_MEMBER_CACHE_MS: envInt(0, 86_400_000).default(15 * 60_000),
};

export type TeamsConfig = ConfigOf<typeof teamsConfigShape>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A Teams app can be installed in any tenant, and a user of another tenant can carry any email (carol@example.com
 * included), so Countersign must know the one tenant it serves.
 */
export const TENANT_REQUIRED =
  'MICROSOFT_APP_TENANT_ID: required for the Teams adapter: the Entra ID tenant whose users approve; activities from any other tenant are refused. ' +
  'Only TEAMS_ALLOW_UNAUTHENTICATED=true (local development and tests) runs without it.';

function allowsUnauthenticated(env: Record<string, string | undefined>): boolean {
  return ['true', '1', 'yes'].includes(env.TEAMS_ALLOW_UNAUTHENTICATED?.trim() ?? '');
}

export const teamsConfig: PlatformConfig<typeof teamsConfigShape> = {
  shape: teamsConfigShape,
  problems(env) {
    const problems: string[] = [];
    const appType = env.MICROSOFT_APP_TYPE ?? 'SingleTenant';
    if (hasValue(env, 'MICROSOFT_APP_ID') && !hasValue(env, 'MICROSOFT_APP_PASSWORD') && appType !== 'UserAssignedMSI') {
      problems.push('MICROSOFT_APP_PASSWORD: required with MICROSOFT_APP_ID');
    }
    if (hasValue(env, 'MICROSOFT_APP_ID') && !hasValue(env, 'MICROSOFT_APP_TENANT_ID') && !allowsUnauthenticated(env)) {
      problems.push(TENANT_REQUIRED);
    }
    if (hasValue(env, 'MICROSOFT_APP_TENANT_ID') && !GUID.test(env.MICROSOFT_APP_TENANT_ID!.trim())) {
      problems.push('MICROSOFT_APP_TENANT_ID: a tenant id is a GUID (the Directory (tenant) ID in Entra ID), not a domain name');
    }
    return problems;
  },
  // On with credentials, or when explicitly opened for local use (the module then warns loudly).
  enabled: (c) => Boolean(c.MICROSOFT_APP_ID || c.TEAMS_ALLOW_UNAUTHENTICATED),
  auditAccess: { key: 'TEAMS_AUDIT_ACCESS' },
};
