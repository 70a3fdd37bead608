import { MAX_TOPIC_LENGTH } from '@fleet/protocol';

/**
 * Subscription patterns: `.`-separated segments, each either a literal of [A-Za-z0-9_-] (the same
 * characters a published topic may use), `*` (exactly one segment) or `#` (zero or more segments,
 * anywhere in the pattern: AMQP topic-exchange rules). README.md lists the rules with examples.
 */
export class PatternError extends Error {
  override readonly name = 'PatternError';
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`invalid subscription pattern ${JSON.stringify(pattern.slice(0, 80))}: ${reason}`);
  }
}

const LITERAL_RE = /^[A-Za-z0-9_-]+$/;

/** Returns null when valid, else the reason. */
export function patternError(pattern: string): string | null {
  if (typeof pattern !== 'string') return 'pattern must be a string';
  if (pattern.length === 0) return 'pattern is empty';
  if (pattern.length > MAX_TOPIC_LENGTH) return `pattern longer than ${MAX_TOPIC_LENGTH} characters`;
  const segments = pattern.split('.');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '*' || s === '#') continue;
    if (s.length === 0) return `segment ${i + 1} is empty (leading, trailing or doubled ".")`;
    if (s.includes('*') || s.includes('#'))
      return `segment ${JSON.stringify(s)}: a wildcard must be a whole segment ("*" or "#")`;
    if (!LITERAL_RE.test(s)) return `segment ${JSON.stringify(s)} has characters other than A-Z a-z 0-9 _ -`;
  }
  return null;
}

/** Validates and splits a pattern into segments; throws PatternError. */
export function parsePattern(pattern: string): string[] {
  const reason = patternError(pattern);
  if (reason) throw new PatternError(String(pattern), reason);
  return pattern.split('.');
}
