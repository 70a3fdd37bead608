export {
  type DecodeOptions,
  decodeEnvelope,
  ENVELOPE_VERSION,
  type Envelope,
  encodeEnvelope,
  isExpired,
  isTraceparent,
  MAX_ENVELOPE_PRIORITY,
  MAX_HEADERS,
  MAX_ID_LENGTH,
  MAX_PARTITION_KEY_LENGTH,
  MAX_SHORT_STRING,
  MAX_TIMESTAMP_MS,
  MESSAGE_TYPES,
  type MessageType,
  validateEnvelope,
  validatePartitionKey,
} from './envelope.js';
export {
  closesConnection,
  closesWhenCorrZero,
  ErrorCode,
  errorCodeName,
  ProtocolError,
} from './errors.js';
export {
  type AckFrame,
  AckLevel,
  DEFAULT_MAX_FRAME_BYTES,
  type ErrorFrame,
  encodeAck,
  encodeError,
  encodeFrame,
  encodePublish,
  encodeRequest,
  FRAME_HEADER_BYTES,
  type Frame,
  FrameDecoder,
  FrameType,
  type HelloFrame,
  INVALID_FRAME_TYPE,
  type InvalidFrame,
  type PingFrame,
  type PongFrame,
  PROTOCOL_VERSION,
  PUBLISH_FLAG_DURABLE,
  type PublishFrame,
  type RequestFrame,
  type ResponseFrame,
  type WelcomeFrame,
} from './frames.js';
export { HEX_BYTE } from './hex.js';
export {
  newGatewayId,
  newMessageId,
} from './ids.js';
export {
  decodeJobData,
  encodeJobData,
  encodeJobDataJson,
  encodeJobMessage,
  JOB_DATA_VERSION,
  JOB_NAME,
  type JobData,
  type JobMessage,
  type JobSource,
  parseJobDataJson,
  sharedTraceMark,
} from './job.js';
export {
  CLUSTER_SLOTS,
  DEFAULT_QUEUE,
  FleetKeys,
  PERSISTER_GROUP,
  STATUS_GROUP,
  spreadTag,
} from './keys.js';
export {
  decodeDurableIds,
  decodeReply,
  encodeDurableIds,
  encodeReply,
  formatReplyAddress,
  parseReplyAddress,
  type ReplyAddress,
  type ReplyMessage,
} from './reply.js';
export {
  DeadReason,
  MessageStatus,
} from './status.js';
export {
  decodeStatusEntry,
  encodeStatusEntry,
  groupOutcomes,
  MAX_STATUS_ERROR,
  type MessageOutcome,
  type StatusEntry,
  StatusField,
} from './status-entry.js';
export {
  decodeIngestBatch,
  ENTRY_MAX_BYTES,
  ENTRY_MAX_MESSAGES,
  EntryField,
  encodeIngestBatch,
  entryFields,
  INGEST_BATCH_HEADER_BYTES,
  IngestBatchError,
  type IngestRecord,
  ingestRecordSize,
  ingestRecords,
  writeIngestBatchHeader,
  writeIngestEnvelope,
  writeIngestString,
  writeIngestStringLength,
} from './stream-entry.js';
export {
  compareStreamIds,
  maxStreamId,
  nextStreamId,
} from './stream-ids.js';
export {
  assertValidTopic,
  MAX_TOPIC_LENGTH,
  topicError,
} from './topic.js';
export {
  DERIVED_TRACE_MARK_LENGTH,
  derivedTraceMark,
  derivedTraceparent,
  isDerivedTraceMark,
  isTraceableId,
  isTraceRef,
  mayTraceById,
  resolveTraceparent,
} from './trace-ref.js';
