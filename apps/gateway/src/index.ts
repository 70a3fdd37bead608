export { type Gateway, type GatewayOptions, type GatewayStats, startGateway } from './gateway.js';
export { type GatewayInstruments, NOOP_INSTRUMENTS } from './instruments.js';
