/** Each byte's two lowercase hex digits (`HEX_BYTE[0x0f] === '0f'`): one table for every id, mark and traceparent the fleet writes. */
export const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0'),
);
