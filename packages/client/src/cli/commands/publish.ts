import { parseArgs } from 'node:util';
import { connect, DEFAULT_PUBLISH_RETRY } from '../../client.js';
import { FleetError } from '../../errors.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';
import {
  ackFlag,
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  headerFlags,
  intFlag,
  readPayloadArg,
  topicAndPayload,
} from '../connection-options.js';
import { reportFleetErrors } from '../fleet-errors.js';

export const help = `Usage: fleet publish <topic> <payload|@file|@-> [options]

Publishes a message and waits for the gateway's ACK; prints one line per message: <id> <stream id>.
The payload is sent as bytes: literal text, @file for a file's contents, @- for stdin.
A publish the gateway answers UNAVAILABLE or OVERLOADED is retried (same id) with backoff for up to
--delivery-timeout-ms; the retries are counted on stderr.

Options:
  --ack stream|durable   stream: after the Redis append (default); durable: after the Postgres commit
  --count N              publish N copies (pipelined; each gets its own id), print a summary
  --header k=v           envelope header, repeatable
  --type T               command|event|query|reply|notification (default event)
  --priority P           0-5 (default 0)
  --id ID                message id (idempotency key; only with --count 1)
  --partition-key K      shard by K instead of the topic
  --traceparent TP       W3C traceparent to continue a trace
  --ttl-ms MS            time to live
  --delivery-timeout-ms MS  how long to keep retrying UNAVAILABLE / OVERLOADED (default 30000; 0 = no retries)
${CONNECTION_HELP}

Example:
  fleet publish orders.created '{"order":42}' --ack durable --header tenant=acme`;

export function run(argv: string[]): Promise<number> {
  return reportFleetErrors('publish', () => runCommand(argv));
}

async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      ack: { type: 'string' },
      count: { type: 'string' },
      header: { type: 'string', multiple: true },
      type: { type: 'string' },
      priority: { type: 'string' },
      id: { type: 'string' },
      'partition-key': { type: 'string' },
      traceparent: { type: 'string' },
      'ttl-ms': { type: 'string' },
      'delivery-timeout-ms': { type: 'string' },
    },
  });
  const { topic, payloadArg } = topicAndPayload(positionals);
  const ack = ackFlag(values.ack);
  const count = intFlag('count', values.count ?? '1', 1, 100_000_000);
  if (values.id && count > 1) throw new UsageError('--id needs --count 1 (ids must be unique)');
  const payload = readPayloadArg(payloadArg);
  const opts = {
    ack,
    headers: headerFlags(values.header),
    ...(values.type ? { type: values.type as never } : {}),
    ...(values.priority ? { priority: intFlag('priority', values.priority, 0, 5) } : {}),
    ...(values.id ? { id: values.id } : {}),
    ...(values['partition-key'] ? { partitionKey: values['partition-key'] } : {}),
    ...(values.traceparent ? { traceparent: values.traceparent } : {}),
    ...(values['ttl-ms'] ? { ttl: intFlag('ttl-ms', values['ttl-ms'], 0, 0xffff_ffff) } : {}),
  } as const;

  const deliveryTimeoutMs = intFlag(
    'delivery-timeout-ms',
    values['delivery-timeout-ms'] ?? String(DEFAULT_PUBLISH_RETRY.deliveryTimeoutMs),
    0,
    0xffff_ffff,
  );
  const client = await connect({
    ...connectionOptions(values),
    clientName: 'fleet-cli',
    publishRetry: deliveryTimeoutMs === 0 ? false : { ...DEFAULT_PUBLISH_RETRY, deliveryTimeoutMs },
  });
  // Retries on stderr: stdout stays one line per message (or the summary) for scripts.
  const reportRetries = () => {
    if (client.publishRetries > 0)
      process.stderr.write(`${client.publishRetries} retries (UNAVAILABLE / OVERLOADED answers, same ids)\n`);
  };
  try {
    if (count === 1) {
      try {
        const r = await client.publish(topic, payload, opts);
        process.stdout.write(`${r.id} ${r.streamId}\n`);
      } finally {
        reportRetries();
      }
      return EXIT_OK;
    }
    const t0 = performance.now();
    let failed = 0;
    let firstError: FleetError | undefined;
    // Submit in slices so a huge --count does not hold millions of promises at once.
    const SLICE = 10_000;
    for (let done = 0; done < count; done += SLICE) {
      const n = Math.min(SLICE, count - done);
      const settled = await Promise.allSettled(
        Array.from({ length: n }, () => client.publish(topic, payload, opts)),
      );
      for (const s of settled) {
        if (s.status === 'rejected') {
          failed++;
          firstError ??= FleetError.from(s.reason);
        }
      }
    }
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(
      `published ${count - failed}/${count} (${ack} ack) in ${s.toFixed(2)} s = ${Math.round((count - failed) / s)} msg/s\n`,
    );
    reportRetries();
    if (firstError)
      process.stderr.write(`${failed} failed, first: ${firstError.codeName}: ${firstError.message}\n`);
    return failed ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await client.close();
  }
}
