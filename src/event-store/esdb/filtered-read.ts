import { createRequire } from "node:module";
import type {
  AllStreamResolvedEvent,
  EventStoreDBClient,
  Position,
  StreamingRead,
} from "@eventstore/db-client";

/**
 * A read of $all filtered on the server by stream name. Client 6.2.1's `readAll` has no
 * filter option although the server has supported filtered reads since 20.6; without it, reading
 * the events of "run-" streams would scan all of $all on the client, page by page. This builds the
 * same request `readAll` builds, plus the filter, through the client's own (protected) plumbing, so
 * that connection handling, reconnection and error conversion stay the client's.
 */

const require = createRequire(import.meta.url);
// Deep CommonJS modules of the client, loaded the way the client loads them itself.
const streamsPb = require("@eventstore/db-client/generated/streams_pb.js");
const sharedPb = require("@eventstore/db-client/generated/shared_pb.js");
const { StreamsClient } = require("@eventstore/db-client/generated/streams_grpc_pb.js");
const { ReadStream } = require("@eventstore/db-client/dist/streams/utils/ReadStream.js");
const { convertGrpcEvent } = require("@eventstore/db-client/dist/utils/convertGrpcEvent.js");

/** gRPC call metadata and options: passed through untouched. */
type CallArguments = [unknown, unknown];

/** The protected members of the client that `readAll` itself uses. */
interface ClientPlumbing {
  GRPCStreamCreator: (
    client: unknown,
    debugName: string,
    creator: (grpcClient: { read: (request: unknown, ...args: CallArguments) => unknown }) => unknown,
  ) => () => Promise<unknown>;
  callArguments: (options: object, callOptions?: { deadline: number }) => CallArguments;
}

export function supportsFilteredRead(client: EventStoreDBClient): boolean {
  const plumbing = client as unknown as Partial<ClientPlumbing>;
  return typeof plumbing.GRPCStreamCreator === "function" && typeof plumbing.callArguments === "function";
}

export interface FilteredReadOptions {
  /** Inclusive start (the server's read semantics); null for the start of $all (its end backwards). */
  fromPosition: Position | null;
  /** Forwards unless told. */
  direction?: "forwards" | "backwards";
  maxCount: number;
  /** Stream name prefixes, or a regular expression on the stream name. */
  filter: { prefixes: string[] } | { regex: string };
}

export function buildFilteredReadRequest(options: FilteredReadOptions): unknown {
  const request = new streamsPb.ReadReq();
  const readOptions = new streamsPb.ReadReq.Options();
  const uuidOption = new streamsPb.ReadReq.Options.UUIDOption();
  uuidOption.setString(new sharedPb.Empty());
  const allOptions = new streamsPb.ReadReq.Options.AllOptions();
  if (options.fromPosition) {
    const position = new streamsPb.ReadReq.Options.Position();
    position.setCommitPosition(options.fromPosition.commit.toString(10));
    position.setPreparePosition(options.fromPosition.prepare.toString(10));
    allOptions.setPosition(position);
  } else if (options.direction === "backwards") {
    allOptions.setEnd(new sharedPb.Empty());
  } else {
    allOptions.setStart(new sharedPb.Empty());
  }
  readOptions.setAll(allOptions);
  readOptions.setResolveLinks(false);
  readOptions.setCount(String(options.maxCount));
  readOptions.setUuidOption(uuidOption);
  const expression = new streamsPb.ReadReq.Options.FilterOptions.Expression();
  if ("prefixes" in options.filter) expression.setPrefixList(options.filter.prefixes);
  else expression.setRegex(options.filter.regex);
  const filterOptions = new streamsPb.ReadReq.Options.FilterOptions();
  filterOptions.setStreamIdentifier(expression);
  // No search window: the server reads on until it has `maxCount` matches or reaches the end.
  filterOptions.setCount(new sharedPb.Empty());
  filterOptions.setCheckpointintervalmultiplier(1);
  readOptions.setFilter(filterOptions);
  readOptions.setReadDirection(options.direction === "backwards" ? 1 : 0);
  request.setOptions(readOptions);
  return request;
}

export function readAllFiltered(
  client: EventStoreDBClient,
  options: FilteredReadOptions,
): StreamingRead<AllStreamResolvedEvent> {
  if (!supportsFilteredRead(client)) {
    throw new Error(
      "@eventstore/db-client internals changed: filtered $all reads need an update of filtered-read.ts",
    );
  }
  const plumbing = client as unknown as ClientPlumbing;
  const request = buildFilteredReadRequest(options);
  const createGrpcStream = plumbing.GRPCStreamCreator(StreamsClient, "readAll", (grpcClient) =>
    grpcClient.read(request, ...plumbing.callArguments({}, { deadline: Number.POSITIVE_INFINITY })),
  );
  return new ReadStream(createGrpcStream, convertGrpcEvent, {});
}
