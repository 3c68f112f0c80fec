/**
 * Finding where a path of a parsed YAML (or JSON) document was written: the node at
 * `["steps", 3, "size"]`, or, when the key is missing, the map that should hold it; or the key
 * itself (for unknown keys). Keys a merge (`<<: *base`) brings in are found where the merged map
 * writes them. Positions are 1-based line and column.
 */
import type { Document, LineCounter, Node, Pair, Scalar, YAMLMap } from "yaml";
import { isAlias, isMap, isNode, isScalar, isSeq } from "yaml";

/** A 1-based line and column. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** What a path leads to in a document. */
interface Found {
  /** The deepest node reached (the value at the path if `complete`). */
  node: Node | undefined;
  /** The key node of the last map entry reached, if the last step went through a map. */
  key: Node | undefined;
  /** True if every segment of the path was found. */
  complete: boolean;
}

/** The map a merge source stands for (`*base`, or a map written in place), if it is one. */
function mergeSource(doc: Document, node: unknown): YAMLMap | undefined {
  const target = isAlias(node) ? node.resolve(doc) : node;
  return isMap(target) ? target : undefined;
}

/**
 * The entry of `key` in a map: its own, else the one a merge key (`<<: *base`, `<<: [*a, *b]`)
 * brings in, the first source first, as YAML 1.1 merges. `seen` stops an alias cycle.
 */
function findPair(
  doc: Document,
  map: YAMLMap,
  key: string,
  seen: Set<YAMLMap> = new Set(),
): Pair | undefined {
  if (seen.has(map)) return undefined;
  seen.add(map);
  const own = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  if (own !== undefined) return own;
  for (const p of map.items) {
    if (!isMergeKey(p.key)) continue;
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (const source of sources) {
      const m = mergeSource(doc, source);
      const found = m !== undefined ? findPair(doc, m, key, seen) : undefined;
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The key of a YAML merge (`<<: *base`). */
export const MERGE_KEY = "<<";

/** True for the key of a merge: `<<` (a symbol once `merge: true` parsed it). */
export function isMergeKey(key: unknown): key is Scalar {
  if (!isScalar(key)) return false;
  const v = key.value;
  return v === MERGE_KEY || (typeof v === "symbol" && v.description === MERGE_KEY);
}

function walk(doc: Document, path: ReadonlyArray<PropertyKey>): Found {
  let node: unknown = doc.contents;
  let key: Node | undefined;
  let last: Node | undefined = isNode(node) ? node : undefined;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown = undefined;
    key = undefined;
    if (isMap(node)) {
      const pair = findPair(doc, node, String(seg));
      if (pair !== undefined) {
        key = isNode(pair.key) ? pair.key : undefined;
        const value = pair.value;
        // `key:` with no value: the key is the best place to point at.
        const empty =
          !isNode(value) ||
          value.range == null ||
          (isScalar(value) && value.value === null && value.range[0] === value.range[1]);
        next = empty ? key : value;
      }
    } else if (isSeq(node) && typeof seg === "number") {
      next = node.items[seg];
    }
    if (!isNode(next)) return { node: last, key: undefined, complete: false };
    node = next;
    last = next;
  }
  return { node: last, key, complete: true };
}

/**
 * Where a document locates the value at `path`. When `onKey`, the key of the last segment (for
 * an unknown key). When the path runs past what the document holds (a missing key), the
 * deepest node that exists — the map that misses the key. Falls back to 1:1.
 */
export function locate(
  doc: Document,
  lineCounter: LineCounter,
  path: ReadonlyArray<PropertyKey>,
  onKey = false,
): Position {
  const found = walk(doc, path);
  const node = onKey && found.complete && found.key !== undefined ? found.key : found.node;
  const offset = node?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** The node at `path` when the document holds every segment of it (aliases resolved). */
export function nodeAt(doc: Document, path: ReadonlyArray<PropertyKey>): Node | undefined {
  const found = walk(doc, path);
  const node = found.complete ? found.node : undefined;
  return isAlias(node) ? (node.resolve(doc) ?? undefined) : node;
}

/** The position of a character offset in the text. */
export function positionOf(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
