/**
 * Secrets must never reach a log: API tokens, `access_token` and stream-token query parameters and
 * Authorization values are replaced wherever they appear in a log line (URLs, headers, messages, error
 * texts), as the last step before the line is written, so no caller can forget it.
 */
export const REDACTED = "[REDACTED]";

/** Query parameters that carry a secret: the EventSource token and graphql-sse's stream token. */
const SECRET_PARAMS = ["access_token", "token"];

const PATTERNS: [RegExp, string][] = [
  // Query parameters, raw or percent-encoded `=`.
  [new RegExp(`([?&](?:${SECRET_PARAMS.join("|")})(?:=|%3D))[^&#\\s"'\\\\]*`, "gi"), `$1${REDACTED}`],
  // Authorization values ("Bearer x", "Basic x", a bare value after the header name).
  [
    /((?:authorization|x-graphql-event-stream-token)"?\s*[:=]\s*"?)(?:(?:Bearer|Basic)\s+)?[^"\s,}]+/gi,
    `$1${REDACTED}`,
  ],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  // An API token anywhere else (rst_ + 32 random bytes in base64url).
  [/rst_[A-Za-z0-9_-]{16,}/g, `rst_${REDACTED}`],
];

export function redactSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return result;
}

/** A URL (or path with query) fit for a log line. */
export const redactUrl = (url: string): string => redactSecrets(url);
