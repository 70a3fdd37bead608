import { parseArgs } from 'node:util';
import { connect } from '../../client.js';
import { EXIT_OK } from '../command.js';
import {
  CONNECTION_FLAGS,
  CONNECTION_HELP,
  connectionOptions,
  headerFlags,
  intFlag,
  readPayloadArg,
  topicAndPayload,
} from '../connection-options.js';
import { reportFleetErrors } from '../fleet-errors.js';

export const help = `Usage: fleet request <topic> <payload|@file|@-> [options]

Sends a request to the handler subscribed to <topic> and prints its reply payload on stdout
(the trace id of the reply goes to stderr with --verbose). Fails with "timeout" at the deadline.

Options:
  --timeout-ms MS        deadline (default 30000)
  --header k=v           envelope header, repeatable
  --traceparent TP       W3C traceparent to continue a trace
  --partition-key K      shard by K instead of the topic
  --verbose              print the reply's traceparent to stderr
${CONNECTION_HELP}

Example:
  fleet request math.add '{"a":1,"b":2}' --timeout-ms 2000`;

export function run(argv: string[]): Promise<number> {
  return reportFleetErrors('request', () => runCommand(argv));
}

async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      'timeout-ms': { type: 'string' },
      header: { type: 'string', multiple: true },
      traceparent: { type: 'string' },
      'partition-key': { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  const { topic, payloadArg } = topicAndPayload(positionals);
  const timeoutMs = intFlag('timeout-ms', values['timeout-ms'] ?? '30000', 1, 0xffff_ffff);
  const client = await connect({ ...connectionOptions(values), clientName: 'fleet-cli', reconnect: false });
  try {
    const res = await client.request(topic, readPayloadArg(payloadArg), {
      timeoutMs,
      headers: headerFlags(values.header),
      ...(values.traceparent ? { traceparent: values.traceparent } : {}),
      ...(values['partition-key'] ? { partitionKey: values['partition-key'] } : {}),
    });
    process.stdout.write(res.payload);
    if (res.payload.length && res.payload[res.payload.length - 1] !== 0x0a && process.stdout.isTTY)
      process.stdout.write('\n');
    if (values.verbose && res.traceparent) process.stderr.write(`traceparent ${res.traceparent}\n`);
    return EXIT_OK;
  } finally {
    client.destroy();
  }
}
