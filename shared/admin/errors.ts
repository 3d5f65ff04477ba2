/** The one error type of the admin APIs: an HTTP status, a code, and a human reason. */
export type AdminStatus = 400 | 401 | 403 | 404 | 409 | 422 | 500 | 503;

export class AdminError extends Error {
  constructor(readonly status: AdminStatus, readonly code: string, readonly reason: string) {
    super(reason);
  }
}
