// Unit templates are imported as text (`with { type: 'text' }`), so the compiled binary carries them.
declare module '*.service' {
  const text: string
  export default text
}
declare module '*.timer' {
  const text: string
  export default text
}
