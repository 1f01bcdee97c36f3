/** Reading the policy file: YAML or JSON text to a validated, compiled {@link Policy}, every problem listed at once. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { checkPolicy, compilePolicy, type Policy, type PolicyCheck } from '../domain/policy';

export class PolicyFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`Invalid policy file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PolicyFileError';
  }
}

/** Reads and validates the policy file (YAML or JSON; JSON is valid YAML). Throws with every problem listed. */
export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyFileError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return parsePolicyText(text, file);
}

export function parsePolicyText(text: string, file = '(inline)'): Policy {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new PolicyFileError(file, [`not valid YAML/JSON: ${(err as Error).message}`]);
  }
  const result = compilePolicy(doc, text);
  if (!result.ok) throw new PolicyFileError(file, result.problems.map((p) => `${p.path}: ${p.message}`));
  return result.policy;
}

/**
 * Checks policy text without throwing: the compiled policy when it is valid, and every problem (with its path) found.
 * What `cli policy check` and a live reload call.
 */
export function checkPolicyText(text: string): PolicyCheck {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    return { problems: [{ path: '(root)', message: `not valid YAML/JSON: ${(err as Error).message}` }] };
  }
  return checkPolicy(doc, text);
}
