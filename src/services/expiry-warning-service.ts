/**
 * Warning a requester before their request expires (a rule's `warnBeforeExpiry`): a timer job (`warn.<id>`, armed at
 * intake and re-armed by the reconciler from PostgreSQL) records `request.expiring` once while the request is still
 * pending, then wakes the request's long-polls so a waiting agent reads it again (and can act: ask someone, cancel).
 */
import { SYSTEM_ACTOR } from '../domain/audit-event';
import type { RequestEvents } from '../ports/job-queue';
import { EXPIRING_EVENT, type RequestStore } from '../store/request-store';

export interface ExpiryWarningService {
  /** Records the warning when the request is still pending and not yet warned; returns whether it did. */
  warn(requestId: string): Promise<boolean>;
}

export function createExpiryWarningService(deps: {
  requests: Pick<RequestStore, 'recordExpiryWarning'>;
  events: Pick<RequestEvents, 'publishChanged'>;
  clock?: () => Date;
}): ExpiryWarningService {
  const clock = deps.clock ?? (() => new Date());
  return {
    async warn(requestId) {
      const now = clock();
      const expiresAt = await deps.requests.recordExpiryWarning(requestId, now, (r) => [
        {
          type: EXPIRING_EVENT,
          requestId,
          actor: SYSTEM_ACTOR,
          channel: 'system',
          at: now,
          data: { expiresAt: r.expiresAt.toISOString(), secondsLeft: Math.max(0, Math.round((r.expiresAt.getTime() - now.getTime()) / 1000)) },
        },
      ]);
      if (!expiresAt) return false;
      // After the commit, never inside it; a lost wake-up only delays a long-poll until its own timeout.
      await deps.events.publishChanged(requestId, 'pending').catch(() => undefined);
      return true;
    },
  };
}
