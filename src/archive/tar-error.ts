/** A broken tar stream, with the offset (in the uncompressed stream) where it shows. */
export class TarError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
    this.name = 'TarError'
  }
}
