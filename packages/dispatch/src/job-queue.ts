import { encodeJobDataJson, type JobData } from '@fleet/protocol';
import { Job, type JobJson, Queue } from 'bullmq';

/**
 * A BullMQ Job whose stored data is written by encodeJobDataJson (@fleet/protocol job.ts): the same bytes
 * as BullMQ's own `JSON.stringify(data)`, handed to ioredis as one Buffer. BullMQ's asJSON would
 * stringify the batch (JSON.stringify's escape scan over every base64 character) and ioredis would then
 * flatten and copy the resulting string twice more (Buffer.byteLength of a string built in pieces, then
 * its RESP framing): ~40 µs of the persister's ~140 µs per 8 KB message in the e2e profile (issue 18).
 * asJSON is BullMQ's public serialization hook for a job's insert; `Queue.Job` its documented way to use a
 * Job subclass. test/job-queue.test.ts checks against the installed BullMQ and Redis that the stored data
 * is what BullMQ stores itself.
 */
export class JobDataJob extends Job<JobData> {
  override asJSON(): JobJson {
    const data = this.data;
    const bytes = data ? encodeJobDataJson(data) : undefined;
    if (!bytes) return super.asJSON();
    // BullMQ's asJSON with `data` left out ('{}', nothing to scan), then the bytes in its place.
    (this as { data: unknown }).data = undefined;
    try {
      const json = super.asJSON();
      (json as { data: unknown }).data = bytes;
      return json;
    } finally {
      this.data = data;
    }
  }
}

/** The BullMQ Queue the fleet adds its jobs with (persister, operator tools): jobs are JobDataJobs. */
export class JobQueue extends Queue {
  protected override get Job(): typeof Job {
    return JobDataJob as typeof Job;
  }
}
