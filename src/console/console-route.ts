import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { CONSOLE_DIST } from "./console-dist.js";

export const CONSOLE_PATH = "/console";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/**
 * Same origin only, no inline script or style: the page can load its own files and talk to its own
 * API, nothing else. The token lives in sessionStorage, so an injected script is what this guards.
 */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const FILES = new Set(["index.html", "app.js", "app.js.map", "console.css"]);

/** Serves the built console (see build-console.ts) under /console; files are read once and kept. */
export function createConsoleHandler(dir = CONSOLE_DIST) {
  const cache = new Map<string, Promise<Buffer | null>>();
  const load = (file: string) => {
    let loaded = cache.get(file);
    if (!loaded) {
      loaded = readFile(path.join(dir, file)).catch(() => null);
      cache.set(file, loaded);
    }
    return loaded;
  };

  return async function serveConsole(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (pathname === CONSOLE_PATH) {
      res.writeHead(308, { location: `${CONSOLE_PATH}/` }).end();
      return;
    }
    const name = pathname.slice(CONSOLE_PATH.length + 1) || "index.html";
    if (!FILES.has(name)) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    const body = await load(name);
    if (!body) {
      // Built by `npm install` (prepare); a checkout that skipped it gets told how.
      res
        .writeHead(503, { "content-type": "text/plain; charset=utf-8" })
        .end("the console is not built: run `npm run build:console`\n");
      cache.delete(name);
      return;
    }
    res.writeHead(200, {
      "content-type": CONTENT_TYPES[path.extname(name)] ?? "application/octet-stream",
      "content-length": body.length,
      ...SECURITY_HEADERS,
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}
