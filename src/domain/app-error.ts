/**
 * The one error type the product raises on purpose. Every layer maps it the same way: the HTTP error handler turns it
 * into `{ error: { code, message, details } }` with `status`, and the chat-reply mapper turns it into a chat message.
 * `code` is stable API: clients and tests branch on it, never on `message`.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** One problem found in client input, addressed by the path of the offending field (e.g. `requester.type`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export function validationError(problems: FieldProblem[]): AppError {
  const first = problems[0];
  const summary = first ? `Invalid field \`${first.path || '(body)'}\`: ${first.message}` : 'Invalid input';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return new AppError('validation_failed', 400, summary + more, { field: first?.path, problems });
}
