/** The RESP protocol: value types, incremental decoders, and the encoder. */
export * from "./types.ts";
export * from "./limits.ts";
export * from "./bytes.ts";
export * from "./format.ts";
export * from "./writer.ts";
export * from "./encode.ts";
export * from "./decoder.ts";
export * from "./request.ts";
