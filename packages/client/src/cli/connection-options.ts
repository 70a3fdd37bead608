import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { ConnectOptions } from '../client.js';
import { UsageError } from './command.js';

/** Flags every networked command shares; defaults come from FLEET_HOST / FLEET_PORT / FLEET_TOKEN. */
export const CONNECTION_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  tls: { type: 'boolean' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  token: { type: 'string' },
} satisfies NonNullable<ParseArgsConfig['options']>;

export const CONNECTION_HELP = `Connection:
  --host HOST        gateway host (env FLEET_HOST, default 127.0.0.1)
  --port PORT        gateway port (env FLEET_PORT, default 7400)
  --tls              connect with TLS
  --ca FILE          PEM CA certificate to trust (self-signed gateways)
  --insecure         TLS without certificate verification (testing only)
  --token TOKEN      auth token (prefer env FLEET_TOKEN: flags end up in shell history)`;

type Values = { [K in keyof typeof CONNECTION_FLAGS]?: K extends 'tls' | 'insecure' ? boolean : string };

export function connectionOptions(v: Values): Pick<ConnectOptions, 'host' | 'port' | 'tls' | 'token'> {
  const host = v.host ?? process.env.FLEET_HOST ?? '127.0.0.1';
  const port = intFlag('port', v.port ?? process.env.FLEET_PORT ?? '7400', 1, 65535);
  const token = v.token ?? process.env.FLEET_TOKEN;
  const out: Pick<ConnectOptions, 'host' | 'port' | 'tls' | 'token'> = { host, port };
  if (token) out.token = token;
  if (v.tls || v.ca || v.insecure) {
    out.tls = {
      ...(v.ca ? { ca: readFileSync(v.ca) } : {}),
      ...(v.insecure ? { rejectUnauthorized: false } : {}),
    };
  }
  return out;
}

export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer ${min}-${max}, got "${value}"`);
  return n;
}

/** `--ack stream|durable` (default stream). */
export function ackFlag(value: string | undefined): 'stream' | 'durable' {
  const ack = value ?? 'stream';
  if (ack !== 'stream' && ack !== 'durable') throw new UsageError('--ack must be stream or durable');
  return ack;
}

/** The `<topic> <payload|@file>` positionals of publish and request. */
export function topicAndPayload(positionals: string[]): { topic: string; payloadArg: string } {
  const [topic, payloadArg, ...extra] = positionals;
  if (!topic || payloadArg === undefined || extra.length)
    throw new UsageError('expected <topic> <payload|@file>');
  return { topic, payloadArg };
}

/** `@path` reads a file (bytes as-is), `@-` reads stdin, anything else is the literal text. */
export function readPayloadArg(arg: string): Buffer {
  if (arg === '@-') return readFileSync(0);
  if (arg.startsWith('@')) return readFileSync(arg.slice(1));
  return Buffer.from(arg, 'utf8');
}

/** Repeated `--header k=v` flags. */
export function headerFlags(list: string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of list ?? []) {
    const i = h.indexOf('=');
    if (i <= 0) throw new UsageError(`--header must be key=value, got "${h}"`);
    headers[h.slice(0, i)] = h.slice(i + 1);
  }
  return headers;
}
