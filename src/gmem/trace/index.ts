/** Traces: the access type and cursors, generators, specs, CSV and binary files. */
export {
  arrayCursor,
  checkAccess,
  collect,
  copyAccess,
  CPU as TRACE_CPU,
  DEFAULT_ACCESS_SIZE,
  isTraceName,
  iterate,
  MAX_ACCESS_SIZE,
  newAccess,
} from "./types.js";
export type { TraceAccess, TraceCursor, TraceOp } from "./types.js";
export { hotSet, mix, sequential, strided, uniform } from "./generators.js";
export type {
  CommonOptions,
  HotSetOptions,
  MixOptions,
  RegionOptions,
  SequentialOptions,
  StridedOptions,
  UniformOptions,
} from "./generators.js";
export { bytesToHex, formatCsvTrace, formatProblem, parseCsvTrace } from "./csv.js";
export type { CsvTraceOptions, CsvTraceResult, TraceProblem } from "./csv.js";
export {
  BINARY_TRACE_MAGIC,
  BINARY_TRACE_VERSION,
  decodeBinaryTrace,
  encodeBinaryTrace,
  isBinaryTrace,
  openBinaryTrace,
} from "./binary.js";
export type { BinaryTrace } from "./binary.js";
export {
  checkTraceSpec,
  DEFAULT_TRACE_START,
  DEFAULT_TRACE_WHO,
  formatTraceSpec,
  generateTrace,
  parseCount,
  parseTraceSpec,
  TRACE_KINDS,
} from "./spec.js";
export type { GeneratedTrace, TraceBounds, TraceKind, TraceSpec } from "./spec.js";
export { openTrace, scanBounds } from "./open.js";
export type { OpenedTrace, OpenTraceOptions, RefusedTrace } from "./open.js";
