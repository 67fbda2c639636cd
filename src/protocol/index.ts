// The PDU codec's public face: pure encode/decode functions, the error type and the name rules.
export * from './errors';
export * from './messages';
export * from './names';
export * from './udp';
export * from './classic';
export * from './tcp';
export { ipToBytes } from './wire';
export { cutUtf8 } from './wire';
export * from './address-text';
export * from './claims';
export * from './proof';
export * from './pieces';
