import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/config/logger.js";
import { REDACTED, redactSecrets } from "../../src/config/redact.js";

const SECRET = "rst_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

describe("redactSecrets", () => {
  it.each([
    [`/graphql?query=x&access_token=${SECRET}&b=1`, "access_token=[REDACTED]&b=1"],
    [`/graphql?access_token%3D${SECRET}`, "access_token%3D[REDACTED]"],
    ["/graphql/stream?token=3b9a7c3e-1f0a-4c5b-9d7e-2a1b0c9d8e7f", "token=[REDACTED]"],
    [`{"authorization":"Bearer ${SECRET}"}`, `{"authorization":"${REDACTED}"}`],
    ["Authorization: Basic dXNlcjpwYXNzd29yZA==", `Authorization: ${REDACTED}`],
    [`a token ${SECRET} in a message`, `a token rst_${REDACTED} in a message`],
  ])("scrubs %s", (text, expected) => {
    const scrubbed = redactSecrets(text);
    expect(scrubbed).toContain(expected);
    expect(scrubbed).not.toContain(SECRET);
  });

  it("leaves text without secrets alone", () => {
    const text = '{"path":"/graphql?query=%7Bruns%7D","status":200,"tokenId":"8277fdf6"}';
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("createLogger", () => {
  it("writes no secret, whether in a URL, a header, a field or an error message", () => {
    let written = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        written += String(chunk);
        done();
      },
    });
    const logger = createLogger("info", "test", sink);
    logger.info({ path: `/graphql?access_token=${SECRET}` }, "request");
    logger.info({ headers: { authorization: `Bearer ${SECRET}` } }, "headers");
    logger.info({ secret: SECRET }, "created a token");
    logger.error({ err: new Error(`bad token ${SECRET}`) }, "failed");
    expect(written.split("\n").filter(Boolean)).toHaveLength(4);
    expect(written).not.toContain(SECRET);
    expect(written).toContain(REDACTED);
  });
});
