import type { Subscription } from './types.js';

/**
 * Subscriptions indexed by pattern segment. Matching walks the topic's segments down literal, `*` and
 * `#` children, so its cost follows the topic's length and the wildcards on its path, not the number
 * of subscriptions. `#` can consume any number of segments; a (node, position) visited set keeps
 * patterns with several `#` from exploring the same state twice (and from matching a subscription twice).
 */
interface Node {
  readonly id: number;
  readonly children: Map<string, Node>;
  star: Node | undefined;
  hash: Node | undefined;
  subs: Subscription[];
  readonly parent: Node | undefined;
  readonly key: string;
}

export class SubscriptionTrie {
  private nextNodeId = 0;
  private readonly root: Node = this.node(undefined, '');
  /** Number of `#` nodes: without any, no (node, position) state can be reached twice. */
  private hashNodes = 0;

  private node(parent: Node | undefined, key: string): Node {
    return { id: this.nextNodeId++, children: new Map(), star: undefined, hash: undefined, subs: [], parent, key };
  }

  insert(segments: readonly string[], sub: Subscription): void {
    let n = this.root;
    for (const seg of segments) {
      let next: Node | undefined;
      if (seg === '*') {
        next = n.star ??= this.node(n, seg);
      } else if (seg === '#') {
        if (!n.hash) {
          n.hash = this.node(n, seg);
          this.hashNodes++;
        }
        next = n.hash;
      } else {
        next = n.children.get(seg);
        if (!next) {
          next = this.node(n, seg);
          n.children.set(seg, next);
        }
      }
      n = next;
    }
    n.subs.push(sub);
  }

  remove(segments: readonly string[], sub: Subscription): boolean {
    let n: Node | undefined = this.root;
    for (const seg of segments) {
      n = seg === '*' ? n.star : seg === '#' ? n.hash : n.children.get(seg);
      if (!n) return false;
    }
    const i = n.subs.indexOf(sub);
    if (i < 0) return false;
    n.subs.splice(i, 1);
    this.prune(n);
    return true;
  }

  /** Drops nodes left without subscriptions or children (keeps churn from growing the trie). */
  private prune(n: Node): void {
    let cur: Node | undefined = n;
    while (cur?.parent && cur.subs.length === 0 && cur.children.size === 0 && !cur.star && !cur.hash) {
      const p: Node = cur.parent;
      if (cur.key === '*') p.star = undefined;
      else if (cur.key === '#') {
        p.hash = undefined;
        this.hashNodes--;
      } else p.children.delete(cur.key);
      cur = p;
    }
  }

  /** Subscriptions whose pattern matches the topic's segments (unordered, each once). */
  match(segments: readonly string[]): Subscription[] {
    const out: Subscription[] = [];
    const visited = this.hashNodes > 0 ? new Set<number>() : undefined;
    visit(this.root, 0, segments, out, visited);
    return out;
  }
}

function visit(
  node: Node,
  i: number,
  segments: readonly string[],
  out: Subscription[],
  visited: Set<number> | undefined,
): void {
  const n = segments.length;
  if (visited) {
    const key = node.id * (n + 1) + i;
    if (visited.has(key)) return;
    visited.add(key);
  }
  if (node.hash) for (let j = i; j <= n; j++) visit(node.hash, j, segments, out, visited);
  if (i === n) {
    for (const s of node.subs) out.push(s);
    return;
  }
  const child = node.children.get(segments[i]!);
  if (child) visit(child, i + 1, segments, out, visited);
  if (node.star) visit(node.star, i + 1, segments, out, visited);
}
