export declare const ORB_FEATURES: number;
export declare const XY_SCALE: number;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export declare function loadOpenCv(): Promise<any>;
export interface OrbResult {
  width: number;
  height: number;
  count: number;
  xy: Float32Array;
  desc: Uint8Array;
  /** the extraction rule (LOCAL_RULE) */
  rule?: number;
}
export declare function orbExtract(data: Uint8Array, width: number, height: number): Promise<OrbResult>;
export declare const SAME_CORNER_PX: number;
export declare function mergeReadings(first: OrbResult, second: OrbResult, max: number): OrbResult;
export declare const LOW_CONTRAST_GAIN: number;
export declare function raiseContrast(data: Uint8Array, gain: number): Uint8Array;
export declare function orbDetectOnce(data: Uint8Array, width: number, height: number): Promise<OrbResult>;
export declare const LOCAL_RULE: number;
