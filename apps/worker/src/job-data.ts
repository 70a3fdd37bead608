import { type JobData, parseJobDataJson } from '@fleet/protocol';
import { Job, type JobJson, Worker } from 'bullmq';
import { cheapFinishReplies } from './bullmq-internals.js';

/**
 * A BullMQ Job whose data is read by parseJobDataJson (@fleet/protocol job.ts), which reads the layout
 * the persister writes without JSON.parse (the same value; anything else goes to JSON.parse). Why:
 * BullMQ's fromJSON JSON.parses the whole batch, every base64 character of every envelope: ~11 µs of the
 * worker's ~75 µs per 8 KB message in the e2e profile (issue 18). `Worker.Job` is BullMQ's documented
 * way to use a Job subclass; test/job-data.test.ts checks it against the installed BullMQ.
 */
export class BatchJob extends Job<JobData> {
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(
    queue: Parameters<typeof Job.fromJSON>[0],
    json: JobJson,
    jobId?: string,
  ): Job<T, R, N> {
    const text = json.data;
    if (typeof text !== 'string' || text.length === 0) return Job.fromJSON<T, R, N>(queue, json, jobId);
    // BullMQ's fromJSON with no data to parse ('{}'), then the batch read here in its place.
    const job = Job.fromJSON<T, R, N>(queue, { ...json, data: '' }, jobId);
    job.data = parseJobDataJson(text) as T;
    return job;
  }
}

/**
 * The Worker the fleet runs its shard queues with: its jobs are BatchJobs, and a completion does not
 * turn the next job into a string (cheapFinishReplies, bullmq-internals.ts).
 */
export class BatchWorker extends Worker<JobData> {
  protected override get Job(): typeof Job {
    return BatchJob as typeof Job;
  }

  protected override createBackend(): void {
    super.createBackend();
    cheapFinishReplies(this.backend);
  }
}
