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
}
export declare function orbExtract(data: Uint8Array, width: number, height: number): Promise<OrbResult>;
