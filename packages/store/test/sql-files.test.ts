import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadStatements, SQL_DIR, STATEMENTS } from '../src/sql.js';

// The statement files are the SQL contract: one file per statement, parameters documented in order.
describe('SQL statement files', () => {
  const texts = loadStatements();

  it('are exactly the statements the store names', () => {
    const files = readdirSync(SQL_DIR)
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.slice(0, -4))
      .sort();
    expect(files).toEqual([...STATEMENTS].sort());
  });

  it.each([...STATEMENTS])(
    '%s: a header names its parameters $1..$n in order, and the text uses each',
    (name) => {
      const text = texts.get(name) as string;
      const lines = text.split('\n');
      expect(lines[0]).toMatch(new RegExp(`^-- ${name}: `));
      const header = lines.filter((l) => l.startsWith('--'));
      const body = lines.filter((l) => !l.startsWith('--')).join('\n');
      const documented = header.flatMap((l) => /^--\s+\$(\d+) /.exec(l)?.[1] ?? []).map(Number);
      expect(documented).toEqual(documented.map((_, i) => i + 1));
      const used = [...new Set([...body.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort(
        (a, b) => a - b,
      );
      expect(used).toEqual(documented);
      // Fixed text: nothing left to fill in by string building.
      expect(body).not.toMatch(/\$\{|%s/);
    },
  );
});
