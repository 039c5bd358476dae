import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";

/**
 * Credentials must never reach a log line: a failing InfluxDB request carries its `Authorization: Basic` header on the
 * error the `influx` package throws, a URL may hold `user:password@` or `?u=…&p=…`. Everything the hub logs goes
 * through these serializers (`err`, `error`) and its messages through `redactText`.
 */
const TEXT_PATTERNS: [RegExp, string][] = [
  [/\b(authorization\s*[:=]\s*"?)(basic|bearer|token)\s+[^\s"',}]+/gi, "$1$2 [redacted]"],
  [/\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}/gi, "$1 [redacted]"],
  [/([?&](?:u|p|password|token|secret)=)[^&\s"']*/gi, "$1[redacted]"],
  [/(\/\/[^/\s:@"']+):[^@\s/"']+@/g, "$1:[redacted]@"],
  [/\bhubtk_[A-Za-z0-9_-]+/g, "hubtk_[redacted]"],
  [/(WITH PASSWORD\s+)'(?:[^'\\]|\\.)*'/gi, "$1'[redacted]'"],
];

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of TEXT_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Keys whose values are secrets, and keys that hold whole requests (headers, auth options): never logged. */
const SECRET_KEY = /^(authorization|password|passwd|pass|secret|secrets|token|auth|servicesecret|_header|cookie|proxy-authorization)$/i;
const REQUEST_KEY = /^(req|res|request|response|options|agent|socket|_events|headers)$/i;

/** An error as the log shows it: type, message, stack, code and status; never the request or options it carries. */
export function safeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: redactText(String(error)) };
  const e = error as Error & { code?: unknown; status?: unknown; statusCode?: unknown; cause?: unknown };
  return {
    type: e.constructor?.name ?? "Error",
    message: redactText(e.message),
    ...(e.stack ? { stack: redactText(e.stack) } : {}),
    ...(typeof e.code === "string" || typeof e.code === "number" ? { code: e.code } : {}),
    ...(typeof e.status === "number" ? { status: e.status } : {}),
    ...(typeof e.statusCode === "number" ? { statusCode: e.statusCode } : {}),
    ...(e.cause !== undefined ? { cause: e.cause instanceof Error ? safeError(e.cause) : redactValue(e.cause, 1) } : {}),
  };
}

/** Any value with its secrets taken out (depth-limited: a log line is not a dump). */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (value instanceof Error) return safeError(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 4) return "[…]";
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) out[key] = "[redacted]";
    else if (!REQUEST_KEY.test(key)) out[key] = redactValue(v, depth + 1);
  }
  return out;
}

/** pino options that keep credentials out of every line: serializers for errors, redaction of messages. */
export const SAFE_LOG_OPTIONS: Pick<LoggerOptions, "serializers" | "hooks"> = {
  serializers: { err: safeError, error: (v: unknown) => redactValue(v) },
  hooks: {
    logMethod(args, method) {
      const cleaned = args.map((a) => (typeof a === "string" ? redactText(a) : a)) as typeof args;
      method.apply(this, cleaned);
    },
  },
};

/** The hub's logger: pino with SAFE_LOG_OPTIONS. */
export function createHubLogger(level: string, destination?: DestinationStream): Logger {
  return destination ? pino({ level, ...SAFE_LOG_OPTIONS }, destination) : pino({ level, ...SAFE_LOG_OPTIONS });
}

/** Any logger handed to the hub, given the same serializers (hooks cannot be added to a child). */
export function safeLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: SAFE_LOG_OPTIONS.serializers });
}
