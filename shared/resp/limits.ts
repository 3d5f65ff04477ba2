/** Protocol limits with Redis's defaults. Each crossing gives a protocol error or a close. */
export interface RespLimits {
  /** `proto-max-bulk-len`: the longest bulk string accepted in a request. */
  maxBulkLen: number;
  /** The largest multibulk count accepted (Redis: INT_MAX). */
  maxMultibulkLen: number;
  /** The longest inline request or `*`/`$` header line (Redis: PROTO_INLINE_MAX_SIZE). */
  maxInlineLen: number;
  /** Nesting depth the generic decoder accepts before failing (guards the stack). */
  maxDepth: number;
}

export const DEFAULT_LIMITS: Readonly<RespLimits> = {
  maxBulkLen: 512 * 1024 * 1024,
  maxMultibulkLen: 2147483647,
  maxInlineLen: 64 * 1024,
  maxDepth: 128,
};

/** Before AUTH, Redis accepts only small requests so an anonymous peer cannot pin memory. */
export const UNAUTHENTICATED_MAX_MULTIBULK = 10;
export const UNAUTHENTICATED_MAX_BULK = 16384;
