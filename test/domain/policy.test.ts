import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parsePolicyText, PolicyFileError } from '../../src/config/load-policy';
import { formatDuration, parseDuration } from '../../src/domain/duration';
import { checkPolicy } from '../../src/domain/policy';

const minimal = (extra = '') => `
version: 1
groups:
  ops: [alice@example.com, slack:U0000BOB, teams:ABCDEF01-0000-0000-0000-000000000000]
rules:
  - name: reads
    match: { action: "*.read", environment: [dev] }
    outcome: approve
  - name: prod
    match: { resource: "s3://prod/**", risk: [high, critical], requesterType: agent }
    outcome: require
    approvers: [ops]
    approvals: 2
    channels: ["teams:19:abc@thread.tacv2"]
${extra}
default:
  outcome: deny
`;

describe('policy', () => {
  it('ships an example policy that validates', () => {
    const p = parsePolicyText(readFileSync('policy.example.yaml', 'utf8'), 'policy.example.yaml');
    expect(p.rules.map((r) => r.name)).toContain('prod-data-export');
  });

  it('matches rules in order with globs, lists and requester type, falling back to the default', () => {
    const p = parsePolicyText(minimal());
    const subject = { action: 'table.read', resource: 'x', environment: 'dev', requester: { id: 'a', type: 'agent' as const } };
    expect(p.evaluate(subject)).toEqual({ rule: 'reads', outcome: 'approve' });
    expect(p.evaluate({ ...subject, environment: 'prod' })).toMatchObject({ rule: 'default', outcome: 'deny' });
    const prod = p.evaluate({ action: 'dataset.export', resource: 's3://prod/a/b.csv', risk: 'high', requester: { id: 'a', type: 'agent' } });
    expect(prod).toMatchObject({
      rule: 'prod',
      outcome: 'require',
      requirement: { approvals: 2, channels: ['teams:19:abc@thread.tacv2'], reason: 'on-deny', members: ['alice@example.com', 'slack:U0000BOB', 'teams:abcdef01-0000-0000-0000-000000000000'] },
    });
    expect(p.evaluate({ action: 'dataset.export', resource: 's3://prod/a', risk: 'low', requester: { id: 'a', type: 'agent' } }).rule).toBe('default');
    expect(p.evaluate({ action: 'dataset.export', resource: 's3://prod/a', risk: 'high', requester: { id: 'a', type: 'human' } }).rule).toBe('default');
  });

  it('treats secret-looking and listed context keys as sensitive', () => {
    const p = parsePolicyText(minimal().replace('rules:', 'sensitiveContextKeys: [ssn]\nrules:'));
    expect(['db_password', 'API_KEY', 'accessToken', 'ssn'].map(p.isSensitiveKey)).toEqual([true, true, true, true]);
    expect(p.isSensitiveKey('rows')).toBe(false);
  });

  it('lists every problem of a bad file with its path', () => {
    const bad = minimal(`  - name: broken
    match: { risk: [apocalyptic] }
    outcome: require
    approvers: [nobody]
    channels: ["email:x"]
  - name: reads
    outcome: maybe`);
    let err: PolicyFileError | undefined;
    try {
      parsePolicyText(bad, 'bad.yaml');
    } catch (e) {
      err = e as PolicyFileError;
    }
    expect(err).toBeInstanceOf(PolicyFileError);
    const text = err!.problems.join('\n');
    expect(text).toMatch(/rules\.2\.match\.risk/);
    expect(text).toMatch(/rules\.2\.channels\.0/);
    expect(text).toMatch(/rules\.3\.outcome/);
    expect(err!.message).toContain('bad.yaml');
  });

  it('reports unknown approver groups and duplicate rule names', () => {
    const bad = minimal(`  - name: reads
    outcome: require
    approvers: [ghosts]`);
    expect(() => parsePolicyText(bad)).toThrow(/unknown approver group "ghosts"[\s\S]*duplicate rule name "reads"|duplicate rule name "reads"[\s\S]*unknown approver group "ghosts"/);
  });

  it('refuses invalid YAML with a clear message', () => {
    expect(() => parsePolicyText('version: 1\ngroups: [')).toThrow(/not valid YAML/);
  });
});

describe('durations', () => {
  it('reads 30s, 15m, 1h, 2d and sums, and refuses anything else', () => {
    expect(['30s', '15m', '1h', '2d', '1h30m'].map(parseDuration)).toEqual([30, 900, 3600, 172800, 5400]);
    expect(['15', '15min', '1.5h', '', '0m', '-1h', 'h'].map(parseDuration)).toEqual(Array(7).fill(undefined));
    expect([900, 5400, 172800, 45].map(formatDuration)).toEqual(['15m', '1h30m', '2d', '45s']);
  });
});

describe('policy format: budgets, quorums, stages, standing approvals, reminders', () => {
  const base = `
version: 1
people:
  - { id: alice, identities: [alice@example.com] }
groups:
  security: [dave@example.com, erin@example.com]
  data-owners: [alice, alice@example.com, bob@example.com]
  oncall: [carol@example.com]
`;
  const check = (text: string) => checkPolicy(parseYaml(text), text);

  it('parses every new key and snapshots it on the decision', () => {
    const text = `${base}
rules:
  - name: routine-reads
    match: { action: "*.read" }
    outcome: approve
    budget: { count: 20, per: 1h, by: [requester, action], then: sensitive }
  - name: inline-budget
    match: { action: "*.list" }
    outcome: approve
    budget: { count: 5, per: 10m, then: { approvers: [oncall], remind: [5m], standing: { maxFor: 15m, maxUses: 20 } } }
  - name: sensitive
    match: { action: "dataset.export" }
    outcome: require
    approvers: [security, data-owners]
    approvals: { security: 1, data-owners: 1 }
    remind: [15m, 1h]
    escalate: { after: 2h, to: [oncall] }
    warnBeforeExpiry: 10m
    ttlSeconds: 86400
  - name: staged
    match: { action: "iam.*" }
    outcome: require
    alwaysAsk: true
    stages:
      - { approvers: [data-owners], approvals: 1 }
      - { approvals: { security: 2 }, channels: ["slack:CSEC"] }
default:
  outcome: deny
`;
    const { policy, problems } = check(text);
    expect(problems).toEqual([]);
    const agent = { id: 'bot-1', type: 'agent' as const };
    const reads = policy!.evaluate({ action: 'table.read', resource: 'r1', requester: agent });
    expect(reads).toMatchObject({ rule: 'routine-reads', outcome: 'approve', budget: { count: 20, perSeconds: 3600, by: ['requester', 'action'], thenRule: 'sensitive' } });
    expect(reads.budget!.exhausted).toMatchObject({ rule: 'routine-reads', outcome: 'require', requirement: { approvers: ['security', 'data-owners'], approvals: 2 } });
    // The key is per the `by` fields: another resource shares it, another requester does not.
    expect(policy!.evaluate({ action: 'table.read', resource: 'r2', requester: agent }).budget!.key).toBe(reads.budget!.key);
    expect(policy!.evaluate({ action: 'table.read', resource: 'r1', requester: { id: 'bot-2', type: 'agent' } }).budget!.key).not.toBe(reads.budget!.key);
    const inline = policy!.evaluate({ action: 'table.list', resource: 'r', requester: agent }).budget!;
    expect(inline.thenRule).toBeUndefined();
    expect(inline.exhausted.requirement).toMatchObject({ approvers: ['oncall'], approvals: 1, remindSeconds: [300], standing: { maxForSeconds: 900, maxUses: 20 } });

    const sensitive = policy!.evaluate({ action: 'dataset.export', resource: 'r', requester: agent }).requirement!;
    expect(sensitive).toMatchObject({
      approvals: 2,
      remindSeconds: [900, 3600],
      escalate: { afterSeconds: 7200, to: ['oncall'], members: ['carol@example.com'] },
      warnBeforeExpirySeconds: 600,
      stages: [{ approvers: ['security', 'data-owners'], quorum: [{ group: 'security', count: 1 }, { group: 'data-owners', count: 1 }], groupMembers: { security: ['dave@example.com', 'erin@example.com'] } }],
    });
    const staged = policy!.evaluate({ action: 'iam.grant', resource: 'r', requester: agent }).requirement!;
    expect(staged).toMatchObject({ approvers: ['data-owners', 'security'], approvals: 3, alwaysAsk: true });
    expect(staged.standing).toBeUndefined();
    expect(staged.stages!.map((s) => [s.quorum, s.channels])).toEqual([[[{ group: null, count: 1 }], []], [[{ group: 'security', count: 2 }], ['slack:CSEC']]]);
  });

  it('keeps a plain rule\'s snapshot exactly as before (no new fields)', () => {
    const { policy } = check(`${base}
rules: []
default: { outcome: require, approvers: [security], approvals: 2 }
`);
    expect(policy!.evaluate({ action: 'a', resource: 'r', requester: { id: 'x', type: 'agent' } }).requirement).toEqual({
      approvers: ['security'], members: ['dave@example.com', 'erin@example.com'], approvals: 2, channels: [], reason: 'on-deny',
    });
  });

  it('lists every semantic problem at once, each with its path', () => {
    const { policy, problems } = check(`${base}
rules:
  - name: budgeted
    match: { action: "*.read" }
    outcome: approve
    budget: { count: 5, per: 1h, then: missing }
  - name: to-deny
    match: { action: "*.list" }
    outcome: approve
    budget: { count: 5, per: 1h, then: forbidden }
  - name: forbidden
    match: { action: "x" }
    outcome: deny
  - name: big-quorum
    match: { action: "y" }
    outcome: require
    approvers: [security]
    approvals: 3
  - name: big-group-quorum
    match: { action: "z" }
    outcome: require
    approvals: { data-owners: 3, ghosts: 1 }
    escalate: { after: 2h, to: [nobody] }
    standing: { maxFor: 15m, maxUses: 2 }
    alwaysAsk: true
  - name: staged
    match: { action: "w" }
    outcome: require
    stages: [{ approvers: [phantom] }]
    standing: { maxFor: 5m, maxUses: 1 }
  - name: catch-all
    outcome: require
    approvers: [oncall]
  - name: after-catch-all
    match: { action: "v" }
    outcome: deny
  - name: forbidden
    match: { action: "u" }
    outcome: deny
default: { outcome: deny }
`);
    expect(policy).toBeUndefined();
    const text = problems.map((p) => `${p.path}: ${p.message}`);
    expect(text).toEqual(expect.arrayContaining([
      'rules.0.budget.then: no rule is named "missing"',
      'rules.1.budget.then: rule "forbidden" is a deny rule; a budget escalates to a require rule',
      'rules.3.approvals: needs 3 approvals but security has only 2 people',
      // alice is listed by id and by email: one person.
      'rules.4.approvals.data-owners: needs 3 from "data-owners" but it has only 2',
      'rules.4.approvals.ghosts: unknown approver group "ghosts"',
      'rules.4.escalate.to.0: unknown escalation group "nobody"',
      'rules.4.standing: `alwaysAsk` rules never accept standing approvals; drop one of the two',
      'rules.5.stages.0.approvers.0: unknown approver group "phantom"',
      'rules.5.standing: standing approvals are only for rules that one approval decides (approvals: 1, no stages)',
      'rules.7: unreachable: rule "catch-all" (rules.6) matches every request before it',
      'rules.8: unreachable: rule "catch-all" (rules.6) matches every request before it',
      'rules.8.name: duplicate rule name "forbidden"',
    ]));
  });

  it('refuses bad durations and unknown keys with the field named', () => {
    const { problems } = check(`${base}
rules:
  - name: r
    match: { action: "x" }
    outcome: require
    approvers: [security]
    remind: [15min]
    escalate: { after: 2h, to: [oncall], when: later }
  - name: b
    match: { action: "y" }
    outcome: approve
    budget: { count: 5, per: 1.5h, by: [model], then: r }
default: { outcome: deny }
`);
    const text = problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(text).toMatch(/rules\.0\.remind\.0: "15min" is not a duration/);
    expect(text).toMatch(/rules\.0\.escalate: .*when/);
    expect(text).toMatch(/rules\.1\.budget\.per: "1\.5h" is not a duration/);
    expect(text).toMatch(/rules\.1\.budget\.by\.0/);
  });

  it('checks a remind, escalation or expiry warning against the rule\'s TTL', () => {
    const { problems } = check(`${base}
rules: []
default: { outcome: require, approvers: [security], ttlSeconds: 3600, remind: [30m, 2h], escalate: { after: 1h, to: [oncall] }, warnBeforeExpiry: 1h }
`);
    expect(problems.map((p) => p.path).sort()).toEqual(['default.escalate.after', 'default.remind.1', 'default.warnBeforeExpiry']);
  });
});
