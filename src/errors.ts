// Typed errors mapped to HTTP codes; every error leaves the service as { error: { code, message } }.
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_image'
  | 'image_too_large'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_found'
  | 'unauthorized'
  | 'url_not_allowed'
  | 'fetch_failed'
  | 'path_not_allowed'
  | 'backend_unavailable'
  | 'model_unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_image: 422,
  image_too_large: 413,
  payload_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  unauthorized: 401,
  url_not_allowed: 400,
  fetch_failed: 422,
  path_not_allowed: 400,
  backend_unavailable: 503,
  model_unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.status = STATUS[code];
  }
}

export function errorBody(code: ErrorCode, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
