// Stand-ins for the few `twenty-shared` helpers the pipeline code calls.

export const isDefined = <T>(value: T | null | undefined): value is T => value !== null && value !== undefined;

export const isNonEmptyArray = <T>(value: T[] | null | undefined): value is T[] =>
  Array.isArray(value) && value.length > 0;
