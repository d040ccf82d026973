import { GraphQLError, Kind, valueFromASTUntyped } from "graphql";
import { builder } from "./builder.js";

builder.scalarType("JSON", {
  description: "Any JSON value",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node, variables) => valueFromASTUntyped(node, variables),
});

function parseDate(value: unknown): Date {
  const date = typeof value === "string" ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError(`DateTime must be an ISO 8601 string, got ${JSON.stringify(value)}`);
  }
  return date;
}

builder.scalarType("DateTime", {
  description: "An instant, as an ISO 8601 string in UTC with milliseconds",
  serialize: (value) => (value instanceof Date ? value.toISOString() : parseDate(value).toISOString()),
  parseValue: parseDate,
  parseLiteral: (node) => {
    if (node.kind !== Kind.STRING) throw new GraphQLError("DateTime must be a string");
    return parseDate(node.value);
  },
});
