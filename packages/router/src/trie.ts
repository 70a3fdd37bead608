import type { Subscription } from './types.js';

/**
 * Subscriptions indexed by pattern segment. Matching walks the topic's segments down literal, `*` and
 * `#` children, so its cost follows the topic's length and the wildcards on its path, not the number
 * of subscriptions. `#` can consume any number of segments; remembering the (`#` node, position) states
 * already explored keeps patterns with several `#` from exploring a state twice (and from matching a
 * subscription twice).
 */
interface Node {
  readonly id: number;
  readonly children: Map<string, Node>;
  star: Node | undefined;
  hash: Node | undefined;
  subs: Subscription[];
  readonly parent: Node | undefined;
  readonly key: string;
  /** `#` nodes: positions already explored by the match of stamp `epoch`. */
  epoch: number;
  mask: number;
}

export class SubscriptionTrie {
  private nextNodeId = 0;
  private readonly root: Node = this.node(undefined, '');
  /** Stamp of the latest match (see firstVisitOfHash). */
  private epoch = 0;

  private node(parent: Node | undefined, key: string): Node {
    return {
      id: this.nextNodeId++,
      children: new Map(),
      star: undefined,
      hash: undefined,
      subs: [],
      parent,
      key,
      epoch: 0,
      mask: 0,
    };
  }

  insert(segments: readonly string[], sub: Subscription): void {
    let n = this.root;
    for (const seg of segments) {
      let next: Node | undefined;
      if (seg === '*') {
        next = n.star ??= this.node(n, seg);
      } else if (seg === '#') {
        next = n.hash ??= this.node(n, seg);
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
      else if (cur.key === '#') p.hash = undefined;
      else p.children.delete(cur.key);
      cur = p;
    }
  }

  /** Subscriptions whose pattern matches the topic's segments (unordered, each once). */
  match(segments: readonly string[]): Subscription[] {
    const out: Subscription[] = [];
    const state: MatchState = { segments, out, epoch: ++this.epoch, seen: undefined };
    visit(this.root, 0, state);
    return out;
  }
}

interface MatchState {
  segments: readonly string[];
  out: Subscription[];
  /** Stamp of this match in the `#` nodes it entered. */
  epoch: number;
  /** (node, position) of `#` states for topics too long for the per-node bitmask. */
  seen: Set<number> | undefined;
}

/**
 * Only `#` can consume a varying number of segments, so a state (node, i) can be reached twice only
 * through a `#` node: recording the (`#` node, position) states entered is enough to explore each state
 * once. Positions below 31 live in a bitmask stamped with the match's epoch (no allocation per match).
 */
function firstVisitOfHash(node: Node, i: number, st: MatchState): boolean {
  if (i < 31) {
    if (node.epoch !== st.epoch) {
      node.epoch = st.epoch;
      node.mask = 0;
    }
    const bit = 1 << i;
    if (node.mask & bit) return false;
    node.mask |= bit;
    return true;
  }
  st.seen ??= new Set();
  const key = node.id * 512 + i;
  if (st.seen.has(key)) return false;
  st.seen.add(key);
  return true;
}

function visit(node: Node, i: number, st: MatchState): void {
  const n = st.segments.length;
  if (node.hash) {
    const h = node.hash;
    for (let j = i; j <= n; j++) if (firstVisitOfHash(h, j, st)) visit(h, j, st);
  }
  if (i === n) {
    for (const s of node.subs) st.out.push(s);
    return;
  }
  const child = node.children.get(st.segments[i]!);
  if (child) visit(child, i + 1, st);
  if (node.star) visit(node.star, i + 1, st);
}
