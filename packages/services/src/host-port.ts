/** `host:port` of a URL, for one-line messages that must not carry credentials. */
export function hostPort(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || '127.0.0.1'}:${parsed.port || defaultPort}`;
  } catch {
    return '<unparseable url>';
  }
}
