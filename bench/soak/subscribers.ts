/**
 * The soak bench's subscribers, in a process of their own: each follows one run's `runEvents` over
 * SSE (raw `http`, no client library), from revision 0 to the run's final event, then moves to another
 * run. Streams are cut at random and resumed with `after` = the last revision seen; a share of them are
 * slow readers (their socket paused for seconds at a time). Every stream must be exactly revisions
 * 0, 1, 2, ... up to a terminal event: anything else counts as a gap or a repeat.
 *
 * Messages (see ../fanout/child.ts): `start` {url, token, count, slowShare, cutEverySeconds} →
 * `started`; `runs` {runIds} → `runs-added`, runs to follow; `stats` → counters; `drain` → stop cutting, wait
 * (up to `timeoutMs`) until every subscriber finished its run → `drained` with counters.
 */
import http from "node:http";
import { type ChildMessage, serveParent } from "../fanout/child.js";

const RUN_EVENTS =
  "subscription ($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { revision type } }";
const TERMINAL = new Set(["RunCompleted", "RunFailed", "RunCancelled"]);

interface Settings {
  url: string;
  token: string;
  count: number;
  slowShare: number;
  cutEverySeconds: number;
}

interface Subscriber {
  slow: boolean;
  runId: string | null;
  last: number;
  request: http.ClientRequest | null;
  rest: string;
  finished: boolean;
}

let settings: Settings;
const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const subscribers: Subscriber[] = [];
/** Recent runs to follow; subscribers pick among the newest, so many share a run. */
const runs: string[] = [];
let draining = false;
const counters = { received: 0, gaps: 0, repeats: 0, streamsVerified: 0, cuts: 0, resumes: 0, pauses: 0 };
const errorCodes: Record<string, number> = {};

const random = (min: number, max: number) => min + Math.random() * (max - min);

function pickRun(subscriber: Subscriber): void {
  const recent = runs.slice(-50);
  subscriber.runId = recent.length > 0 ? (recent[Math.floor(Math.random() * recent.length)] as string) : null;
  subscriber.last = -1;
  subscriber.finished = false;
  if (subscriber.runId) connect(subscriber);
  else setTimeout(() => pickRun(subscriber), 500);
}

function onEvent(
  subscriber: Subscriber,
  payload: {
    data?: { runEvents?: { revision: number; type: string } };
    errors?: { extensions?: { code?: string } }[];
  },
): void {
  const error = payload.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? "UNKNOWN";
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    return;
  }
  const event = payload.data?.runEvents;
  if (!event) return;
  counters.received++;
  if (event.revision <= subscriber.last) counters.repeats++;
  else if (event.revision > subscriber.last + 1) counters.gaps++;
  subscriber.last = Math.max(subscriber.last, event.revision);
  if (TERMINAL.has(event.type)) {
    counters.streamsVerified++;
    subscriber.finished = true;
    subscriber.request?.destroy();
    subscriber.request = null;
    if (!draining) pickRun(subscriber);
  }
}

function connect(subscriber: Subscriber): void {
  const body = JSON.stringify({
    query: RUN_EVENTS,
    variables: { runId: subscriber.runId, after: subscriber.last >= 0 ? subscriber.last : null },
  });
  const request = http.request(settings.url, {
    method: "POST",
    agent,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      accept: "text/event-stream",
      authorization: `Bearer ${settings.token}`,
    },
  });
  subscriber.request = request;
  subscriber.rest = "";
  request.on("response", (response) => {
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      const text = subscriber.rest + chunk;
      const end = text.lastIndexOf("\n\n");
      if (end < 0) {
        subscriber.rest = text;
        return;
      }
      subscriber.rest = text.slice(end + 2);
      for (const frame of text.slice(0, end).split("\n\n")) {
        const data = frame.split("\n").find((line) => line.startsWith("data:"));
        if (data && frame.includes("event: next")) onEvent(subscriber, JSON.parse(data.slice(5)));
        if (subscriber.request !== request) return;
      }
    });
    if (subscriber.slow) pauseNowAndThen(subscriber, request, response);
    // The server ended the stream (slow consumer, maximum duration): resume from the last revision.
    response.on("end", () => reconnectLater(subscriber, request));
  });
  request.on("error", () => reconnectLater(subscriber, request));
  request.end(body);
}

function pauseNowAndThen(
  subscriber: Subscriber,
  request: http.ClientRequest,
  response: http.IncomingMessage,
): void {
  const timer = setTimeout(
    () => {
      if (subscriber.request !== request) return;
      counters.pauses++;
      response.pause();
      setTimeout(
        () => {
          response.resume();
          pauseNowAndThen(subscriber, request, response);
        },
        random(1_000, 4_000),
      );
    },
    random(2_000, 6_000),
  );
  timer.unref();
}

function reconnectLater(subscriber: Subscriber, request: http.ClientRequest): void {
  if (subscriber.request !== request || subscriber.finished) return;
  subscriber.request = null;
  counters.resumes++;
  // The server ended it (or refused it): a little backoff, so a refusal does not become a storm.
  setTimeout(() => connect(subscriber), random(200, 1_000));
}

function cutNowAndThen(subscriber: Subscriber): void {
  setTimeout(
    () => {
      if (draining) return;
      const request = subscriber.request;
      if (request && !subscriber.finished) {
        counters.cuts++;
        subscriber.request = null;
        request.destroy();
        setTimeout(() => connect(subscriber), random(0, 300));
      }
      cutNowAndThen(subscriber);
    },
    random(0.5, 1.5) * settings.cutEverySeconds * 1_000,
  );
}

const stats = (): ChildMessage => ({
  type: "stats",
  ...counters,
  errorCodes,
  open: subscribers.filter((subscriber) => subscriber.request).length,
  unfinished: subscribers.filter((subscriber) => subscriber.runId && !subscriber.finished).length,
});

serveParent(async (message) => {
  switch (message.type) {
    case "start": {
      settings = message as unknown as Settings;
      for (let index = 0; index < settings.count; index++) {
        const subscriber: Subscriber = {
          slow: index < settings.count * settings.slowShare,
          runId: null,
          last: -1,
          request: null,
          rest: "",
          finished: false,
        };
        subscribers.push(subscriber);
        // Spread the first subscribes over a second rather than 500 at once.
        setTimeout(() => pickRun(subscriber), random(0, 1_000));
        cutNowAndThen(subscriber);
      }
      return { type: "started" };
    }
    case "runs":
      runs.push(...(message.runIds as string[]));
      return { type: "runs-added" };
    case "stats":
      return stats();
    case "drain": {
      draining = true;
      const deadline = Date.now() + Number(message.timeoutMs);
      while (subscribers.some((s) => s.runId && !s.finished) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      for (const subscriber of subscribers) subscriber.request?.destroy();
      return { ...stats(), type: "drained" };
    }
    case "stop":
      process.exit(0);
      return null;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
});
