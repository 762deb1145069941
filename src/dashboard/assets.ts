import { basename } from 'node:path'
import page from './page/index.html'

/**
 * The page, bundled by Bun from an HTML import (the TypeScript front end and its CSS). The
 * compiled binary carries the bundle (`page.files`, read from the executable's own filesystem);
 * from source it is bundled here once. Either way the server hands it out itself, behind the
 * token, instead of giving Bun.serve the HTML route (which would serve it to anyone).
 */

export interface Asset {
  body: Uint8Array<ArrayBuffer>
  type: string
}

export interface PageAssets {
  /** the HTML, served at / */
  index: Asset
  /** "/chunk-1a2b3c.js" → the file: hashed names, cached for good */
  files: Map<string, Asset>
}

let loading: Promise<PageAssets> | undefined

export function loadPage(): Promise<PageAssets> {
  loading ??= (page.files?.length ? fromExecutable(page.files) : bundleNow(page.index)).catch((error) => {
    loading = undefined
    throw error
  })
  return loading
}

type BundledFile = NonNullable<typeof page.files>[number]

async function fromExecutable(files: BundledFile[]): Promise<PageAssets> {
  let index: Asset | undefined
  const map = new Map<string, Asset>()
  for (const file of files) {
    const asset = { body: await Bun.file(file.path).bytes(), type: file.headers['content-type'] }
    if (file.loader === 'html') index = asset
    else map.set(`/${basename(file.path)}`, asset)
  }
  if (!index) throw new Error('the dashboard page is missing from this build')
  return { index, files: map }
}

async function bundleNow(entry: string): Promise<PageAssets> {
  const result = await Bun.build({ entrypoints: [entry], target: 'browser', minify: true, publicPath: '/' })
  if (!result.success) throw new Error(`cannot bundle the dashboard page: ${result.logs.map(String).join('; ')}`)
  let index: Asset | undefined
  const map = new Map<string, Asset>()
  for (const output of result.outputs) {
    const asset = { body: new Uint8Array(await output.arrayBuffer()), type: output.type }
    if (output.path.endsWith('.html')) index = asset
    else map.set(`/${basename(output.path)}`, asset)
  }
  if (!index) throw new Error('cannot bundle the dashboard page: no HTML in the output')
  return { index, files: map }
}
