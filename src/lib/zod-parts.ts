import { array, base64, boolean, config, enum as oneOf, literal, looseObject, null as nullValue, number, object, partialRecord, preprocess, record, strictObject, string, tuple, union, unknown } from 'zod'

/**
 * The parts of zod the schemas use, imported by name so the bundler leaves out the rest (its ~40
 * locales, JSON Schema, the compiler): `require('zod')` took the CommonJS build whole, and a
 * command that reads one manifest started ~9 ms later. Required lazily (lib/schema.ts), never
 * imported.
 */
export const z = { array, base64, boolean, config, enum: oneOf, literal, looseObject, null: nullValue, number, object, partialRecord, preprocess, record, strictObject, string, tuple, union, unknown }
