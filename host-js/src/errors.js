// The JS error hierarchy, mirroring the Python host's: one root, a class per WIT error code.

export class AgentcellError extends Error {
  constructor(message, { code = 'internal', field = undefined } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.field = field;
  }
}
export class InvalidArgumentError extends AgentcellError {}
export class NotFoundError extends AgentcellError {}
export class StorageError extends AgentcellError {}
export class HttpDeniedError extends AgentcellError {}
export class HttpTimeoutError extends AgentcellError {}
export class HttpError extends AgentcellError {}
export class InternalError extends AgentcellError {}
export class AuthenticationError extends AgentcellError {}
export class RateLimitedError extends AgentcellError {}
export class ServerError extends AgentcellError {}
export class TransportError extends AgentcellError {}
/** The component trapped; the runtime has already replaced the instance. */
export class ComponentTrap extends AgentcellError {}
/** A call ran past a limit (`limit`: 'time' or 'memory') and was stopped; as after a
 * trap, the instance has been replaced and nothing persisted is lost. */
export class ResourceLimitError extends ComponentTrap {
  constructor(message, limit) {
    super(message, { code: 'resource-limit' });
    this.limit = limit;
  }
}
/** A plugin reported a failure: `kind` is 'invalid-input', 'permanent' or 'retryable'. */
export class PluginError extends AgentcellError {
  constructor(message, kind, plugin) {
    super(message, { code: 'plugin' });
    this.kind = kind;
    this.plugin = plugin;
  }
  get retryable() {
    return this.kind === 'retryable';
  }
}

const BY_CODE = {
  'invalid-argument': InvalidArgumentError,
  'not-found': NotFoundError,
  storage: StorageError,
  'http-denied': HttpDeniedError,
  'http-timeout': HttpTimeoutError,
  'http-failed': HttpError,
  internal: InternalError,
  unauthorized: AuthenticationError,
  'rate-limited': RateLimitedError,
  'server-error': ServerError,
  transport: TransportError,
};

/** A WIT `types.error` payload -> the matching exception. */
export function errorFromWit(err) {
  const Cls = BY_CODE[err.code] ?? InternalError;
  const e = new Cls(err.message, { code: err.code, field: err.field });
  if (err.retryAfterMs !== undefined) e.retryAfterMs = err.retryAfterMs;
  return e;
}

/** What an import throws to return a WIT `err` (jco reads `.payload`). */
export class ImportFailure {
  constructor(tag, message) {
    this.payload = { tag, val: message };
  }
}
