// Local features with geometric verification: "is this picture a (cropped, watermarked, bordered,
// recompressed, rotated or mirrored) copy of that one?" — complements the global embedding, which says
// "looks alike" but cannot tell one SKU's photo from its sibling's.
export {
  LOCAL_SIDE,
  ORB_FEATURES,
  decodeGrey,
  mirrorGrey,
  toWorkingScale,
  extractGrey,
  extractLocal,
  extractGalleryLocal,
  type GreyImage,
  type LocalFeatures,
  type QueryFeatures,
} from './features.ts';
export { encodeLocal, decodeLocal, isOutdatedLocal } from './codec.ts';
export { verifyLocal, verifyOne, isSameSource, SAME_SOURCE, STRICT_SAME_SOURCE, DEFAULT_VERIFY, type Verification, type VerifyOptions } from './verify.ts';
export { loadOpenCv } from './orb-core.mjs';
export { setOrbWorkers, orbWorkers, closeOrbPool } from './orb-pool.ts';
