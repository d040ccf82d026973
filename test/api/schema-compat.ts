import {
  buildSchema,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
} from "graphql";

/**
 * Problems that stop `actual` from serving clients written against `contract`: every type, field,
 * argument and enum value of the contract must exist with a compatible type. Output types may be
 * stricter (non-null where the contract allows null); arguments may be looser (optional where the
 * contract requires them), and added arguments must be optional.
 */
export function contractProblems(
  contractSdl: string,
  actual: GraphQLSchema,
  skip: ReadonlySet<string> = new Set(),
): string[] {
  const contract = buildSchema(contractSdl);
  const problems: string[] = [];
  for (const expected of Object.values(contract.getTypeMap())) {
    if (expected.name.startsWith("__") || skip.has(expected.name)) continue;
    const found = actual.getType(expected.name);
    if (!found) {
      problems.push(`type ${expected.name} is missing`);
      continue;
    }
    if (isScalarType(expected)) {
      if (!isScalarType(found)) problems.push(`${expected.name} is not a scalar`);
    } else if (isEnumType(expected)) {
      if (!isEnumType(found)) problems.push(`${expected.name} is not an enum`);
      else {
        const values = new Set(found.getValues().map((value) => value.name));
        for (const value of expected.getValues()) {
          if (!values.has(value.name)) problems.push(`enum value ${expected.name}.${value.name} is missing`);
        }
      }
    } else if (isObjectType(expected) || isInterfaceType(expected)) {
      if (!isObjectType(found) && !isInterfaceType(found)) {
        problems.push(`${expected.name} is not an object type`);
        continue;
      }
      const fields = found.getFields();
      for (const field of Object.values(expected.getFields())) {
        const coordinate = `${expected.name}.${field.name}`;
        if (skip.has(coordinate)) continue;
        const actualField = fields[field.name];
        if (!actualField) problems.push(`field ${coordinate} is missing`);
        else problems.push(...fieldProblems(coordinate, field, actualField));
      }
    } else if (isUnionType(expected) || isInputObjectType(expected)) {
      problems.push(`${expected.name}: this check does not compare unions or input objects yet`);
    }
  }
  return problems;
}

function fieldProblems(
  coordinate: string,
  expected: GraphQLField<unknown, unknown>,
  actual: GraphQLField<unknown, unknown>,
): string[] {
  const problems: string[] = [];
  if (!outputCompatible(expected.type, actual.type)) {
    problems.push(`${coordinate} is ${actual.type}, the contract needs ${expected.type}`);
  }
  const actualArgs = new Map(actual.args.map((arg) => [arg.name, arg]));
  for (const arg of expected.args) {
    const found = actualArgs.get(arg.name);
    if (!found) problems.push(`argument ${coordinate}(${arg.name}) is missing`);
    else if (!inputCompatible(arg.type, found.type)) {
      problems.push(`argument ${coordinate}(${arg.name}) is ${found.type}, the contract needs ${arg.type}`);
    }
  }
  const known = new Set(expected.args.map((arg) => arg.name));
  for (const extra of actual.args.filter((arg: GraphQLArgument) => !known.has(arg.name))) {
    if (isNonNullType(extra.type) && extra.defaultValue === undefined) {
      problems.push(`argument ${coordinate}(${extra.name}) is required but not in the contract`);
    }
  }
  return problems;
}

/** A client expecting `expected` can read a value of type `actual`. */
function outputCompatible(expected: GraphQLOutputType, actual: GraphQLOutputType): boolean {
  if (isNonNullType(expected))
    return isNonNullType(actual) && outputCompatible(expected.ofType, actual.ofType);
  if (isNonNullType(actual)) return outputCompatible(expected, actual.ofType);
  if (isListType(expected)) return isListType(actual) && outputCompatible(expected.ofType, actual.ofType);
  return !isListType(actual) && expected.name === actual.name;
}

/** A client sending `expected` sends something `actual` accepts. */
function inputCompatible(expected: GraphQLInputType, actual: GraphQLInputType): boolean {
  if (isNonNullType(actual))
    return isNonNullType(expected) && inputCompatible(expected.ofType, actual.ofType);
  if (isNonNullType(expected)) return inputCompatible(expected.ofType, actual);
  if (isListType(expected)) return isListType(actual) && inputCompatible(expected.ofType, actual.ofType);
  return !isListType(actual) && expected.name === actual.name;
}
