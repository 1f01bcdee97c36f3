/**
 * @countersign/client: put a human approval in front of an agent's action.
 *
 * ```ts
 * import { CountersignClient } from '@countersign/client';
 * const cs = CountersignClient.fromEnv(); // COUNTERSIGN_URL, COUNTERSIGN_API_KEY
 * const { value } = await cs.guard(
 *   { action: 'db.drop_table', resource: 'pg://prod/orders', requester: { id: 'cleanup-agent', type: 'agent' } },
 *   () => dropTable('orders'),
 * );
 * ```
 */
export { CountersignClient } from './countersign-client.js';
export type { ApprovalInput, CountersignClientOptions, GuardOptions, GuardResult, OutcomeReport, RequestApprovalOptions, WaitOptions } from './countersign-client.js';
export type { Approval, ApprovalRequestWithGrant, ApprovalStatus } from './approval.js';
export { ApprovalNotGrantedError, CountersignError, GrantVerificationError, type CountersignErrorCode } from './errors.js';
export { GRANT_TYPE, grantHash, remoteKeys, verifyGrant, type GrantCheck, type GrantClaims, type GrantExpectation } from './grant.js';
export { canonicalJson } from './canonical-json.js';
export type * from './generated/api-types.js';
