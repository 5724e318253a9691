/** A non-2xx answer: Gatehouse's `{error: {code, message, details?, request_id?}}`, with the HTTP status. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    /** `validation_failed`, `unauthenticated`, `forbidden`, `not_found`, `conflict`, `rate_limited`… */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** The request id the server logged the request under. */
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/** The error an answer carries; a body that is not Gatehouse's (a proxy's error page) still gives its status. */
export function apiErrorOf(status: number, body: unknown): ApiError {
  const e = body && typeof body === 'object' && 'error' in body && body.error && typeof body.error === 'object'
    ? (body.error as { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown })
    : {};
  return new ApiError(
    status,
    typeof e.code === 'string' ? e.code : 'error',
    typeof e.message === 'string' ? e.message : `the server answered ${status}`,
    e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined,
    typeof e.request_id === 'string' ? e.request_id : undefined,
  );
}

/** An openapi-fetch call's data, or an ApiError: `const ws = await unwrap(gatehouse.GET('/v1/workspaces'))`. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw apiErrorOf(response.status, error);
  return data as T;
}
