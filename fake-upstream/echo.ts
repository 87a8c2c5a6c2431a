/**
 * The model-dispatched routes of llama-swap (as the upstream sees them: `/v/...` without `/v`,
 * `/audioapi/...` without `/audioapi`) that have no behaviour of their own here: each answers 200
 * with what arrived (method, path, query, model, body size and hash, the parsed form), in the
 * shape its clients read where they read one (`text` for a transcription, `data` for images).
 */
import type { Reply } from './http-util.js';
import type { Received } from './received.js';

const POST_PATHS = [
  '/v1/responses',
  '/v1/messages',
  '/v1/messages/count_tokens',
  '/reranking',
  '/rerank',
  '/v1/rerank',
  '/v1/reranking',
  '/infill',
  '/completion',
  '/v1/audio/speech',
  '/v1/audio/voices',
  '/v1/images/generations',
  '/sdapi/v1/txt2img',
  '/sdapi/v1/img2img',
  '/v1/tasks/run',
  '/chat/completions',
  '/responses',
  '/completions',
  '/messages',
  '/messages/count_tokens',
  '/embeddings',
  '/v1/audio/transcriptions',
  '/v1/images/edits',
];
const GET_PATHS = ['/v1/audio/voices', '/sdapi/v1/loras', '/props'];

/** `METHOD /path` keys answered by `echoReply` (a backend's own route of the same key wins). */
export const ECHO_ROUTES: ReadonlySet<string> = new Set([...POST_PATHS.map((path) => `POST ${path}`), ...GET_PATHS.map((path) => `GET ${path}`)]);

export interface EchoRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly model: string | undefined;
  readonly received: Received;
  /** The served model (`--model`). */
  readonly served: string;
}

export function echoReply(request: EchoRequest): Reply {
  const { received } = request;
  const echo = {
    method: request.method,
    path: request.path,
    query: request.query,
    model: request.model ?? null,
    served: request.served,
    contentType: received.contentType ?? null,
    bytes: received.bytes,
    sha256: received.sha256,
    ...(received.form ? { form: received.form } : {}),
    ...(received.formError !== undefined ? { formError: received.formError } : {}),
  };
  const shape =
    request.path.startsWith('/v1/audio/transcriptions') ? { text: `fake transcript of ${received.bytes} bytes` }
    : request.path.startsWith('/v1/images/') ? { created: Math.floor(Date.now() / 1000), data: [{ b64_json: Buffer.from('fake image').toString('base64') }] }
    : {};
  return { status: 200, body: { ...shape, object: 'fake.echo', echo } };
}
