/**
 * Teams traffic is authenticated by botbuilder whenever an app id is configured, and the adapter refuses to run
 * without one unless explicitly allowed. The JWT checks run against the fake connector's OpenID metadata and JWKS, so
 * a correctly signed token is accepted and every forgery is refused, all without reaching login.botframework.com.
 */
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { CallerIdConstants } from 'botbuilder';
import pino from 'pino';
import { createTeamsModule, type TeamsModuleDeps } from '../../adapters/teams/teams-module';
import { ConfigError, loadConfig } from '../../src/config/config';
import { botInstalled, BOT_APP_ID, cardAction, CHANNEL_ID, sendActivity, TEAMS_USERS, TENANT_ID } from '../fakes/teams-activities';
import { startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

function deps(env: Record<string, string>, log = pino({ level: 'silent' })): TeamsModuleDeps {
  const none = {} as never;
  return {
    config: loadConfig(env), log, auditGroups: [], interactionConcurrency: 2,
    ports: { teamsConversations: none, groupMembers: () => [], decisions: none, queries: none, commands: none, audit: none },
  };
}

describe('the Teams adapter fails closed', () => {
  it('refuses to start without an app id unless TEAMS_ALLOW_UNAUTHENTICATED=true', () => {
    expect(() => createTeamsModule(deps({}))).toThrow(ConfigError);
    expect(() => createTeamsModule(deps({ TEAMS_ALLOW_UNAUTHENTICATED: 'false' }))).toThrow(/MICROSOFT_APP_ID/);
  });

  it('starts without one when explicitly allowed, logging a warning', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => { lines.push(String(chunk)); cb(); } });
    const mod = createTeamsModule(deps({ TEAMS_ALLOW_UNAUTHENTICATED: 'true' }, pino({ level: 'info' }, sink)));
    expect(mod.channel.kind).toBe('teams');
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
    expect(warning?.msg).toMatch(/NOT authenticated/);
  });

  it('starts with credentials and the tenant it serves, without the flag', () => {
    expect(createTeamsModule(deps({ MICROSOFT_APP_ID: BOT_APP_ID, MICROSOFT_APP_PASSWORD: 'not-a-real-secret', MICROSOFT_APP_TENANT_ID: TENANT_ID })).channel.kind).toBe('teams');
  });

  it('refuses to start without the tenant it serves (whatever the app type), listing the key like every other problem', () => {
    for (const type of [{}, { MICROSOFT_APP_TYPE: 'MultiTenant' }, { MICROSOFT_APP_TYPE: 'SingleTenant' }]) {
      const env = { MICROSOFT_APP_ID: BOT_APP_ID, MICROSOFT_APP_PASSWORD: 'not-a-real-secret', ...type };
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(/MICROSOFT_APP_TENANT_ID: required for the Teams adapter/);
    }
    // The module refuses too, should it be handed a configuration that skipped the schema.
    const config = { ...loadConfig({ TEAMS_ALLOW_UNAUTHENTICATED: 'true' }), TEAMS_ALLOW_UNAUTHENTICATED: false, MICROSOFT_APP_ID: BOT_APP_ID, MICROSOFT_APP_PASSWORD: 'x' };
    expect(() => createTeamsModule({ ...deps({ TEAMS_ALLOW_UNAUTHENTICATED: 'true' }), config })).toThrow(/MICROSOFT_APP_TENANT_ID/);
    expect(() => loadConfig({ MICROSOFT_APP_ID: BOT_APP_ID, MICROSOFT_APP_PASSWORD: 'x', MICROSOFT_APP_TENANT_ID: 'contoso.onmicrosoft.com' })).toThrow(/a tenant id is a GUID/);
    // The local-development switch is the one exemption.
    expect(createTeamsModule(deps({ TEAMS_ALLOW_UNAUTHENTICATED: 'true' })).channel.kind).toBe('teams');
    expect(loadConfig({}).MICROSOFT_APP_TYPE).toBe('SingleTenant');
  });
});

/** A compact JWS (RS256) signed with `key`, as the Bot Connector signs the tokens it sends bots. */
function jwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const data = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64(claims)}`;
  const signature = createSign('RSA-SHA256').update(data).sign(key).toString('base64url');
  return `${data}.${signature}`;
}

describe('with MICROSOFT_APP_ID set, botbuilder authenticates every activity', () => {
  let h: TeamsTestApp;
  const trusted = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'countersign-test-key';
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (serviceUrl: string, extra: Record<string, unknown> = {}) => ({
    iss: 'https://api.botframework.com',
    aud: BOT_APP_ID,
    serviceurl: serviceUrl,
    nbf: now() - 60,
    exp: now() + 3600,
    ...extra,
  });

  beforeAll(async () => {
    h = await startTeamsTestApp({
      install: false,
      env: { TEAMS_ALLOW_UNAUTHENTICATED: 'false', MICROSOFT_APP_ID: BOT_APP_ID, MICROSOFT_APP_PASSWORD: 'not-a-real-secret', MICROSOFT_APP_TENANT_ID: TENANT_ID },
      // Only the metadata location moves to the fake; the validation itself is botbuilder's, unchanged. botbuilder
      // takes any one of these settings as "all are given", so the public cloud's other values are spelled out.
      options: (fake) => ({
        botFrameworkAuth: {
          ToBotFromChannelOpenIdMetadataUrl: `${fake.url}openid/.well-known/openidconfiguration`,
          ToBotFromChannelTokenIssuer: 'https://api.botframework.com',
          ToChannelFromBotLoginUrl: 'https://login.microsoftonline.com/botframework.com',
          ToChannelFromBotOAuthScope: 'https://api.botframework.com',
          OAuthUrl: 'https://api.botframework.com',
          ToBotFromEmulatorOpenIdMetadataUrl: `${fake.url}openid/.well-known/openidconfiguration`,
          CallerId: CallerIdConstants.PublicAzureChannel,
        },
      }),
    });
    h.fake.setSigningKeys([{ ...trusted.publicKey.export({ format: 'jwk' }), kid, use: 'sig', endorsements: ['msteams'] }]);
    // botbuilder prints every refused request with console.error; keep the test output readable.
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await h?.close();
  });

  async function refusedWithoutEffect(authorization: string | undefined): Promise<void> {
    const res = await sendActivity(h.t.baseUrl, botInstalled(h.fake.url), { authorization });
    expect(res.status).toBe(401);
    expect(await h.t.db.teamsConversation.count()).toBe(0);
  }

  it('refuses an activity without an Authorization header, before any network call', async () => {
    await refusedWithoutEffect(undefined);
    expect(h.fake.calls).toHaveLength(0);
  });

  it('refuses a bogus bearer token and a token from an issuer Bot Framework does not use, before any network call', async () => {
    await refusedWithoutEffect('Bearer this-is-not-a-jwt');
    await refusedWithoutEffect(`Bearer ${jwt(attacker.privateKey, kid, claims(h.fake.url, { iss: 'https://attacker.example' }))}`);
    expect(h.fake.calls).toHaveLength(0);
  });

  it('refuses a token signed with a key Bot Framework did not publish', async () => {
    await refusedWithoutEffect(`Bearer ${jwt(attacker.privateKey, 'attacker-key', claims(h.fake.url))}`);
    expect(h.fake.callsOf('openid').length).toBeGreaterThan(0);
  });

  it('refuses a token that names the published key but was signed by another', async () => {
    // botbuilder reports this one as a 500 ("invalid signature"); the adapter answers 401 like the other refusals.
    await refusedWithoutEffect(`Bearer ${jwt(attacker.privateKey, kid, claims(h.fake.url))}`);
  });

  it('refuses a correctly signed token for another bot or another service URL', async () => {
    await refusedWithoutEffect(`Bearer ${jwt(trusted.privateKey, kid, claims(h.fake.url, { aud: randomUUID() }))}`);
    await refusedWithoutEffect(`Bearer ${jwt(trusted.privateKey, kid, claims('https://smba.trafficmanager.net/emea/'))}`);
    await refusedWithoutEffect(`Bearer ${jwt(trusted.privateKey, kid, claims(h.fake.url, { exp: now() - 3600, nbf: now() - 7200 }))}`);
  });

  it('accepts a correctly signed token and runs the bot', async () => {
    const res = await sendActivity(h.t.baseUrl, botInstalled(h.fake.url), { authorization: `Bearer ${jwt(trusted.privateKey, kid, claims(h.fake.url))}` });
    expect(res.status).toBe(200);
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId: CHANNEL_ID } })).not.toBeNull();
  });

  it('refuses a correctly signed activity from another tenant: nothing stored, the refusal recorded', async () => {
    const foreign = '0f0f0f0f-0000-4000-8000-000000000000';
    const install = botInstalled(h.fake.url, '19:0000anothertenant0000@thread.tacv2');
    install.channelData.tenant = { id: foreign };
    install.conversation.tenantId = foreign;
    const res = await sendActivity(h.t.baseUrl, install, { authorization: `Bearer ${jwt(trusted.privateKey, kid, claims(h.fake.url))}` });
    expect(res.status).toBe(200);
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId: '19:0000anothertenant0000@thread.tacv2' } })).toBeNull();
    const refused = await h.t.db.auditEvent.findFirst({ where: { type: 'chat.refused' } });
    expect(JSON.parse(refused!.payload)).toMatchObject({ channel: 'teams', data: { refusal: 'foreign_tenant', attempted: 'install', tenant: foreign, expectedTenant: TENANT_ID } });
  });
});

describe('with MICROSOFT_APP_TENANT_ID set', () => {
  it('ignores installs and clicks from other tenants', async () => {
    const h = await startTeamsTestApp({ install: false, env: { MICROSOFT_APP_TENANT_ID: TENANT_ID } });
    try {
      const foreign = { id: '0f0f0f0f-0000-4000-8000-000000000000' };
      const install = botInstalled(h.fake.url);
      install.channelData.tenant = foreign;
      install.conversation.tenantId = foreign.id;
      expect((await h.send(install)).status).toBe(200);
      expect(await h.t.db.teamsConversation.count()).toBe(0);

      const click = cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: randomUUID() });
      click.channelData.tenant = foreign;
      const res = await h.send(click);
      expect(res.body.value.body[0].items[0].text).toContain('This Countersign installation serves another Microsoft 365 tenant.');
      expect(h.fake.callsOf('getMember')).toHaveLength(0);

      expect((await h.send(botInstalled(h.fake.url))).status).toBe(200);
      expect(await h.t.db.teamsConversation.count()).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('without the adapter configured', () => {
  it('has no /api/messages endpoint at all', async () => {
    const h = await startTeamsTestApp({ install: false, env: { TEAMS_ALLOW_UNAUTHENTICATED: 'false' } });
    try {
      const res = await sendActivity(h.t.baseUrl, botInstalled(h.fake.url));
      expect(res.status).toBe(404);
      expect(await h.t.db.teamsConversation.count()).toBe(0);
    } finally {
      await h.close();
    }
  });
});
