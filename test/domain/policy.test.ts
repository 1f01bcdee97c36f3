import { readFileSync } from 'node:fs';
import { parsePolicyText, PolicyFileError } from '../../src/config/load-policy';

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
