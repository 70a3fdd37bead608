import type { StoredMessage } from '@fleet/store';

/**
 * The ops server's HTML pages: /ops (the index) and /ops/dead-letters.html (the dead letters, which live in
 * Postgres and so never show in Bull Board). Read-only, no script, every value escaped; served behind the
 * same basic auth as the rest of the ops server. Replay and purge stay with the JSON endpoints and the CLI.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.err{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-word}
.muted{color:#666}form{margin:.5rem 0 1rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><p class="muted"><a href="/ops">Fleet ops</a></p><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

/** /ops: where each ops view is. */
export function opsIndexPage(): string {
  return page(
    'Fleet ops',
    `<ul>
<li><a href="/ops/queues">Bull Board</a>: the BullMQ queues and their jobs</li>
<li><a href="/ops/dead-letters.html">Dead letters</a>: messages that went DEAD (kept in Postgres); JSON at <a href="/ops/dead-letters">/ops/dead-letters</a></li>
<li><a href="/metrics">/metrics</a> (Prometheus), <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul>`,
  );
}

export interface DeadLettersPageInput {
  rows: StoredMessage[];
  total: { n: number; exact: boolean };
  limit: number;
  topic?: string;
}

/** /ops/dead-letters.html: the most recent dead letters as a table, with the total and a topic filter. */
export function deadLettersPage(d: DeadLettersPageInput): string {
  const n = Math.max(d.total.n, d.rows.length);
  const count = `${d.total.exact ? '' : 'at least '}${n.toLocaleString('en-US')}`;
  const on = d.topic ? ` on topic <code>${escapeHtml(d.topic)}</code>` : '';
  const summary =
    n === 0
      ? `No dead letters${on}.`
      : `${count} dead letter${n === 1 ? '' : 's'}${on}; the ${d.rows.length.toLocaleString('en-US')} most recent below.`;
  const rows = d.rows
    .map(
      (r) =>
        `<tr><td><code>${escapeHtml(r.id)}</code></td><td>${escapeHtml(r.topic)}</td><td>${r.retryCount}</td>` +
        `<td>${escapeHtml(r.updatedAt.toISOString())}</td><td class="err">${escapeHtml(r.lastError ?? '')}</td></tr>`,
    )
    .join('\n');
  const form = `<form method="get" action="/ops/dead-letters.html">
<label>topic <input name="topic" value="${escapeHtml(d.topic ?? '')}"></label>
<label>rows <input name="limit" type="number" min="1" max="10000" value="${d.limit}"></label>
<button>show</button></form>`;
  const table =
    d.rows.length === 0
      ? ''
      : `<table><thead><tr><th>ID</th><th>Topic</th><th>Retries</th><th>Dead since</th><th>Last error</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
  return page(
    'Dead letters',
    `<p id="summary">${summary}</p>
${form}
${table}
<p class="muted">Replay or purge: <code>fleet dead-letters replay|purge --config FILE --id ID</code> (or --all), or
POST /ops/dead-letters/replay and DELETE /ops/dead-letters (docs/operations.md, "Ops endpoints").</p>`,
  );
}
