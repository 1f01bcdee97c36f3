/**
 * Who may run audit look-ups from a chat platform: one setting per platform (SLACK_AUDIT_ACCESS, TEAMS_AUDIT_ACCESS),
 * parsed here and nowhere else. Entries are policy group names, checked by the core's chat command service, or
 * groups of the platform itself (Slack user groups `S…`), which only that platform can check; the platform's
 * registration says which entries are its own.
 */

export interface AuditAccess {
  /** Policy groups whose members may audit; null when the setting is empty (then members of any policy group may). */
  policyGroups: string[] | null;
  /** The platform's own groups named in the setting. */
  platformGroups: string[];
}

export function parseAuditAccess(text: string | undefined, isPlatformGroup: (entry: string) => boolean = () => false): AuditAccess {
  const entries = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) return { policyGroups: null, platformGroups: [] };
  return { policyGroups: entries.filter((e) => !isPlatformGroup(e)), platformGroups: entries.filter(isPlatformGroup) };
}
