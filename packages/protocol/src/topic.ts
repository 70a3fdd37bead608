import { ErrorCode, ProtocolError } from './errors.js';

/**
 * Published topics: 1-255 bytes, `.`-separated non-empty segments of [A-Za-z0-9_-].
 * Wildcards (`*`, `#`) belong to subscriptions only and are rejected here.
 */
export const MAX_TOPIC_LENGTH = 255;
const TOPIC_RE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Returns null when valid, else the reason. */
export function topicError(topic: string): string | null {
  if (topic.length === 0) return 'topic is empty';
  if (topic.length > MAX_TOPIC_LENGTH) return `topic longer than ${MAX_TOPIC_LENGTH} characters`;
  if (topic.includes('*') || topic.includes('#'))
    return 'wildcards (* and #) are not allowed in published topics';
  if (!TOPIC_RE.test(topic))
    return 'topic segments must be non-empty and use only A-Z a-z 0-9 _ -, separated by "."';
  return null;
}

export function assertValidTopic(topic: string): void {
  const reason = topicError(topic);
  if (reason)
    throw new ProtocolError(
      ErrorCode.INVALID_TOPIC,
      `invalid topic ${JSON.stringify(topic.slice(0, 64))}: ${reason}`,
    );
}
