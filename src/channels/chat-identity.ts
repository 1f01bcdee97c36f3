/**
 * What a chat platform knows about a user, as the people directory reads it: the platform identity the platform
 * authenticated (the Slack user, the Teams AAD user, with its workspace or tenant) and the email the platform itself
 * verified for them. Both adapters hand their users to the core through this one function, so a click is identified
 * the same way on every platform.
 */
import type { PersonIdentity } from '../domain/identity';
import type { PresentedIdentity } from '../domain/people';
import type { ChatActor } from '../services/chat-command-service';

/**
 * @param kind the platform (`slack`, `teams`)
 * @param person the user as the platform's directory described them (`slackUserId` or `teamsUserId`, email, name)
 * @param scope the workspace (Slack team id) or tenant the user belongs to, when the platform said so
 */
export function chatPresented(kind: 'slack' | 'teams', person: PersonIdentity, scope?: string): PresentedIdentity {
  const id = kind === 'slack' ? person.slackUserId?.trim() : person.teamsUserId?.trim().toLowerCase();
  return {
    ...(id ? { platform: { kind, value: id, ...(scope ? { scope } : {}) } } : {}),
    ...(person.email ? { verifiedEmail: person.email.trim().toLowerCase() } : {}),
    ...(person.name ? { name: person.name } : {}),
  };
}

/** A chat user as the command service takes them. */
export function chatActor(kind: 'slack' | 'teams', person: PersonIdentity, scope?: string): ChatActor {
  return { presented: chatPresented(kind, person, scope), identity: person };
}
