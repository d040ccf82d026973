import type { IncomingMessage } from "node:http";
import type { ErrorCode } from "../shared/error-codes.js";

/**
 * Refuses a request body over `maxBytes` before anything reads it, from its Content-Length. A body
 * without one (chunked) is refused too: its size is unknown until read, and every GraphQL client
 * (fetch, browsers, graphql-sse) sends the length of the JSON it posts.
 */
export function bodyTooLarge(
  req: IncomingMessage,
  maxBytes: number,
): { status: number; body: { errors: { message: string; extensions: { code: ErrorCode } }[] } } | null {
  const refuse = (status: number, message: string) => ({
    status,
    body: { errors: [{ message, extensions: { code: "BAD_USER_INPUT" as const } }] },
  });
  const length = req.headers["content-length"];
  if (length !== undefined) {
    const bytes = Number(length);
    return bytes > maxBytes
      ? refuse(413, `The request body is ${bytes} bytes; at most ${maxBytes} are allowed.`)
      : null;
  }
  if (req.headers["transfer-encoding"] !== undefined) {
    return refuse(411, "A request body needs a Content-Length header.");
  }
  return null;
}
