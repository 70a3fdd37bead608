import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './schema-walk.js';

/** Where a path of the config sits in the YAML source, for file:line:col in error messages. */
export interface Located {
  /** Offset of the value node (or of the key when the value is empty), if the full path exists. */
  valueOffset?: number;
  /** Offset of the key of the last segment, if it exists. */
  keyOffset?: number;
  /** Offset of the deepest existing ancestor (key, else value), for missing keys. */
  ancestorOffset?: number;
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

export function locate(doc: Document, path: readonly PathSegment[]): Located {
  let node: unknown = resolve(doc, doc.contents);
  let ancestorOffset = (node as Node | null)?.range?.[0];
  let keyOffset: number | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    let next: unknown;
    keyOffset = undefined;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (pair) {
        keyOffset = (pair.key as Node).range?.[0];
        next = resolve(doc, pair.value);
        if (next === null || next === undefined) {
          // `key:` with nothing after it: the key is all there is to point at.
          return i === path.length - 1
            ? { keyOffset, valueOffset: keyOffset, ancestorOffset: keyOffset }
            : { ancestorOffset: keyOffset };
        }
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = resolve(doc, node.items[seg]);
    }
    if (next === undefined || next === null) return { ancestorOffset };
    node = next;
    const start = (node as Node).range?.[0];
    ancestorOffset = keyOffset ?? start ?? ancestorOffset;
  }
  const valueOffset = (node as Node | null)?.range?.[0];
  return { valueOffset, keyOffset, ancestorOffset };
}

export function lineCol(counter: LineCounter, offset: number | undefined): string {
  if (offset === undefined) return '';
  const { line, col } = counter.linePos(offset);
  return `:${line}:${col}`;
}
