// Public surface of the OCR component.
export { OcrReader, mergeScales, readingOrder, type OcrLine, type OcrResult, type OcrLoadOptions, type OcrReadOptions, type Box } from './reader.ts';
export { DEFAULT_DETECT, type DetectSettings } from './detect.ts';
export { locateOcrModels, readOcrManifest } from './models.ts';
