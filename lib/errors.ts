/**
 * The one error table: every error the gateway can answer with, its HTTP status, its OpenAI error
 * type and a default message. Everything user-visible goes through `GatewayError`.
 */
export const ERROR_TABLE = {
  bad_json: { status: 400, type: 'invalid_request_error', message: 'Request body is not valid JSON' },
  missing_model: { status: 400, type: 'invalid_request_error', message: 'Request does not name a model ("model" in the JSON body, the multipart field or ?model=)' },
  bad_request: { status: 400, type: 'invalid_request_error', message: 'Bad request' },
  unauthorized: { status: 401, type: 'authentication_error', message: 'Invalid or missing API key' },
  forbidden_path: { status: 403, type: 'permission_error', message: 'This upstream path is managed by siesta and cannot be called directly' },
  model_not_found: { status: 404, type: 'invalid_request_error', message: 'Model not found' },
  not_found: { status: 404, type: 'invalid_request_error', message: 'Not found' },
  cannot_sleep: { status: 409, type: 'invalid_request_error', message: 'This model cannot sleep' },
  invalid_state: { status: 409, type: 'invalid_request_error', message: 'The model cannot do that in its current state' },
  body_timeout: { status: 408, type: 'invalid_request_error', message: 'The request body did not arrive in time' },
  body_too_large: { status: 413, type: 'invalid_request_error', message: 'Request body is too large' },
  unsupported_encoding: { status: 415, type: 'invalid_request_error', message: 'Unsupported Content-Encoding (siesta reads gzip, deflate and br)' },
  bad_encoding: { status: 400, type: 'invalid_request_error', message: 'Request body does not decode as its Content-Encoding says' },
  bad_path: { status: 400, type: 'invalid_request_error', message: 'Malformed percent-encoding in the path' },
  too_many_requests: { status: 429, type: 'rate_limit_error', message: 'Too many concurrent requests for this model' },
  internal: { status: 500, type: 'server_error', message: 'Internal gateway error' },
  upstream_failed: { status: 502, type: 'upstream_error', message: 'The model server failed to answer' },
  upstream_timeout: { status: 504, type: 'upstream_error', message: 'The model server did not answer in time' },
  start_failed: { status: 503, type: 'server_error', message: 'The model could not be started' },
  no_target: { status: 503, type: 'server_error', message: 'The selector has no available target' },
  loop_detected: { status: 508, type: 'server_error', message: 'The request was forwarded in a loop between cluster nodes' },
  shutting_down: { status: 503, type: 'server_error', message: 'The gateway is shutting down' },
  client_gone: { status: 499, type: 'invalid_request_error', message: 'The client went away' },
  forbidden_host: { status: 403, type: 'permission_error', message: 'This Host name is not allowed' },
  forbidden_origin: { status: 403, type: 'permission_error', message: 'Cross-site requests may not change the gateway state' },
  admin_remote: { status: 403, type: 'permission_error', message: 'The admin API, logs and status page are open only to clients on this machine while no adminKeys or apiKeys are configured; set adminKeys to use them from another host' },
} as const satisfies Record<string, { status: number; type: string; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * What the logs and admins get beyond `message` (a start failure's command line and log tail):
   * never sent to API clients, whose `message` stays a short reason.
   */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; headers?: Record<string, string>; detail?: string }) {
    const entry = ERROR_TABLE[code];
    super(message ?? entry.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = entry.status;
    this.type = entry.type;
    this.headers = options?.headers ?? {};
    this.detail = options?.detail;
  }

  /** The OpenAI-shaped body. */
  toJSON(): { error: { message: string; type: string; code: ErrorCode } } {
    return { error: { message: this.message, type: this.type, code: this.code } };
  }
}

/**
 * The code for an error thrown by Express or body-parser (http-errors carry `status` and, from
 * body-parser, `type`), or undefined for anything else. Pure; tested as a table.
 */
export function codeOfHttpError(error: unknown): ErrorCode | undefined {
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large' || status === 413) return 'body_too_large';
  if (type === 'entity.parse.failed') return 'bad_json';
  if (type === 'encoding.unsupported' || type === 'charset.unsupported' || status === 415) return 'unsupported_encoding';
  if (type === 'request.aborted') return 'client_gone';
  // Express 5's router answers a path parameter that does not percent-decode with a URIError (status 400).
  if (error instanceof URIError) return 'bad_path';
  // A compressed body that does not decompress: body-parser hands on the zlib error with status 400.
  const code = (error as { code?: unknown } | null)?.code;
  if (status === 400 && typeof code === 'string' && /^(Z_|ERR__)/.test(code)) return 'bad_encoding';
  if (typeof status === 'number' && status >= 400 && status < 500) return 'bad_request';
  return undefined;
}

/** Map anything thrown to a GatewayError (unknown errors become `internal`, keeping the cause). */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = codeOfHttpError(error);
  // body-parser's own messages for these are about its internals ("incorrect header check"): the table's say what to fix.
  if (code === 'body_too_large' || code === 'bad_json' || code === 'client_gone') return new GatewayError(code, undefined, { cause: error });
  if (code === 'bad_encoding' || code === 'bad_path' || code === 'unsupported_encoding') {
    return new GatewayError(code, `${ERROR_TABLE[code].message}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (code === 'bad_request') return new GatewayError(code, error instanceof Error ? error.message : String(error), { cause: error });
  // An unexpected exception: its message (a stack, a path, an internal name) is for the logs; the client gets the table's.
  return new GatewayError('internal', undefined, { cause: error, detail: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
